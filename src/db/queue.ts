import pg from 'pg';
import PgBoss from 'pg-boss';
import type { Logger } from '../logger.ts';

/**
 * The job queue: pg-boss on the same Postgres as the control plane (see
 * docs/decisions/0003-job-queue.md). Jobs can be enqueued inside a caller's transaction, so a job
 * exists exactly when the change that caused it committed.
 */
export const QUEUES = {
  webhookDelivery: 'webhook-delivery',
  connectionKeepAlive: 'connection-keepalive',
  writeOperation: 'write-operation',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export interface JobOptions {
  retryLimit?: number;
  retryDelay?: number;
  retryBackoff?: boolean;
  startAfter?: Date | number;
  singletonKey?: string;
}

export interface Queue {
  send(name: QueueName, data: object, options?: JobOptions, tx?: pg.ClientBase): Promise<string | null>;
  /** Handles jobs of a queue, up to `concurrency` at a time in this process. */
  work<T>(
    name: QueueName,
    handler: (job: { id: string; data: T; retryCount: number }) => Promise<void>,
    concurrency?: number,
  ): Promise<void>;
  /** Jobs waiting to be worked on (not yet active), by queue. */
  depths(): Promise<Record<QueueName, number>>;
  stop(): Promise<void>;
}

export async function startQueue(opts: {
  databaseUrl: string;
  log: Logger;
  worker: boolean;
}): Promise<Queue> {
  const boss = new PgBoss({
    connectionString: opts.databaseUrl,
    schema: 'pgboss',
    max: 4,
    application_name: 'trellis-queue',
    // Maintenance and cron belong to processes that do background work.
    supervise: opts.worker,
    schedule: opts.worker,
  });
  boss.on('error', (err) => opts.log.error({ err }, 'job queue error'));
  await boss.start();
  // Processes starting together on a fresh database would deadlock creating the same queues
  // (pg-boss creates a partition per queue): one Trellis process at a time creates the missing ones.
  const lock = new pg.Client({ connectionString: opts.databaseUrl });
  await lock.connect();
  try {
    await lock.query('select pg_advisory_lock(hashtext($1))', ['trellis-queues']);
    for (const name of Object.values(QUEUES)) {
      // Creating a queue's partition can still deadlock with another process's queue maintenance;
      // the loser was rolled back and simply tries again.
      for (let attempt = 1; !(await boss.getQueue(name)); attempt++) {
        try {
          await boss.createQueue(name);
        } catch (err) {
          if ((err as { code?: string }).code !== '40P01' || attempt >= 5) throw err;
          await new Promise((r) => setTimeout(r, 100 * attempt));
        }
      }
    }
  } finally {
    await lock.end();
  }

  return {
    async send(name, data, options = {}, tx) {
      const db = tx ? { executeSql: (text: string, values: unknown[]) => tx.query(text, values) } : undefined;
      return boss.send(name, data, { ...options, ...(db ? { db } : {}) });
    },
    async work<T>(
      name: QueueName,
      handler: (job: { id: string; data: T; retryCount: number }) => Promise<void>,
      concurrency = 1,
    ) {
      // Each registration is its own polling loop that handles one job at a time.
      for (let i = 0; i < concurrency; i++) {
        await boss.work<T>(
          name,
          { pollingIntervalSeconds: 0.5, batchSize: 1, includeMetadata: true },
          async ([job]) => {
            if (job) await handler({ id: job.id, data: job.data, retryCount: job.retryCount });
          },
        );
      }
    },
    async depths() {
      const names = Object.values(QUEUES);
      const sizes = await Promise.all(names.map((name) => boss.getQueueSize(name)));
      return Object.fromEntries(names.map((name, i) => [name, sizes[i]!])) as Record<QueueName, number>;
    },
    async stop() {
      await boss.stop({ graceful: true, timeout: 15_000, wait: true });
    },
  };
}
