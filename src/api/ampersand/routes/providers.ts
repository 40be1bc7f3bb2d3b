import type { FastifyInstance } from 'fastify';
import { notFound } from '../../../core/errors.ts';
import { connectableProvider, connectableProviders, providerInfo } from '../provider-translation.ts';

/** The provider catalog: open to everyone, as the document says (`security: []`). */
export async function providerRoutes(app: FastifyInstance) {
  app.get('/providers', { config: { operationId: 'listProviders' } }, async () =>
    Object.fromEntries(connectableProviders().map((p) => [p.name, providerInfo(p)])),
  );

  app.get<{ Params: { provider: string } }>(
    '/providers/:provider',
    { config: { operationId: 'getProvider' } },
    async (req) => {
      const provider = connectableProvider(req.params.provider);
      if (!provider) throw notFound(`provider "${req.params.provider}"`);
      return providerInfo(provider);
    },
  );
}
