import type { FastifyInstance } from 'fastify';
import type { CoreDeps } from '../../../core/deps.ts';
import { DomainError, notFound } from '../../../core/errors.ts';
import {
  createIntegration,
  deleteIntegration,
  getIntegration,
  type Integration,
  listIntegrations,
  updateIntegration,
} from '../../../core/integrations.ts';
import type { RouteOptions } from '../route-context.ts';
import * as to from '../serializers.ts';
import { readSpecOf, type SyncConfigData } from '../sync-config-translation.ts';
import { SUPAGLUE_TYPES } from './destinations.ts';

type Params = { sync_config_id: string };

/** The core calls a sync config an integration; Supaglue clients read their own word. */
async function inSyncConfigWords<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    throw new DomainError(
      err.kind,
      err.message.replace(/\ban integration\b/g, 'a sync config').replace(/\bintegration\b/g, 'sync config'),
      {
        ...(err.reason === undefined ? {} : { reason: err.reason }),
        cause: err,
      },
    );
  }
}
type Force = { force_delete_syncs?: string };

/**
 * A sync config by its id: an integration installed automatically on every connection of its app.
 * Integrations made through other surfaces (installed on request) are not sync configs.
 */
async function syncConfig(deps: CoreDeps, projectId: string, id: string): Promise<Integration> {
  const integration = await inSyncConfigWords(getIntegration(deps, projectId, id));
  if (integration.installs !== 'automatic') throw notFound('sync config');
  return integration;
}

export async function syncConfigRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  app.get('/sync_configs', { config: { operationId: 'getSyncConfigs' } }, async (req) =>
    (await listIntegrations(deps, req.projectId, { installs: 'automatic' })).map(to.syncConfig),
  );

  app.post<{ Body: { destination_name: string; provider_name: string; config: SyncConfigData } }>(
    '/sync_configs',
    { config: { operationId: 'createSyncConfig' } },
    async (req, reply) => {
      const i = await inSyncConfigWords(
        createIntegration(deps, req.projectId, {
          installs: 'automatic',
          destinationName: req.body.destination_name,
          destinationTypes: SUPAGLUE_TYPES,
          providerName: req.body.provider_name,
          read: readSpecOf(req.body.config),
        }),
      );
      return reply.code(201).send(to.syncConfig(i));
    },
  );

  app.get<{ Params: Params }>(
    '/sync_configs/:sync_config_id',
    { config: { operationId: 'getSyncConfig' } },
    async (req) => to.syncConfig(await syncConfig(deps, req.projectId, req.params.sync_config_id)),
  );

  app.put<{ Params: Params; Querystring: Force; Body: { config: SyncConfigData } }>(
    '/sync_configs/:sync_config_id',
    { config: { operationId: 'updateSyncConfig' } },
    async (req) => {
      const read = readSpecOf(req.body.config);
      const { id } = await syncConfig(deps, req.projectId, req.params.sync_config_id);
      const force = req.query.force_delete_syncs === 'true';
      return to.syncConfig(
        await inSyncConfigWords(updateIntegration(deps, req.projectId, id, { read }, force)),
      );
    },
  );

  app.delete<{ Params: Params; Querystring: Force }>(
    '/sync_configs/:sync_config_id',
    { config: { operationId: 'deleteSyncConfig' } },
    async (req) => {
      const { id } = await syncConfig(deps, req.projectId, req.params.sync_config_id);
      const force = req.query.force_delete_syncs === 'true';
      return to.syncConfig(await inSyncConfigWords(deleteIntegration(deps, req.projectId, id, force)));
    },
  );
}
