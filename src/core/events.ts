import type pg from 'pg';
import type { DbClient } from '../db/pool.ts';
import { QUEUES } from '../db/queue.ts';
import type { CoreDeps } from './deps.ts';

export const EVENT_TYPES = [
  'connection.created',
  'connection.deleted',
  'sync.complete',
  'sync.paused',
  'entity.entity_mapping.created',
  'entity.entity_mapping.updated',
  'entity.entity_mapping.deleted',
  'object.field_mapping.created',
  'object.field_mapping.updated',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export interface DeliveryJob {
  eventId: string;
  endpointId: string;
}

/**
 * Records an event and enqueues one delivery per subscribed endpoint, in the caller's transaction
 * when one is given, so that an event exists exactly when the change behind it committed.
 */
export async function emitEvent(
  deps: CoreDeps,
  client: DbClient,
  projectId: string,
  type: EventType,
  payload: Record<string, unknown>,
): Promise<string> {
  const body = { webhook_event_type: type, ...payload };
  const {
    rows: [event],
  } = await client.query<{ id: string }>(
    'insert into webhook_events (project_id, type, payload) values ($1, $2, $3) returning id',
    [projectId, type, body],
  );
  const { rows: endpoints } = await client.query<{ id: string }>(
    `select id from webhook_endpoints
      where project_id = $1 and enabled and ($2 = any(event_types) or '*' = any(event_types))`,
    [projectId, type],
  );
  const tx = 'release' in client ? (client as pg.PoolClient) : undefined;
  for (const endpoint of endpoints) {
    const job: DeliveryJob = { eventId: event!.id, endpointId: endpoint.id };
    await deps.queue.send(
      QUEUES.webhookDelivery,
      job,
      {
        retryLimit: deps.config.webhookMaxAttempts - 1,
        retryDelay: deps.config.webhookRetryDelaySeconds,
        retryBackoff: true,
      },
      tx,
    );
  }
  return event!.id;
}
