import { randomUUID } from 'node:crypto';
import { SEALED_COLUMNS } from '../auth/vault.ts';
import { generateWebhookSecret, signWebhook } from '../auth/webhook-signature.ts';
import { webhookDeliveries } from '../metrics.ts';
import { discard, OutboundDenied } from '../net/outbound.ts';
import type { CoreDeps } from './deps.ts';
import { badRequest, notFound } from './errors.ts';
import type { DeliveryJob } from './events.ts';
import { isUuid } from './ids.ts';

export interface WebhookEndpoint {
  id: string;
  url: string;
  eventTypes: string[];
  enabled: boolean;
  createdAt: Date;
}

export interface WebhookDelivery {
  id: string;
  eventId: string;
  eventType: string;
  endpointId: string;
  attempt: number;
  succeeded: boolean;
  responseStatus: number | null;
  error: string | null;
  durationMs: number;
  createdAt: Date;
}

const DELIVERY_TIMEOUT_MS = 10_000;

async function checkEndpointInput(deps: CoreDeps, url: string, eventTypes: string[]): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badRequest(`url must be an absolute http(s) URL, got "${url}"`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw badRequest('url must use http or https');
  }
  if (parsed.username || parsed.password) throw badRequest('url must not carry a user name or password');
  const refusal = await deps.outbound.refusal('webhook', parsed.hostname);
  if (refusal) {
    throw badRequest(
      `url: ${parsed.hostname} is not reachable for webhooks (${refusal}); see TRELLIS_ALLOWED_OUTBOUND`,
    );
  }
  const { eventTypes: subscribable } = deps.webhookFormat;
  const known = new Set<string>([...subscribable, '*']);
  const unknown = eventTypes.filter((t) => !known.has(t));
  if (unknown.length > 0) {
    throw badRequest(`unknown event types: ${unknown.join(', ')} (known: ${subscribable.join(', ')}, or *)`);
  }
}

const endpointColumns = 'id, url, event_types as "eventTypes", enabled, created_at as "createdAt"';

export async function createWebhookEndpoint(
  deps: CoreDeps,
  projectId: string,
  input: { url: string; eventTypes: string[] },
): Promise<WebhookEndpoint & { secret: string }> {
  const eventTypes = input.eventTypes.length > 0 ? input.eventTypes : ['*'];
  await checkEndpointInput(deps, input.url, eventTypes);
  const secret = generateWebhookSecret();
  const id = randomUUID();
  const { rows } = await deps.db.query<WebhookEndpoint>(
    `insert into webhook_endpoints (id, project_id, url, secret_sealed, event_types)
     values ($5, $1, $2, $3, $4) returning ${endpointColumns}`,
    [projectId, input.url, deps.vault.seal(secret, SEALED_COLUMNS.webhookSecret, id), eventTypes, id],
  );
  return { ...rows[0]!, secret };
}

export async function listWebhookEndpoints(deps: CoreDeps, projectId: string): Promise<WebhookEndpoint[]> {
  const { rows } = await deps.db.query<WebhookEndpoint>(
    `select ${endpointColumns} from webhook_endpoints where project_id = $1 order by created_at, id`,
    [projectId],
  );
  return rows;
}

export async function deleteWebhookEndpoint(deps: CoreDeps, projectId: string, id: string): Promise<void> {
  if (!isUuid(id)) throw notFound('webhook endpoint');
  const { rowCount } = await deps.db.query(
    'delete from webhook_endpoints where project_id = $1 and id = $2',
    [projectId, id],
  );
  if (!rowCount) throw notFound('webhook endpoint');
}

export async function listWebhookDeliveries(
  deps: CoreDeps,
  projectId: string,
  endpointId: string,
): Promise<WebhookDelivery[]> {
  if (!isUuid(endpointId)) throw notFound('webhook endpoint');
  const { rowCount } = await deps.db.query(
    'select 1 from webhook_endpoints where project_id = $1 and id = $2',
    [projectId, endpointId],
  );
  if (!rowCount) throw notFound('webhook endpoint');
  const { rows } = await deps.db.query<WebhookDelivery>(
    `select d.id, d.event_id as "eventId", e.type as "eventType", d.endpoint_id as "endpointId", d.attempt,
            d.succeeded, d.response_status as "responseStatus", d.error, d.duration_ms as "durationMs",
            d.created_at as "createdAt"
       from webhook_deliveries d join webhook_events e on e.id = d.event_id
      where d.project_id = $1 and d.endpoint_id = $2
      order by d.created_at desc, d.attempt desc limit 500`,
    [projectId, endpointId],
  );
  return rows;
}

/**
 * One delivery attempt of an event to an endpoint. Every attempt is recorded; a failed attempt
 * throws so that the queue retries it with exponential backoff.
 */
export async function deliverWebhook(deps: CoreDeps, job: DeliveryJob, attempt: number): Promise<void> {
  const { rows } = await deps.db.query<{
    projectId: string;
    type: string;
    payload: unknown;
    url: string;
    secretSealed: string;
    enabled: boolean;
  }>(
    `select e.project_id as "projectId", e.type, e.payload, w.url, w.secret_sealed as "secretSealed", w.enabled
       from webhook_events e join webhook_endpoints w on w.id = $2 and w.project_id = e.project_id
      where e.id = $1`,
    [job.eventId, job.endpointId],
  );
  const target = rows[0];
  // The endpoint was deleted or disabled since the event was emitted: nothing left to deliver.
  if (!target?.enabled) return;

  const body = JSON.stringify(target.payload);
  const webhookId = `msg_${job.eventId}`;
  const timestamp = Math.floor(Date.now() / 1000);
  const secret = deps.vault.open(target.secretSealed, SEALED_COLUMNS.webhookSecret, job.endpointId);
  const signature = signWebhook(secret, webhookId, timestamp, body);
  const started = performance.now();
  let responseStatus: number | null = null;
  let error: string | null = null;
  try {
    const res = await deps.outbound.request('webhook', target.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Trellis-Webhooks/1',
        'webhook-id': webhookId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signature,
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    responseStatus = res.status;
    // The answer is not read: only its status counts, and a receiver may not make Trellis download.
    discard(res);
    if (res.status < 200 || res.status >= 300) error = `endpoint answered HTTP ${res.status}`;
  } catch (err) {
    // Deliberately coarse: what a failure says must not map the network behind the URL.
    error =
      err instanceof OutboundDenied
        ? err.message
        : (err as Error).name === 'TimeoutError'
          ? 'timed out'
          : 'could not connect';
    deps.log.debug({ err, endpointId: job.endpointId }, 'webhook connection failed');
  }
  const durationMs = Math.round(performance.now() - started);
  await deps.db.query(
    `insert into webhook_deliveries
       (project_id, event_id, endpoint_id, attempt, succeeded, response_status, error, duration_ms)
     values ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      target.projectId,
      job.eventId,
      job.endpointId,
      attempt,
      error === null,
      responseStatus,
      error,
      durationMs,
    ],
  );
  webhookDeliveries.inc({ kind: 'event', outcome: error === null ? 'delivered' : 'failed' });
  if (error !== null) {
    deps.log.warn(
      { eventId: job.eventId, endpointId: job.endpointId, attempt, error },
      'webhook delivery failed',
    );
    throw new Error(error);
  }
}
