import type pg from 'pg';
import type { DbClient } from '../db/pool.ts';
import { QUEUES } from '../db/queue.ts';
import { recordsSynced, syncRunsEnded } from '../metrics.ts';
import type { CoreDeps } from './deps.ts';
import type { DomainEvent } from './domain-events.ts';

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
  event: DomainEvent,
): Promise<string> {
  // Every run's end is told here, whichever process ran it: the metrics count runs where they end.
  if (event.type === 'sync.run_ended') {
    syncRunsEnded.inc({ status: event.error === undefined ? 'succeeded' : 'failed' });
    recordsSynced.inc(event.records);
  }
  const { type, payload } = deps.webhookFormat.render(event, projectId);
  const {
    rows: [stored],
  } = await client.query<{ id: string }>(
    'insert into webhook_events (project_id, type, payload) values ($1, $2, $3) returning id',
    [projectId, type, payload],
  );
  const { rows: endpoints } = await client.query<{ id: string }>(
    `select id from webhook_endpoints
      where project_id = $1 and enabled and ($2 = any(event_types) or '*' = any(event_types))`,
    [projectId, type],
  );
  const tx = 'release' in client ? (client as pg.PoolClient) : undefined;
  for (const endpoint of endpoints) {
    const job: DeliveryJob = { eventId: stored!.id, endpointId: endpoint.id };
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
  return stored!.id;
}
