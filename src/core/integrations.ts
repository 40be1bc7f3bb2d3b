import type pg from 'pg';
import { readableObject } from '../connectors/index.ts';
import { transaction } from '../db/pool.ts';
import type { CoreDeps } from './deps.ts';
import { findDestinationByName } from './destinations.ts';
import { badRequest, conflict, notFound } from './errors.ts';
import { isUuid } from './ids.ts';
import { findProviderAppByName } from './provider-apps.ts';
import type { ReadPolicy, ReadSpec } from './read-plan.ts';
import { reconcileIntegrationSyncs, syncsRemovedBy } from './syncs.ts';
import { firstDuplicate } from './validation.ts';

/** What to read from one provider app and where to write it; every change makes a new revision. */
export interface Integration {
  id: string;
  projectId: string;
  name: string;
  revision: number;
  providerAppId: string;
  providerName: string;
  destinationId: string;
  destinationName: string;
  read: ReadSpec;
}

const select = `select i.id, i.project_id as "projectId", i.name, i.revision, i.provider_app_id as "providerAppId",
    p.provider_name as "providerName", i.destination_id as "destinationId", d.name as "destinationName",
    i.read_spec as read
  from integrations i join provider_apps p on p.id = i.provider_app_id join destinations d on d.id = i.destination_id`;

function checkPolicy(policy: ReadPolicy, where: string): void {
  if (!Number.isInteger(policy.schedule.everyMs) || policy.schedule.everyMs < 1)
    throw badRequest(`${where}: the schedule period must be a whole number of milliseconds >= 1`);
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
 * Refuses provider objects the provider's connector cannot read: a sync of one could only fail at
 * run time. (Common objects and entities are Trellis's own models, mapped from provider objects.)
 */
function checkReadable(providerName: string, spec: ReadSpec): void {
  for (const { target } of spec.objects) {
    if (
      (target.kind === 'standard' || target.kind === 'custom') &&
      !readableObject(providerName, target.object)
    ) {
      throw badRequest(`${target.kind} object "${target.object}" cannot be read from ${providerName}`);
    }
  }
}

export async function listIntegrations(deps: CoreDeps, projectId: string): Promise<Integration[]> {
  const { rows } = await deps.db.query<Integration>(
    `${select} where i.project_id = $1 order by i.created_at, i.id`,
    [projectId],
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

/**
 * Creates an integration of a provider app. One per provider app for now: the syncs of a
 * connection are keyed by object, so two integrations of one app would compete for them.
 */
export async function createIntegration(
  deps: CoreDeps,
  projectId: string,
  input: { name?: string; destinationName: string; providerName: string; read: ReadSpec },
): Promise<Integration> {
  checkReadSpec(input.read);
  const destination = await findDestinationByName(deps, projectId, input.destinationName);
  const provider = await findProviderAppByName(deps.db, projectId, input.providerName);
  if (!provider) throw notFound(`provider "${input.providerName}"`);
  checkReadable(input.providerName, input.read);
  return transaction(deps.db, async (client) => {
    const { rows } = await client.query<{ id: string }>(
      `insert into integrations (project_id, name, provider_app_id, destination_id, read_spec)
       values ($1, $2, $3, $4, $5) on conflict do nothing returning id`,
      [projectId, input.name ?? input.providerName, provider.id, destination.id, input.read],
    );
    if (!rows[0]) throw conflict(`${input.providerName} already has an integration`);
    await client.query(
      'insert into integration_revisions (integration_id, revision, read_spec) values ($1, 1, $2)',
      [rows[0].id, input.read],
    );
    await reconcileIntegrationSyncs(client, rows[0].id);
    return getIntegration(deps, projectId, rows[0].id, client);
  });
}

/**
 * Saves a new revision of what an integration reads. Syncs the new revision no longer asks for
 * are deleted with their state, so that needs `forceDeleteSyncs`.
 */
export async function updateIntegration(
  deps: CoreDeps,
  projectId: string,
  id: string,
  read: ReadSpec,
  forceDeleteSyncs: boolean,
): Promise<Integration> {
  checkReadSpec(read);
  // The lock below runs before getIntegration's own check, and a non-uuid id would fail its cast.
  if (!isUuid(id)) throw notFound('integration');
  return transaction(deps.db, async (client) => {
    await client.query('select 1 from integrations where project_id = $1 and id = $2 for update', [
      projectId,
      id,
    ]);
    const current = await getIntegration(deps, projectId, id, client);
    checkReadable(current.providerName, read);
    const removed = await syncsRemovedBy(client, current.id, read);
    if (removed > 0 && !forceDeleteSyncs) {
      throw badRequest(
        `this update would delete ${removed} sync(s); set force_delete_syncs=true if you are sure`,
      );
    }
    await client.query(
      'update integrations set read_spec = $2, revision = revision + 1, updated_at = now() where id = $1',
      [id, read],
    );
    await client.query(
      'insert into integration_revisions (integration_id, revision, read_spec) values ($1, $2, $3)',
      [id, current.revision + 1, read],
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
