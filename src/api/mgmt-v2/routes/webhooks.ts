import type { FastifyInstance } from 'fastify';
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
} from '../../../core/webhooks.ts';
import type { RouteOptions } from '../route-context.ts';
import * as to from '../serializers.ts';

type Params = { webhook_id: string };

/** Trellis extension: where a project's events are delivered. */
export async function webhookRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  app.get('/webhooks', { config: { operationId: 'trellisListWebhooks' } }, async (req) =>
    (await listWebhookEndpoints(deps, req.projectId)).map(to.webhookEndpoint),
  );

  app.post<{ Body: { url: string; event_types?: string[] } }>(
    '/webhooks',
    { config: { operationId: 'trellisCreateWebhook' } },
    async (req, reply) => {
      const w = await createWebhookEndpoint(deps, req.projectId, {
        url: req.body.url,
        eventTypes: req.body.event_types ?? [],
      });
      return reply.code(201).send({ ...to.webhookEndpoint(w), secret: w.secret });
    },
  );

  app.delete<{ Params: Params }>(
    '/webhooks/:webhook_id',
    { config: { operationId: 'trellisDeleteWebhook' } },
    async (req, reply) => {
      await deleteWebhookEndpoint(deps, req.projectId, req.params.webhook_id);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: Params }>(
    '/webhooks/:webhook_id/deliveries',
    { config: { operationId: 'trellisListWebhookDeliveries' } },
    async (req) =>
      (await listWebhookDeliveries(deps, req.projectId, req.params.webhook_id)).map((d) => ({
        id: d.id,
        event_id: d.eventId,
        event_type: d.eventType,
        attempt: d.attempt,
        succeeded: d.succeeded,
        response_status: d.responseStatus,
        error: d.error,
        duration_ms: d.durationMs,
        created_at: d.createdAt.toISOString(),
      })),
  );
}
