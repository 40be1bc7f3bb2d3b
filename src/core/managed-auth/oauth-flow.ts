import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { type Credentials, tokenExpiry } from '../../auth/connection-auth.ts';
import { requestTokens, TokenRequestError } from '../../auth/oauth.ts';
import { isSameBrowser, newBrowserBinding, signState, verifyState } from '../../auth/oauth-state.ts';
import { SEALED_COLUMNS } from '../../auth/vault.ts';
import { discoverInstanceUrl } from '../../connectors/account-host.ts';
import { type ProviderName, providerUrl, tokenUrlOf } from '../../connectors/catalog.ts';
import { CATALOG, providerModule } from '../../connectors/index.ts';
import type { CoreDeps } from '../deps.ts';
import { isUuid } from '../ids.ts';
import { type ConnectErrorCode, ConnectFailure, describeLink, usableLink, withOutcome } from './links.ts';
import { saveAuthorizedConnection } from './save-connection.ts';

/**
 * The OAuth authorization-code flow started from a magic link: signed, expiring, single-use state
 * bound to the browser that started it, with PKCE where the provider takes it.
 */

/** How long a person has to complete an authorization they started. */
const STATE_TTL_MS = 15 * 60_000;
/**
 * An expired state is kept a while before it is purged, so that a late callback still sends the
 * person back with `expired` rather than to a page about an unknown authorization.
 */
const EXPIRED_STATE_KEPT_MS = 60 * 60_000;
/** How long a state can be completed or answered as expired: what the browser's cookie must outlive. */
export const STATE_LIFETIME_MS = STATE_TTL_MS + EXPIRED_STATE_KEPT_MS;

export function callbackUrl(deps: CoreDeps): string {
  return `${deps.config.publicUrl}/oauth/callback`;
}

/**
 * Starts the authorization-code flow for a link: the provider URL to send the browser to, and the
 * nonce that browser must keep (in a cookie named after the state) and bring to the callback.
 */
export async function startOAuth(
  deps: CoreDeps,
  linkId: string,
  opts: { sandbox?: boolean } = {},
): Promise<{ authorizeUrl: string; stateId: string; browserNonce: string }> {
  const link = usableLink(await describeLink(deps, linkId));
  const api = link.provider.api;
  if (link.authType !== 'oauth2' || !api?.authorizeUrl || !api.tokenUrl) {
    throw new ConnectFailure(`${link.provider.displayName} is not connected through OAuth here.`);
  }
  const { rows: apps } = await deps.db.query<{ clientId: string | null; scopes: string[] }>(
    'select client_id as "clientId", scopes from provider_apps where id = $1',
    [link.providerAppId],
  );
  const app = apps[0];
  if (!app?.clientId)
    throw new ConnectFailure(
      `The ${link.provider.displayName} app is not configured yet. Contact the application's support.`,
    );
  const override = deps.config.providerOverrides[link.provider.name];
  const authorizeTemplate =
    opts.sandbox && api.sandboxAuthorizeUrl ? api.sandboxAuthorizeUrl : api.authorizeUrl;
  const loginUrl =
    opts.sandbox && api.sandboxAuthorizeUrl
      ? new URL(providerUrl(api.sandboxAuthorizeUrl, { override })).origin
      : null;
  const verifier = api.pkce ? randomBytes(32).toString('base64url') : undefined;
  const binding = newBrowserBinding();
  const stateId = randomUUID();
  // Starting a flow also purges the states that can no longer be answered.
  await deps.db.query(
    `with purged as (delete from oauth_states where expires_at < now() - make_interval(secs => $10))
     insert into oauth_states (id, project_id, customer_id, provider_app_id, magic_link_id, return_url, login_url,
       code_verifier_sealed, browser_binding_hash, expires_at)
     values ($11, $1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      link.projectId,
      link.customerId,
      link.providerAppId,
      link.linkId,
      link.returnUrl,
      loginUrl,
      verifier ? deps.vault.seal(verifier, SEALED_COLUMNS.oauthCodeVerifier, stateId) : null,
      binding.hash,
      new Date(Date.now() + STATE_TTL_MS),
      EXPIRED_STATE_KEPT_MS / 1000,
      stateId,
    ],
  );
  const url = new URL(providerUrl(authorizeTemplate, { override }));
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', app.clientId);
  url.searchParams.set('redirect_uri', callbackUrl(deps));
  const scopes = app.scopes.length > 0 ? app.scopes : (api.defaultScopes ?? []);
  if (scopes.length > 0) url.searchParams.set('scope', scopes.join(api.scopeSeparator ?? ' '));
  url.searchParams.set('state', signState(deps.vault, link.projectId, stateId));
  if (verifier) {
    url.searchParams.set('code_challenge', createHash('sha256').update(verifier).digest('base64url'));
    url.searchParams.set('code_challenge_method', 'S256');
  }
  return { authorizeUrl: url.toString(), stateId, browserNonce: binding.nonce };
}

interface StateRow {
  id: string;
  projectId: string;
  customerId: string;
  providerAppId: string;
  magicLinkId: string | null;
  returnUrl: string;
  loginUrl: string | null;
  verifierSealed: string | null;
}

/**
 * Takes a state from the callback: it must be genuine (signature), unused, brought by the browser
 * that started the flow, and unexpired. It is used up once the browser is the right one, whatever
 * happens next, so it can never be replayed; a callback from another browser leaves it untouched,
 * so whoever holds the URL cannot burn the flow of the person it belongs to.
 */
async function takeState(
  deps: CoreDeps,
  raw: string | undefined,
  browserNonce: (stateId: string) => string | undefined,
): Promise<StateRow> {
  const verified = raw ? verifyState(deps.vault, raw) : undefined;
  if (!verified || !isUuid(verified.stateId) || !isUuid(verified.projectId)) {
    throw new ConnectFailure(
      'This authorization response is not one Trellis started. Start again from your link.',
    );
  }
  const alreadyUsed = new ConnectFailure(
    'This authorization was already completed or is unknown. Start again from your link.',
  );
  const { rows: unused } = await deps.db.query<{ bindingHash: Buffer | null }>(
    `select browser_binding_hash as "bindingHash" from oauth_states
      where id = $1 and project_id = $2 and used_at is null`,
    [verified.stateId, verified.projectId],
  );
  if (!unused[0]) throw alreadyUsed;
  if (!isSameBrowser(unused[0].bindingHash, browserNonce(verified.stateId))) {
    throw new ConnectFailure(
      'This authorization was started in another browser. Open your link in this browser and connect again.',
    );
  }
  const { rows } = await deps.db.query<StateRow & { expired: boolean }>(
    `update oauth_states set used_at = now() where id = $1 and project_id = $2 and used_at is null
     returning id, project_id as "projectId", customer_id as "customerId", provider_app_id as "providerAppId",
               magic_link_id as "magicLinkId", return_url as "returnUrl", login_url as "loginUrl",
               code_verifier_sealed as "verifierSealed", expires_at <= now() as expired`,
    [verified.stateId, verified.projectId],
  );
  const row = rows[0];
  // Another callback with the same state got here first.
  if (!row) throw alreadyUsed;
  if (row.expired)
    throw new ConnectFailure('This authorization took too long and expired. Start again from your link.', {
      returnUrl: row.returnUrl,
      code: 'expired',
    });
  return row;
}

/** An OAuth error code as RFC 6749 spells them; anything else is not logged. */
const OAUTH_ERROR_CODE = /^[a-z_]{1,64}$/;

/**
 * Completes the flow from the provider's redirect; returns where to send the browser.
 * `browserNonce` reads the nonce the calling browser holds for a state, if any.
 */
export async function completeOAuth(
  deps: CoreDeps,
  query: { state?: string; code?: string; error?: string },
  browserNonce: (stateId: string) => string | undefined,
): Promise<string> {
  const state = await takeState(deps, query.state, browserNonce);
  const failed = (message: string, code: ConnectErrorCode) =>
    new ConnectFailure(message, { returnUrl: state.returnUrl, code });
  if (query.error || !query.code) {
    if (query.error === 'access_denied')
      throw failed("Access was denied on the provider's page.", 'access_denied');
    deps.log.warn(
      { error: OAUTH_ERROR_CODE.test(query.error ?? '') ? query.error : undefined },
      'the provider answered an authorization request without a code',
    );
    throw failed('The provider did not authorize the connection.', 'provider_error');
  }
  const { rows: apps } = await deps.db.query<{
    providerName: ProviderName;
    clientId: string;
    secret: string | null;
  }>(
    `select provider_name as "providerName", client_id as "clientId", client_secret_sealed as secret
       from provider_apps where id = $1 and project_id = $2`,
    [state.providerAppId, state.projectId],
  );
  const app = apps[0];
  if (!app?.secret) throw failed('The provider app is no longer configured.', 'not_configured');
  const provider = CATALOG[app.providerName];
  const api = provider.api!;
  const override = deps.config.providerOverrides[provider.name];
  const tokenUrl = providerUrl(tokenUrlOf(api, state.loginUrl ?? undefined)!, { override });
  let tokens: Record<string, unknown>;
  try {
    tokens = await requestTokens(
      deps.outbound,
      {
        tokenUrl,
        clientAuth: api.clientAuth ?? 'body',
        errorCode: providerModule(provider.name)?.auth?.tokenErrorCode,
      },
      {
        id: app.clientId,
        secret: deps.vault.open(app.secret, SEALED_COLUMNS.providerAppSecret, state.providerAppId),
      },
      {
        grant_type: 'authorization_code',
        code: query.code,
        redirect_uri: callbackUrl(deps),
        ...(state.verifierSealed
          ? {
              code_verifier: deps.vault.open(
                state.verifierSealed,
                SEALED_COLUMNS.oauthCodeVerifier,
                state.id,
              ),
            }
          : {}),
      },
    );
  } catch (err) {
    deps.log.warn(
      err instanceof TokenRequestError
        ? { provider: provider.name, error: err.error, status: err.status }
        : { provider: provider.name },
      'the authorization code exchange failed',
    );
    throw failed(`${provider.displayName} did not complete the authorization.`, 'provider_error');
  }
  if (typeof tokens.refresh_token !== 'string') {
    throw failed(
      `${provider.displayName} granted no refresh token; Trellis needs offline access.`,
      'no_refresh_token',
    );
  }
  let instanceUrl: string;
  try {
    instanceUrl = await discoverInstanceUrl(provider, tokens, { outbound: deps.outbound, override });
  } catch {
    throw failed(
      `${provider.displayName} named an account host that is not its own; the connection was not saved.`,
      'invalid_account',
    );
  }
  const expiry = tokenExpiry(tokens);
  const credentials: Credentials = {
    type: 'oauth2',
    refresh_token: tokens.refresh_token,
    access_token: tokens.access_token as string,
    ...expiry,
    ...(state.loginUrl ? { login_url: state.loginUrl } : {}),
  };
  try {
    await saveAuthorizedConnection(deps, {
      projectId: state.projectId,
      customerId: state.customerId,
      providerAppId: state.providerAppId,
      providerName: provider.name,
      authType: 'oauth2',
      credentials,
      instanceUrl,
      tokenExpiresAt: expiry.expires_at ? new Date(expiry.expires_at) : null,
      magicLinkId: state.magicLinkId,
    });
  } catch (err) {
    if (err instanceof ConnectFailure && !err.back) throw failed(err.message, 'link_unusable');
    throw err;
  }

  return withOutcome(state.returnUrl, { result: 'success', provider_name: provider.name });
}
