import type pg from 'pg';
import { transaction } from '../db/pool.ts';
import type { CoreDeps } from './deps.ts';
import { findDestinationByName } from './destinations.ts';
import { badRequest, conflict, notFound } from './errors.ts';
import { isUuid } from './ids.ts';
import type { IntegrationConfig } from './integration-config.ts';
import { findProviderAppByName } from './provider-apps.ts';
import { reconcileIntegrationSyncs, syncsRemovedBy } from './syncs.ts';
import { firstDuplicate } from './validation.ts';

export interface Integration {
  id: string;
  projectId: string;
  providerAppId: string;
  providerName: string;
  destinationId: string;
  destinationName: string;
  config: IntegrationConfig;
}

const select = `select i.id, i.project_id as "projectId", i.provider_app_id as "providerAppId",
    p.provider_name as "providerName", i.destination_id as "destinationId", d.name as "destinationName", i.config
  from integrations i join provider_apps p on p.id = i.provider_app_id join destinations d on d.id = i.destination_id`;

function checkConfig(config: IntegrationConfig): void {
  const strategies = [config.default_config];
  for (const kind of ['common_objects', 'standard_objects', 'custom_objects'] as const) {
    const dup = firstDuplicate((config[kind] ?? []).map((o) => o.object));
    if (dup !== undefined) throw badRequest(`object "${dup}" is listed twice in ${kind}`);
    for (const o of config[kind] ?? [])
      if (o.sync_strategy_override) strategies.push(o.sync_strategy_override);
  }
  const dupEntity = firstDuplicate((config.entities ?? []).map((e) => e.entity_id));
  if (dupEntity !== undefined) throw badRequest(`entity ${dupEntity} is listed twice`);
  for (const s of strategies) {
    const n = s.full_sync_every_n_incrementals;
    if (n === undefined) continue;
    if (s.strategy === 'full only') {
      throw badRequest('full_sync_every_n_incrementals only applies to the "full then incremental" strategy');
    }
    if (!Number.isInteger(n) || n < 1)
      throw badRequest('full_sync_every_n_incrementals must be a whole number >= 1');
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
  if (!isUuid(id)) throw notFound('sync config');
  const { rows } = await client.query<Integration>(`${select} where i.project_id = $1 and i.id = $2`, [
    projectId,
    id,
  ]);
  if (!rows[0]) throw notFound('sync config');
  return rows[0];
}

export async function createIntegration(
  deps: CoreDeps,
  projectId: string,
  input: { destinationName: string; providerName: string; config: IntegrationConfig },
): Promise<Integration> {
  checkConfig(input.config);
  const destination = await findDestinationByName(deps, projectId, input.destinationName);
  const provider = await findProviderAppByName(deps.db, projectId, input.providerName);
  if (!provider) throw notFound(`provider "${input.providerName}"`);
  return transaction(deps.db, async (client) => {
    const { rows } = await client.query<{ id: string }>(
      `insert into integrations (project_id, provider_app_id, destination_id, config) values ($1, $2, $3, $4)
       on conflict (provider_app_id) do nothing returning id`,
      [projectId, provider.id, destination.id, input.config],
    );
    if (!rows[0]) throw conflict(`a sync config for ${input.providerName} already exists`);
    await reconcileIntegrationSyncs(client, rows[0].id);
    return getIntegration(deps, projectId, rows[0].id, client);
  });
}

export async function updateIntegration(
  deps: CoreDeps,
  projectId: string,
  id: string,
  config: IntegrationConfig,
  forceDeleteSyncs: boolean,
): Promise<Integration> {
  checkConfig(config);
  // The lock below runs before getIntegration's own check, and a non-uuid id would fail its cast.
  if (!isUuid(id)) throw notFound('sync config');
  return transaction(deps.db, async (client) => {
    await client.query('select 1 from integrations where project_id = $1 and id = $2 for update', [
      projectId,
      id,
    ]);
    const current = await getIntegration(deps, projectId, id, client);
    const removed = await syncsRemovedBy(client, current.id, config);
    if (removed > 0 && !forceDeleteSyncs) {
      throw badRequest(
        `this update would delete ${removed} sync(s); set force_delete_syncs=true if you are sure`,
      );
    }
    await client.query('update integrations set config = $2, updated_at = now() where id = $1', [id, config]);
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
      'select count(*)::int as n from syncs where integration_id = $1',
      [id],
    );
    const count = rows[0]!.n;
    if (count > 0 && !forceDeleteSyncs) {
      throw badRequest(
        `deleting this sync config would delete ${count} sync(s); set force_delete_syncs=true if you are sure`,
      );
    }
    await client.query('delete from integrations where id = $1', [id]);
    return current;
  });
}
