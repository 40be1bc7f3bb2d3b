import type { FastifyInstance } from 'fastify';
import { findProject } from '../../../core/projects.ts';
import { ampersandProject } from '../project-translation.ts';
import { type RouteOptions, requestedProject } from '../route-context.ts';

export async function projectRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  // Credentials are one project's: the projects they can access are that one.
  app.get('/projects', { config: { operationId: 'listProjects' } }, async (req) => [
    ampersandProject(await findProject(deps.db, req.projectId), { includeEntitlements: false }),
  ]);

  app.get<{ Querystring: { includeEntitlements?: string } }>(
    '/projects/:projectIdOrName',
    { config: { operationId: 'getProject' } },
    async (req) =>
      ampersandProject(requestedProject(req), {
        includeEntitlements: req.query.includeEntitlements === 'true',
      }),
  );
}
