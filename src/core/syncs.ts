import type pg from 'pg';
import { transaction } from '../db/pool.ts';
import type { CoreDeps } from './deps.ts';
import { badRequest, conflict, notFound } from './errors.ts';
import { emitEvent } from './events.ts';
import { identifierProblem } from './identifiers.ts';
import type { IntegrationConfig, ObjectSelection, SyncStrategy } from './integration-config.ts';
import { type Page, paginate } from './pagination.ts';

export type ObjectType = 'common' | 'standard' | 'custom';

/** Per-connection overrides of an integration (Supaglue: connection sync config). */
export interface SyncOverrides {
  destination_config?: { type: string; schema?: string; dataset?: string };
  standard_objects?: { object: string; table?: string }[];
  custom_objects?: { object: string; table?: string }[];
}

/** The schema and table names a connection's overrides ask for, each with where it was given. */
function overriddenNames(overrides: SyncOverrides): { field: string; name: string | undefined }[] {
  const names = [{ field: 'destination_config.schema', name: overrides.destination_config?.schema }];
  for (const key of ['standard_objects', 'custom_objects'] as const) {
    (overrides[key] ?? []).forEach((o, i) => {
      names.push({ field: `${key}[${i}].table`, name: o.table });
    });
  }
  return names.filter((n) => n.name !== undefined);
}

/**
 * Refuses overrides Trellis will not write by: schema and table names outside the identifier rule,
 * and any schema or table at all when the connection syncs into the built-in destination, which
 * always writes into its project's own schema. (A connection whose sync config does not exist yet
 * is checked by name only; if it later syncs into the built-in destination, the runner ignores
 * the overrides.)
 */
export async function checkSyncOverrides(
  client: pg.ClientBase,
  connectionId: string,
  overrides: SyncOverrides,
): Promise<void> {
  const names = overriddenNames(overrides);
  for (const { field, name } of names) {
    const problem = identifierProblem(name);
    if (problem) throw badRequest(`${field} ${problem}`);
  }
  const { rows } = await client.query<{ type: string; name: string }>(
    `select d.type, d.name from connections c
       join integrations i on i.provider_app_id = c.provider_app_id join destinations d on d.id = i.destination_id
      where c.id = $1`,
    [connectionId],
  );
  const destination = rows[0];
  if (destination?.type === 'supaglue' && (names.length > 0 || overrides.destination_config)) {
    throw badRequest(
      `this connection syncs into "${destination.name}", which always writes into the project's own schema ` +
        'and tables: destination_config and table overrides apply to postgres destinations only',
    );
  }
}

/** Entity syncs are stored with object_type 'entity' and the entity id as their object. */
export interface Sync {
  id: string;
  connectionId: string;
  integrationId: string;
  objectType: ObjectType | 'entity';
  object: string;
  paused: boolean;
  providerName: string;
  customerExternalId: string;
}

interface Target {
  objectType: ObjectType | 'entity';
  object: string;
  strategy: SyncStrategy;
}

/** The syncs an integration asks for on one connection, after the connection's overrides. */
export function syncTargets(config: IntegrationConfig, overrides: SyncOverrides | null): Target[] {
  const strategyOf = (o: { sync_strategy_override?: SyncStrategy }) =>
    o.sync_strategy_override ?? config.default_config;
  const targets: Target[] = (config.common_objects ?? []).map((o) => ({
    objectType: 'common' as const,
    object: o.object,
    strategy: strategyOf(o),
  }));
  for (const [type, key] of [
    ['standard', 'standard_objects'],
    ['custom', 'custom_objects'],
  ] as const) {
    const override = overrides?.[key];
    const configured = config[key] ?? [];
    // By name, the first of each: one lookup per object instead of a search of the whole list.
    const configuredByName = new Map<string, ObjectSelection>();
    for (const c of configured) if (!configuredByName.has(c.object)) configuredByName.set(c.object, c);
    const list = override && override.length > 0 ? override : configured;
    for (const o of list) {
      const fromConfig = configuredByName.get(o.object);
      targets.push({
        objectType: type,
        object: o.object,
        strategy: fromConfig ? strategyOf(fromConfig) : config.default_config,
      });
    }
  }
  for (const e of config.entities ?? []) {
    targets.push({ objectType: 'entity', object: e.entity_id, strategy: config.default_config });
  }
  return targets;
}

const targetKey = (t: { objectType: string; object: string }) => `${t.objectType}\u0000${t.object}`;

/** Creates the syncs a connection should have and deletes those it should no longer have. */
export async function reconcileConnectionSyncs(client: pg.ClientBase, connectionId: string): Promise<void> {
  const { rows } = await client.query<{
    projectId: string;
    overrides: SyncOverrides | null;
    integrationId: string | null;
    config: IntegrationConfig | null;
  }>(
    `select c.project_id as "projectId", c.sync_overrides as overrides, i.id as "integrationId", i.config
       from connections c left join integrations i on i.provider_app_id = c.provider_app_id
      where c.id = $1`,
    [connectionId],
  );
  const row = rows[0];
  if (!row) return;
  const targets = row.config ? syncTargets(row.config, row.overrides) : [];
  const wanted = new Set(targets.map(targetKey));
  const { rows: existing } = await client.query<{ id: string; objectType: string; object: string }>(
    'select id, object_type as "objectType", object from syncs where connection_id = $1',
    [connectionId],
  );
  const stale = existing.filter((s) => !wanted.has(targetKey(s))).map((s) => s.id);
  if (stale.length > 0) await client.query('delete from syncs where id = any($1::uuid[])', [stale]);
  const have = new Set(existing.map(targetKey));
  for (const t of targets) {
    if (have.has(targetKey(t))) continue;
    const paused = t.strategy.auto_start_on_connection === false;
    await client.query(
      `insert into syncs (project_id, connection_id, integration_id, object_type, object, paused, next_run_at)
       values ($1, $2, $3, $4, $5, $6, case when $6 then null else now() end)`,
      [row.projectId, connectionId, row.integrationId, t.objectType, t.object, paused],
    );
  }
}

export async function reconcileIntegrationSyncs(client: pg.ClientBase, integrationId: string): Promise<void> {
  const { rows } = await client.query<{ id: string }>(
    `select c.id from connections c join integrations i on i.provider_app_id = c.provider_app_id where i.id = $1`,
    [integrationId],
  );
  for (const c of rows) await reconcileConnectionSyncs(client, c.id);
}

/** How many existing syncs a new integration config would remove. */
export async function syncsRemovedBy(
  client: pg.ClientBase,
  integrationId: string,
  config: IntegrationConfig,
): Promise<number> {
  // One row per connection, so that its overrides are read and its targets worked out once.
  const { rows } = await client.query<{
    overrides: SyncOverrides | null;
    syncs: { objectType: string; object: string }[];
  }>(
    `select c.sync_overrides as overrides,
            json_agg(json_build_object('objectType', s.object_type, 'object', s.object)) as syncs
       from syncs s join connections c on c.id = s.connection_id where s.integration_id = $1
      group by c.id`,
    [integrationId],
  );
  let removed = 0;
  for (const { overrides, syncs } of rows) {
    const wanted = new Set(syncTargets(config, overrides).map(targetKey));
    removed += syncs.filter((s) => !wanted.has(targetKey(s))).length;
  }
  return removed;
}

const syncSelect = `s.id, s.connection_id as "connectionId", s.integration_id as "integrationId",
  s.object_type as "objectType", s.object, s.paused, c.provider_name as "providerName",
  cu.external_id as "customerExternalId"`;
const syncFrom =
  'from syncs s join connections c on c.id = s.connection_id join customers cu on cu.id = c.customer_id';

export interface SyncFilter {
  customerId?: string;
  providerName?: string;
  objectType?: string;
  object?: string;
  entityId?: string;
}

function filterSql(
  projectId: string,
  f: SyncFilter,
  alias: { sync: string },
): { where: string; params: unknown[] } {
  const params: unknown[] = [projectId];
  const clauses = [`${alias.sync}.project_id = $1`];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    clauses.push(sql.replace('?', `$${params.length}`));
  };
  if (f.customerId !== undefined) add('cu.external_id = ?', f.customerId);
  if (f.providerName !== undefined) add('c.provider_name = ?', f.providerName);
  if (f.entityId !== undefined) {
    add(`${alias.sync}.object_type = 'entity' and ${alias.sync}.object = ?`, f.entityId);
  }
  if (f.objectType !== undefined) add(`${alias.sync}.object_type = ?`, f.objectType);
  if (f.object !== undefined) add(`${alias.sync}.object = ?`, f.object);
  return { where: clauses.join(' and '), params };
}

export async function listSyncs(
  deps: CoreDeps,
  projectId: string,
  filter: SyncFilter,
  page: { cursor?: string; pageSize: number },
): Promise<Page<Sync>> {
  const hasObjectFilter = filter.objectType !== undefined || filter.object !== undefined;
  if (
    hasObjectFilter &&
    (filter.objectType === undefined || filter.object === undefined || filter.entityId)
  ) {
    throw badRequest('filter on (object_type and object) together, or on entity_id, or on neither');
  }
  const { where, params } = filterSql(projectId, filter, { sync: 's' });
  return paginate<Sync>(deps.db, {
    select: syncSelect,
    from: `${syncFrom} where ${where}`,
    params,
    keys: ['cu.external_id', 'c.provider_name', 's.object_type', 's.object', 's.id::text'],
    descending: false,
    toKey: (s) => [s.customerExternalId, s.providerName, s.objectType, s.object, s.id],
    cursor: page.cursor,
    pageSize: page.pageSize,
  });
}

async function findSync(
  client: pg.ClientBase,
  projectId: string,
  connectionId: string,
  target: { objectType?: string; object?: string; entityId?: string },
): Promise<Sync> {
  const objectType = target.entityId !== undefined ? 'entity' : target.objectType;
  const object = target.entityId ?? target.object;
  const { rows } = await client.query<Sync>(
    `select ${syncSelect} ${syncFrom}
      where s.project_id = $1 and s.connection_id = $2 and s.object_type = $3 and s.object = $4 for update of s`,
    [projectId, connectionId, objectType, object],
  );
  if (!rows[0]) throw notFound(`sync of ${objectType} object "${object}" on this connection`);
  return rows[0];
}

type SyncTarget = { objectType?: string; object?: string; entityId?: string };

export async function pauseSync(
  deps: CoreDeps,
  projectId: string,
  connectionId: string,
  target: SyncTarget,
  reason = 'Manually paused by user',
): Promise<Sync> {
  return transaction(deps.db, async (client) => {
    const sync = await findSync(client, projectId, connectionId, target);
    await client.query(
      `update syncs set paused = true, pause_reason = 'user', next_run_at = null, updated_at = now() where id = $1`,
      [sync.id],
    );
    await emitEvent(deps, client, projectId, 'sync.paused', {
      connection_id: connectionId,
      customer_id: sync.customerExternalId,
      provider_name: sync.providerName,
      ...(sync.objectType === 'entity'
        ? { type: 'entity', entity_id: sync.object }
        : { type: 'object', object_type: sync.objectType, object: sync.object }),
      pause_reason: reason,
    });
    return { ...sync, paused: true };
  });
}

export async function resumeSync(
  deps: CoreDeps,
  projectId: string,
  connectionId: string,
  target: SyncTarget,
): Promise<Sync> {
  return transaction(deps.db, async (client) => {
    const sync = await findSync(client, projectId, connectionId, target);
    if (sync.paused) {
      await client.query(
        'update syncs set paused = false, pause_reason = null, next_run_at = now(), updated_at = now() where id = $1',
        [sync.id],
      );
    }
    return { ...sync, paused: false };
  });
}

/**
 * Asks for a run now. The request is kept in the sync's state until a run takes it, so a trigger
 * that arrives while a run is in flight is not lost; a full refresh request is never downgraded.
 * A paused sync is refused (Supaglue's trigger ran it anyway): a pause, by the user or after the
 * provider revoked the credentials, means "do not run", and a trigger accepted to do nothing
 * would mislead the caller. Resuming runs the sync at once.
 */
export async function triggerSync(
  deps: CoreDeps,
  projectId: string,
  connectionId: string,
  target: SyncTarget,
  performFullRefresh: boolean,
): Promise<Sync> {
  return transaction(deps.db, async (client) => {
    const sync = await findSync(client, projectId, connectionId, target);
    if (sync.paused)
      throw conflict('the sync is paused: resume it to run it (resuming starts a run at once)');
    await client.query(
      `update syncs set next_run_at = now(), updated_at = now(),
         state = jsonb_set(state, '{requested}', jsonb_build_object('full_refresh',
           coalesce((state->'requested'->>'full_refresh')::boolean, false) or $2::boolean))
       where id = $1`,
      [sync.id, performFullRefresh],
    );
    return sync;
  });
}

export interface SyncRun {
  id: string;
  syncId: string;
  objectType: ObjectType | 'entity';
  object: string;
  status: 'SUCCESS' | 'IN_PROGRESS' | 'FAILURE';
  errorMessage: string | null;
  numRecordsSynced: number | null;
  startedAt: Date;
  endedAt: Date | null;
  connectionId: string;
  customerExternalId: string;
  providerName: string;
  category: string;
}

export interface SyncRunFilter extends SyncFilter {
  status?: string;
  startTimestamp?: string;
  endTimestamp?: string;
}

function timeFilter(name: string, raw: string): { op: '<' | '>'; at: string } {
  const op = raw[0];
  const at = raw.slice(1);
  if ((op !== '<' && op !== '>') || Number.isNaN(Date.parse(at))) {
    throw badRequest(`${name} must be > or < followed by an ISO 8601 timestamp, e.g. >2024-01-01T00:00:00Z`);
  }
  return { op, at: new Date(at).toISOString() };
}

export async function listSyncRuns(
  deps: CoreDeps,
  projectId: string,
  filter: SyncRunFilter,
  paging: { cursor?: string; pageSize: number },
): Promise<Page<SyncRun>> {
  const { where, params } = filterSql(projectId, filter, { sync: 's' });
  const clauses = [where.replace('s.project_id = $1', 'r.project_id = $1')];
  if (filter.status !== undefined) {
    const status = filter.status.toUpperCase();
    if (!['SUCCESS', 'IN_PROGRESS', 'FAILURE'].includes(status)) {
      throw badRequest('status must be one of SUCCESS, IN_PROGRESS, FAILURE');
    }
    params.push(status);
    clauses.push(`r.status = $${params.length}`);
  }
  for (const [name, raw, column] of [
    ['start_timestamp', filter.startTimestamp, 'r.started_at'],
    ['end_timestamp', filter.endTimestamp, 'r.ended_at'],
  ] as const) {
    if (raw === undefined) continue;
    const { op, at } = timeFilter(name, raw);
    params.push(at);
    clauses.push(`${column} ${op} $${params.length}`);
  }
  const page = await paginate<SyncRun & { cursorAt: string }>(deps.db, {
    select: `r.id, r.sync_id as "syncId", s.object_type as "objectType", s.object, r.status,
      r.error_message as "errorMessage", r.num_records_synced as "numRecordsSynced", r.started_at as "startedAt",
      r.ended_at as "endedAt", s.connection_id as "connectionId", cu.external_id as "customerExternalId",
      c.provider_name as "providerName", c.category, r.started_at::text as "cursorAt"`,
    from: `from sync_runs r join syncs s on s.id = r.sync_id join connections c on c.id = s.connection_id
      join customers cu on cu.id = c.customer_id where ${clauses.join(' and ')}`,
    params,
    keys: ['r.started_at', 'r.id::text'],
    descending: true,
    toKey: (r) => [r.cursorAt, r.id],
    cursor: paging.cursor,
    pageSize: paging.pageSize,
  });
  return { ...page, results: page.results.map(({ cursorAt: _, ...run }) => run) };
}
