import type { CoreDeps } from '../core/deps.ts';
import { transaction } from '../db/pool.ts';
import { QUEUES } from '../db/queue.ts';

const TICK_MS = 250;

/**
 * Hands due syncs to the queue: those whose time has come, and those with a run in progress whose
 * worker stopped reporting (it died; the run resumes from its checkpoint). Claiming and enqueueing
 * happen in one transaction, and `skip locked` lets any number of schedulers run side by side.
 */
export async function scheduleDueSyncs(deps: CoreDeps): Promise<number> {
  return transaction(deps.db, async (client) => {
    const { rows } = await client.query<{ id: string }>(
      `with due as (
         select id from syncs
          where (not paused and next_run_at <= now())
             or (state ? 'checkpoint'
                 and coalesce((state->>'heartbeat')::timestamptz, 'epoch') < now() - make_interval(secs => $1))
          order by next_run_at nulls first
          limit 200
          for update skip locked)
       update syncs s set next_run_at = null, state = jsonb_set(s.state, '{heartbeat}', to_jsonb(now()))
         from due where s.id = due.id
       returning s.id`,
      [deps.config.staleRunSeconds],
    );
    for (const { id } of rows) {
      await deps.queue.send(QUEUES.syncRun, { syncId: id }, { retryLimit: 0 }, client);
    }
    return rows.length;
  });
}

export function startScheduler(deps: CoreDeps): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running
      .then(() => scheduleDueSyncs(deps))
      .catch((err) => deps.log.error({ err }, 'scheduling due syncs failed'));
  }, TICK_MS);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
