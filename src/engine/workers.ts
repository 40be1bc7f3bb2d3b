import type { CoreDeps } from '../core/deps.ts';
import type { DeliveryJob } from '../core/events.ts';
import { deliverWebhook } from '../core/webhooks.ts';
import { QUEUES } from './queue.ts';

/** Registers this process's job handlers (the `worker` role). */
export async function startWorkers(deps: CoreDeps): Promise<void> {
  await deps.queue.work<DeliveryJob>(QUEUES.webhookDelivery, (job) =>
    deliverWebhook(deps, job.data, job.retryCount + 1),
  );
}
