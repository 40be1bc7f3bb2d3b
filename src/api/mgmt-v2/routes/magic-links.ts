import type { FastifyInstance } from 'fastify';
import { createMagicLink, deleteMagicLink, listMagicLinks, magicLinkUrl } from '../../../core/magic-links.ts';
import type { RouteOptions } from '../route-context.ts';
import * as to from '../serializers.ts';

type Body = { customer_id: string; provider_name: string; return_url: string; expiration_secs: number };

export async function magicLinkRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  app.get('/magic_links', { config: { operationId: 'getMagicLinks' } }, async (req) =>
    (await listMagicLinks(deps, req.projectId)).map((m) => to.magicLink(m, magicLinkUrl(deps, m.id))),
  );

  app.post<{ Body: Body }>(
    '/magic_links',
    { config: { operationId: 'createMagicLink' } },
    async (req, reply) => {
      const m = await createMagicLink(deps, req.projectId, {
        customerRef: req.body.customer_id,
        providerName: req.body.provider_name,
        returnUrl: req.body.return_url,
        expirationSecs: req.body.expiration_secs,
      });
      return reply.code(201).send(to.magicLink(m, magicLinkUrl(deps, m.id)));
    },
  );

  app.delete<{ Params: { magic_link_id: string } }>(
    '/magic_links/:magic_link_id',
    { config: { operationId: 'deleteMagicLink' } },
    async (req, reply) => {
      await deleteMagicLink(deps, req.projectId, req.params.magic_link_id);
      return reply.code(204).send();
    },
  );
}
