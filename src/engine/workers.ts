import type { CoreDeps } from '../core/deps.ts';
import type { DeliveryJob } from '../core/events.ts';
import { runWriteOperation } from '../core/operations.ts';
import { removeIdleRateBudgets } from '../core/rate-budget.ts';
import { deliverWebhook } from '../core/webhooks.ts';
import { QUEUES } from '../db/queue.ts';
import { keepAlive, queueKeepAlives } from './keep-alive.ts';
import { startScheduler } from './scheduler.ts';

/** How often idle OAuth connections are checked for tokens about to expire. */
const KEEP_ALIVE_CHECK_MS = 60_000;
/** How often budgets idle for a day are removed. */
const IDLE_BUDGETS_CHECK_MS = 3_600_000;

/**
 * Registers this process's job handlers and starts the scheduler, which runs this worker's share
 * of due syncs itself (the `worker` role).
 */
export async function startWorkers(deps: CoreDeps): Promise<{ stop(): Promise<void> }> {
  await deps.queue.work<DeliveryJob>(QUEUES.webhookDelivery, (job) =>
    deliverWebhook(deps, job.data, job.retryCount + 1),
  );
  await deps.queue.work<{ connectionId: string }>(QUEUES.connectionKeepAlive, (job) =>
    keepAlive(deps, job.data.connectionId),
  );
  await deps.queue.work<{ operationId: string }>(QUEUES.writeOperation, (job) =>
    runWriteOperation(deps, job.data.operationId),
  );
  const scheduler = startScheduler(deps);
  const keepAliveTimer = setInterval(() => {
    queueKeepAlives(deps).catch((err) => deps.log.error({ err }, 'queueing token keep-alives failed'));
  }, KEEP_ALIVE_CHECK_MS);
  const idleBudgetsTimer = setInterval(() => {
    removeIdleRateBudgets(deps.db).catch((err) =>
      deps.log.error({ err }, 'removing idle rate budgets failed'),
    );
  }, IDLE_BUDGETS_CHECK_MS);
  return {
    async stop() {
      clearInterval(keepAliveTimer);
      clearInterval(idleBudgetsTimer);
      await scheduler.stop();
    },
  };
}
