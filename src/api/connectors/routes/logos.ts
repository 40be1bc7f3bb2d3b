import type { FastifyInstance } from 'fastify';
import { notFound } from '../../../core/errors.ts';
import { providerLogoSvg } from '../../../core/provider-catalog.ts';

/** Systems' logos, drawn by Trellis from the catalog (public: a page shows them without a key). */
export async function logoRoutes(app: FastifyInstance) {
  app.get<{ Params: { logo: string } }>(
    '/logos/:logo',
    { config: { operationId: 'systemLogo' } },
    async (req, reply) => {
      const name = /^(.+)\.svg$/.exec(req.params.logo)?.[1];
      const svg = name === undefined ? undefined : providerLogoSvg(name);
      if (svg === undefined) throw notFound(`logo "${req.params.logo}"`);
      return reply.type('image/svg+xml').header('cache-control', 'public, max-age=86400').send(svg);
    },
  );
}
