import type { ProviderAuthHooks } from '../provider.ts';

/** Token-endpoint `status` values naming a refresh token or authorization code HubSpot no longer accepts. */
const DEAD_GRANT_STATUSES = new Set(['BAD_REFRESH_TOKEN', 'BAD_AUTH_CODE']);

export const hubspotAuth: ProviderAuthHooks = {
  /** HubSpot answers a dead grant with `status: BAD_REFRESH_TOKEN` (or `BAD_AUTH_CODE`) instead of `error`. */
  tokenErrorCode(body) {
    return typeof body.status === 'string' && DEAD_GRANT_STATUSES.has(body.status)
      ? 'invalid_grant'
      : undefined;
  },
};
