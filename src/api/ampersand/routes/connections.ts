import type { FastifyInstance } from 'fastify';
import { connectWithCredentials, updateConnectionById } from '../../../core/connections.ts';
import {
  deleteProjectConnection,
  getProjectConnection,
  listProjectConnections,
} from '../../../core/project-connections.ts';
import {
  type ConnectionRequestBody,
  connectionChangesOf,
  generateRequestOf,
  type UpdateConnectionBody,
} from '../connection-input-translation.ts';
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

  // API-key and basic-auth connections; the provider is asked first whether it accepts the credentials.
  app.post<{ Body: ConnectionRequestBody | undefined }>(
    '/projects/:projectIdOrName/connections::generate',
    { config: { operationId: 'generateConnection' } },
    async (req, reply) => {
      const made = await connectWithCredentials(deps, req.projectId, generateRequestOf(req.body));
      return reply
        .code(201)
        .send(ampersandConnection(await getProjectConnection(deps, req.projectId, made.id)));
    },
  );

  // Credentials rotated (checked with the provider first), or the account's own host changed.
  app.patch<{ Params: ConnectionParams; Body: UpdateConnectionBody }>(
    '/projects/:projectIdOrName/connections/:connectionId',
    { config: { operationId: 'updateConnection' } },
    async (req) => {
      const { connectionId } = req.params;
      const current = await getProjectConnection(deps, req.projectId, connectionId);
      const changes = connectionChangesOf(req.body, current.providerName, current.authType);
      await updateConnectionById(deps, req.projectId, connectionId, changes);
      return ampersandConnection(await getProjectConnection(deps, req.projectId, connectionId));
    },
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
