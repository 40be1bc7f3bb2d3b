import type pg from 'pg';
import { type Db, transaction } from '../db/pool.ts';
import { withCommonObjects } from './common-object-plans.ts';
import { withDataModels } from './data-model-plans.ts';
import type { CoreDeps } from './deps.ts';
import type { SyncRef } from './domain-events.ts';
import { badRequest, conflict, notFound } from './errors.ts';
import { emitEvent } from './events.ts';
import { identifierProblem } from './identifiers.ts';
import { type InstallationConfig, readChoices, selectedObjects } from './installation-config.ts';
import { type Page, paginate } from './pagination.ts';
import {
  type ObjectKind,
  plannedTargets,
  planSyncs,
  type ReadOverrides,
  type ReadSpec,
} from './read-plan.ts';

/** The schema and table names a connection's overrides ask for, each with what it names. */
function overriddenNames(overrides: ReadOverrides): { what: string; name: string }[] {
  const names: { what: string; name: string }[] = [];
  if (overrides.destination?.schema !== undefined)
    names.push({ what: 'the schema', name: overrides.destination.schema });
  for (const o of overrides.objects ?? []) {
    if (o.table !== undefined)
      names.push({ what: `the table of ${o.kind} object "${o.object}"`, name: o.table });
  }
  return names;
}

/**
 * Refuses overrides Trellis will not write by: schema and table names outside the identifier rule,
 * and any schema or table at all when the connection syncs into the built-in destination, which
 * always writes into its project's own schema. (A connection whose integration does not exist yet
 * is checked by name only; if it later syncs into the built-in destination, the runner ignores
 * the overrides.)
 */
export async function checkReadOverrides(
  client: pg.ClientBase,
  connectionId: string,
  overrides: ReadOverrides,
): Promise<void> {
  const names = overriddenNames(overrides);
  for (const { what, name } of names) {
    const problem = identifierProblem(name);
    if (problem) throw badRequest(`${what} ${problem}`);
  }
  const { rows } = await client.query<{ type: string; name: string }>(
    `select d.type, d.name from connections c
       join integrations i on i.provider_app_id = c.provider_app_id join destinations d on d.id = i.destination_id
      where c.id = $1`,
    [connectionId],
  );
  const destination = rows[0];
  if (destination?.type === 'supaglue' && (names.length > 0 || overrides.destination)) {
    throw badRequest(
      `this connection syncs into "${destination.name}", which always writes into the project's own schema ` +
        'and tables: a chosen schema or table, like a destination override, apply to postgres destinations only',
    );
  }
}

/** One object (or entity) synced on one connection; entities have kind 'entity' and their id as object. */
export interface Sync {
  id: string;
  connectionId: string;
  installationId: string;
  integrationId: string;
  kind: ObjectKind | 'entity';
  object: string;
  paused: boolean;
  providerName: string;
  customerRef: string;
}

const plannedKey = (t: { kind: string; object: string }) => `${t.kind}\u0000${t.object}`;

/**
 * Makes a connection's installations and syncs what its integrations ask for: every automatic
 * integration of the connection's provider app is installed on it (and none of another app's), and
 * each installation holds one sync per object it reads, with its resolved plan.
 */
export async function reconcileConnectionSyncs(client: pg.ClientBase, connectionId: string): Promise<void> {
  const { rows } = await client.query<{ projectId: string; providerAppId: string }>(
    'select project_id as "projectId", provider_app_id as "providerAppId" from connections where id = $1',
    [connectionId],
  );
  const connection = rows[0];
  if (!connection) return;
  await client.query(
    `delete from installations ins using integrations i
      where ins.integration_id = i.id and ins.connection_id = $1 and i.installs = 'automatic'
        and i.provider_app_id <> $2`,
    [connectionId, connection.providerAppId],
  );
  // Automatic integrations are installed on customers' connections, never on the project's own.
  await client.query(
    `insert into installations (project_id, integration_id, connection_id)
     select $1, i.id, $2 from integrations i where i.provider_app_id = $3 and i.installs = 'automatic'
       and exists (select 1 from connections where id = $2 and customer_id is not null)
     on conflict (integration_id, connection_id) do nothing`,
    [connection.projectId, connectionId, connection.providerAppId],
  );
  const { rows: installations } = await client.query<{ id: string }>(
    'select id from installations where connection_id = $1 order by created_at, id',
    [connectionId],
  );
  for (const { id } of installations) await reconcileInstallation(client, id);
}

/**
 * In an upsert of a sync: whether its records now go to another destination, schema or table, or
 * come from another provider object (an entity mapped anew).
 */
const MOVED = `(syncs.plan is not null and
  (syncs.plan->>'destinationId', syncs.plan->>'schema', syncs.plan->>'table', syncs.plan->>'defaultTable', syncs.plan->'reads')
  is distinct from
  (excluded.plan->>'destinationId', excluded.plan->>'schema', excluded.plan->>'table', excluded.plan->>'defaultTable', excluded.plan->'reads'))`;

/**
 * Makes an installation's syncs what it reads: its integration's read spec (the revision it was
 * made from, when it is pinned to one), narrowed to the objects its configuration selected, after
 * the connection's overrides. Syncs no longer asked for are deleted; the others keep their state.
 */
export async function reconcileInstallation(client: pg.ClientBase, installationId: string): Promise<void> {
  const { rows } = await client.query<{
    projectId: string;
    connectionId: string;
    providerName: string;
    destinationId: string | null;
    read: ReadSpec;
    overrides: ReadOverrides | null;
    config: InstallationConfig | null;
  }>(
    `select ins.project_id as "projectId", ins.connection_id as "connectionId", c.provider_name as "providerName",
            i.destination_id as "destinationId",
            coalesce(r.read_spec, i.read_spec) as read, c.read_overrides as overrides, ins.config
       from installations ins join integrations i on i.id = ins.integration_id
       join connections c on c.id = ins.connection_id
       left join integration_revisions r on r.integration_id = ins.integration_id and r.revision = ins.revision
      where ins.id = $1`,
    [installationId],
  );
  const row = rows[0];
  if (!row) return;
  const planned = await withDataModels(
    client,
    row.connectionId,
    withCommonObjects(
      row.providerName,
      planSyncs(row.read, row.overrides, row.destinationId, readChoices(row.config)),
    ),
  );
  const wanted = new Set(planned.map(plannedKey));
  const { rows: existing } = await client.query<{ id: string; kind: string; object: string }>(
    'select id, object_type as kind, object from syncs where installation_id = $1',
    [installationId],
  );
  const stale = existing.filter((s) => !wanted.has(plannedKey(s))).map((s) => s.id);
  if (stale.length > 0) await client.query('delete from syncs where id = any($1::uuid[])', [stale]);
  if (planned.length === 0) return;
  // One statement for every sync: new ones start unless the policy says to wait; existing ones
  // keep their state and take the new plan. A sync whose records now go somewhere else (another
  // destination, schema or table) asks for a full read there, as a trigger would, at once: an
  // incremental one would leave the new table without what was read before.
  await client.query(
    `insert into syncs (project_id, installation_id, connection_id, object_type, object, plan, paused, next_run_at)
     select $1, $2, $3, p.kind, p.object, p.plan, p.paused, case when p.paused then null else now() end
       from jsonb_to_recordset($4::jsonb) as p (kind text, object text, plan jsonb, paused boolean)
     on conflict (installation_id, object_type, object) do update set plan = excluded.plan,
       state = case when ${MOVED} then jsonb_set(syncs.state, '{requested}', '{"full_refresh": true}')
                    else syncs.state end,
       next_run_at = case when ${MOVED} and not syncs.paused then now() else syncs.next_run_at end`,
    [
      row.projectId,
      installationId,
      row.connectionId,
      JSON.stringify(planned.map((p) => ({ ...p, paused: p.plan.policy.startOnInstall === false }))),
    ],
  );
}

/** Reconciles every connection an integration is (or, being automatic, should be) installed on. */
export async function reconcileIntegrationSyncs(client: pg.ClientBase, integrationId: string): Promise<void> {
  const { rows } = await client.query<{ id: string }>(
    `select c.id from connections c join integrations i on i.provider_app_id = c.provider_app_id
      where i.id = $1 and i.installs = 'automatic' and c.customer_id is not null
     union
     select ins.connection_id from installations ins where ins.integration_id = $1`,
    [integrationId],
  );
  for (const c of rows) await reconcileConnectionSyncs(client, c.id);
}

/**
 * Resolves the plan of syncs that have none: those of a database upgraded from a release that
 * kept the integration's raw configuration instead (migrations 0006 and 0009), and common object
 * syncs planned before common objects were mapped (they name no provider object). Run as Trellis
 * starts.
 */
export async function planUnplannedSyncs(db: Db): Promise<void> {
  const { rows } = await db.query<{ connectionId: string }>(
    `select connection_id as "connectionId" from syncs where plan is null
     union
     select connection_id from syncs where object_type = 'common' and not plan ? 'reads'`,
  );
  for (const { connectionId } of rows) {
    await transaction(db, (client) => reconcileConnectionSyncs(client, connectionId));
  }
}

/** How many existing syncs a new read spec would remove. */
export async function syncsRemovedBy(
  client: pg.ClientBase,
  integrationId: string,
  read: ReadSpec,
): Promise<number> {
  // One row per installation that follows the latest revision, so that each is planned once.
  const { rows } = await client.query<{
    overrides: ReadOverrides | null;
    config: InstallationConfig | null;
    syncs: { kind: string; object: string }[];
  }>(
    `select c.read_overrides as overrides, ins.config,
            json_agg(json_build_object('kind', s.object_type, 'object', s.object)) as syncs
       from syncs s join installations ins on ins.id = s.installation_id join connections c on c.id = s.connection_id
      where ins.integration_id = $1 and ins.revision is null
      group by c.id, ins.id`,
    [integrationId],
  );
  let removed = 0;
  for (const { overrides, config, syncs } of rows) {
    const wanted = new Set(plannedTargets(read, overrides, selectedObjects(config)).map(plannedKey));
    removed += syncs.filter((s) => !wanted.has(plannedKey(s))).length;
  }
  return removed;
}

const syncSelect = `s.id, s.connection_id as "connectionId", s.installation_id as "installationId",
  ins.integration_id as "integrationId",
  s.object_type as kind, s.object, s.paused, c.provider_name as "providerName",
  cu.external_id as "customerRef"`;
const syncFrom = `from syncs s join installations ins on ins.id = s.installation_id
  join connections c on c.id = s.connection_id join customers cu on cu.id = c.customer_id`;

export interface SyncFilter {
  customerRef?: string;
  providerName?: string;
  installationId?: string;
  /** One object (or entity, with kind 'entity' and its id as object). */
  target?: SyncTarget;
}

/** What a sync reads on its connection: an object of a kind, or an entity (kind 'entity', its id as object). */
export interface SyncTarget {
  kind: string;
  object: string;
  /** The installation whose sync it is, where the connection may have several reading it. */
  installationId?: string;
}

function filterSql(projectId: string, f: SyncFilter): { where: string; params: unknown[] } {
  const params: unknown[] = [projectId];
  const clauses = ['s.project_id = $1'];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    clauses.push(sql.replace('?', `$${params.length}`));
  };
  if (f.customerRef !== undefined) add('cu.external_id = ?', f.customerRef);
  if (f.providerName !== undefined) add('c.provider_name = ?', f.providerName);
  if (f.installationId !== undefined) add('s.installation_id::text = ?', f.installationId);
  if (f.target !== undefined) {
    add('s.object_type = ?', f.target.kind);
    add('s.object = ?', f.target.object);
  }
  return { where: clauses.join(' and '), params };
}

export async function listSyncs(
  deps: CoreDeps,
  projectId: string,
  filter: SyncFilter,
  page: { cursor?: string; pageSize: number },
): Promise<Page<Sync>> {
  const { where, params } = filterSql(projectId, filter);
  return paginate<Sync>(deps.db, {
    select: syncSelect,
    from: `${syncFrom} where ${where}`,
    params,
    keys: ['cu.external_id', 'c.provider_name', 's.object_type', 's.object', 's.id::text'],
    descending: false,
    toKey: (s) => [s.customerRef, s.providerName, s.kind, s.object, s.id],
    cursor: page.cursor,
    pageSize: page.pageSize,
  });
}

async function findSync(
  client: pg.ClientBase,
  projectId: string,
  connectionId: string,
  target: SyncTarget,
): Promise<Sync> {
  const { rows } = await client.query<Sync>(
    `select ${syncSelect} ${syncFrom}
      where s.project_id = $1 and s.connection_id = $2 and s.object_type = $3 and s.object = $4
        and ($5::uuid is null or s.installation_id = $5) for update of s`,
    [projectId, connectionId, target.kind, target.object, target.installationId ?? null],
  );
  if (!rows[0]) throw notFound(`sync of ${target.kind} "${target.object}" on this connection`);
  return rows[0];
}

export const syncRef = (s: Sync): SyncRef => ({
  connectionId: s.connectionId,
  customerRef: s.customerRef,
  providerName: s.providerName,
  kind: s.kind,
  object: s.object,
});

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
    await emitEvent(deps, client, projectId, { type: 'sync.paused', sync: syncRef(sync), reason });
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
 * The run that will serve the request is given its id now (`runId`; the same for every trigger
 * it serves), so that callers can name it before it starts.
 */
export async function triggerSync(
  deps: CoreDeps,
  projectId: string,
  connectionId: string,
  target: SyncTarget,
  performFullRefresh: boolean,
): Promise<Sync & { runId: string }> {
  return transaction(deps.db, async (client) => {
    const sync = await findSync(client, projectId, connectionId, target);
    if (sync.paused)
      throw conflict('the sync is paused: resume it to run it (resuming starts a run at once)');
    const { rows } = await client.query<{ runId: string }>(
      `update syncs set next_run_at = now(), updated_at = now(),
         state = jsonb_set(state, '{requested}', jsonb_build_object('full_refresh',
           coalesce((state->'requested'->>'full_refresh')::boolean, false) or $2::boolean,
           'run_id', coalesce(state->'requested'->>'run_id', gen_random_uuid()::text)))
       where id = $1 returning state->'requested'->>'run_id' as "runId"`,
      [sync.id, performFullRefresh],
    );
    return { ...sync, runId: rows[0]!.runId };
  });
}

export type SyncRunStatus = 'running' | 'succeeded' | 'failed';

export interface SyncRun {
  id: string;
  syncId: string;
  installationId: string;
  kind: ObjectKind | 'entity';
  object: string;
  status: SyncRunStatus;
  errorMessage: string | null;
  recordsSynced: number | null;
  startedAt: Date;
  endedAt: Date | null;
  connectionId: string;
  customerRef: string;
  providerName: string;
  category: string;
}

/** An instant a run's start or end must come before or after. */
export interface TimeBound {
  op: '<' | '>';
  at: string;
}

export interface SyncRunFilter extends SyncFilter {
  runId?: string;
  status?: SyncRunStatus;
  started?: TimeBound;
  ended?: TimeBound;
}

export async function listSyncRuns(
  deps: CoreDeps,
  projectId: string,
  filter: SyncRunFilter,
  paging: { cursor?: string; pageSize: number },
): Promise<Page<SyncRun>> {
  const { where, params } = filterSql(projectId, filter);
  const clauses = [where.replace('s.project_id = $1', 'r.project_id = $1')];
  if (filter.status !== undefined) {
    params.push(filter.status);
    clauses.push(`r.status = $${params.length}`);
  }
  if (filter.runId !== undefined) {
    params.push(filter.runId);
    clauses.push(`r.id::text = $${params.length}`);
  }
  for (const [bound, column] of [
    [filter.started, 'r.started_at'],
    [filter.ended, 'r.ended_at'],
  ] as const) {
    if (bound === undefined) continue;
    params.push(bound.at);
    clauses.push(`${column} ${bound.op === '<' ? '<' : '>'} $${params.length}`);
  }
  const page = await paginate<SyncRun & { cursorAt: string }>(deps.db, {
    select: `r.id, r.sync_id as "syncId", s.object_type as kind, s.object, r.status,
      r.error_message as "errorMessage", r.num_records_synced as "recordsSynced", r.started_at as "startedAt",
      r.ended_at as "endedAt", s.connection_id as "connectionId", cu.external_id as "customerRef",
      c.provider_name as "providerName", c.category, s.installation_id as "installationId",
      r.started_at::text as "cursorAt"`,
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
