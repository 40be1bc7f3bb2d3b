import type { Credentials } from '../../auth/connection-auth.ts';
import { newBrowserBinding, signState, verifyState } from '../../auth/oauth-state.ts';
import { SEALED_COLUMNS } from '../../auth/vault.ts';
import { isProviderName, type ProviderName, providerUrl } from '../../connectors/catalog.ts';
import { CATALOG } from '../../connectors/index.ts';
import { ensureCustomer } from '../customers.ts';
import type { CoreDeps } from '../deps.ts';
import { notFound, unprocessable } from '../errors.ts';
import { isUuid } from '../ids.ts';
import { ConnectFailure } from './links.ts';
import { authorizeUrl, insertState, newVerifier } from './oauth-flow.ts';

/**
 * The OAuth flow a page of the project's product starts in a popup (Ampersand's UI library does
 * this): the project's server-side API call records the customer, the end user and the exact origin
 * of that page, and answers a start URL on Trellis. The first browser that opens the start URL
 * claims the flow (its cookie binds it, as for magic links) and goes on to the provider; the
 * callback posts the outcome to the recorded origin only.
 */

/** Trellis's own page that claims a popup's state for the browser, then sends it to the provider. */
export const POPUP_START_PATH = '/oauth/start';

/** An OAuth connection a page asks for, in the core's words. */
export interface PopupConnectRequest {
  projectId: string;
  providerName: string;
  /** One of the project's apps for the provider; its default app when absent. */
  providerAppId?: string;
  customer: { ref: string; name?: string };
  consumer: { ref: string; name?: string };
  /** The page that opens the popup: the only origin the outcome is posted to. */
  openerOrigin: string;
}

interface OAuthApp {
  id: string;
  providerName: ProviderName;
  authType: string;
  configured: boolean;
}

const appColumns = `id, provider_name as "providerName", auth_type as "authType",
  client_id is not null and client_secret_sealed is not null as configured`;

/** An app the flow can use: an OAuth client with its id and secret. */
function usableApp(app: OAuthApp): OAuthApp {
  const provider = CATALOG[app.providerName];
  if (app.authType !== 'oauth2' || !provider.api?.authorizeUrl)
    throw unprocessable(
      `${provider.displayName} is connected with credentials here, not OAuth: use connections:generate`,
    );
  if (!app.configured)
    throw unprocessable(`the ${provider.name} provider app has no OAuth client id and secret yet`);
  return app;
}

const startUrl = (deps: CoreDeps, projectId: string, stateId: string) =>
  `${deps.config.publicUrl}${POPUP_START_PATH}?state=${encodeURIComponent(signState(deps.vault, projectId, stateId))}`;

/** Starts a connection in a popup; returns the URL the page opens. */
export async function startPopupConnect(deps: CoreDeps, request: PopupConnectRequest): Promise<string> {
  const { projectId, providerName } = request;
  if (!isProviderName(providerName))
    throw unprocessable(
      `Trellis does not connect to "${providerName}"; GET /v1/providers lists those it does`,
    );
  if (request.providerAppId !== undefined && !isUuid(request.providerAppId))
    throw notFound(`provider app "${request.providerAppId}"`);
  const { rows: apps } = await deps.db.query<OAuthApp>(
    `select ${appColumns} from provider_apps
      where project_id = $1 and provider_name = $2 and ($3::uuid is null and is_default or id = $3::uuid)`,
    [projectId, providerName, request.providerAppId ?? null],
  );
  if (!apps[0])
    throw request.providerAppId
      ? notFound(`provider app "${request.providerAppId}" for ${providerName}`)
      : unprocessable(`the project has no ${providerName} provider app; create one first`);
  const app = usableApp(apps[0]);
  const customer = await ensureCustomer(deps.db, projectId, request.customer);
  const stateId = await insertState(deps, {
    projectId,
    customerId: customer.id,
    providerAppId: app.id,
    end: { openerOrigin: request.openerOrigin },
    magicLinkId: null,
    loginUrl: null,
    verifier: newVerifier(CATALOG[providerName]),
    bindingHash: null,
    consumer: { ref: request.consumer.ref, name: request.consumer.name ?? '' },
    renewsConnectionId: null,
  });
  return startUrl(deps, projectId, stateId);
}

/**
 * Starts a re-authorization of an OAuth connection in a popup; returns the URL the page opens. On
 * success the connection's credentials are replaced, and it works again.
 */
export async function startPopupRenewal(
  deps: CoreDeps,
  request: { projectId: string; connectionId: string; openerOrigin: string },
): Promise<string> {
  const { projectId, connectionId } = request;
  if (!isUuid(connectionId)) throw notFound(`connection "${connectionId}"`);
  const { rows } = await deps.db.query<OAuthApp & { customerId: string; credentialsSealed: string }>(
    `select a.id, a.provider_name as "providerName", c.auth_type as "authType",
            a.client_id is not null and a.client_secret_sealed is not null as configured,
            c.customer_id as "customerId", c.credentials_sealed as "credentialsSealed"
       from connections c join provider_apps a on a.id = c.provider_app_id
      where c.project_id = $1 and c.id = $2 and c.customer_id is not null`,
    [projectId, connectionId],
  );
  const connection = rows[0];
  if (!connection) throw notFound(`connection "${connectionId}"`);
  const app = usableApp(connection);
  // A sandbox connection is re-authorized at the sandbox login host; any other at the usual one.
  const held = deps.vault.openJson<Credentials>(
    connection.credentialsSealed,
    SEALED_COLUMNS.connectionCredentials,
    connectionId,
  );
  const sandbox = CATALOG[app.providerName].api?.sandboxAuthorizeUrl;
  const sandboxLogin = sandbox
    ? new URL(providerUrl(sandbox, { override: deps.config.providerOverrides[app.providerName] })).origin
    : undefined;
  const stateId = await insertState(deps, {
    projectId,
    customerId: connection.customerId,
    providerAppId: app.id,
    end: { openerOrigin: request.openerOrigin },
    magicLinkId: null,
    loginUrl: held.type === 'oauth2' && sandboxLogin && held.login_url === sandboxLogin ? sandboxLogin : null,
    verifier: newVerifier(CATALOG[app.providerName]),
    bindingHash: null,
    consumer: null,
    renewsConnectionId: connectionId,
  });
  return startUrl(deps, projectId, stateId);
}

/**
 * Claims a popup's state for the browser that opened its start URL, first come only: the provider
 * URL to send it on to, and the nonce it must keep (in the state's cookie) and bring back to the
 * callback. A start URL opened a second time, anywhere, claims nothing.
 */
export async function claimPopupState(
  deps: CoreDeps,
  raw: string | undefined,
): Promise<{ authorizeUrl: string; stateId: string; browserNonce: string }> {
  const verified = raw ? verifyState(deps.vault, raw) : undefined;
  if (!verified || !isUuid(verified.stateId) || !isUuid(verified.projectId))
    throw new ConnectFailure(
      'This authorization is not one Trellis started. Start again from the application.',
    );
  const { stateId, projectId } = verified;
  const binding = newBrowserBinding();
  const { rows: claimed } = await deps.db.query<{
    providerAppId: string;
    verifierSealed: string | null;
    openerOrigin: string;
    loginUrl: string | null;
  }>(
    `update oauth_states set browser_binding_hash = $3
      where id = $1 and project_id = $2 and opener_origin is not null and browser_binding_hash is null
        and used_at is null and expires_at > now()
      returning provider_app_id as "providerAppId", code_verifier_sealed as "verifierSealed",
                opener_origin as "openerOrigin", login_url as "loginUrl"`,
    [stateId, projectId, binding.hash],
  );
  const state = claimed[0];
  if (!state) {
    const { rows } = await deps.db.query<{ openerOrigin: string | null; expired: boolean }>(
      `select opener_origin as "openerOrigin", expires_at <= now() as expired from oauth_states
        where id = $1 and project_id = $2`,
      [stateId, projectId],
    );
    const known = rows[0];
    if (!known?.openerOrigin)
      throw new ConnectFailure('This authorization is unknown. Start again from the application.');
    const end = { openerOrigin: known.openerOrigin };
    if (known.expired)
      throw new ConnectFailure(
        'This authorization took too long and expired. Start again from the application.',
        {
          end,
          code: 'expired',
        },
      );
    throw new ConnectFailure(
      'This authorization was already opened in another window. Start again from the application.',
      { end, code: 'already_used' },
    );
  }
  const end = { openerOrigin: state.openerOrigin };
  const { rows: apps } = await deps.db.query<{
    providerName: ProviderName;
    clientId: string | null;
    scopes: string[];
  }>(
    `select provider_name as "providerName", client_id as "clientId", scopes from provider_apps
      where id = $1 and project_id = $2`,
    [state.providerAppId, projectId],
  );
  const app = apps[0];
  if (!app?.clientId)
    throw new ConnectFailure('The provider app is no longer configured.', { end, code: 'not_configured' });
  const api = CATALOG[app.providerName].api!;
  return {
    authorizeUrl: authorizeUrl(deps, {
      provider: CATALOG[app.providerName],
      // Only a sandbox connection's renewal has a login host of its own (see startPopupRenewal).
      template: (state.loginUrl && api.sandboxAuthorizeUrl) || api.authorizeUrl!,
      clientId: app.clientId,
      scopes: app.scopes,
      projectId,
      stateId,
      verifier: state.verifierSealed
        ? deps.vault.open(state.verifierSealed, SEALED_COLUMNS.oauthCodeVerifier, stateId)
        : undefined,
    }),
    stateId,
    browserNonce: binding.nonce,
  };
}
