import type pg from 'pg';
import { commonObjectNames, commonObjectOf, objectsOf, readableObject } from '../connectors/index.ts';
import { transaction } from '../db/pool.ts';
import type { CoreDeps } from './deps.ts';
import { type DestinationType, findDestinationByName } from './destinations.ts';
import { badRequest, conflict, notFound } from './errors.ts';
import { isUuid } from './ids.ts';
import { findProviderAppByName } from './provider-apps.ts';
import { cronProblem, type ReadPolicy, type ReadSpec } from './read-plan.ts';
import { reconcileIntegrationSyncs, syncsRemovedBy } from './syncs.ts';
import { firstDuplicate } from './validation.ts';

/**
 * `automatic`: installed on every connection of its provider app, as the Management API's sync
 * configs are (at most one per app); `on_request`: installed on the connections it is asked for.
 */
export type InstallMode = 'automatic' | 'on_request';

/** What to read from (and write to) one provider app; every change makes a new revision. */
export interface Integration {
  id: string;
  projectId: string;
  name: string;
  revision: number;
  installs: InstallMode;
  providerAppId: string;
  providerName: string;
  /** Where records go unless an object names its own destination. */
  destinationId: string | null;
  destinationName: string | null;
  read: ReadSpec;
  /** The objects callers may create, update and delete through the integration. */
  writeObjects: string[];
  /** Whether calls may be passed through to the provider on an installation's connection. */
  proxyEnabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** What an integration is, as a revision records it. */
export interface IntegrationContent {
  read: ReadSpec;
  writeObjects?: string[];
  proxyEnabled?: boolean;
  /**
   * The document the revision was deployed from, kept as the surface that received it wrote it,
   * for that surface to show back; the core never reads it.
   */
  source?: Record<string, unknown>;
}

/** One revision of an integration. */
export interface IntegrationRevision {
  id: string;
  integrationId: string;
  revision: number;
  read: ReadSpec;
  writeObjects: string[];
  proxyEnabled: boolean;
  source: Record<string, unknown> | null;
  createdAt: Date;
}

const select = `select i.id, i.project_id as "projectId", i.name, i.revision, i.installs,
    i.provider_app_id as "providerAppId", p.provider_name as "providerName", i.destination_id as "destinationId",
    d.name as "destinationName", i.read_spec as read, i.write_objects as "writeObjects",
    i.proxy_enabled as "proxyEnabled", i.created_at as "createdAt", i.updated_at as "updatedAt"
  from integrations i join provider_apps p on p.id = i.provider_app_id left join destinations d on d.id = i.destination_id`;

function checkPolicy(policy: ReadPolicy, where: string): void {
  const { schedule } = policy;
  if ('everyMs' in schedule) {
    if (!Number.isInteger(schedule.everyMs) || schedule.everyMs < 1)
      throw badRequest(`${where}: the schedule period must be a whole number of milliseconds >= 1`);
  } else {
    const problem = cronProblem(schedule.cron);
    if (problem)
      throw badRequest(`${where}: the schedule "${schedule.cron}" is not a cron expression (${problem})`);
  }
  if (
    policy.backfillDays !== undefined &&
    (!Number.isInteger(policy.backfillDays) || policy.backfillDays < 0)
  )
    throw badRequest(`${where}: the days of history to read first must be a whole number >= 0`);
  if (policy.fullEvery === undefined) return;
  if (policy.mode === 'full')
    throw badRequest(`${where}: a periodic full read applies to incremental reads only`);
  if (!Number.isInteger(policy.fullEvery) || policy.fullEvery < 1)
    throw badRequest(
      `${where}: the number of incremental reads between full reads must be a whole number >= 1`,
    );
}

function checkReadSpec(spec: ReadSpec): void {
  checkPolicy(spec.defaults, 'default');
  const dup = firstDuplicate(
    spec.objects.map((o) =>
      o.target.kind === 'entity'
        ? `entity ${o.target.entityId}`
        : `${o.target.kind} object "${o.target.object}"`,
    ),
  );
  if (dup !== undefined) throw badRequest(`${dup} is listed twice`);
  for (const o of spec.objects) {
    if (o.policy && o.target.kind !== 'entity') checkPolicy(o.policy, `object "${o.target.object}"`);
  }
}

/**
 * Refuses provider objects the provider's connector cannot read, and common objects the provider
 * does not map its records into: a sync of one could only fail at run time. (Entities are the
 * project's own models, mapped to provider objects per connection.)
 */
function checkReadable(providerName: string, spec: ReadSpec): void {
  for (const { target } of spec.objects) {
    if (target.kind === 'common' && !commonObjectOf(providerName, target.object)) {
      const names = commonObjectNames(providerName);
      throw badRequest(
        `common object "${target.object}" is not one Trellis syncs from ${providerName} (${names.length > 0 ? `it syncs ${names.join(', ')}` : 'it syncs none'})`,
      );
    }
    if (
      (target.kind === 'standard' || target.kind === 'custom') &&
      !readableObject(providerName, target.object, target.kind)
    ) {
      const rule = objectsOf(providerName)?.custom?.rule;
      throw badRequest(
        `${target.kind} object "${target.object}" cannot be read from ${providerName}${rule ? ` (${rule})` : ''}`,
      );
    }
  }
}

/** Every object's records need somewhere to go, in this project. */
async function checkDestinations(
  client: Pick<pg.ClientBase, 'query'>,
  projectId: string,
  defaultDestinationId: string | null,
  spec: ReadSpec,
): Promise<void> {
  const named = spec.objects.flatMap((o) => (o.destinationId ? [o.destinationId] : []));
  if (named.length > 0) {
    const { rows } = await client.query<{ id: string }>(
      'select id from destinations where project_id = $1 and id = any($2::uuid[])',
      [projectId, named.filter(isUuid)],
    );
    const known = new Set(rows.map((r) => r.id));
    const unknown = named.find((id) => !known.has(id));
    if (unknown) throw notFound(`destination ${unknown}`);
  }
  if (defaultDestinationId) return;
  const homeless = spec.objects.find((o) => !o.destinationId);
  if (homeless)
    throw badRequest(
      `object "${homeless.target.kind === 'entity' ? homeless.target.entityId : homeless.target.object}" has no destination`,
    );
}

/** Runs `work` in the caller's transaction when it has one, else in a new one. */
function inTransaction<T>(
  deps: CoreDeps,
  within: pg.PoolClient | undefined,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  return within ? work(within) : transaction(deps.db, work);
}

/** Both uniqueness rules of integrations, as answers that say which one a new row broke. */
function uniqueViolation(err: unknown, name: string, providerName: string): Error | undefined {
  const { code, constraint } = err as { code?: string; constraint?: string };
  if (code !== '23505') return undefined;
  if (constraint === 'integrations_automatic') return conflict(`${providerName} already has an integration`);
  return conflict(`an integration named "${name}" already exists`);
}

export async function listIntegrations(
  deps: CoreDeps,
  projectId: string,
  filter: { installs?: InstallMode } = {},
): Promise<Integration[]> {
  const { rows } = await deps.db.query<Integration>(
    `${select} where i.project_id = $1 and ($2::text is null or i.installs = $2) order by i.created_at, i.id`,
    [projectId, filter.installs ?? null],
  );
  return rows;
}

export async function getIntegration(
  deps: CoreDeps,
  projectId: string,
  id: string,
  client: Pick<pg.ClientBase, 'query'> = deps.db,
): Promise<Integration> {
  if (!isUuid(id)) throw notFound('integration');
  const { rows } = await client.query<Integration>(`${select} where i.project_id = $1 and i.id = $2`, [
    projectId,
    id,
  ]);
  if (!rows[0]) throw notFound('integration');
  return rows[0];
}

/** An integration by its id or its name. */
export async function findIntegration(
  deps: CoreDeps,
  projectId: string,
  idOrName: string,
): Promise<Integration> {
  const { rows } = await deps.db.query<Integration>(
    `${select} where i.project_id = $1 and (i.name = $2 or i.id::text = $2)`,
    [projectId, idOrName],
  );
  if (!rows[0]) throw notFound(`integration "${idOrName}"`);
  return rows[0];
}

/**
 * Creates an integration of a provider's default app: revision 1 of its content. An automatic one
 * is installed at once on every connection of the app.
 */
export async function createIntegration(
  deps: CoreDeps,
  projectId: string,
  input: {
    name?: string;
    installs?: InstallMode;
    destinationName?: string;
    /** The destination kinds the caller's surface knows; a destination of another kind is not found. */
    destinationTypes?: readonly DestinationType[];
    providerName: string;
  } & IntegrationContent,
  within?: pg.PoolClient,
): Promise<Integration> {
  checkReadSpec(input.read);
  const destination =
    input.destinationName === undefined
      ? undefined
      : await findDestinationByName(deps, projectId, input.destinationName, input.destinationTypes);
  const provider = await findProviderAppByName(deps.db, projectId, input.providerName);
  if (!provider) throw notFound(`provider "${input.providerName}"`);
  checkReadable(input.providerName, input.read);
  const name = input.name ?? input.providerName;
  const writeObjects = input.writeObjects ?? [];
  const proxyEnabled = input.proxyEnabled ?? false;
  const installs = input.installs ?? 'automatic';
  return inTransaction(deps, within, async (client) => {
    await checkDestinations(client, projectId, destination?.id ?? null, input.read);
    if (installs === 'automatic') {
      const { rowCount } = await client.query(
        `select 1 from integrations where provider_app_id = $1 and installs = 'automatic'`,
        [provider.id],
      );
      if (rowCount) throw conflict(`${input.providerName} already has an integration`);
    }
    const { rows } = await client
      .query<{ id: string }>(
        `insert into integrations (project_id, name, installs, provider_app_id, destination_id, read_spec,
           write_objects, proxy_enabled)
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning id`,
        [
          projectId,
          name,
          installs,
          provider.id,
          destination?.id ?? null,
          input.read,
          writeObjects,
          proxyEnabled,
        ],
      )
      .catch((err: unknown) => {
        throw uniqueViolation(err, name, input.providerName) ?? err;
      });
    const id = rows[0]!.id;
    await client.query(
      `insert into integration_revisions (integration_id, revision, read_spec, write_objects, proxy_enabled, source)
       values ($1, 1, $2, $3, $4, $5)`,
      [id, input.read, writeObjects, proxyEnabled, input.source ?? null],
    );
    await reconcileIntegrationSyncs(client, id);
    return getIntegration(deps, projectId, id, client);
  });
}

/**
 * Saves a new revision of an integration. Syncs the new revision no longer asks for are deleted
 * with their state, so that needs `forceDeleteSyncs`. Installations made on request keep the
 * revision they were made from until they are updated.
 */
export async function updateIntegration(
  deps: CoreDeps,
  projectId: string,
  id: string,
  content: IntegrationContent,
  forceDeleteSyncs: boolean,
  within?: pg.PoolClient,
): Promise<Integration> {
  checkReadSpec(content.read);
  // The lock below runs before getIntegration's own check, and a non-uuid id would fail its cast.
  if (!isUuid(id)) throw notFound('integration');
  return inTransaction(deps, within, async (client) => {
    await client.query('select 1 from integrations where project_id = $1 and id = $2 for update', [
      projectId,
      id,
    ]);
    const current = await getIntegration(deps, projectId, id, client);
    checkReadable(current.providerName, content.read);
    await checkDestinations(client, projectId, current.destinationId, content.read);
    const removed = await syncsRemovedBy(client, current.id, content.read);
    if (removed > 0 && !forceDeleteSyncs) {
      throw badRequest(
        `this update would delete ${removed} sync(s); set force_delete_syncs=true if you are sure`,
      );
    }
    const writeObjects = content.writeObjects ?? current.writeObjects;
    const proxyEnabled = content.proxyEnabled ?? current.proxyEnabled;
    await client.query(
      `update integrations set read_spec = $2, write_objects = $3, proxy_enabled = $4, revision = revision + 1,
         updated_at = now() where id = $1`,
      [id, content.read, writeObjects, proxyEnabled],
    );
    await client.query(
      `insert into integration_revisions (integration_id, revision, read_spec, write_objects, proxy_enabled, source)
       values ($1, $2, $3, $4, $5, $6)`,
      [id, current.revision + 1, content.read, writeObjects, proxyEnabled, content.source ?? null],
    );
    await reconcileIntegrationSyncs(client, id);
    return getIntegration(deps, projectId, id, client);
  });
}

export async function deleteIntegration(
  deps: CoreDeps,
  projectId: string,
  id: string,
  forceDeleteSyncs: boolean,
): Promise<Integration> {
  return transaction(deps.db, async (client) => {
    const current = await getIntegration(deps, projectId, id, client);
    const { rows } = await client.query<{ n: number }>(
      'select count(*)::int as n from syncs s join installations ins on ins.id = s.installation_id where ins.integration_id = $1',
      [id],
    );
    const count = rows[0]!.n;
    if (count > 0 && !forceDeleteSyncs) {
      throw badRequest(
        `deleting this integration would delete ${count} sync(s); set force_delete_syncs=true if you are sure`,
      );
    }
    await client.query('delete from integrations where id = $1', [id]);
    return current;
  });
}

const revisionColumns = `r.id, r.integration_id as "integrationId", r.revision, r.read_spec as read,
  r.write_objects as "writeObjects", r.proxy_enabled as "proxyEnabled", r.source, r.created_at as "createdAt"`;

/** An integration's revisions, oldest first. */
export async function listRevisions(
  deps: CoreDeps,
  projectId: string,
  integrationId: string,
): Promise<IntegrationRevision[]> {
  await getIntegration(deps, projectId, integrationId);
  const { rows } = await deps.db.query<IntegrationRevision>(
    `select ${revisionColumns} from integration_revisions r where r.integration_id = $1 order by r.revision`,
    [integrationId],
  );
  return rows;
}

/** One revision of an integration, by the revision's id. */
export async function getRevision(
  deps: CoreDeps,
  projectId: string,
  integrationId: string,
  revisionId: string,
): Promise<IntegrationRevision> {
  await getIntegration(deps, projectId, integrationId);
  const { rows } = await deps.db.query<IntegrationRevision>(
    `select ${revisionColumns} from integration_revisions r where r.integration_id = $1 and r.id::text = $2`,
    [integrationId, revisionId],
  );
  if (!rows[0]) throw notFound('revision');
  return rows[0];
}

/** The latest revision of each of a project's integrations, by integration id. */
export async function latestRevisions(
  deps: CoreDeps,
  projectId: string,
): Promise<Map<string, IntegrationRevision>> {
  const { rows } = await deps.db.query<IntegrationRevision>(
    `select ${revisionColumns} from integration_revisions r join integrations i on i.id = r.integration_id
      where i.project_id = $1 and r.revision = i.revision`,
    [projectId],
  );
  return new Map(rows.map((r) => [r.integrationId, r]));
}

/**
 * Deploys integrations by name in one transaction (all or none): a new name is created (installed on request), a known
 * one gets a new revision. `destructive` lets a revision drop objects that have syncs.
 */
export async function deployIntegrations(
  deps: CoreDeps,
  projectId: string,
  items: ({ name: string; providerName: string } & IntegrationContent)[],
  opts: { destructive: boolean },
): Promise<Integration[]> {
  const dup = firstDuplicate(items.map((i) => i.name));
  if (dup !== undefined) throw badRequest(`integration "${dup}" is listed twice`);
  return transaction(deps.db, async (client) => {
    const deployed: Integration[] = [];
    for (const item of items) {
      const { rows } = await client.query<{ id: string; providerName: string }>(
        `select i.id, p.provider_name as "providerName" from integrations i join provider_apps p on p.id = i.provider_app_id
        where i.project_id = $1 and i.name = $2`,
        [projectId, item.name],
      );
      const existing = rows[0];
      if (existing && existing.providerName !== item.providerName)
        throw badRequest(
          `integration "${item.name}" is for ${existing.providerName}, not ${item.providerName}`,
        );
      deployed.push(
        existing
          ? await updateIntegration(deps, projectId, existing.id, item, opts.destructive, client)
          : await createIntegration(deps, projectId, { ...item, installs: 'on_request' }, client),
      );
    }
    return deployed;
  });
}
