import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { SEALED_COLUMNS } from '../auth/vault.ts';
import { type AuthType, type Category, isProviderName, type ProviderName } from '../connectors/catalog.ts';
import { CATALOG } from '../connectors/index.ts';
import { transaction } from '../db/pool.ts';
import type { EntityMapping } from './data-model-types.ts';
import type { CoreDeps } from './deps.ts';
import { badRequest, conflict, notFound } from './errors.ts';
import { isUuid } from './ids.ts';
import { reconcileConnectionSyncs } from './syncs.ts';
import { firstDuplicate } from './validation.ts';

/** A project's app registration with one provider: its OAuth client and what it maps. */
export interface ProviderApp {
  id: string;
  projectId: string;
  providerName: ProviderName;
  category: Category;
  authType: AuthType;
  clientId: string | null;
  hasClientSecret: boolean;
  scopes: string[];
  externalRef: string | null;
  useManagedOauth: boolean;
  /** The provider objects the project reads as common or standard objects, in the order given. */
  objects: ProviderAppObject[];
  /** The developer's entity mappings, for every customer of this provider. */
  entityMappings: EntityMapping[];
  /** The provider's default app: the one flows use unless they name another. */
  isDefault: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** A provider object the project reads, with the schema its fields are mapped onto, if any. */
export interface ProviderAppObject {
  kind: 'common' | 'standard';
  object: string;
  schemaId?: string;
}

export interface ProviderAppInput {
  providerName?: string;
  category?: string;
  authType: AuthType;
  clientId?: string;
  clientSecret?: string;
  scopes?: string[];
  externalRef?: string;
  useManagedOauth?: boolean;
  objects?: ProviderAppObject[];
  entityMappings?: EntityMapping[];
}

const columns = `id, project_id as "projectId", provider_name as "providerName", category, auth_type as "authType",
  client_id as "clientId", client_secret_sealed is not null as "hasClientSecret", scopes, external_ref as "externalRef",
  use_managed_oauth as "useManagedOauth", objects, entity_mappings as "entityMappings", is_default as "isDefault",
  created_at as "createdAt", updated_at as "updatedAt"`;

/**
 * Which of a project's apps a caller sees: all of them, or only each provider's default (a
 * surface that knows one app per provider).
 */
export interface ProviderAppScope {
  defaultsOnly?: boolean;
}

export async function listProviderApps(
  deps: CoreDeps,
  projectId: string,
  scope: ProviderAppScope = {},
): Promise<ProviderApp[]> {
  const { rows } = await deps.db.query<ProviderApp>(
    `select ${columns} from provider_apps where project_id = $1 and (is_default or not $2) order by created_at, id`,
    [projectId, scope.defaultsOnly ?? false],
  );
  return rows;
}

export async function getProviderApp(
  deps: CoreDeps,
  projectId: string,
  id: string,
  scope: ProviderAppScope = {},
): Promise<ProviderApp> {
  if (!isUuid(id)) throw notFound('provider');
  const { rows } = await deps.db.query<ProviderApp>(
    `select ${columns} from provider_apps where project_id = $1 and id = $2 and (is_default or not $3)`,
    [projectId, id, scope.defaultsOnly ?? false],
  );
  if (!rows[0]) throw notFound('provider');
  return rows[0];
}

/** The provider's default app: the one the Management API addresses by the provider's name. */
export async function findProviderAppByName(
  db: Pick<pg.ClientBase, 'query'>,
  projectId: string,
  providerName: string,
): Promise<ProviderApp | undefined> {
  const { rows } = await db.query<ProviderApp>(
    `select ${columns} from provider_apps where project_id = $1 and provider_name = $2 and is_default`,
    [projectId, providerName],
  );
  return rows[0];
}

/** The OAuth client secret, for the auth flows only. */
export async function getClientSecret(deps: CoreDeps, providerAppId: string): Promise<string | undefined> {
  const { rows } = await deps.db.query<{ sealed: string | null }>(
    'select client_secret_sealed as sealed from provider_apps where id = $1',
    [providerAppId],
  );
  return rows[0]?.sealed
    ? deps.vault.open(rows[0].sealed, SEALED_COLUMNS.providerAppSecret, providerAppId)
    : undefined;
}

/** The first of `ids` that names no row of the project in `table`, found with one query. */
async function firstMissing(
  deps: CoreDeps,
  table: 'schemas' | 'entities',
  projectId: string,
  ids: string[],
): Promise<string | undefined> {
  if (ids.length === 0) return undefined;
  const { rows } = await deps.db.query<{ id: string }>(
    `select id from ${table} where project_id = $1 and id = any($2::uuid[])`,
    [projectId, ids.filter(isUuid)],
  );
  const found = new Set(rows.map((r) => r.id));
  return ids.find((id) => !found.has(id.toLowerCase()));
}

async function checkInput(deps: CoreDeps, projectId: string, input: ProviderAppInput): Promise<ProviderName> {
  const name = input.providerName;
  if (!name) throw badRequest('name is required');
  if (!isProviderName(name)) throw badRequest(`unknown provider "${name}"`);
  const definition = CATALOG[name];
  if (input.category !== undefined && input.category !== definition.category) {
    throw badRequest(`${name} is in category ${definition.category}, not ${input.category}`);
  }
  for (const kind of ['common', 'standard'] as const) {
    const list = (input.objects ?? []).filter((o) => o.kind === kind);
    const dup = firstDuplicate(list.map((o) => o.object));
    if (dup !== undefined) throw badRequest(`${kind} object "${dup}" is listed twice`);
    const schemaIds = list.map((o) => o.schemaId).filter((id): id is string => id !== undefined);
    const dupSchema = firstDuplicate(schemaIds);
    if (dupSchema !== undefined) throw badRequest(`schema ${dupSchema} is attached to two ${kind} objects`);
    const missing = await firstMissing(deps, 'schemas', projectId, schemaIds);
    if (missing !== undefined) throw badRequest(`schema ${missing} does not exist`);
  }
  const entityIds = (input.entityMappings ?? []).map((m) => m.entityId);
  const dupEntity = firstDuplicate(entityIds);
  if (dupEntity !== undefined) throw badRequest(`entity ${dupEntity} is mapped twice`);
  const missing = await firstMissing(deps, 'entities', projectId, entityIds);
  if (missing !== undefined) throw badRequest(`entity ${missing} does not exist`);
  return name;
}

/**
 * Makes a provider app. By default it is the provider's one app (a second is a conflict); with
 * `another: true` a provider may have several, the first of them its default.
 */
export async function createProviderApp(
  deps: CoreDeps,
  projectId: string,
  input: ProviderAppInput,
  client: Pick<pg.ClientBase, 'query'> = deps.db,
  options: { another?: boolean } = {},
): Promise<ProviderApp> {
  const name = await checkInput(deps, projectId, input);
  const id = randomUUID();
  const insert = (isDefault: boolean) =>
    client.query<ProviderApp>(
      `insert into provider_apps (id, project_id, provider_name, category, auth_type, client_id, client_secret_sealed, scopes,
       external_ref, use_managed_oauth, objects, entity_mappings, is_default)
     values ($12, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $13)
     on conflict (project_id, provider_name) where is_default do nothing returning ${columns}`,
      [
        projectId,
        name,
        CATALOG[name].category,
        input.authType,
        input.clientId ?? null,
        input.clientSecret ? deps.vault.seal(input.clientSecret, SEALED_COLUMNS.providerAppSecret, id) : null,
        input.scopes ?? [],
        input.externalRef ?? null,
        input.useManagedOauth ?? false,
        JSON.stringify(input.objects ?? []),
        JSON.stringify(input.entityMappings ?? []),
        id,
        isDefault,
      ],
    );
  // The default is claimed by the insert itself, so two apps made at once cannot both be it.
  const { rows } = await insert(true);
  if (rows[0]) return rows[0];
  if (!options.another) throw conflict(`a ${name} provider already exists in this project`);
  return (await insert(false)).rows[0]!;
}

export async function updateProviderApp(
  deps: CoreDeps,
  projectId: string,
  id: string,
  input: ProviderAppInput,
): Promise<ProviderApp> {
  const current = await getProviderApp(deps, projectId, id);
  const name = await checkInput(deps, projectId, input);
  if (name !== current.providerName)
    throw badRequest(`cannot change the provider of ${current.providerName}`);
  const update = (client: pg.ClientBase) =>
    client.query<ProviderApp>(
      `update provider_apps set auth_type = $3, client_id = $4,
       client_secret_sealed = coalesce($5, client_secret_sealed), scopes = $6, external_ref = $7,
       use_managed_oauth = $8, objects = $9, entity_mappings = $10, updated_at = now()
     where project_id = $1 and id = $2 returning ${columns}`,
      [
        projectId,
        id,
        input.authType,
        input.clientId ?? null,
        input.clientSecret
          ? deps.vault.seal(input.clientSecret, SEALED_COLUMNS.providerAppSecret, current.id)
          : null,
        input.scopes ?? [],
        input.externalRef ?? null,
        input.useManagedOauth ?? current.useManagedOauth,
        JSON.stringify(input.objects ?? []),
        JSON.stringify(input.entityMappings ?? []),
      ],
    );
  return transaction(deps.db, async (client) => {
    const { rows } = await update(client);
    // Its objects' schemas and its entity mappings shape its connections' syncs.
    const { rows: connections } = await client.query<{ id: string }>(
      'select id from connections where provider_app_id = $1',
      [id],
    );
    for (const c of connections) await reconcileConnectionSyncs(client, c.id);
    return rows[0]!;
  });
}

/** The parts of a provider app a change names; what is left out stays as it is. */
export interface ProviderAppChanges {
  clientId?: string;
  clientSecret?: string;
  scopes?: string[];
  /** `null` removes it. */
  externalRef?: string | null;
}

/** Changes only what `changes` names, in one statement; the client secret is sealed for the row. */
export async function patchProviderApp(
  deps: CoreDeps,
  projectId: string,
  id: string,
  changes: ProviderAppChanges,
): Promise<ProviderApp> {
  const current = await getProviderApp(deps, projectId, id);
  const { rows } = await deps.db.query<ProviderApp>(
    `update provider_apps set client_id = coalesce($3, client_id),
       client_secret_sealed = coalesce($4, client_secret_sealed), scopes = coalesce($5, scopes),
       external_ref = case when $6 then $7 else external_ref end, updated_at = now()
     where project_id = $1 and id = $2 returning ${columns}`,
    [
      projectId,
      current.id,
      changes.clientId ?? null,
      changes.clientSecret
        ? deps.vault.seal(changes.clientSecret, SEALED_COLUMNS.providerAppSecret, current.id)
        : null,
      changes.scopes ?? null,
      changes.externalRef !== undefined,
      changes.externalRef ?? null,
    ],
  );
  if (!rows[0]) throw notFound('provider');
  return rows[0];
}

/**
 * Deletes an app no connection and no integration uses. When it was its provider's default, the
 * provider's oldest other app becomes the default, so flows that name no app still find one.
 */
export async function deleteProviderApp(
  deps: CoreDeps,
  projectId: string,
  id: string,
  scope: ProviderAppScope = {},
): Promise<ProviderApp> {
  const current = await getProviderApp(deps, projectId, id, scope);
  return transaction(deps.db, async (client) => {
    // Locked, so that no connection or integration attaches to it while it goes.
    await client.query('select id from provider_apps where id = $1 for update', [current.id]);
    const inUse = await client.query<{ integrations: number; connections: number }>(
      `select (select count(*) from integrations where provider_app_id = $1)::int as integrations,
              (select count(*) from connections where provider_app_id = $1)::int as connections`,
      [current.id],
    );
    const usage = inUse.rows[0]!;
    if (usage.integrations > 0) throw conflict(`provider ${id} has a sync config; delete it first`);
    if (usage.connections > 0)
      throw conflict(`provider ${id} has ${usage.connections} connection(s); delete them first`);
    await client.query('delete from provider_apps where project_id = $1 and id = $2', [
      projectId,
      current.id,
    ]);
    if (current.isDefault) {
      await client.query(
        `update provider_apps set is_default = true, updated_at = now() where id = (
           select id from provider_apps where project_id = $1 and provider_name = $2 order by created_at, id limit 1)`,
        [projectId, current.providerName],
      );
    }
    return current;
  });
}

/**
 * The provider app a new connection attaches to. Key-based providers need no OAuth client, so
 * their app is created on first use; OAuth providers need the project to register theirs first.
 */
export async function providerAppForConnection(
  deps: CoreDeps,
  client: Pick<pg.ClientBase, 'query'>,
  projectId: string,
  providerName: ProviderName,
): Promise<ProviderApp> {
  const app = await findProviderAppByName(client, projectId, providerName);
  if (app) return app;
  const authType = CATALOG[providerName].authTypes[0]!;
  if (authType === 'oauth2')
    throw notFound(`provider "${providerName}" (create it with its OAuth client first)`);
  return createProviderApp(deps, projectId, { providerName, authType }, client);
}
