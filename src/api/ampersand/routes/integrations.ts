import type { FastifyInstance } from 'fastify';
import type { FieldDescription } from '../../../connectors/types.ts';
import { listDestinations } from '../../../core/destinations.ts';
import { conflict, DomainError } from '../../../core/errors.ts';
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
import {
  checkedManifest,
  integrationContentOf,
  type Manifest,
  type ManifestIntegration,
  parseManifest,
} from '../manifest.ts';
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

  /**
   * Deploys a manifest's integrations (or only the one at index `only`); `pathOf` says where in the
   * request a pointer into the manifest is, for the issues of a destination no one made.
   */
  const deploy = async (
    projectId: string,
    manifest: Manifest,
    pathOf: (pointer: string) => string,
    opts: { destructive: boolean; only?: number },
  ) => {
    const destinations = new Map((await listDestinations(deps, projectId)).map((d) => [d.name, d.id]));
    const items = manifest.integrations.flatMap((integration, i) =>
      opts.only !== undefined && i !== opts.only
        ? []
        : [
            integrationContentOf(manifest, integration, (name) => {
              const id = destinations.get(name);
              if (id) return id;
              const at = integration.read?.objects?.findIndex((o) => o.destination === name) ?? 0;
              throw new RequestRefused(
                'invalid_input',
                `destination "${name}" does not exist in this project`,
                {
                  status: 422,
                  issues: [
                    {
                      in: 'body',
                      name: pathOf(`/integrations/${i}/read/objects/${at}/destination`),
                      detail: `names no destination of this project ("${name}")`,
                    },
                  ],
                },
              );
            }),
          ],
    );
    return deployIntegrations(deps, projectId, items, { destructive: opts.destructive });
  };

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
      const deployed = await deploy(req.projectId, manifest, (pointer) => `${source.at}${pointer}`, {
        destructive: req.query.destructive === true,
      });
      const latest = await latestRevisions(deps, req.projectId);
      return deployed.map((i) => ampersandIntegration(i, latest.get(i.id)!));
    },
  );

  app.post<{
    Params: ProjectParams;
    Body: {
      name: string;
      provider: string;
      latestRevision: { specVersion: string; content: ManifestIntegration };
    };
  }>(
    '/projects/:projectIdOrName/integrations',
    { config: { operationId: 'createIntegration' } },
    async (req, reply) => {
      const { name, provider, latestRevision } = req.body;
      // The integration is a manifest of one: checked and deployed as a manifest's entry is.
      const pathOf = (pointer: string) =>
        pointer.startsWith('/integrations/0')
          ? `/latestRevision/content${pointer.slice('/integrations/0'.length)}`
          : `/latestRevision${pointer}`;
      const manifest = checkedManifest(
        { specVersion: latestRevision.specVersion, integrations: [latestRevision.content] },
        pathOf,
      );
      const content = manifest.integrations[0]!;
      for (const [key, value] of [
        ['name', name],
        ['provider', provider],
      ] as const) {
        if (content[key] !== value)
          throw new RequestRefused(
            'invalid_input',
            `the revision is for ${content[key]}, the integration ${value}`,
            {
              status: 422,
              issues: [
                {
                  in: 'body',
                  name: `/latestRevision/content/${key}`,
                  detail: `must be the integration's own ("${value}")`,
                },
              ],
            },
          );
      }
      if ((await listIntegrations(deps, req.projectId)).some((i) => i.name === name))
        throw conflict(`an integration named "${name}" exists: deploy a new revision of it instead`);
      await deploy(req.projectId, manifest, pathOf, { destructive: false });
      return reply.code(201).send();
    },
  );

  app.post<{
    Params: ProjectParams & { integrationId: string };
    Body: { sourceYaml?: string; sourceZipUrl?: string };
  }>(
    '/projects/:projectIdOrName/integrations/:integrationId/revisions',
    { config: { operationId: 'createRevision' } },
    async (req, reply) => {
      const integration = await integrationOf(req.projectId, req.params.integrationId);
      const source = await manifestSource(deps, req.projectId, req.body ?? {});
      const manifest = parseManifest(source.yaml, source.at);
      const only = manifest.integrations.findIndex((i) => i.name === integration.name);
      if (only < 0)
        throw new RequestRefused(
          'invalid_input',
          `the manifest has no integration named "${integration.name}"`,
          {
            status: 422,
            issues: [
              {
                in: 'body',
                name: `${source.at}/integrations`,
                detail: `lists no integration named "${integration.name}"`,
              },
            ],
          },
        );
      await deploy(req.projectId, manifest, (pointer) => `${source.at}${pointer}`, {
        destructive: false,
        only,
      });
      return reply.code(201).send();
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
