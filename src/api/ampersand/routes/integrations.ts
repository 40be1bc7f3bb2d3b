import type { FastifyInstance } from 'fastify';
import type { FieldDescription } from '../../../connectors/types.ts';
import { listDestinations } from '../../../core/destinations.ts';
import { DomainError } from '../../../core/errors.ts';
import {
  deleteIntegration,
  deployIntegrations,
  getRevision,
  latestRevisions,
  listIntegrations,
} from '../../../core/integrations.ts';
import { describeObjectFields } from '../../../core/object-fields.ts';
import { RequestRefused } from '../../surface/errors.ts';
import { ampersandIntegration, ampersandRevision, hydratedRevision } from '../integration-translation.ts';
import { integrationContentOf, parseManifest } from '../manifest.ts';
import { manifestSource } from '../manifest-source.ts';
import { type RouteOptions, requestedIntegration } from '../route-context.ts';
import { routePathOf } from './unserved.ts';

type ProjectParams = { projectIdOrName: string };
type IntegrationParams = ProjectParams & { integrationIdOrName: string };
type RevisionParams = ProjectParams & { integrationId: string; revisionId: string };

/**
 * Integrations as Ampersand deploys them: from a manifest (`integrations:batch`), revisioned,
 * installed on request. The Management API's sync configs are integrations too, but not this
 * API's: each dialect lists the integrations made in its own terms.
 */
export async function integrationRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  /** The project's integrations of this dialect, each with its latest revision. */
  const shown = async (projectId: string) => {
    const latest = await latestRevisions(deps, projectId);
    return (await listIntegrations(deps, projectId, { installs: 'on_request' })).map((i) =>
      ampersandIntegration(i, latest.get(i.id)!),
    );
  };

  const integrationOf = (projectId: string, idOrName: string) =>
    requestedIntegration(deps, projectId, idOrName);

  app.get<{ Params: ProjectParams }>(
    '/projects/:projectIdOrName/integrations',
    { config: { operationId: 'listIntegrations' } },
    async (req) => shown(req.projectId),
  );

  app.get<{ Params: IntegrationParams }>(
    '/projects/:projectIdOrName/integrations/:integrationIdOrName',
    { config: { operationId: 'getIntegration' } },
    async (req) => {
      const integration = await integrationOf(req.projectId, req.params.integrationIdOrName);
      const latest = await latestRevisions(deps, req.projectId);
      return ampersandIntegration(integration, latest.get(integration.id)!);
    },
  );

  app.delete<{ Params: IntegrationParams }>(
    '/projects/:projectIdOrName/integrations/:integrationIdOrName',
    { config: { operationId: 'deleteIntegration' } },
    async (req, reply) => {
      const integration = await integrationOf(req.projectId, req.params.integrationIdOrName);
      // Uninstalling everywhere is what deleting an integration means here: its syncs go with it.
      await deleteIntegration(deps, req.projectId, integration.id, true);
      return reply.code(204).send();
    },
  );

  app.put<{
    Params: ProjectParams;
    Querystring: { destructive?: boolean };
    Body: { sourceYaml?: string; sourceZipUrl?: string };
  }>(
    routePathOf('/projects/{projectIdOrName}/integrations:batch'),
    { config: { operationId: 'batchUpsertIntegrations' } },
    async (req) => {
      const source = await manifestSource(deps, req.projectId, req.body);
      const manifest = parseManifest(source.yaml, source.at);
      const destinations = new Map((await listDestinations(deps, req.projectId)).map((d) => [d.name, d.id]));
      const items = manifest.integrations.map((integration, i) =>
        integrationContentOf(manifest, integration, (name) => {
          const id = destinations.get(name);
          if (id) return id;
          const at = integration.read?.objects?.findIndex((o) => o.destination === name) ?? 0;
          throw new RequestRefused('invalid_input', `destination "${name}" does not exist in this project`, {
            status: 422,
            issues: [
              {
                in: 'body',
                name: `${source.at}/integrations/${i}/read/objects/${at}/destination`,
                detail: `names no destination of this project ("${name}")`,
              },
            ],
          });
        }),
      );
      const deployed = await deployIntegrations(deps, req.projectId, items, {
        destructive: req.query.destructive === true,
      });
      const latest = await latestRevisions(deps, req.projectId);
      return deployed.map((i) => ampersandIntegration(i, latest.get(i.id)!));
    },
  );

  app.get<{ Params: RevisionParams; Querystring: { connectionId: string } }>(
    routePathOf('/projects/{projectIdOrName}/integrations/{integrationId}/revisions/{revisionId}:hydrate'),
    { config: { operationId: 'getHydratedRevision' } },
    async (req) => {
      const integration = await integrationOf(req.projectId, req.params.integrationId);
      const revision = await getRevision(deps, req.projectId, integration.id, req.params.revisionId);
      const content = ampersandRevision(integration, revision).content;
      const described = new Map<string, FieldDescription[] | Error>();
      for (const o of content.read?.objects ?? []) {
        described.set(
          o.objectName,
          await describeObjectFields(deps, req.projectId, req.query.connectionId, o.objectName).catch(
            (err: unknown) => {
              // An unknown connection is the caller's mistake, not an object's.
              if (err instanceof DomainError && err.kind === 'not_found') throw err;
              return err instanceof Error ? err : new Error(String(err));
            },
          ),
        );
      }
      return hydratedRevision(integration, revision, described);
    },
  );
}
