import { type Authenticator, ConnectorError, type Renewal } from '../connectors/http.ts';
import { type Db, transaction } from '../db/pool.ts';
import { tokenRefreshes } from '../metrics.ts';
import type { OutboundPolicy } from '../net/outbound.ts';
import { requestTokens, type TokenEndpoint, TokenRequestError } from './oauth.ts';
import { SEALED_COLUMNS, type Vault } from './vault.ts';

/** A connection's credentials as sealed in the vault. */
export type Credentials =
  | { type: 'api_key'; api_key: string }
  | { type: 'access_key_secret'; access_key: string; access_key_secret: string }
  | {
      type: 'oauth2';
      refresh_token: string;
      access_token: string | null;
      /** ISO time the access token expires, or null when the token response has no `expires_in`. */
      expires_at: string | null;
      /** How long the provider said the access token lives (its `expires_in`). */
      lifetime_seconds?: number;
      login_url?: string;
    };

/** Refresh this long before the provider's stated expiry, so a request never races it. */
const EXPIRY_MARGIN_MS = 60_000;

/** The expiry fields of credentials, from a token response's `expires_in`. */
export function tokenExpiry(tokens: Record<string, unknown>): {
  expires_at: string | null;
  lifetime_seconds?: number;
} {
  const expiresIn = Number(tokens.expires_in);
  if (!Number.isFinite(expiresIn) || expiresIn <= 0) return { expires_at: null };
  return { expires_at: new Date(Date.now() + expiresIn * 1000).toISOString(), lifetime_seconds: expiresIn };
}

/**
 * Whether the token must be renewed before use: it expires within `margin`, but never more than
 * half its lifetime ahead — a provider's short-lived tokens would otherwise be refreshed before
 * every request.
 */
function dueForRenewal(c: Extract<Credentials, { type: 'oauth2' }>, marginMs: number): boolean {
  if (!c.access_token) return true;
  if (!c.expires_at) return false;
  const margin = c.lifetime_seconds ? Math.min(marginMs, (c.lifetime_seconds * 1000) / 2) : marginMs;
  return Date.parse(c.expires_at) - margin <= Date.now();
}

export interface ConnectionAuthOptions {
  db: Db;
  vault: Vault;
  connectionId: string;
  credentials: Credentials;
  apiKeyHeader?: string;
  outbound: OutboundPolicy;
  /** Where and as whom to refresh OAuth tokens; absent for key-based connections. */
  oauth?: {
    endpoint: TokenEndpoint;
    client: { id: string; secret: string };
    /**
     * The connection's instance URL as a token response shows it (the account's own host, or the
     * URL of the account it names), given the stored one; null keeps the stored one.
     */
    instanceUrlOf?(tokens: Record<string, unknown>, stored: string): Promise<string | null>;
  };
  /** Called once when the provider rejects the refresh token: the connection needs re-authorizing. */
  onRevoked(): Promise<void>;
}

/**
 * Credentials of one connection for outgoing requests. OAuth tokens are refreshed before they
 * expire and after a 401, at most once at a time across every process: the refresh holds the
 * connection's row lock, and a process that waited on the lock adopts the token the other one
 * saved instead of refreshing again. Rotated refresh tokens are saved in the same transaction.
 */
export class ConnectionAuthenticator implements Authenticator {
  #credentials: Credentials;
  #renewing: Promise<Renewal> | undefined;

  constructor(private readonly opts: ConnectionAuthOptions) {
    this.#credentials = opts.credentials;
  }

  /**
   * The access token, renewed first when it expires within `minValidityMs`. An OAuth connection
   * without one (the provider refused the refresh token, or there is no client to refresh with)
   * fails here, before any request goes out without it.
   */
  async accessToken(minValidityMs = EXPIRY_MARGIN_MS): Promise<string | undefined> {
    const c = this.#credentials;
    if (c.type !== 'oauth2') return undefined;
    if (dueForRenewal(c, minValidityMs)) await this.renew();
    const token = (this.#credentials as { access_token: string | null }).access_token;
    if (!token)
      throw new ConnectorError(
        'auth',
        this.opts.oauth
          ? "the provider did not accept the connection's refresh token; the connection must be authorized again"
          : "the connection's access token cannot be refreshed: its provider app has no OAuth client credentials",
      );
    return token;
  }

  async headers(): Promise<Record<string, string>> {
    const c = this.#credentials;
    switch (c.type) {
      case 'api_key':
        return this.opts.apiKeyHeader
          ? { [this.opts.apiKeyHeader]: c.api_key }
          : { authorization: `Bearer ${c.api_key}` };
      case 'access_key_secret':
        return {
          authorization: `Basic ${Buffer.from(`${c.access_key}:${c.access_key_secret}`).toString('base64')}`,
        };
      case 'oauth2':
        return { authorization: `Bearer ${await this.accessToken()}` };
    }
  }

  /**
   * Renews the access token. A request that failed with a token this process has already replaced
   * just retries with the new one: only the token a request actually used counts as stale.
   */
  renew(sentHeaders?: Record<string, string>): Promise<Renewal> {
    const c = this.#credentials;
    if (c.type !== 'oauth2' || !this.opts.oauth) return Promise.resolve('failed');
    const sent = sentHeaders?.authorization?.startsWith('Bearer ')
      ? sentHeaders.authorization.slice(7)
      : undefined;
    if (sent !== undefined && c.access_token && sent !== c.access_token) return Promise.resolve('adopted');
    const stale = sent ?? c.access_token;
    this.#renewing ??= this.#refresh(stale).finally(() => {
      this.#renewing = undefined;
    });
    return this.#renewing;
  }

  /**
   * Refreshes unless another process already replaced `used` with a token that is still valid.
   * The connection's row stays locked from the read to the save, so processes refresh one at a time.
   */
  async #refresh(used: string | null): Promise<Renewal> {
    const outcome = await this.#refreshLocked(used).catch((err: unknown) => {
      tokenRefreshes.inc({ outcome: 'error' });
      throw err;
    });
    tokenRefreshes.inc({ outcome: outcome === 'failed' ? 'revoked' : outcome });
    return outcome;
  }

  /** The refresh itself; `#refresh` counts its outcome. */
  async #refreshLocked(used: string | null): Promise<Renewal> {
    const { db, vault, connectionId, oauth } = this.opts;
    const outcome = await transaction(
      db,
      async (client): Promise<{ renewal: Renewal; credentials?: Credentials }> => {
        const { rows } = await client.query<{ sealed: string; instanceUrl: string }>(
          `select credentials_sealed as sealed, instance_url as "instanceUrl" from connections
            where id = $1 for update`,
          [connectionId],
        );
        if (!rows[0]) throw new Error('the connection was deleted');
        const stored = vault.openJson<Credentials>(
          rows[0].sealed,
          SEALED_COLUMNS.connectionCredentials,
          connectionId,
        );
        if (stored.type !== 'oauth2') throw new Error('the connection no longer uses OAuth');
        // Another process refreshed while we waited for the lock.
        if (stored.access_token !== used && !dueForRenewal(stored, EXPIRY_MARGIN_MS))
          return { renewal: 'adopted', credentials: stored };
        let tokens: Record<string, unknown>;
        try {
          tokens = await requestTokens(this.opts.outbound, oauth!.endpoint, oauth!.client, {
            grant_type: 'refresh_token',
            refresh_token: stored.refresh_token,
          });
        } catch (err) {
          if (err instanceof TokenRequestError && err.revoked) return { renewal: 'failed' };
          throw new ConnectorError(
            'transient',
            `could not refresh the access token: ${(err as Error).message}`,
          );
        }
        const next: Credentials = {
          ...stored,
          access_token: tokens.access_token as string,
          refresh_token:
            typeof tokens.refresh_token === 'string' ? tokens.refresh_token : stored.refresh_token,
          lifetime_seconds: undefined,
          ...tokenExpiry(tokens),
        };
        const instanceUrl = (await oauth!.instanceUrlOf?.(tokens, rows[0].instanceUrl)) ?? null;
        await client.query(
          `update connections set credentials_sealed = $2, instance_url = coalesce($3, instance_url),
           token_expires_at = $4, status = case when status = 'created' then 'working' else status end,
           updated_at = now()
          where id = $1`,
          [
            connectionId,
            vault.sealJson(next, SEALED_COLUMNS.connectionCredentials, connectionId),
            instanceUrl,
            next.expires_at,
          ],
        );
        return { renewal: 'refreshed', credentials: next };
      },
    );
    // Kept only once committed: a token whose save failed is not used.
    if (outcome.credentials) this.#credentials = outcome.credentials;
    if (outcome.renewal === 'failed') await this.opts.onRevoked();
    return outcome.renewal;
  }
}
