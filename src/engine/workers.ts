import type { CoreDeps } from '../core/deps.ts';
import type { DeliveryJob } from '../core/events.ts';
import { deliverWebhook } from '../core/webhooks.ts';
import { QUEUES } from './queue.ts';
import { startScheduler } from './scheduler.ts';
import { runSync } from './sync-runner.ts';

/** Sync runs one worker process carries at once. */
const SYNC_CONCURRENCY = 4;

/** Registers this process's job handlers and starts the scheduler (the `worker` role). */
export async function startWorkers(deps: CoreDeps): Promise<{ stop(): Promise<void> }> {
  await deps.queue.work<DeliveryJob>(QUEUES.webhookDelivery, (job) =>
    deliverWebhook(deps, job.data, job.retryCount + 1),
  );
  await deps.queue.work<{ syncId: string }>(
    QUEUES.syncRun,
    (job) => runSync(deps, job.data.syncId),
    SYNC_CONCURRENCY,
  );
  return startScheduler(deps);
}
