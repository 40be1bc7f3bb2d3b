import type pg from 'pg';
import type { CoreDeps } from '../core/deps.ts';
import { transaction } from '../db/pool.ts';
import { runSync } from './sync-runner.ts';

/** The channel migration 0021's trigger notifies when a sync becomes due now. */
const DUE_CHANNEL = 'trellis_syncs_due';
/** The longest a scheduler goes without looking: for a missed notice or a run whose worker died. */
const MAX_IDLE_MS = 5000;
/** How long to wait before listening again after the listening session broke. */
const RELISTEN_MS = 1000;
/** How long stopping waits for the runs in flight (they resume from their checkpoints otherwise). */
const STOP_GRACE_MS = 15_000;

/** Held by a worker: claimed (next_run_at cleared while not paused) or running (a checkpoint). */
const HELD = `(s.state ? 'checkpoint' or (s.next_run_at is null and not s.paused))`;
/** Held, and its worker has not reported for the stale-run time: it died. */
const STALE = `(${HELD} and coalesce((s.state->>'heartbeat')::timestamptz, 'epoch') < now() - make_interval(secs => $1))`;
/** Its time has come and no run holds it (a trigger during a run is served when that run ends). */
const DUE = `(not s.paused and s.next_run_at <= now() and not s.state ? 'checkpoint')`;

/**
 * The claim: $1 the stale-run time in seconds, $2 the per-connection run limit, $3 the free slots.
 * Exported for the scale benchmark, which shows its plan.
 */
export const CLAIM_SQL = `with held as (
     select s.connection_id, count(*)::int as n from syncs s where ${HELD} group by s.connection_id
   ), stale as (
     -- A claim whose run never started waits while its connection's credentials are refused.
     select s.id from syncs s join connections c on c.id = s.connection_id
      where ${STALE} and (s.state ? 'checkpoint' or c.status <> 'bad_credentials')
   ), due as (
     select s.id, s.next_run_at,
            coalesce(h.n, 0) + row_number() over (partition by s.connection_id order by s.next_run_at, s.id) as nth
       from syncs s join connections c on c.id = s.connection_id
       left join held h on h.connection_id = s.connection_id
      where ${DUE} and c.status <> 'bad_credentials' and coalesce(h.n, 0) < $2
   ), chosen as (
     select id, tier, at from (select id, 0 as tier, null::timestamptz as at from stale
                               union all
                               select id, 1, next_run_at from due where nth <= $2) c
      order by tier, at limit $3
   ), claimed as (
     update syncs s set next_run_at = null, state = jsonb_set(s.state, '{heartbeat}', to_jsonb(now()))
       from chosen where s.id = chosen.id and (${DUE} or ${STALE})
     returning s.id
   )
   select id from claimed join chosen using (id) order by tier, at`;

export const claimParams = (deps: CoreDeps, slots: number) => [
  deps.config.staleRunSeconds,
  deps.config.syncRunsPerConnection,
  slots,
];

/**
 * Claims up to `slots` syncs for this worker to run: first those whose worker died (their runs
 * resume from their checkpoints), then due syncs, the longest overdue first, leaving out a
 * connection's once it holds as many as its run limit (so a customer's long backfill cannot take
 * every slot) and those of connections whose credentials the provider refused. Claims are made
 * one at a time across all workers (a transaction-level advisory lock; each takes milliseconds),
 * so the per-connection counts they check cannot be raced past.
 */
export async function claimDueSyncs(deps: CoreDeps, slots: number): Promise<string[]> {
  return transaction(deps.db, async (client) => {
    await client.query("select pg_advisory_xact_lock(hashtext('trellis-sync-claims'))");
    const { rows } = await client.query<{ id: string }>(CLAIM_SQL, claimParams(deps, slots));
    return rows.map((r) => r.id);
  });
}

/** Milliseconds until the next sync falls due, by the database's clock; undefined when none is scheduled. */
async function untilNextDue(deps: CoreDeps): Promise<number | undefined> {
  const { rows } = await deps.db.query<{ ms: number | null }>(
    `select (extract(epoch from min(next_run_at) - now()) * 1000)::float8 as ms
       from syncs where not paused and next_run_at > now()`,
  );
  return rows[0]?.ms ?? undefined;
}

/**
 * Keeps one LISTEN session on the due channel, calling `onNotice` for each notice and once more
 * each time it starts listening (what was notified meanwhile was missed).
 */
function listenForDue(deps: CoreDeps, onNotice: () => void): { close(): void } {
  let closed = false;
  let session: pg.PoolClient | undefined;
  let retry: NodeJS.Timeout | undefined;
  const drop = (client: pg.PoolClient) => {
    if (session !== client) return;
    session = undefined;
    client.removeListener('notification', onNotice);
    client.release(true);
    if (!closed) retry = setTimeout(() => void listen(), RELISTEN_MS);
  };
  const listen = async () => {
    let client: pg.PoolClient;
    try {
      client = await deps.db.connect();
    } catch (err) {
      deps.log.warn({ err }, 'listening for due syncs failed; trying again');
      if (!closed) retry = setTimeout(() => void listen(), RELISTEN_MS);
      return;
    }
    session = client;
    client.on('notification', onNotice);
    client.on('error', () => drop(client));
    try {
      await client.query(`listen ${DUE_CHANNEL}`);
    } catch (err) {
      deps.log.warn({ err }, 'listening for due syncs failed; trying again');
      drop(client);
      return;
    }
    if (closed) drop(client);
    else onNotice();
  };
  void listen();
  return {
    close() {
      closed = true;
      clearTimeout(retry);
      if (session) drop(session);
    },
  };
}

/**
 * Runs due syncs in this worker, up to TRELLIS_SYNC_CONCURRENCY at once. It claims when woken: by
 * a notice that a sync became due now, by a run of its own ending (a slot is free, and a sync
 * held back by its connection's limit may now go), or by a timer set for the next scheduled run
 * (at most MAX_IDLE_MS away). Nothing is polled per sync, and an idle worker costs Postgres one
 * claim and one indexed lookup every few seconds.
 */
export function startScheduler(
  deps: CoreDeps,
  /** `maxIdleMs`: the longest between two looks when nothing wakes it; tests lengthen it. */
  opts: { maxIdleMs?: number } = {},
): { stop(): Promise<void> } {
  const slots = deps.config.syncConcurrency;
  const maxIdleMs = opts.maxIdleMs ?? Math.min(MAX_IDLE_MS, (deps.config.staleRunSeconds * 1000) / 4);
  const running = new Set<Promise<void>>();
  let pass: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const start = (syncId: string) => {
    const run: Promise<void> = runSync(deps, syncId)
      .catch((err) => deps.log.error({ err, syncId }, 'sync run failed unexpectedly'))
      .finally(() => {
        running.delete(run);
        wake();
      });
    running.add(run);
  };

  /** One look: claim what fits, then sleep until the next scheduled run unless more may be due. */
  const claimPass = async () => {
    const free = slots - running.size;
    if (free <= 0) return;
    const claimed = await claimDueSyncs(deps, free);
    for (const id of claimed) start(id);
    if (claimed.length === free) {
      again = true;
      return;
    }
    const ms = await untilNextDue(deps);
    if (!stopped && !again) timer = setTimeout(wake, Math.max(0, Math.min(ms ?? maxIdleMs, maxIdleMs)));
  };

  function wake() {
    if (stopped) return;
    if (pass) {
      again = true;
      return;
    }
    clearTimeout(timer);
    pass = claimPass()
      .catch((err) => {
        deps.log.error({ err }, 'claiming due syncs failed');
        if (!stopped) timer = setTimeout(wake, maxIdleMs);
      })
      .finally(() => {
        pass = undefined;
        if (again) {
          again = false;
          wake();
        }
      });
  }

  const listener = listenForDue(deps, wake);
  wake();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      listener.close();
      await pass;
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...running]),
        new Promise((resolve) => {
          grace = setTimeout(resolve, STOP_GRACE_MS);
        }),
      ]);
      clearTimeout(grace);
    },
  };
}
