import type { FastifyInstance } from 'fastify';
import {
  createDestination,
  type DestinationType,
  getDestination,
  listDestinations,
  updateDestination,
} from '../../../core/destinations.ts';
import type { RouteOptions } from '../route-context.ts';
import * as to from '../serializers.ts';

type Body = { name?: string; type: DestinationType; config?: Record<string, unknown>; version?: number };
type Params = { destination_id: string };

/**
 * The destination types Supaglue's spec has. Others (webhooks, made through another surface) do
 * not exist for this API: not listed, and their ids answer 404. Creating one is refused by the
 * spec's request validation already.
 */
export const SUPAGLUE_TYPES: readonly DestinationType[] = [
  'postgres',
  'supaglue',
  'bigquery',
  'snowflake',
  'redshift',
  's3',
];

export async function destinationRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  app.get('/destinations', { config: { operationId: 'getDestinations' } }, async (req) =>
    (await listDestinations(deps, req.projectId, SUPAGLUE_TYPES)).map(to.destination),
  );

  app.post<{ Body: Body }>(
    '/destinations',
    { config: { operationId: 'createDestination' } },
    async (req, reply) => {
      const d = await createDestination(deps, req.projectId, req.body);
      return reply.code(201).send(to.destination(d));
    },
  );

  app.get<{ Params: Params }>(
    '/destinations/:destination_id',
    { config: { operationId: 'getDestination' } },
    async (req) =>
      to.destination(await getDestination(deps, req.projectId, req.params.destination_id, SUPAGLUE_TYPES)),
  );

  app.put<{ Params: Params; Body: Required<Body> }>(
    '/destinations/:destination_id',
    { config: { operationId: 'updateDestination' } },
    async (req) => {
      await getDestination(deps, req.projectId, req.params.destination_id, SUPAGLUE_TYPES);
      return to.destination(
        await updateDestination(deps, req.projectId, req.params.destination_id, req.body),
      );
    },
  );
}
