import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { type Credentials, tokenExpiry } from '../../auth/connection-auth.ts';
import { requestTokens, TokenRequestError } from '../../auth/oauth.ts';
import { isSameBrowser, newBrowserBinding, signState, verifyState } from '../../auth/oauth-state.ts';
import { SEALED_COLUMNS } from '../../auth/vault.ts';
import { discoverInstanceUrl } from '../../connectors/account-host.ts';
import { type CatalogEntry, type ProviderName, providerUrl, tokenUrlOf } from '../../connectors/catalog.ts';
import { CATALOG, providerModule } from '../../connectors/index.ts';
import type { Consumer } from '../consumers.ts';
import type { CoreDeps } from '../deps.ts';
import { isUuid } from '../ids.ts';
import { type ConnectErrorCode, ConnectFailure, describeLink, type FlowEnd, usableLink } from './links.ts';
import { saveAuthorizedConnection } from './save-connection.ts';

/**
 * The OAuth authorization-code flow: signed, expiring, single-use state bound to the browser that
 * started it, with PKCE where the provider takes it. A magic link's page starts it here; a page of
 * the project's product starts it in a popup (popup-flow.ts). Both end at the same callback.
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

/** A state about to be stored: whose flow it is, where it ends, and what its callback needs. */
export interface NewState {
  projectId: string;
  customerId: string;
  providerAppId: string;
  end: FlowEnd;
  magicLinkId: string | null;
  /** The login host the flow started at, where it is not the provider's usual one (a sandbox). */
  loginUrl: string | null;
  /** The PKCE verifier, where the provider takes PKCE. */
  verifier: string | undefined;
  /** The hash of the nonce its browser holds; null until a popup's browser claims the state. */
  bindingHash: Buffer | null;
  consumer: Consumer | null;
  renewsConnectionId: string | null;
}

/** Stores a new state; starting a flow also purges the states that can no longer be answered. */
export async function insertState(deps: CoreDeps, state: NewState): Promise<string> {
  const stateId = randomUUID();
  await deps.db.query(
    `with purged as (delete from oauth_states where expires_at < now() - make_interval(secs => $10))
     insert into oauth_states (id, project_id, customer_id, provider_app_id, magic_link_id, return_url, login_url,
       code_verifier_sealed, browser_binding_hash, expires_at, opener_origin, consumer_ref, consumer_name,
       renews_connection_id)
     values ($11, $1, $2, $3, $4, $5, $6, $7, $8, $9, $12, $13, $14, $15)`,
    [
      state.projectId,
      state.customerId,
      state.providerAppId,
      state.magicLinkId,
      'returnUrl' in state.end ? state.end.returnUrl : null,
      state.loginUrl,
      state.verifier ? deps.vault.seal(state.verifier, SEALED_COLUMNS.oauthCodeVerifier, stateId) : null,
      state.bindingHash,
      new Date(Date.now() + STATE_TTL_MS),
      EXPIRED_STATE_KEPT_MS / 1000,
      stateId,
      'openerOrigin' in state.end ? state.end.openerOrigin : null,
      state.consumer?.ref ?? null,
      state.consumer?.name ?? null,
      state.renewsConnectionId,
    ],
  );
  return stateId;
}

/** A fresh PKCE verifier where the provider takes PKCE. */
export const newVerifier = (provider: CatalogEntry): string | undefined =>
  provider.api?.pkce ? randomBytes(32).toString('base64url') : undefined;

/** The provider's authorize URL for a stored state. */
export function authorizeUrl(
  deps: CoreDeps,
  flow: {
    provider: CatalogEntry;
    /** The catalog's authorize URL template to use (the sandbox one, say). */
    template: string;
    clientId: string;
    scopes: string[];
    projectId: string;
    stateId: string;
    verifier: string | undefined;
  },
): string {
  const api = flow.provider.api!;
  const url = new URL(
    providerUrl(flow.template, { override: deps.config.providerOverrides[flow.provider.name] }),
  );
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', flow.clientId);
  url.searchParams.set('redirect_uri', callbackUrl(deps));
  const scopes = flow.scopes.length > 0 ? flow.scopes : (api.defaultScopes ?? []);
  if (scopes.length > 0) url.searchParams.set('scope', scopes.join(api.scopeSeparator ?? ' '));
  url.searchParams.set('state', signState(deps.vault, flow.projectId, flow.stateId));
  if (flow.verifier) {
    url.searchParams.set('code_challenge', createHash('sha256').update(flow.verifier).digest('base64url'));
    url.searchParams.set('code_challenge_method', 'S256');
  }
  return url.toString();
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
  const sandbox = opts.sandbox && api.sandboxAuthorizeUrl ? api.sandboxAuthorizeUrl : undefined;
  const verifier = newVerifier(link.provider);
  const binding = newBrowserBinding();
  const stateId = await insertState(deps, {
    projectId: link.projectId,
    customerId: link.customerId,
    providerAppId: link.providerAppId,
    end: { returnUrl: link.returnUrl },
    magicLinkId: link.linkId,
    loginUrl: sandbox ? new URL(providerUrl(sandbox, { override })).origin : null,
    verifier,
    bindingHash: binding.hash,
    consumer: null,
    renewsConnectionId: null,
  });
  return {
    authorizeUrl: authorizeUrl(deps, {
      provider: link.provider,
      template: sandbox ?? api.authorizeUrl,
      clientId: app.clientId,
      scopes: app.scopes,
      projectId: link.projectId,
      stateId,
      verifier,
    }),
    stateId,
    browserNonce: binding.nonce,
  };
}

interface StateRow {
  id: string;
  projectId: string;
  customerId: string;
  providerAppId: string;
  magicLinkId: string | null;
  returnUrl: string | null;
  openerOrigin: string | null;
  loginUrl: string | null;
  verifierSealed: string | null;
  /** The end user a popup's flow names. */
  consumer: Consumer | null;
  renewsConnectionId: string | null;
}

/** Where a stored state's flow reports its end. */
export const endOf = (row: { returnUrl: string | null; openerOrigin: string | null }): FlowEnd =>
  row.openerOrigin !== null ? { openerOrigin: row.openerOrigin } : { returnUrl: row.returnUrl! };

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
    throw new ConnectFailure('This authorization response is not one Trellis started. Start again.');
  }
  const alreadyUsed = new ConnectFailure(
    'This authorization was already completed or is unknown. Start again.',
  );
  const { rows: unused } = await deps.db.query<{ bindingHash: Buffer | null }>(
    `select browser_binding_hash as "bindingHash" from oauth_states
      where id = $1 and project_id = $2 and used_at is null`,
    [verified.stateId, verified.projectId],
  );
  if (!unused[0]) throw alreadyUsed;
  if (!isSameBrowser(unused[0].bindingHash, browserNonce(verified.stateId))) {
    throw new ConnectFailure(
      'This authorization was started in another browser. Start again in this one: open your link, or connect again from the application.',
    );
  }
  const { rows } = await deps.db.query<StateRow & { expired: boolean }>(
    `update oauth_states set used_at = now() where id = $1 and project_id = $2 and used_at is null
     returning id, project_id as "projectId", customer_id as "customerId", provider_app_id as "providerAppId",
               magic_link_id as "magicLinkId", return_url as "returnUrl", opener_origin as "openerOrigin",
               login_url as "loginUrl", code_verifier_sealed as "verifierSealed",
               case when consumer_ref is null then null
                    else json_build_object('ref', consumer_ref, 'name', coalesce(consumer_name, '')) end as consumer,
               renews_connection_id as "renewsConnectionId",
               expires_at <= now() as expired`,
    [verified.stateId, verified.projectId],
  );
  const row = rows[0];
  // Another callback with the same state got here first.
  if (!row) throw alreadyUsed;
  if (row.expired)
    throw new ConnectFailure('This authorization took too long and expired. Start again.', {
      end: endOf(row),
      code: 'expired',
    });
  return row;
}

/** An OAuth error code as RFC 6749 spells them; anything else is not logged. */
const OAUTH_ERROR_CODE = /^[a-z_]{1,64}$/;

/** How a flow ended well: where it reports that, and the connection it saved. */
export interface FlowCompletion {
  end: FlowEnd;
  providerName: ProviderName;
  connectionId: string;
}

/**
 * Completes the flow from the provider's redirect. `browserNonce` reads the nonce the calling
 * browser holds for a state, if any.
 */
export async function completeOAuth(
  deps: CoreDeps,
  query: { state?: string; code?: string; error?: string },
  browserNonce: (stateId: string) => string | undefined,
): Promise<FlowCompletion> {
  const state = await takeState(deps, query.state, browserNonce);
  const end = endOf(state);
  const failed = (message: string, code: ConnectErrorCode) => new ConnectFailure(message, { end, code });
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
  let connectionId: string;
  try {
    connectionId = await saveAuthorizedConnection(deps, {
      projectId: state.projectId,
      customerId: state.customerId,
      providerAppId: state.providerAppId,
      providerName: provider.name,
      authType: 'oauth2',
      credentials,
      instanceUrl,
      tokenExpiresAt: expiry.expires_at ? new Date(expiry.expires_at) : null,
      magicLinkId: state.magicLinkId,
      consumer: state.consumer,
      renewsConnectionId: state.renewsConnectionId,
    });
  } catch (err) {
    if (err instanceof ConnectFailure && !err.back)
      throw failed(err.message, state.renewsConnectionId ? 'connection_removed' : 'link_unusable');
    throw err;
  }
  return { end, providerName: provider.name, connectionId };
}
