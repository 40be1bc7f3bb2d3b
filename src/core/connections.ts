import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Credentials } from '../auth/connection-auth.ts';
import { SEALED_COLUMNS } from '../auth/vault.ts';
import { isProviderName, type ProviderName, providerHostOrigin } from '../connectors/catalog.ts';
import { CATALOG } from '../connectors/index.ts';
import { transaction } from '../db/pool.ts';
import { type Consumer, ensureConsumer } from './consumers.ts';
import { ensureCustomer, findCustomer } from './customers.ts';
import type { EntityMapping, FieldMapping } from './data-model-types.ts';
import type { CoreDeps } from './deps.ts';
import type { ConnectionRef } from './domain-events.ts';
import { badRequest, conflict, notFound } from './errors.ts';
import { emitEvent } from './events.ts';
import { isUuid } from './ids.ts';
import { callProvider, openConnector, verifyCredentials } from './provider-access.ts';
import { providerAppForConnection } from './provider-apps.ts';
import type { ReadOverrides } from './read-plan.ts';
import { checkReadOverrides, reconcileConnectionSyncs } from './syncs.ts';

export type ConnectionStatus = 'created' | 'working' | 'bad_credentials';

export interface Connection {
  id: string;
  projectId: string;
  customerId: string;
  customerRef: string;
  providerAppId: string;
  providerName: ProviderName;
  category: string;
  status: ConnectionStatus;
  authType: string;
  instanceUrl: string;
  /** The customer's field mappings, per provider object that has a schema. */
  fieldMappings: ObjectFieldMappings[];
  /** The customer's entity mappings, which take precedence over the developer's. */
  entityMappings: EntityMapping[];
  /** The connection's own choices within its integration, if any. */
  readOverrides: ReadOverrides | null;
  /** The end user who connected it, when the project named one. */
  consumer: Consumer | null;
}

/** A customer's mappings of one provider object's fields onto the schema attached to it. */
export interface ObjectFieldMappings {
  kind: 'common' | 'standard';
  object: string;
  fields: FieldMapping[];
}

/** Credentials a project already holds for a customer's account, by auth scheme. */
export type HeldCredentials =
  | { authType: 'api_key'; apiKey: string }
  | { authType: 'access_key_secret'; accessKey: string; accessKeySecret: string }
  | {
      authType: 'oauth2';
      refreshToken: string;
      /** The account's own host, for providers whose API lives on one. */
      instanceUrl?: string;
      /** The host that renews the account's tokens, for providers with one per account. */
      loginUrl?: string;
    };

/** A connection made from credentials the project holds rather than through a connect link. */
export interface ManualConnectionInput {
  providerName: ProviderName;
  credentials: HeldCredentials;
}

const select = `select c.id, c.project_id as "projectId", c.customer_id as "customerId",
    cu.external_id as "customerRef", c.provider_app_id as "providerAppId", c.provider_name as "providerName",
    c.category, c.status, c.auth_type as "authType", c.instance_url as "instanceUrl",
    c.field_mappings as "fieldMappings", c.entity_mappings as "entityMappings", c.read_overrides as "readOverrides",
    case when co.id is null then null else json_build_object('ref', co.ref, 'name', co.name) end as consumer
  from connections c join customers cu on cu.id = c.customer_id left join consumers co on co.id = c.consumer_id`;

/** How events name a connection. */
export const connectionRef = (c: Connection): ConnectionRef => ({
  connectionId: c.id,
  customerRef: c.customerRef,
  providerAppId: c.providerAppId,
  providerName: c.providerName,
  category: c.category,
});

export async function listConnections(deps: CoreDeps, projectId: string, customerRef: string) {
  const customer = await findCustomer(deps, projectId, customerRef);
  const { rows } = await deps.db.query<Connection>(
    `${select} where c.customer_id = $1 order by c.provider_name`,
    [customer.id],
  );
  return rows;
}

/** The connection of one customer to one provider (how the Management API names a connection). */
export async function findConnection(
  deps: CoreDeps,
  projectId: string,
  customerRef: string,
  providerName: string,
  client: Pick<pg.ClientBase, 'query'> = deps.db,
): Promise<Connection> {
  const { rows } = await client.query<Connection>(
    `${select} where c.project_id = $1 and cu.external_id = $2 and c.provider_name = $3`,
    [projectId, customerRef, providerName],
  );
  if (!rows[0]) throw notFound(`connection of customer "${customerRef}" to ${providerName}`);
  return rows[0];
}

/** A host the caller gave for the provider, when it is the provider's own; a 400 otherwise. */
function providerHost(deps: CoreDeps, providerName: ProviderName, what: string, raw: string): string {
  try {
    return providerHostOrigin(CATALOG[providerName], raw, deps.config.providerOverrides[providerName]);
  } catch (err) {
    throw badRequest(`${what}: ${(err as Error).message}`);
  }
}

/**
 * The credentials and instance URL of a connection created from a project's own credentials,
 * by auth scheme. An OAuth connection takes the account's own host when the provider's API lives
 * on one (`{instance_url}` in its base URL), and a login host of its own when the provider has
 * those (a per-connection token endpoint in its catalog entry).
 */
export function credentialsOf(
  deps: CoreDeps,
  { providerName, credentials: held }: ManualConnectionInput,
): { credentials: Credentials; instanceUrl: string } {
  const api = CATALOG[providerName].api;
  if (!api || !CATALOG[providerName].authTypes.includes(held.authType)) {
    throw badRequest(`${providerName} connections cannot be created with ${held.authType} credentials`);
  }
  switch (held.authType) {
    case 'api_key':
      return { credentials: { type: 'api_key', api_key: held.apiKey }, instanceUrl: '' };
    case 'access_key_secret':
      return {
        credentials: {
          type: 'access_key_secret',
          access_key: held.accessKey,
          access_key_secret: held.accessKeySecret,
        },
        instanceUrl: '',
      };
    case 'oauth2': {
      const { instanceUrl, loginUrl } = held;
      if (api.baseUrl.includes('{instance_url}') && !instanceUrl) {
        throw badRequest(`the account's instance URL is required for ${providerName}`);
      }
      if (loginUrl && !api.loginTokenUrl) {
        throw badRequest(`${providerName} connections have no login URL of their own`);
      }
      return {
        credentials: {
          type: 'oauth2',
          refresh_token: held.refreshToken,
          access_token: null,
          expires_at: null,
          ...(loginUrl ? { login_url: providerHost(deps, providerName, 'login URL', loginUrl) } : {}),
        },
        instanceUrl: instanceUrl ? providerHost(deps, providerName, 'instance URL', instanceUrl) : '',
      };
    }
  }
}

/** How a new connection is stored: for which customer and end user, and in which state. */
interface NewConnection {
  projectId: string;
  customer: { id: string; ref: string };
  consumer?: Consumer;
  input: ManualConnectionInput;
  credentials: Credentials;
  instanceUrl: string;
  /** `working` once the provider accepted the credentials; `created` when nobody checked them yet. */
  status: ConnectionStatus;
}

/** Inserts the connection with its syncs and announces it; a customer's second one to a provider is a conflict. */
async function insertConnection(
  deps: CoreDeps,
  client: pg.PoolClient,
  c: NewConnection,
): Promise<Connection> {
  const { providerName } = c.input;
  const app = await providerAppForConnection(deps, client, c.projectId, providerName);
  const consumerId = c.consumer ? await ensureConsumer(client, c.projectId, c.customer.id, c.consumer) : null;
  const id = randomUUID();
  const { rows } = await client.query<{ id: string }>(
    `insert into connections (id, project_id, customer_id, provider_app_id, provider_name, category, auth_type,
       credentials_sealed, instance_url, consumer_id, status)
     values ($9, $1, $2, $3, $4, $5, $6, $7, $8, $10, $11) on conflict (customer_id, provider_name) do nothing returning id`,
    [
      c.projectId,
      c.customer.id,
      app.id,
      providerName,
      CATALOG[providerName].category,
      c.input.credentials.authType,
      deps.vault.sealJson(c.credentials, SEALED_COLUMNS.connectionCredentials, id),
      c.instanceUrl,
      id,
      consumerId,
      c.status,
    ],
  );
  if (!rows[0]) throw conflict(`customer "${c.customer.ref}" already has a ${providerName} connection`);
  await reconcileConnectionSyncs(client, rows[0].id);
  const connection = await findConnection(deps, c.projectId, c.customer.ref, providerName, client);
  await emitEvent(deps, client, c.projectId, {
    type: 'connection.created',
    connection: connectionRef(connection),
  });
  return connection;
}

/**
 * Stores credentials a project already holds (API key, access key, or an OAuth refresh token).
 * OAuth providers need the project's provider app (for refreshing).
 */
export async function createConnection(
  deps: CoreDeps,
  projectId: string,
  customerRef: string,
  input: ManualConnectionInput,
  consumer?: Consumer,
): Promise<Connection> {
  const customer = await findCustomer(deps, projectId, customerRef);
  const { credentials, instanceUrl } = credentialsOf(deps, input);
  return transaction(deps.db, (client) =>
    insertConnection(deps, client, {
      projectId,
      customer,
      ...(consumer ? { consumer } : {}),
      input,
      credentials,
      instanceUrl,
      status: 'created',
    }),
  );
}

/** Key-based credentials, the ones a provider can be asked about before they are saved. */
const checkableAuthTypes: readonly HeldCredentials['authType'][] = ['api_key', 'access_key_secret'];

/**
 * A connection made from an API key or an access key pair that an API client sends for its
 * customer and end user: the provider is asked first whether it accepts them (a refusal is a 422),
 * and only then are the customer (made on first use), the end user and the connection saved,
 * together, the connection working from the start.
 */
export async function connectWithCredentials(
  deps: CoreDeps,
  projectId: string,
  request: {
    customer: { ref: string; name?: string };
    consumer: Consumer;
    connection: ManualConnectionInput;
  },
): Promise<Connection> {
  const input = request.connection;
  if (!checkableAuthTypes.includes(input.credentials.authType))
    throw badRequest(`${input.providerName} connections are made here with an API key or an access key pair`);
  const { credentials, instanceUrl } = credentialsOf(deps, input);
  await verifyCredentials(deps, input.providerName, credentials, instanceUrl);
  return transaction(deps.db, async (client) => {
    const customer = await ensureCustomer(client, projectId, request.customer);
    return insertConnection(deps, client, {
      projectId,
      customer,
      consumer: request.consumer,
      input,
      credentials,
      instanceUrl,
      status: 'working',
    });
  });
}

/** What an update changes in a connection: key-based credentials, the account's own host, or both. */
export interface ConnectionChanges {
  credentials?: Extract<HeldCredentials, { authType: 'api_key' | 'access_key_secret' }>;
  /** The account's own host, for providers whose API lives on one. */
  instanceUrl?: string;
}

const credentialWords: Record<string, string> = {
  api_key: 'an API key',
  access_key_secret: 'an access key pair',
  oauth2: 'OAuth',
};

/**
 * Changes a connection named by its id. New credentials must be of the kind it already uses; the
 * provider is asked whether it accepts them before they are saved, and then, as a
 * re-authorization does, the connection is working again and the syncs that bad credentials
 * paused resume. A new host must be the provider's own.
 */
export async function updateConnectionById(
  deps: CoreDeps,
  projectId: string,
  connectionId: string,
  changes: ConnectionChanges,
): Promise<void> {
  if (!isUuid(connectionId)) throw notFound(`connection "${connectionId}"`);
  const { rows } = await deps.db.query<{ providerName: ProviderName; authType: string; instanceUrl: string }>(
    `select provider_name as "providerName", auth_type as "authType", instance_url as "instanceUrl"
       from connections where project_id = $1 and id = $2 and customer_id is not null`,
    [projectId, connectionId],
  );
  const current = rows[0];
  if (!current) throw notFound(`connection "${connectionId}"`);
  const { providerName } = current;
  let instanceUrl = current.instanceUrl;
  if (changes.instanceUrl !== undefined) {
    if (!CATALOG[providerName].api?.baseUrl.includes('{instance_url}'))
      throw badRequest(`${providerName} connections have no host of their own`);
    instanceUrl = providerHost(deps, providerName, 'instance URL', changes.instanceUrl);
  }
  const held = changes.credentials;
  let credentials: Credentials | undefined;
  if (held) {
    if (held.authType !== current.authType)
      throw badRequest(
        `this connection uses ${credentialWords[current.authType] ?? current.authType}, not ${credentialWords[held.authType]}`,
      );
    credentials = credentialsOf(deps, { providerName, credentials: held }).credentials;
    await verifyCredentials(deps, providerName, credentials, instanceUrl);
  }
  // Nothing to change: the connection is left as it was, its update time included.
  if (!credentials && changes.instanceUrl === undefined) return;
  await transaction(deps.db, async (client) => {
    const updated = await client.query(
      `update connections set instance_url = $2, updated_at = now(),
         credentials_sealed = coalesce($3, credentials_sealed),
         status = case when $3::text is null then status else 'working' end
       where id = $1`,
      [
        connectionId,
        instanceUrl,
        credentials
          ? deps.vault.sealJson(credentials, SEALED_COLUMNS.connectionCredentials, connectionId)
          : null,
      ],
    );
    if (!updated.rowCount) throw notFound(`connection "${connectionId}"`);
    if (credentials) {
      await client.query(
        `update syncs set paused = false, pause_reason = null, next_run_at = now(), updated_at = now()
          where connection_id = $1 and pause_reason = 'credentials'`,
        [connectionId],
      );
    }
  });
}

export async function deleteConnection(
  deps: CoreDeps,
  projectId: string,
  customerRef: string,
  providerName: string,
): Promise<void> {
  await transaction(deps.db, async (client) => {
    const connection = await findConnection(deps, projectId, customerRef, providerName, client);
    await client.query('delete from connections where id = $1', [connection.id]);
    await emitEvent(deps, client, projectId, {
      type: 'connection.deleted',
      connection: connectionRef(connection),
    });
  });
}

export async function getReadOverrides(
  deps: CoreDeps,
  projectId: string,
  customerRef: string,
  providerName: string,
): Promise<ReadOverrides> {
  const connection = await findConnection(deps, projectId, customerRef, providerName);
  if (!connection.readOverrides) throw notFound('connection sync config');
  return connection.readOverrides;
}

/** Sets (or with `null` removes) a connection's overrides and adjusts its syncs to match. */
export async function setReadOverrides(
  deps: CoreDeps,
  projectId: string,
  customerRef: string,
  providerName: string,
  overrides: ReadOverrides | null,
): Promise<ReadOverrides | null> {
  return transaction(deps.db, async (client) => {
    const connection = await findConnection(deps, projectId, customerRef, providerName, client);
    if (overrides === null && !connection.readOverrides) throw notFound('connection sync config');
    if (overrides) await checkReadOverrides(client, connection.id, overrides);
    await client.query('update connections set read_overrides = $2, updated_at = now() where id = $1', [
      connection.id,
      overrides,
    ]);
    await reconcileConnectionSyncs(client, connection.id);
    return overrides;
  });
}

/** The connected user at the provider (Supaglue: provider user id). */
export async function getProviderUserId(
  deps: CoreDeps,
  projectId: string,
  customerRef: string,
  providerName: string,
) {
  if (!isProviderName(providerName)) throw badRequest(`unknown provider "${providerName}"`);
  const connection = await findConnection(deps, projectId, customerRef, providerName);
  return callProvider(async () => {
    const { connector, ctx } = await openConnector(deps, connection.id, { interactive: true });
    if (!connector.whoAmI)
      throw badRequest(`looking up the connected user is not supported for ${providerName}`);
    return connector.whoAmI(ctx);
  });
}

export async function getRateLimitInfo(
  deps: CoreDeps,
  projectId: string,
  customerRef: string,
  providerName: string,
) {
  const connection = await findConnection(deps, projectId, customerRef, providerName);
  return callProvider(async () => {
    const { connector, ctx } = await openConnector(deps, connection.id, { interactive: true });
    if (!connector.rateLimitInfo)
      throw badRequest(`rate-limit information is not supported for ${providerName}`);
    return connector.rateLimitInfo(ctx);
  });
}
