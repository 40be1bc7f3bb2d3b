import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Credentials } from '../auth/connection-auth.ts';
import { SEALED_COLUMNS } from '../auth/vault.ts';
import type { AuthType, ProviderName } from '../connectors/catalog.ts';
import { CATALOG } from '../connectors/index.ts';
import type { FieldDescription } from '../connectors/types.ts';
import { transaction } from '../db/pool.ts';
import { type ConnectionStatus, credentialsOf, type HeldCredentials } from './connections.ts';
import type { CoreDeps } from './deps.ts';
import { DomainError, InvalidInput, notFound } from './errors.ts';
import { isUuid } from './ids.ts';
import { describeObjectFields } from './object-fields.ts';
import { verifyConnection } from './provider-access.ts';
import { providerAppForConnection } from './provider-apps.ts';
import { type AuthScheme, allAuthSchemeIds, findAuthScheme, type RateLimit } from './provider-catalog.ts';
import { firstDuplicate } from './validation.ts';

/**
 * Connections the project owns itself rather than one of its customers (the Connectors API's
 * connectors): named, several to one provider if it likes, made from settings — named values, the
 * credentials of its auth scheme among them — and with a pace of its own for the provider. Their
 * credentials are sealed where every connection's are; the other secret settings are sealed beside
 * them; no secret value is ever returned. They are reached by id, only by their project, and no
 * customer-facing listing or flow sees them.
 */

/** A named value a connection was made with. */
export interface ConnectionSetting {
  key: string;
  label: string;
  secret: boolean;
  /** Null for a secret setting: its value is never shown once saved. */
  value: string | null;
}

/** A setting as a caller gives it. */
export interface SettingInput {
  key: string;
  label?: string;
  /** Ignored for the settings of the auth scheme, whose secrecy the catalog decides. */
  secret?: boolean;
  /** Absent (or, for a secret setting, null): the setting keeps its saved value. */
  value?: string | null;
}

export interface ProjectOwnedConnection {
  id: string;
  projectId: string;
  name: string;
  providerName: ProviderName;
  scheme: AuthScheme;
  status: ConnectionStatus;
  /** The pace chosen for it; null: the provider's default. */
  rateLimit: RateLimit | null;
  settings: ConnectionSetting[];
  /** The document the surface that created or last changed it kept with it. */
  source: Record<string, unknown> | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewProjectOwnedConnection {
  name: string;
  authSchemeId: string;
  rateLimit: RateLimit | null;
  settings: SettingInput[];
  source?: Record<string, unknown>;
}

/** What an update changes; what it leaves out stays as it was. */
export interface ProjectOwnedConnectionChanges {
  name?: string;
  authSchemeId?: string;
  rateLimit?: RateLimit | null;
  /** The whole list: settings left out are removed (secret values not re-sent are kept). */
  settings?: SettingInput[];
  source?: Record<string, unknown>;
}

export interface ProjectOwnedConnectionQuery {
  /** Only connections to these providers (none: no connection). */
  providerNames?: readonly string[];
  /** Only connections whose source has, at each key, one of the values. */
  sourceValues?: readonly { key: string; values: readonly string[] }[];
  order?: 'created' | 'name' | '-name';
  offset: number;
  limit: number;
}

interface Row {
  id: string;
  projectId: string;
  name: string;
  providerName: ProviderName;
  authType: AuthType;
  status: ConnectionStatus;
  instanceUrl: string;
  rateLimitRequests: number | null;
  rateLimitPeriodSeconds: number | null;
  settings: ConnectionSetting[];
  source: Record<string, unknown> | null;
  createdAt: Date;
  updatedAt: Date;
}

const COLUMNS = `id, project_id as "projectId", name, provider_name as "providerName", auth_type as "authType",
  status, instance_url as "instanceUrl", rate_limit_requests as "rateLimitRequests",
  rate_limit_period_seconds as "rateLimitPeriodSeconds", settings, source,
  created_at as "createdAt", updated_at as "updatedAt"`;

/** The project's own connections: the filter every query here starts from. */
const OWNED = 'from connections where project_id = $1 and customer_id is null';

function connectionOf(row: Row): ProjectOwnedConnection {
  const scheme = findAuthScheme(`${row.providerName}:${row.authType}`);
  if (!scheme) throw new Error(`connection ${row.id} uses an auth scheme the catalog lost`);
  return {
    id: row.id,
    projectId: row.projectId,
    name: row.name,
    providerName: row.providerName,
    scheme,
    status: row.status,
    rateLimit:
      row.rateLimitRequests && row.rateLimitPeriodSeconds
        ? { requests: row.rateLimitRequests, periodSeconds: row.rateLimitPeriodSeconds }
        : null,
    // The account's host may change as tokens are refreshed: the connection's own column says it.
    settings: row.settings.map((s) => (s.key === 'instance_url' ? { ...s, value: row.instanceUrl } : s)),
    source: row.source,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export async function listProjectOwnedConnections(
  deps: CoreDeps,
  projectId: string,
  query: ProjectOwnedConnectionQuery,
): Promise<{ connections: ProjectOwnedConnection[]; total: number }> {
  const params: unknown[] = [projectId];
  const where: string[] = [];
  if (query.providerNames) {
    params.push(query.providerNames);
    where.push(`provider_name = any($${params.length}::text[])`);
  }
  for (const { key, values } of query.sourceValues ?? []) {
    params.push(key, values);
    where.push(`source->>$${params.length - 1} = any($${params.length}::text[])`);
  }
  const from = `${OWNED}${where.map((w) => ` and ${w}`).join('')}`;
  const order =
    query.order === 'name'
      ? 'name, created_at, id'
      : query.order === '-name'
        ? 'name desc, created_at desc, id desc'
        : 'created_at, id';
  const { rows } = await deps.db.query<Row>(
    `select ${COLUMNS} ${from} order by ${order} offset $${params.length + 1} limit $${params.length + 2}`,
    [...params, query.offset, query.limit],
  );
  const { rows: count } = await deps.db.query<{ n: number }>(`select count(*)::int as n ${from}`, params);
  return { connections: rows.map(connectionOf), total: count[0]!.n };
}

export async function getProjectOwnedConnection(
  deps: CoreDeps,
  projectId: string,
  connectionId: string,
  client: Pick<pg.ClientBase, 'query'> = deps.db,
): Promise<ProjectOwnedConnection> {
  if (!isUuid(connectionId)) throw notFound(`connection "${connectionId}"`);
  const { rows } = await client.query<Row>(`select ${COLUMNS} ${OWNED} and id = $2`, [
    projectId,
    connectionId,
  ]);
  if (!rows[0]) throw notFound(`connection "${connectionId}"`);
  return connectionOf(rows[0]);
}

function schemeOf(id: string): AuthScheme {
  const scheme = findAuthScheme(id);
  if (!scheme)
    throw new InvalidInput(
      'scheme',
      `"${id}" is not an auth scheme; known: ${allAuthSchemeIds().join(', ')}`,
    );
  return scheme;
}

function checkName(name: string): string {
  if (name.trim() === '') throw new InvalidInput('name', 'must not be empty');
  return name;
}

function checkRateLimit(rateLimit: RateLimit | null): RateLimit | null {
  if (rateLimit === null) return null;
  for (const [field, value] of [
    ['requests', rateLimit.requests],
    ['periodSeconds', rateLimit.periodSeconds],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > 2_147_483_647)
      throw new InvalidInput(`rateLimit.${field}`, 'must be a whole number from 1');
  }
  return rateLimit;
}

/** A setting with its value, secret or not, as the core holds it between the request and the vault. */
type ResolvedSetting = Omit<ConnectionSetting, 'value'> & { value: string | null };

/**
 * The settings a request leaves the connection with: each takes the catalog's secrecy and label
 * where the scheme defines it, one whose value is not re-sent keeps its saved value, and every
 * setting the scheme requires must have a value.
 */
function resolveSettings(
  scheme: AuthScheme,
  given: SettingInput[],
  saved: ReadonlyMap<string, ResolvedSetting>,
): ResolvedSetting[] {
  const twice = firstDuplicate(given.map((s) => s.key));
  if (twice !== undefined) throw new InvalidInput('settings', `"${twice}" is given twice`);
  const settings = given.map((input): ResolvedSetting => {
    if (input.key.trim() === '') throw new InvalidInput('settings', 'a setting has an empty key');
    const spec = scheme.settings.find((s) => s.key === input.key);
    const before = saved.get(input.key);
    const secret = spec?.secret ?? input.secret ?? before?.secret ?? false;
    // Secrets read back as null, so a null one is not re-sent either.
    const resent = input.value !== undefined && !(secret && input.value === null);
    return {
      key: input.key,
      label: input.label ?? before?.label ?? spec?.label ?? input.key,
      secret,
      value: resent ? (input.value ?? null) : (before?.value ?? null),
    };
  });
  for (const spec of scheme.settings.filter((s) => s.required)) {
    const setting = settings.find((s) => s.key === spec.key);
    if (!setting?.value)
      throw new InvalidInput(`settings.${spec.key}`, `${spec.key} is required by ${scheme.id}`);
  }
  return settings;
}

/** The credentials the scheme's settings make. */
function heldCredentials(scheme: AuthScheme, settings: ResolvedSetting[]): HeldCredentials {
  const value = (key: string) => settings.find((s) => s.key === key)?.value ?? undefined;
  switch (scheme.authType) {
    case 'api_key':
      return { authType: 'api_key', apiKey: value('api_key')! };
    case 'access_key_secret':
      return {
        authType: 'access_key_secret',
        accessKey: value('access_key')!,
        accessKeySecret: value('access_key_secret')!,
      };
    case 'oauth2': {
      const instanceUrl = value('instance_url');
      const loginUrl = value('login_url');
      return {
        authType: 'oauth2',
        refreshToken: value('refresh_token')!,
        ...(instanceUrl ? { instanceUrl } : {}),
        ...(loginUrl ? { loginUrl } : {}),
      };
    }
  }
}

/** Credentials and host checked as every connection's are; a host that is not the provider's names its setting. */
function credentialsFor(deps: CoreDeps, scheme: AuthScheme, settings: ResolvedSetting[]) {
  try {
    return credentialsOf(deps, {
      providerName: scheme.providerName,
      credentials: heldCredentials(scheme, settings),
    });
  } catch (err) {
    if (err instanceof DomainError && err.kind === 'bad_request') {
      const field = /login URL/.test(err.message) ? 'settings.login_url' : 'settings.instance_url';
      throw new InvalidInput(field, err.message);
    }
    throw err;
  }
}

/** What is stored of the settings: secrets blanked in the list, the others' secret values sealed apart. */
function storedSettings(
  deps: CoreDeps,
  scheme: AuthScheme,
  connectionId: string,
  settings: ResolvedSetting[],
) {
  const sealedApart = Object.fromEntries(
    settings
      .filter((s) => s.secret && s.value !== null && !scheme.settings.some((c) => c.key === s.key))
      .map((s) => [s.key, s.value]),
  );
  return {
    list: JSON.stringify(settings.map((s) => ({ ...s, value: s.secret ? null : s.value }))),
    secrets:
      Object.keys(sealedApart).length > 0
        ? deps.vault.sealJson(sealedApart, SEALED_COLUMNS.connectionSecretSettings, connectionId)
        : null,
  };
}

/** The provider app of a new connection; an OAuth scheme needs the project's OAuth client. */
async function appFor(deps: CoreDeps, client: pg.PoolClient, projectId: string, scheme: AuthScheme) {
  const missing = new InvalidInput(
    'scheme',
    `${scheme.id} needs the project's ${CATALOG[scheme.providerName].displayName} OAuth client: register it (its provider app) first`,
  );
  const app = await providerAppForConnection(deps, client, projectId, scheme.providerName).catch((err) => {
    throw err instanceof DomainError && err.kind === 'not_found' ? missing : err;
  });
  if (scheme.authType === 'oauth2' && !(app.clientId && app.hasClientSecret)) throw missing;
  return app;
}

/**
 * Makes a connection the project owns. Nothing is asked of the provider yet: the connection is
 * `created` until it is checked (`checkProjectOwnedConnection`) or used.
 */
export async function createProjectOwnedConnection(
  deps: CoreDeps,
  projectId: string,
  input: NewProjectOwnedConnection,
): Promise<ProjectOwnedConnection> {
  const name = checkName(input.name);
  const scheme = schemeOf(input.authSchemeId);
  const rateLimit = checkRateLimit(input.rateLimit);
  const settings = resolveSettings(scheme, input.settings, new Map());
  const { credentials, instanceUrl } = credentialsFor(deps, scheme, settings);
  const id = randomUUID();
  const stored = storedSettings(deps, scheme, id, settings);
  return transaction(deps.db, async (client) => {
    const app = await appFor(deps, client, projectId, scheme);
    await client.query(
      `insert into connections (id, project_id, customer_id, name, provider_app_id, provider_name, category,
         auth_type, credentials_sealed, instance_url, status, settings, secret_settings_sealed,
         rate_limit_requests, rate_limit_period_seconds, source)
       values ($1, $2, null, $3, $4, $5, $6, $7, $8, $9, 'created', $10, $11, $12, $13, $14)`,
      [
        id,
        projectId,
        name,
        app.id,
        scheme.providerName,
        CATALOG[scheme.providerName].category,
        scheme.authType,
        deps.vault.sealJson(credentials, SEALED_COLUMNS.connectionCredentials, id),
        instanceUrl,
        stored.list,
        stored.secrets,
        rateLimit?.requests ?? null,
        rateLimit?.periodSeconds ?? null,
        input.source ?? null,
      ],
    );
    return getProjectOwnedConnection(deps, projectId, id, client);
  });
}

/** The saved settings with their values, secret ones opened from where they are sealed. */
function savedSettings(
  deps: CoreDeps,
  connection: ProjectOwnedConnection,
  sealed: { credentials: string; secrets: string | null },
): Map<string, ResolvedSetting> {
  const credentials = deps.vault.openJson<Credentials>(
    sealed.credentials,
    SEALED_COLUMNS.connectionCredentials,
    connection.id,
  );
  const secrets = sealed.secrets
    ? deps.vault.openJson<Record<string, string>>(
        sealed.secrets,
        SEALED_COLUMNS.connectionSecretSettings,
        connection.id,
      )
    : {};
  const fromCredentials: Record<string, string | undefined> = {
    api_key: credentials.type === 'api_key' ? credentials.api_key : undefined,
    access_key: credentials.type === 'access_key_secret' ? credentials.access_key : undefined,
    access_key_secret: credentials.type === 'access_key_secret' ? credentials.access_key_secret : undefined,
    refresh_token: credentials.type === 'oauth2' ? credentials.refresh_token : undefined,
  };
  const credentialKeys = new Set(connection.scheme.settings.map((s) => s.key));
  return new Map(
    connection.settings.map((s) => [
      s.key,
      {
        ...s,
        value: !s.secret
          ? s.value
          : ((credentialKeys.has(s.key) ? fromCredentials[s.key] : secrets[s.key]) ?? null),
      },
    ]),
  );
}

const sameCredentials = (a: HeldCredentials, b: HeldCredentials) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Changes a connection the project owns. New credentials are saved unchecked, and the connection
 * is `created` again until they are checked or used; credentials left as they were keep their
 * tokens and its status. It stays with its provider.
 */
export async function updateProjectOwnedConnection(
  deps: CoreDeps,
  projectId: string,
  connectionId: string,
  changes: ProjectOwnedConnectionChanges,
): Promise<ProjectOwnedConnection> {
  return transaction(deps.db, async (client) => {
    const current = await getProjectOwnedConnection(deps, projectId, connectionId, client);
    const { rows } = await client.query<{ credentials: string; secrets: string | null }>(
      `select credentials_sealed as credentials, secret_settings_sealed as secrets from connections
        where id = $1 for update`,
      [connectionId],
    );
    const saved = savedSettings(deps, current, rows[0]!);
    const name = changes.name === undefined ? current.name : checkName(changes.name);
    const scheme = changes.authSchemeId === undefined ? current.scheme : schemeOf(changes.authSchemeId);
    if (scheme.providerName !== current.providerName)
      throw new InvalidInput(
        'scheme',
        `a connection stays with its provider: use one of ${current.providerName}'s schemes`,
      );
    const rateLimit = changes.rateLimit === undefined ? current.rateLimit : checkRateLimit(changes.rateLimit);
    const given = changes.settings ?? current.settings.map(({ key }) => ({ key }));
    const settings = resolveSettings(scheme, given, saved);
    const held = heldCredentials(scheme, settings);
    const unchanged =
      scheme.id === current.scheme.id && sameCredentials(held, heldCredentials(scheme, [...saved.values()]));
    const stored = storedSettings(deps, scheme, connectionId, settings);
    if (scheme.id !== current.scheme.id) await appFor(deps, client, projectId, scheme);
    const renewed = unchanged ? undefined : credentialsFor(deps, scheme, settings);
    await client.query(
      `update connections set name = $2, auth_type = $3, settings = $4, secret_settings_sealed = $5,
         rate_limit_requests = $6, rate_limit_period_seconds = $7, source = $8, updated_at = now(),
         credentials_sealed = coalesce($9, credentials_sealed), instance_url = coalesce($10, instance_url),
         token_expires_at = case when $9::text is null then token_expires_at end,
         status = case when $9::text is null then status else 'created' end
       where id = $1`,
      [
        connectionId,
        name,
        scheme.authType,
        stored.list,
        stored.secrets,
        rateLimit?.requests ?? null,
        rateLimit?.periodSeconds ?? null,
        changes.source ?? current.source,
        renewed
          ? deps.vault.sealJson(renewed.credentials, SEALED_COLUMNS.connectionCredentials, connectionId)
          : null,
        renewed?.instanceUrl ?? null,
      ],
    );
    return getProjectOwnedConnection(deps, projectId, connectionId, client);
  });
}

export async function deleteProjectOwnedConnection(
  deps: CoreDeps,
  projectId: string,
  connectionId: string,
): Promise<void> {
  if (!isUuid(connectionId)) throw notFound(`connection "${connectionId}"`);
  const { rowCount } = await deps.db.query(`delete ${OWNED} and id = $2`, [projectId, connectionId]);
  if (!rowCount) throw notFound(`connection "${connectionId}"`);
}

/**
 * Asks the provider whether it accepts the connection's credentials (`verifyConnection`): a
 * refusal marks it `bad_credentials`, an acceptance makes it `working`.
 */
export async function checkProjectOwnedConnection(
  deps: CoreDeps,
  projectId: string,
  connectionId: string,
): Promise<void> {
  await getProjectOwnedConnection(deps, projectId, connectionId);
  await verifyConnection(deps, connectionId);
}

/**
 * The fields of one of the provider's objects, as the provider describes them on this connection;
 * null for an object the connector does not describe. A provider that fails (refuses the
 * credentials, cannot be reached) fails the call.
 */
export async function describeProjectOwnedConnectionObject(
  deps: CoreDeps,
  projectId: string,
  connectionId: string,
  object: string,
): Promise<FieldDescription[] | null> {
  try {
    return await describeObjectFields(deps, projectId, connectionId, object, 'project');
  } catch (err) {
    const undescribed =
      err instanceof DomainError &&
      (err.kind === 'bad_request' ||
        (err.kind === 'remote_provider' && (err.reason === 'validation' || err.reason === 'not_found')));
    if (undescribed) return null;
    throw err;
  }
}
