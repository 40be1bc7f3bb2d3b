import type { FastifyInstance } from 'fastify';
import type { AuthType } from '../../../connectors/catalog.ts';
import {
  createProviderApp,
  deleteProviderApp,
  getProviderApp,
  listProviderApps,
  type ProviderAppInput,
  updateProviderApp,
} from '../../../core/provider-apps.ts';
import {
  type EntityMappingConfig,
  entityMappingOf,
  type ObjectsConfig,
  providerAppObjectsOf,
} from '../mapping-translation.ts';
import type { RouteOptions } from '../route-context.ts';
import * as to from '../serializers.ts';

interface ProviderBody {
  auth_type: AuthType;
  category?: string;
  name?: string;
  config?: {
    provider_app_id?: string;
    use_managed_oauth?: boolean;
    oauth?: { oauth_scopes: string[]; credentials: { oauth_client_id: string; oauth_client_secret: string } };
  };
  objects?: ObjectsConfig;
  entity_mappings?: EntityMappingConfig[];
}
type Params = { provider_id: string };

/**
 * Supaglue knows one provider app per provider: this API sees each provider's default app only,
 * and other apps (made through the Platform API) do not exist for it.
 */
const DEFAULTS_ONLY = { defaultsOnly: true } as const;

function toInput(body: ProviderBody): ProviderAppInput {
  return {
    providerName: body.name,
    category: body.category,
    authType: body.auth_type,
    clientId: body.config?.oauth?.credentials.oauth_client_id,
    clientSecret: body.config?.oauth?.credentials.oauth_client_secret || undefined,
    scopes: body.config?.oauth?.oauth_scopes,
    externalRef: body.config?.provider_app_id || undefined,
    useManagedOauth: body.config?.use_managed_oauth,
    objects: body.objects && providerAppObjectsOf(body.objects),
    entityMappings: body.entity_mappings?.map(entityMappingOf),
  };
}

export async function providerRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  app.get('/providers', { config: { operationId: 'getProviders' } }, async (req) =>
    (await listProviderApps(deps, req.projectId, DEFAULTS_ONLY)).map(to.provider),
  );

  app.post<{ Body: ProviderBody }>(
    '/providers',
    { config: { operationId: 'createProvider' } },
    async (req, reply) => {
      const p = await createProviderApp(deps, req.projectId, toInput(req.body));
      return reply.code(201).send(to.provider(p));
    },
  );

  app.get<{ Params: Params }>(
    '/providers/:provider_id',
    { config: { operationId: 'getProvider' } },
    async (req) =>
      to.provider(await getProviderApp(deps, req.projectId, req.params.provider_id, DEFAULTS_ONLY)),
  );

  app.put<{ Params: Params; Body: ProviderBody }>(
    '/providers/:provider_id',
    { config: { operationId: 'updateProvider' } },
    async (req) => {
      await getProviderApp(deps, req.projectId, req.params.provider_id, DEFAULTS_ONLY);
      return to.provider(
        await updateProviderApp(deps, req.projectId, req.params.provider_id, toInput(req.body)),
      );
    },
  );

  app.delete<{ Params: Params }>(
    '/providers/:provider_id',
    { config: { operationId: 'deleteProvider' } },
    async (req) =>
      to.provider(await deleteProviderApp(deps, req.projectId, req.params.provider_id, DEFAULTS_ONLY)),
  );
}
