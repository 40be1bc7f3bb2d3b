import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { badRequest, notFound } from '../../../core/errors.ts';
import { backfillProgress } from '../../../core/installation-reads.ts';
import {
  createInstallation,
  deleteInstallation,
  getInstallation,
  type Installation,
  listInstallations,
  updateInstallation,
} from '../../../core/installations.ts';
import { listRevisions } from '../../../core/integrations.ts';
import {
  getProjectConnection,
  listProjectConnections,
  type ProjectConnection,
} from '../../../core/project-connections.ts';
import {
  ampersandInstallation,
  type ConfigContent,
  type InstallationSource,
  installationConfigOf,
} from '../integration-translation.ts';
import { type RouteOptions, requestedIntegration } from '../route-context.ts';

type IntegrationParams = { projectIdOrName: string; integrationId: string };
type InstallationParams = IntegrationParams & { installationId: string };
type CreateBody = {
  groupRef: string;
  connectionId?: string;
  config: { createdBy?: string; content: ConfigContent };
};
type UpdateBody = {
  updateMask: string[];
  installation: { connectionId?: string; config?: { createdBy?: string; content?: Record<string, unknown> } };
};

/** `a.b.c` of a document, as an update mask names it. */
function pathValue(doc: unknown, path: string[]): unknown {
  return path.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc);
}

/** A copy of `doc` with the value at `path` replaced (or removed, when `value` is undefined). */
function withPath(doc: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  const [key, ...rest] = path as [string, ...string[]];
  const copy = { ...doc };
  if (rest.length === 0) {
    if (value === undefined) delete copy[key];
    else copy[key] = value;
    return copy;
  }
  copy[key] = withPath((doc[key] as Record<string, unknown> | undefined) ?? {}, rest, value);
  return copy;
}

/** Installations of Ampersand integrations on a group's connection, with their configuration. */
export async function installationRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  const integrationOf = (projectId: string, idOrName: string) =>
    requestedIntegration(deps, projectId, idOrName);

  /** Installations as the API shows them, each with its connection and its revision's id. */
  const shown = async (projectId: string, installations: Installation[]) => {
    const revisionIds = new Map<string, Map<number, string>>();
    // One read of the project's connections, not one per installation.
    const connections =
      installations.length > 1
        ? new Map((await listProjectConnections(deps, projectId)).map((c) => [c.id, c]))
        : new Map<string, ProjectConnection>();
    const out = [];
    for (const installation of installations) {
      let ids = revisionIds.get(installation.integrationId);
      if (!ids) {
        ids = new Map(
          (await listRevisions(deps, projectId, installation.integrationId)).map((r) => [r.revision, r.id]),
        );
        revisionIds.set(installation.integrationId, ids);
      }
      const connection =
        connections.get(installation.connectionId) ??
        (await getProjectConnection(deps, projectId, installation.connectionId));
      out.push(ampersandInstallation(installation, connection, ids.get(installation.revision ?? 0) ?? ''));
    }
    return out;
  };

  const installationOf = async (projectId: string, integrationId: string, installationId: string) => {
    const integration = await integrationOf(projectId, integrationId);
    const installation = await getInstallation(deps, projectId, installationId);
    if (installation.integrationId !== integration.id) throw notFound('installation');
    return { integration, installation };
  };

  app.get<{ Params: IntegrationParams; Querystring: { groupRef?: string } }>(
    '/projects/:projectIdOrName/integrations/:integrationId/installations',
    { config: { operationId: 'listInstallations' } },
    async (req) => {
      const integration = await integrationOf(req.projectId, req.params.integrationId);
      const installations = await listInstallations(deps, req.projectId, {
        integrationId: integration.id,
        ...(req.query.groupRef ? { customerRef: req.query.groupRef } : {}),
      });
      return shown(req.projectId, installations);
    },
  );

  app.get<{ Params: { projectIdOrName: string } }>(
    '/projects/:projectIdOrName/installations',
    { config: { operationId: 'listInstallationsForProject' } },
    async (req) => {
      const installations = (await listInstallations(deps, req.projectId)).filter((i) => i.revision !== null);
      return shown(req.projectId, installations);
    },
  );

  app.get<{ Params: InstallationParams }>(
    '/projects/:projectIdOrName/integrations/:integrationId/installations/:installationId',
    { config: { operationId: 'getInstallation' } },
    async (req) => {
      const { installation } = await installationOf(
        req.projectId,
        req.params.integrationId,
        req.params.installationId,
      );
      return (await shown(req.projectId, [installation]))[0];
    },
  );

  app.get<{ Params: InstallationParams & { objectName: string } }>(
    '/projects/:projectIdOrName/integrations/:integrationId/installations/:installationId/objects/:objectName/backfill-progress',
    { config: { operationId: 'getBackfillProgress' } },
    async (req) => {
      const { installation } = await installationOf(
        req.projectId,
        req.params.integrationId,
        req.params.installationId,
      );
      const progress = await backfillProgress(deps, req.projectId, installation.id, req.params.objectName);
      return {
        installationId: installation.id,
        objectName: req.params.objectName,
        operationId: progress.runId,
        recordsProcessed: progress.records,
        createTime: progress.startedAt.toISOString(),
        updateTime: progress.updatedAt.toISOString(),
      };
    },
  );

  app.post<{ Params: IntegrationParams; Body: CreateBody }>(
    '/projects/:projectIdOrName/integrations/:integrationId/installations',
    { config: { operationId: 'createInstallation' } },
    async (req, reply) => {
      const integration = await integrationOf(req.projectId, req.params.integrationId);
      const { groupRef, connectionId, config } = req.body;
      // Without a connection named, the group's connection to the integration's provider.
      const connection = connectionId
        ? await getProjectConnection(deps, req.projectId, connectionId)
        : (
            await listProjectConnections(deps, req.projectId, {
              customerRef: groupRef,
              providerName: integration.providerName,
            })
          )[0];
      if (!connection) throw badRequest(`group "${groupRef}" has no ${integration.providerName} connection`);
      if (connection.customer.ref !== groupRef)
        throw badRequest(`the connection is not group "${groupRef}"'s`);
      const source: InstallationSource = {
        createdBy: config.createdBy ?? 'builder:trellis',
        content: config.content,
        configId: randomUUID(),
      };
      const installation = await createInstallation(deps, req.projectId, {
        integrationId: integration.id,
        connectionId: connection.id,
        config: installationConfigOf(config.content, integration.providerName),
        source,
      });
      return reply.code(201).send((await shown(req.projectId, [installation]))[0]);
    },
  );

  app.patch<{ Params: InstallationParams; Body: UpdateBody }>(
    '/projects/:projectIdOrName/integrations/:integrationId/installations/:installationId',
    { config: { operationId: 'updateInstallation' } },
    async (req) => {
      const { integration, installation } = await installationOf(
        req.projectId,
        req.params.integrationId,
        req.params.installationId,
      );
      const current = installation.source as InstallationSource | null;
      let content: Record<string, unknown> = {
        ...(current?.content ?? { provider: integration.providerName }),
      };
      let createdBy = current?.createdBy ?? 'builder:trellis';
      for (const mask of req.body.updateMask) {
        const path = mask.split('.');
        if (mask === 'config.createdBy') {
          const value = req.body.installation.config?.createdBy;
          if (typeof value !== 'string')
            throw badRequest('config.createdBy is in updateMask but has no value');
          createdBy = value;
        } else if (path[0] === 'config' && path[1] === 'content' && path.length > 2) {
          content = withPath(
            content,
            path.slice(2),
            pathValue(req.body.installation.config?.content, path.slice(2)),
          );
        } else if (mask === 'connectionId') {
          throw badRequest(
            'moving an installation to another connection is not supported: uninstall and install again',
          );
        } else {
          throw badRequest(`updateMask path "${mask}" is not one Trellis can update`);
        }
      }
      const updated = await updateInstallation(
        deps,
        req.projectId,
        installation.id,
        installationConfigOf(content as unknown as ConfigContent, integration.providerName),
        { createdBy, content, configId: randomUUID() },
      );
      return (await shown(req.projectId, [updated]))[0];
    },
  );

  app.delete<{ Params: InstallationParams }>(
    '/projects/:projectIdOrName/integrations/:integrationId/installations/:installationId',
    { config: { operationId: 'deleteInstallation' } },
    async (req, reply) => {
      const { installation } = await installationOf(
        req.projectId,
        req.params.integrationId,
        req.params.installationId,
      );
      await deleteInstallation(deps, req.projectId, installation.id);
      return reply.code(204).send();
    },
  );
}
