import type { FastifyInstance } from 'fastify';
import {
  createConnection,
  deleteConnection,
  findConnection,
  getProviderUserId,
  getRateLimitInfo,
  getReadOverrides,
  listConnections,
  setReadOverrides,
} from '../../../core/connections.ts';
import { type ManualConnectionBody, manualConnectionInputOf } from '../connection-translation.ts';
import { connectionHeaders, type RouteOptions } from '../route-context.ts';
import * as to from '../serializers.ts';
import {
  type ConnectionSyncConfig,
  connectionSyncConfigOf,
  readOverridesOf,
} from '../sync-config-translation.ts';

type CustomerParams = { customer_id: string };
type ConnectionParams = { customer_id: string; provider_name: string };

export async function connectionRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  app.get<{ Params: CustomerParams }>(
    '/customers/:customer_id/connections',
    { config: { operationId: 'getConnections' } },
    async (req) => (await listConnections(deps, req.projectId, req.params.customer_id)).map(to.connection),
  );

  app.post<{ Params: CustomerParams; Body: ManualConnectionBody }>(
    '/customers/:customer_id/connections',
    { config: { operationId: 'createConnection' } },
    async (req) =>
      to.connection(
        await createConnection(
          deps,
          req.projectId,
          req.params.customer_id,
          manualConnectionInputOf(req.body),
        ),
      ),
  );

  app.get<{ Params: CustomerParams; Querystring: { provider_name: string } }>(
    '/customers/:customer_id/connections/_provider_user_id',
    { config: { operationId: 'getProviderUserId' } },
    async (req) => {
      const info = await getProviderUserId(
        deps,
        req.projectId,
        req.params.customer_id,
        req.query.provider_name,
      );
      return {
        user_id: info.userId,
        raw_details: info.raw,
        ...(info.additional ? { additional_raw_details: info.additional } : {}),
      };
    },
  );

  app.get<{ Params: ConnectionParams }>(
    '/customers/:customer_id/connections/:provider_name',
    { config: { operationId: 'getConnection' } },
    async (req) =>
      to.connection(
        await findConnection(deps, req.projectId, req.params.customer_id, req.params.provider_name),
      ),
  );

  app.delete<{ Params: ConnectionParams }>(
    '/customers/:customer_id/connections/:provider_name',
    { config: { operationId: 'deleteConnection' } },
    async (req, reply) => {
      await deleteConnection(deps, req.projectId, req.params.customer_id, req.params.provider_name);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: ConnectionParams }>(
    '/customers/:customer_id/connections/:provider_name/_rate_limit_info',
    { config: { operationId: 'getConnectionRateLimitInfo' } },
    async (req) =>
      to.rateLimitInfo(
        await getRateLimitInfo(deps, req.projectId, req.params.customer_id, req.params.provider_name),
      ),
  );

  app.get('/connection_sync_configs', { config: { operationId: 'getConnectionSyncConfig' } }, async (req) => {
    const { customerId, providerName } = connectionHeaders(req);
    return connectionSyncConfigOf(await getReadOverrides(deps, req.projectId, customerId, providerName));
  });

  app.put<{ Body: ConnectionSyncConfig }>(
    '/connection_sync_configs',
    { config: { operationId: 'upsertConnectionSyncConfig' } },
    async (req) => {
      const { customerId, providerName } = connectionHeaders(req);
      const saved = await setReadOverrides(
        deps,
        req.projectId,
        customerId,
        providerName,
        readOverridesOf(req.body),
      );
      return saved && connectionSyncConfigOf(saved);
    },
  );

  app.delete(
    '/connection_sync_configs',
    { config: { operationId: 'deleteConnectionSyncConfig' } },
    async (req, reply) => {
      const { customerId, providerName } = connectionHeaders(req);
      await setReadOverrides(deps, req.projectId, customerId, providerName, null);
      return reply.code(204).send();
    },
  );
}
