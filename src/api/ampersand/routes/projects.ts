import type { FastifyInstance } from 'fastify';
import { ampersandProject } from '../project-translation.ts';
import { requestedProject } from '../route-context.ts';

export async function projectRoutes(app: FastifyInstance) {
  app.get<{ Querystring: { includeEntitlements?: string } }>(
    '/projects/:projectIdOrName',
    { config: { operationId: 'getProject' } },
    async (req) =>
      ampersandProject(requestedProject(req), {
        includeEntitlements: req.query.includeEntitlements === 'true',
      }),
  );
}
