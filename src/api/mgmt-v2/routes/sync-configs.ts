import type { FastifyInstance } from 'fastify';
import { DomainError } from '../../../core/errors.ts';
import {
  createIntegration,
  deleteIntegration,
  getIntegration,
  listIntegrations,
  updateIntegration,
} from '../../../core/integrations.ts';
import type { RouteOptions } from '../route-context.ts';
import * as to from '../serializers.ts';
import { readSpecOf, type SyncConfigData } from '../sync-config-translation.ts';

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

export async function syncConfigRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  app.get('/sync_configs', { config: { operationId: 'getSyncConfigs' } }, async (req) =>
    (await listIntegrations(deps, req.projectId)).map(to.syncConfig),
  );

  app.post<{ Body: { destination_name: string; provider_name: string; config: SyncConfigData } }>(
    '/sync_configs',
    { config: { operationId: 'createSyncConfig' } },
    async (req, reply) => {
      const i = await inSyncConfigWords(
        createIntegration(deps, req.projectId, {
          destinationName: req.body.destination_name,
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
    async (req) =>
      to.syncConfig(await inSyncConfigWords(getIntegration(deps, req.projectId, req.params.sync_config_id))),
  );

  app.put<{ Params: Params; Querystring: Force; Body: { config: SyncConfigData } }>(
    '/sync_configs/:sync_config_id',
    { config: { operationId: 'updateSyncConfig' } },
    async (req) =>
      to.syncConfig(
        await inSyncConfigWords(
          updateIntegration(
            deps,
            req.projectId,
            req.params.sync_config_id,
            readSpecOf(req.body.config),
            req.query.force_delete_syncs === 'true',
          ),
        ),
      ),
  );

  app.delete<{ Params: Params; Querystring: Force }>(
    '/sync_configs/:sync_config_id',
    { config: { operationId: 'deleteSyncConfig' } },
    async (req) =>
      to.syncConfig(
        await inSyncConfigWords(
          deleteIntegration(
            deps,
            req.projectId,
            req.params.sync_config_id,
            req.query.force_delete_syncs === 'true',
          ),
        ),
      ),
  );
}
