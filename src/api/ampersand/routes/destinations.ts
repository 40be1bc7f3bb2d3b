import type { FastifyInstance } from 'fastify';
import {
  createDestination,
  deleteDestination,
  destinationSigningSecret,
  findDestination,
  listDestinations,
  updateDestination,
} from '../../../core/destinations.ts';
import {
  AMPERSAND_DESTINATION_TYPES,
  ampersandDestination,
  type CreateDestinationBody,
  destinationInputOf,
  destinationUpdateOf,
  type UpdateDestinationBody,
} from '../destination-translation.ts';
import type { RouteOptions } from '../route-context.ts';

/** Paths name a destination by its id or its name. */
type DestinationParams = { projectIdOrName: string; destination: string };
type GetQuery = { includeSecrets?: string; rotate?: string };

export async function destinationRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  const named = (projectId: string, idOrName: string) =>
    findDestination(deps, projectId, idOrName, AMPERSAND_DESTINATION_TYPES);

  app.get(
    '/projects/:projectIdOrName/destinations',
    { config: { operationId: 'listDestinations' } },
    async (req) =>
      (await listDestinations(deps, req.projectId, AMPERSAND_DESTINATION_TYPES)).map((d) =>
        ampersandDestination(d),
      ),
  );

  app.post<{ Body: CreateDestinationBody }>(
    '/projects/:projectIdOrName/destinations',
    { config: { operationId: 'createDestination' } },
    async (req, reply) =>
      reply
        .code(201)
        .send(
          ampersandDestination(await createDestination(deps, req.projectId, destinationInputOf(req.body))),
        ),
  );

  // The signing key only on request; `rotate` replaces it first (messages are signed with the new one).
  app.get<{ Params: DestinationParams; Querystring: GetQuery }>(
    '/projects/:projectIdOrName/destinations/:destination',
    { config: { operationId: 'getDestination' } },
    async (req) => {
      const destination = await named(req.projectId, req.params.destination);
      const rotate = req.query.rotate === 'true';
      const includeSecrets = req.query.includeSecrets === 'true';
      if (!includeSecrets && !rotate) return ampersandDestination(destination);
      const key = await destinationSigningSecret(deps, req.projectId, destination.id, { rotate });
      const current = rotate ? await named(req.projectId, destination.id) : destination;
      return ampersandDestination(current, includeSecrets ? key : undefined);
    },
  );

  app.patch<{ Params: DestinationParams; Body: UpdateDestinationBody }>(
    '/projects/:projectIdOrName/destinations/:destination',
    { config: { operationId: 'updateDestination' } },
    async (req) => {
      const current = await named(req.projectId, req.params.destination);
      return ampersandDestination(
        await updateDestination(deps, req.projectId, current.id, destinationUpdateOf(req.body, current)),
      );
    },
  );

  // A destination an integration still sends records to is kept (409).
  app.delete<{ Params: DestinationParams }>(
    '/projects/:projectIdOrName/destinations/:destination',
    { config: { operationId: 'deleteDestination' } },
    async (req, reply) => {
      const current = await named(req.projectId, req.params.destination);
      await deleteDestination(deps, req.projectId, current.id, AMPERSAND_DESTINATION_TYPES);
      return reply.code(204).send();
    },
  );
}
