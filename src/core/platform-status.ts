import { pendingMigrations } from '../db/migrate.ts';
import type { QueueName } from '../db/queue.ts';
import type { CoreDeps } from './deps.ts';

/** How long a readiness check waits for the database before it calls it unreachable. */
const READY_TIMEOUT_MS = 3000;

export type Readiness = { ready: true } | { ready: false; reason: string };

/**
 * Whether this process can serve: its database answers and has every migration of this release.
 * The reason names no host or driver message (anyone may ask).
 */
export async function readiness(deps: CoreDeps): Promise<Readiness> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), READY_TIMEOUT_MS);
  });
  try {
    const pending = await Promise.race([pendingMigrations(deps.db), timeout]);
    if (pending === 'timeout') return { ready: false, reason: 'the database did not answer in time' };
    if (pending.length > 0)
      return { ready: false, reason: `migrations not applied yet: ${pending.join(', ')}` };
    return { ready: true };
  } catch (err) {
    deps.log.warn({ err }, 'readiness check: the database is unreachable');
    return { ready: false, reason: 'the database is unreachable' };
  } finally {
    clearTimeout(timer);
  }
}

/** What the database says of the whole deployment, every process's work included. */
export interface PlatformGauges {
  /** Sync runs in flight (a run whose worker died counts until another resumes it). */
  runsInProgress: number;
  /** How long the most overdue sync has waited past its scheduled time; 0 when none is due. */
  scheduleLagSeconds: number;
  queueDepths: Record<QueueName, number>;
}

export async function platformGauges(deps: CoreDeps): Promise<PlatformGauges> {
  const [{ rows }, queueDepths] = await Promise.all([
    deps.db.query<{ running: number; lag: number | null }>(
      `select (select count(*) from syncs where state ? 'checkpoint')::int as running,
              (select extract(epoch from now() - min(next_run_at)) from syncs
                where not paused and next_run_at <= now())::float8 as lag`,
    ),
    deps.queue.depths(),
  ]);
  return {
    runsInProgress: rows[0]?.running ?? 0,
    scheduleLagSeconds: Math.max(0, rows[0]?.lag ?? 0),
    queueDepths,
  };
}
