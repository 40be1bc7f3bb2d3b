import type { FastifyInstance } from 'fastify';
import { notFound } from '../../../core/errors.ts';
import {
  createProviderApp,
  deleteProviderApp,
  listProviderApps,
  patchProviderApp,
} from '../../../core/provider-apps.ts';
import {
  ampersandProviderApp,
  type CreateProviderAppBody,
  isOAuthClient,
  providerAppChangesOf,
  providerAppInputOf,
  type UpdateProviderAppBody,
} from '../provider-app-translation.ts';
import type { RouteOptions } from '../route-context.ts';

type AppParams = { projectIdOrName: string; providerAppId: string };

export async function providerAppRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  const oauthClients = async (projectId: string) =>
    (await listProviderApps(deps, projectId)).filter(isOAuthClient);

  /** One of the project's OAuth clients, by id; other apps do not exist for this API. */
  const oauthClient = async (projectId: string, id: string) => {
    const found = (await oauthClients(projectId)).find((a) => a.id === id.toLowerCase());
    if (!found) throw notFound(`provider app "${id}"`);
    return found;
  };

  app.get(
    '/projects/:projectIdOrName/provider-apps',
    { config: { operationId: 'listProviderApps' } },
    async (req) => (await oauthClients(req.projectId)).map(ampersandProviderApp),
  );

  // The first app of a provider is its default (what flows that name no app use); later ones are not.
  app.post<{ Body: CreateProviderAppBody }>(
    '/projects/:projectIdOrName/provider-apps',
    { config: { operationId: 'createProviderApp' } },
    async (req) =>
      ampersandProviderApp(
        await createProviderApp(deps, req.projectId, providerAppInputOf(req.body), deps.db, {
          another: true,
        }),
      ),
  );

  app.patch<{ Params: AppParams; Body: UpdateProviderAppBody }>(
    '/projects/:projectIdOrName/provider-apps/:providerAppId',
    { config: { operationId: 'updateProviderApp' } },
    async (req) => {
      const current = await oauthClient(req.projectId, req.params.providerAppId);
      const changes = providerAppChangesOf(req.body, current);
      return ampersandProviderApp(await patchProviderApp(deps, req.projectId, current.id, changes));
    },
  );

  // An app that connections or integrations use is kept (409); a deleted default hands its place on.
  app.delete<{ Params: AppParams }>(
    '/projects/:projectIdOrName/provider-apps/:providerAppId',
    { config: { operationId: 'deleteProviderApp' } },
    async (req, reply) => {
      const current = await oauthClient(req.projectId, req.params.providerAppId);
      await deleteProviderApp(deps, req.projectId, current.id);
      return reply.code(204).send();
    },
  );
}
