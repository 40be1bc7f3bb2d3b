import type { FastifyInstance } from 'fastify';
import {
  deleteProjectConnection,
  getProjectConnection,
  listProjectConnections,
} from '../../../core/project-connections.ts';
import { ampersandConnection, consumerRefOf } from '../connection-translation.ts';
import type { RouteOptions } from '../route-context.ts';

type ListQuery = { provider?: string; groupRef?: string; consumerRef?: string };
type ConnectionParams = { projectIdOrName: string; connectionId: string };

export async function connectionRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  app.get<{ Querystring: ListQuery }>(
    '/projects/:projectIdOrName/connections',
    { config: { operationId: 'listConnections' } },
    async (req) => {
      const { provider, groupRef, consumerRef } = req.query;
      const connections = await listProjectConnections(deps, req.projectId, {
        providerName: provider || undefined,
        customerRef: groupRef || undefined,
      });
      return connections
        .filter((c) => !consumerRef || consumerRefOf(c) === consumerRef)
        .map(ampersandConnection);
    },
  );

  // Credentials are never returned, whatever `includeCreds` or `includeRefreshToken` ask.
  app.get<{ Params: ConnectionParams }>(
    '/projects/:projectIdOrName/connections/:connectionId',
    { config: { operationId: 'getConnection' } },
    async (req) =>
      ampersandConnection(await getProjectConnection(deps, req.projectId, req.params.connectionId)),
  );

  app.delete<{ Params: ConnectionParams }>(
    '/projects/:projectIdOrName/connections/:connectionId',
    { config: { operationId: 'deleteConnection' } },
    async (req, reply) => {
      await deleteProjectConnection(deps, req.projectId, req.params.connectionId);
      return reply.code(204).send();
    },
  );
}
