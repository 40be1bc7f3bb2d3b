import { ConnectionAuthenticator, type Credentials } from '../auth/connection-auth.ts';
import { SEALED_COLUMNS } from '../auth/vault.ts';
import { discoverInstanceUrl } from '../connectors/account-host.ts';
import {
  type CatalogEntry,
  type ProviderApi,
  type ProviderName,
  providerHostOrigin,
  providerUrl,
  tokenUrlOf,
} from '../connectors/catalog.ts';
import { ConnectorError, ProviderHttp, UNMETERED } from '../connectors/http.ts';
import { CATALOG, providerModule } from '../connectors/index.ts';
import type { Connector, ConnectorContext } from '../connectors/types.ts';
import { transaction } from '../db/pool.ts';
import type { CoreDeps } from './deps.ts';
import { badRequest, DomainError, notFound } from './errors.ts';
import { emitEvent } from './events.ts';
import { SharedRateBudget } from './rate-budget.ts';
import type { ObjectKind } from './read-plan.ts';

/**
 * Talking to a provider on behalf of one connection: its connector, credentials (refreshed as
 * needed), base URL (with TRELLIS_PROVIDER_OVERRIDES applied) and the request budget of its
 * provider account, which every process of Trellis shares.
 */
export interface OpenConnector {
  connector: Connector;
  ctx: ConnectorContext;
  providerName: ProviderName;
  auth: ConnectionAuthenticator;
}

/**
 * How long a call an API client waits for may wait for rate limits: 10 s, or one of the provider's
 * short windows (up to 20 s) and a quarter more for the budget's margin. A turn the account's
 * budget holds back is never more than a window and its margin away, so a write that fills the
 * window (100 records at HubSpot's 100 per 10 s) still goes through. A minute's or a day's quota
 * is not waited out: the client, or a proxy in front of Trellis, would give up first.
 */
function interactiveRateLimitWaitMs(limits: ProviderApi['requestLimits']): number {
  const windows = Object.values(limits)
    .map((l) => l.windowMs)
    .filter((ms) => ms <= 20_000);
  return Math.max(10_000, ...windows.map((ms) => ms * 1.25));
}

/**
 * `interactive` is for calls made while an API client waits: a few quick retries, not the long
 * patience a sync run has. Once `signal` aborts, the requests on their way end without an answer.
 */
export async function openConnector(
  deps: CoreDeps,
  connectionId: string,
  opts: { interactive?: boolean; signal?: AbortSignal } = {},
): Promise<OpenConnector> {
  const { rows } = await deps.db.query<{
    projectId: string;
    providerName: ProviderName;
    instanceUrl: string;
    sealed: string;
    providerAppId: string;
    clientId: string | null;
    clientSecretSealed: string | null;
    rateLimitRequests: number | null;
    rateLimitPeriodSeconds: number | null;
  }>(
    `select c.project_id as "projectId", c.provider_name as "providerName", c.instance_url as "instanceUrl",
            c.credentials_sealed as sealed, p.id as "providerAppId", p.client_id as "clientId",
            p.client_secret_sealed as "clientSecretSealed", c.rate_limit_requests as "rateLimitRequests",
            c.rate_limit_period_seconds as "rateLimitPeriodSeconds"
       from connections c join provider_apps p on p.id = c.provider_app_id where c.id = $1`,
    [connectionId],
  );
  const row = rows[0];
  if (!row) throw notFound('connection');
  const module = providerModule(row.providerName);
  if (!module) throw badRequest(`Trellis has no connector for ${row.providerName} yet`);
  const { definition } = module;
  const api = definition.api;
  const override = deps.config.providerOverrides[row.providerName];
  const credentials = deps.vault.openJson<Credentials>(
    row.sealed,
    SEALED_COLUMNS.connectionCredentials,
    connectionId,
  );

  // Hosts that came from a user or a token response are checked again on every use: rows written
  // before the check existed must not steer requests (and secrets) elsewhere either.
  const ownHost = (what: string, raw: string) => {
    try {
      return providerHostOrigin(definition, raw, override);
    } catch (err) {
      throw new ConnectorError('validation', `the connection's ${what}: ${(err as Error).message}`);
    }
  };
  const loginUrl =
    credentials.type === 'oauth2' && credentials.login_url
      ? ownHost('login URL', credentials.login_url)
      : undefined;
  const instanceUrl = api.baseUrl.includes('{instance_url}')
    ? ownHost('instance URL', row.instanceUrl)
    : row.instanceUrl;
  const tokenUrl = tokenUrlOf(api, loginUrl);
  const auth = new ConnectionAuthenticator({
    db: deps.db,
    vault: deps.vault,
    connectionId,
    credentials,
    apiKeyHeader: api.apiKeyHeader,
    outbound: deps.outbound,
    oauth:
      tokenUrl && row.clientId && row.clientSecretSealed
        ? {
            endpoint: {
              tokenUrl: providerUrl(tokenUrl, { override }),
              clientAuth: api.clientAuth ?? 'body',
              errorCode: module.auth?.tokenErrorCode,
            },
            client: {
              id: row.clientId,
              secret: deps.vault.open(
                row.clientSecretSealed,
                SEALED_COLUMNS.providerAppSecret,
                row.providerAppId,
              ),
            },
            instanceUrlOf: (tokens, stored) =>
              instanceUrlOfRefresh(deps, connectionId, definition, tokens, stored),
          }
        : undefined,
    onRevoked: () => markBadCredentials(deps, connectionId, 'the provider rejected the refresh token'),
  });
  // One budget per lane of the provider account, shared by the project's connections to it (see
  // account_rate_budget in migration 0020); a pace the project chose for the connection is a
  // ceiling of its own on top.
  const ceiling =
    row.rateLimitRequests && row.rateLimitPeriodSeconds
      ? { requests: row.rateLimitRequests, windowMs: row.rateLimitPeriodSeconds * 1000 }
      : undefined;
  const budgets = new Map<string, SharedRateBudget>();
  const budget = (lane: string) => {
    const own = Object.hasOwn(api.requestLimits, lane) ? lane : 'default';
    let b = budgets.get(own);
    if (!b) {
      b = new SharedRateBudget(deps.db, connectionId, own, api.requestLimits[own]!, ceiling);
      budgets.set(own, b);
    }
    return b;
  };
  const http = new ProviderHttp({
    baseUrl: providerUrl(api.baseUrl, { instanceUrl, override }),
    provider: row.providerName,
    auth,
    outbound: deps.outbound,
    policy: module.policy,
    budget,
    log: deps.log,
    ...(opts.interactive
      ? { maxRetries: 2, maxRateLimitWaitMs: interactiveRateLimitWaitMs(api.requestLimits) }
      : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  return {
    connector: module.connector,
    providerName: row.providerName,
    auth,
    ctx: { http, instanceUrl, accessToken: () => auth.accessToken() },
  };
}

/**
 * What a refresh's token response says of the connection's instance URL: the account's own host
 * where the provider names one in every token response (a foreign host is ignored), and the URL
 * of the account a connection that has none yet belongs to (made from a refresh token it was
 * given, it learns its account as an authorization learns it). Null keeps the stored one.
 */
async function instanceUrlOfRefresh(
  deps: CoreDeps,
  connectionId: string,
  provider: CatalogEntry,
  tokens: Record<string, unknown>,
  stored: string,
): Promise<string | null> {
  const { api } = provider;
  if (!api || (stored && !api.instanceUrlField)) return null;
  try {
    const found = await discoverInstanceUrl(provider, tokens, {
      outbound: deps.outbound,
      override: deps.config.providerOverrides[provider.name],
    });
    return found || null;
  } catch {
    deps.log.warn({ connectionId }, 'a token response named a foreign host; ignored');
    return null;
  }
}

/**
 * Checks credentials a customer typed (API key, access key pair) against the provider before they
 * are saved: the connector asks the provider who they belong to.
 */
export async function verifyCredentials(
  deps: CoreDeps,
  providerName: ProviderName,
  credentials: Credentials,
  instanceUrl = '',
): Promise<void> {
  const module = providerModule(providerName);
  if (!module?.connector.whoAmI) {
    throw badRequest(`Trellis cannot verify ${CATALOG[providerName].displayName} credentials yet`);
  }
  const { definition } = module;
  const override = deps.config.providerOverrides[providerName];
  const auth = new ConnectionAuthenticator({
    db: deps.db,
    vault: deps.vault,
    connectionId: '',
    credentials,
    apiKeyHeader: definition.api.apiKeyHeader,
    outbound: deps.outbound,
    onRevoked: async () => {},
  });
  const http = new ProviderHttp({
    baseUrl: providerUrl(definition.api.baseUrl, { instanceUrl, override }),
    provider: providerName,
    auth,
    outbound: deps.outbound,
    policy: module.policy,
    // Credentials not yet saved belong to no connection, and are checked with a request or two.
    budget: () => UNMETERED,
    log: deps.log,
    maxRetries: 2,
    maxRateLimitWaitMs: 10_000,
  });
  try {
    await module.connector.whoAmI({ http, instanceUrl, accessToken: () => auth.accessToken() });
  } catch (err) {
    if (err instanceof ConnectorError) {
      throw new DomainError(
        'unprocessable',
        refusedCredentials(err)
          ? `${definition.displayName} did not accept these credentials`
          : `${definition.displayName} could not be reached to check these credentials (${err.kind}); try again`,
      );
    }
    throw err;
  }
}

const refusedCredentials = (err: ConnectorError) => err.kind === 'auth' || err.kind === 'permission';

/**
 * Checks a saved connection's credentials with its provider, as `verifyCredentials` checks unsaved
 * ones: a provider that refuses them marks the connection `bad_credentials` (unprocessable); one
 * that accepts them makes it `working` again and resumes the syncs bad credentials paused; one that
 * cannot be reached changes nothing (remote_provider).
 */
export async function verifyConnection(deps: CoreDeps, connectionId: string): Promise<void> {
  const { connector, ctx, providerName } = await openConnector(deps, connectionId, { interactive: true });
  const { displayName } = CATALOG[providerName];
  if (!connector.whoAmI) throw badRequest(`Trellis cannot verify ${displayName} credentials yet`);
  try {
    await connector.whoAmI(ctx);
  } catch (err) {
    if (!(err instanceof ConnectorError)) throw err;
    if (refusedCredentials(err)) {
      await markBadCredentials(deps, connectionId, `${displayName} did not accept the credentials`);
      throw new DomainError('unprocessable', `${displayName} did not accept these credentials`);
    }
    throw new DomainError(
      'remote_provider',
      `${displayName} could not be reached to check these credentials (${err.kind}); try again`,
      { reason: err.kind },
    );
  }
  await transaction(deps.db, async (client) => {
    await client.query(
      `update connections set status = 'working', updated_at = now() where id = $1 and status <> 'working'`,
      [connectionId],
    );
    await client.query(
      `update syncs set paused = false, pause_reason = null, next_run_at = now(), updated_at = now()
        where connection_id = $1 and pause_reason = 'credentials'`,
      [connectionId],
    );
  });
}

/** Runs a provider call for an API request, turning connector failures into 4xx answers. */
export async function callProvider<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ConnectorError) {
      throw new DomainError('remote_provider', err.message, { reason: err.kind });
    }
    throw err;
  }
}

/**
 * The provider no longer accepts the connection's credentials: mark it, pause its syncs (each
 * announced with `sync.paused`), until the customer re-authorizes.
 */
export async function markBadCredentials(
  deps: CoreDeps,
  connectionId: string,
  reason: string,
): Promise<void> {
  await transaction(deps.db, async (client) => {
    // A connection the project owns has no customer (and no syncs to pause).
    const { rows } = await client.query<{
      projectId: string;
      providerName: string;
      customerRef: string | null;
    }>(
      `update connections c set status = 'bad_credentials', updated_at = now() where c.id = $1
        returning c.project_id as "projectId", c.provider_name as "providerName",
          (select cu.external_id from customers cu where cu.id = c.customer_id) as "customerRef"`,
      [connectionId],
    );
    const connection = rows[0];
    if (!connection) return;
    const { customerRef } = connection;
    if (customerRef === null) return;
    const { rows: paused } = await client.query<{ kind: ObjectKind | 'entity'; object: string }>(
      `update syncs set paused = true, pause_reason = 'credentials', next_run_at = null, updated_at = now()
        where connection_id = $1 and not paused returning object_type as kind, object`,
      [connectionId],
    );
    for (const s of paused) {
      await emitEvent(deps, client, connection.projectId, {
        type: 'sync.paused',
        sync: {
          connectionId,
          customerRef,
          providerName: connection.providerName,
          ...s,
        },
        reason,
      });
    }
  });
  deps.log.warn({ connectionId, reason }, 'connection marked bad_credentials');
}
