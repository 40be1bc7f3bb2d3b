import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CoreDeps } from '../../core/deps.ts';
import { notFound } from '../../core/errors.ts';
import { findIntegration, type Integration } from '../../core/integrations.ts';
import { findProject, type Project } from '../../core/projects.ts';

/** What the Platform API's route plugins are registered with. */
export interface RouteOptions {
  deps: CoreDeps;
}

const projects = new WeakMap<FastifyRequest, Project>();

/**
 * Paths name their project (`projectIdOrName`: its id or its name), and credentials belong to one
 * project: a path naming any other, or none that exists, is not found, so that nobody learns which
 * other projects exist. Checked for every route with the parameter, as soon as the request is
 * authenticated, before its body is read.
 */
export function checkRequestedProject(app: FastifyInstance, deps: CoreDeps): void {
  app.addHook('onRequest', async (req) => {
    const named = (req.params as { projectIdOrName?: string }).projectIdOrName;
    if (named === undefined) return;
    const project = await findProject(deps.db, req.projectId);
    if (named !== project.name && named.toLowerCase() !== project.id) throw notFound(`project "${named}"`);
    projects.set(req, project);
  });
}

/** The project the request's path names (checked to be the credentials' own). */
export function requestedProject(req: FastifyRequest): Project {
  const project = projects.get(req);
  if (!project) throw new Error(`${req.method} ${req.url} names no project`);
  return project;
}

/**
 * An integration of this API by id or name: one installed on request. The Management API's sync
 * configs (installed automatically) are integrations too, but not this API's.
 */
export async function requestedIntegration(
  deps: CoreDeps,
  projectId: string,
  idOrName: string,
): Promise<Integration> {
  const integration = await findIntegration(deps, projectId, idOrName);
  if (integration.installs !== 'on_request') throw notFound(`integration "${idOrName}"`);
  return integration;
}
