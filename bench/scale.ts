import fs from 'node:fs';
import { CLAIM_SQL, claimParams } from '../src/engine/scheduler.ts';
import { arg, peakRssMb, processTreeCpuSeconds, simControl, spawnSimulator } from './lib.ts';
import { connect, percentile, startBenchTrellis } from './trellis.ts';

/**
 * Many tenants on one worker: `--connections` HubSpot connections (2,000) with three objects each,
 * every sync on a `--period`-second period (300), against simulators answering after `--latency`
 * ms (150). The syncs start as a steady state would have them: synced once, each next
 * run due at a random point of the coming period, so runs fall due evenly (20 a second at the
 * defaults). Measured:
 * - idle, before the first sync falls due: Postgres's CPU;
 * - a window of steady state: schedule lag (run start − due time) p50/p99/max, runs a second, CPU
 *   of the worker (this process: API and worker) and of Postgres;
 * - a window in which one more tenant connects Salesforce and backfills `--backfill` contacts
 *   (1,000,000): the other tenants' lag, and how far the backfill got.
 * Each window is `--window` seconds (120) of the period, not the whole of it: every sync due in the
 * window is measured, and the load is the whole period's. --window 300 measures a full period.
 * Usage: npm run bench:scale -- [--connections 2000] [--period 300] [--window 120] [--latency 150]
 *   [--backfill 1000000] [--concurrency <runs at once; TRELLIS_SYNC_CONCURRENCY's default>]
 */
const connections = arg('connections', 2000);
const periodS = arg('period', 300);
const windowS = arg('window', 120);
const latencyMs = arg('latency', 150);
const backfillRecords = arg('backfill', 1_000_000);
/** Runs the worker carries at once; unset, the configuration's default. */
const concurrency = arg('concurrency', 0);
const OBJECTS = ['contacts', 'companies', 'deals'];
/** Lead time before the first sync falls due: the idle measurement happens in it. */
const IDLE_S = 20;

// One HubSpot simulator serves the small tenants (one account, its limits raised so that tenants
// do not share them; their incremental reads find nothing), a Salesforce one the backfilling
// tenant: the HubSpot simulator's archived list reads every record, so a large HubSpot object
// would slow every small tenant's incremental there.
const hubspot = await spawnSimulator('hubspot', 10);
const salesforce = await spawnSimulator('salesforce', backfillRecords);
process.on('exit', () => {
  hubspot.child.kill();
  salesforce.child.kill();
});
await simControl(hubspot.url, 'limits', {
  ten_second: 100_000_000,
  daily: 1_000_000_000,
  search_per_second: 1_000_000,
});
for (const sim of [hubspot, salesforce])
  await simControl(sim.url, 'faults', { latency_ms: latencyMs, token_latency_ms: latencyMs });
const t = await startBenchTrellis({
  simulators: { hubspot: hubspot.url, salesforce: salesforce.url },
  env: concurrency ? { TRELLIS_SYNC_CONCURRENCY: String(concurrency) } : {},
});
const db = t.db;
await t.api('POST', '/sync_configs', {
  destination_name: 'warehouse',
  provider_name: 'hubspot',
  config: {
    // Created paused: the benchmark seeds their state before any runs.
    default_config: {
      period_ms: periodS * 1000,
      strategy: 'full then incremental',
      auto_start_on_connection: false,
    },
    standard_objects: OBJECTS.map((object) => ({ object })),
  },
});
await t.api('POST', '/sync_configs', {
  destination_name: 'warehouse',
  provider_name: 'salesforce',
  config: {
    default_config: { period_ms: periodS * 1000, strategy: 'full then incremental' },
    standard_objects: [{ object: 'Contact' }],
  },
});

const refreshToken = (await simControl(hubspot.url, 'tokens', {})).refresh_token as string;
const tenants = Array.from({ length: connections }, (_, i) => `tenant-${i}`);
const setUpStarted = Date.now();
let next = 0;
await Promise.all(
  Array.from({ length: 8 }, async () => {
    while (next < tenants.length) {
      const customer = tenants[next++]!;
      await t.api('PUT', '/customers', {
        customer_id: customer,
        name: customer,
        email: `${customer}@bench.test`,
      });
      await t.api('POST', `/customers/${customer}/connections`, {
        provider_name: 'hubspot',
        type: 'oauth2',
        refresh_token: refreshToken,
      });
    }
  }),
);
const setUpS = (Date.now() - setUpStarted) / 1000;

// Each tenant is a HubSpot account of its own, as real ones are (the simulator has one): its
// account URL, which a refresh would otherwise find (the same for all), names it, and so its rate
// budget.
await db.query(
  `update connections c set instance_url = 'https://app.hubspot.com/contacts/' || (1000000 + n.i)
     from (select id, row_number() over (order by id) as i from connections where provider_name = 'hubspot') n
    where c.id = n.id`,
);
// One tenant syncs for real first: what its runs keep in their state for the next (HubSpot's
// property list, kept an hour) is what every small tenant's state holds in a steady state.
const { rows: warmUp } = await db.query<{ id: string }>(
  `update syncs set paused = false, next_run_at = now()
    where connection_id = (select min(id::text)::uuid from connections where provider_name = 'hubspot')
    returning id`,
);
for (;;) {
  const { rows } = await db.query<{ done: number }>(
    `select count(*)::int as done from sync_runs where sync_id = any($1) and status = 'succeeded'`,
    [warmUp.map((s) => s.id)],
  );
  if (rows[0]!.done === warmUp.length) break;
  await new Promise((r) => setTimeout(r, 200));
}
// Small tenants: synced before, watermark now, next run at a random point of the coming period.
const { rows: seeded } = await db.query<{ id: string; dueAt: Date }>(
  `update syncs s set paused = false,
          state = jsonb_build_object('synced', true, 'watermark', now(), 'incrementalsSinceFull', 0)
            || coalesce((select jsonb_build_object('connectorState', w.state->'connectorState')
                           from syncs w where w.id = any($3) and w.object = s.object
                            and w.state ? 'connectorState'), '{}'),
          next_run_at = now() + make_interval(secs => $1 + random() * $2)
    where s.connection_id in (select id from connections where provider_name = 'hubspot')
    returning s.id, s.next_run_at as "dueAt"`,
  [IDLE_S, periodS, warmUp.map((s) => s.id)],
);
const kept = await db.query<{ n: number }>(
  `select count(*)::int as n from syncs where state ? 'connectorState'`,
);
if (kept.rows[0]!.n !== connections * OBJECTS.length)
  throw new Error(`only ${kept.rows[0]!.n} syncs hold a kept property list`);
const seededAt = Date.now();
// What autovacuum would do after the setup's writes, done now rather than in the idle measurement.
await db.query('vacuum analyze');

/** CPU seconds so far: this process (API and worker) and Postgres. */
const cpu = () => {
  const own = process.cpuUsage();
  return {
    worker: (own.user + own.system) / 1e6,
    postgres: t.postgresCpuSeconds(),
    simulators:
      (processTreeCpuSeconds(hubspot.child.pid!) ?? Number.NaN) +
      (processTreeCpuSeconds(salesforce.child.pid!) ?? Number.NaN),
    at: Date.now(),
  };
};
const sleepUntil = (at: number) => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));

// Idle: nothing is due yet.
await new Promise((r) => setTimeout(r, 2000));
const idleFrom = cpu();
await sleepUntil(seededAt + (IDLE_S - 2) * 1000);
const idleTo = cpu();
const idleS = (idleTo.at - idleFrom.at) / 1000;

/** The plan of one claim as the scheduler makes it, with the syncs as they are now (rolled back). */
async function claimPlan(): Promise<string[]> {
  const client = await db.connect();
  try {
    await client.query('begin');
    const { rows } = await client.query(
      `explain (format json) ${CLAIM_SQL}`,
      claimParams(t.runtime.deps, 16),
    );
    await client.query('rollback');
    const scans: string[] = [];
    const walk = (node: Record<string, any>) => {
      if (String(node['Node Type']).includes('Scan') && node['Relation Name'] === 'syncs')
        scans.push(`${node['Node Type']}${node['Index Name'] ? ` using ${node['Index Name']}` : ''}`);
      for (const child of node.Plans ?? []) walk(child);
    };
    walk(rows[0]['QUERY PLAN'][0].Plan);
    return scans;
  } finally {
    client.release();
  }
}

interface Window {
  lags: number[];
  /** How long each run took, start to end. */
  durations: number[];
  runs: number;
  failed: number;
  firstError: string | null;
  cpu: { worker: number; postgres: number; simulators: number; seconds: number };
  overdueAtEnd: number;
}

/** Small tenants' runs that started in [from, to): each one's lag behind its due time. */
async function measure(from: ReturnType<typeof cpu>, until: number): Promise<Window> {
  await sleepUntil(until);
  const to = cpu();
  const { rows } = await db.query<{
    syncId: string;
    startedAt: Date;
    endedAt: Date | null;
    status: string;
    error: string | null;
  }>(
    `select r.sync_id as "syncId", r.started_at as "startedAt", r.ended_at as "endedAt", r.status,
            r.error_message as error
       from sync_runs r join syncs s on s.id = r.sync_id join connections c on c.id = s.connection_id
      where c.provider_name = 'hubspot' order by r.started_at`,
  );
  const { rows: overdue } = await db.query<{ n: number }>(
    `select count(*)::int as n from syncs s join connections c on c.id = s.connection_id
      where c.provider_name = 'hubspot' and not s.paused and s.next_run_at < now() - interval '10 seconds'`,
  );
  const lags: number[] = [];
  const durations: number[] = [];
  let runs = 0;
  let failed = 0;
  let firstError: string | null = null;
  const previousEnd = new Map<string, Date | null>();
  for (const r of rows) {
    // A sync's first run was due when seeded; each later one a period after the previous ended.
    const before = previousEnd.get(r.syncId);
    const due =
      before === undefined ? dueAt.get(r.syncId)?.getTime() : before && before.getTime() + periodS * 1000;
    previousEnd.set(r.syncId, r.endedAt);
    const started = r.startedAt.getTime();
    if (started < from.at || started >= to.at) continue;
    runs++;
    if (r.status === 'failed') {
      failed++;
      firstError ??= r.error;
    }
    if (due) lags.push((started - due) / 1000);
    if (r.endedAt) durations.push((r.endedAt.getTime() - started) / 1000);
  }
  return {
    lags,
    durations,
    runs,
    failed,
    firstError,
    cpu: {
      worker: to.worker - from.worker,
      postgres: to.postgres - from.postgres,
      simulators: to.simulators - from.simulators,
      seconds: (to.at - from.at) / 1000,
    },
    overdueAtEnd: overdue[0]!.n,
  };
}
const dueAt = new Map(seeded.map((s) => [s.id, s.dueAt]));

const steadyFrom = cpu();
const plan = await claimPlan();
const steady = await measure(steadyFrom, seededAt + (IDLE_S + windowS) * 1000);

// The backfill: a new tenant connects Salesforce; its first, full run starts at once.
await connect(t, 'backfill', 'salesforce', salesforce.url);
const backfillFrom = cpu();
const during = await measure(backfillFrom, Date.now() + windowS * 1000);
const { rows: progress } = await db.query<{ records: number; ended: number }>(
  `select coalesce((s.state->'checkpoint'->>'records')::bigint,
                   (select max(num_records_synced) from sync_runs r where r.sync_id = s.id), 0)::bigint as records,
          (select count(*) from sync_runs r where r.sync_id = s.id and r.status <> 'running')::int as ended
     from syncs s join connections c on c.id = s.connection_id where c.provider_name = 'salesforce'`,
);

const syncs = connections * OBJECTS.length;
const pct = (cpuS: number, wallS: number) => `${((cpuS / wallS) * 100).toFixed(1)} %`;
const s = (n: number) => `${n.toFixed(2)} s`;
const verdict = (ok: boolean) => (ok ? 'meets' : 'MISSES');
const describe = (name: string, w: Window) => [
  `  ${name}: ${w.runs.toLocaleString()} runs in ${w.cpu.seconds.toFixed(0)} s (${(w.runs / w.cpu.seconds).toFixed(1)} a second; the period asks ${(syncs / periodS).toFixed(1)}), ${w.failed} failed${w.firstError ? ` (${w.firstError})` : ''}`,
  `    schedule lag p50 ${s(percentile(w.lags, 50))}, p99 ${s(percentile(w.lags, 99))}, max ${s(Math.max(...w.lags))}  (target p99 ≤ 10 s: ${verdict(percentile(w.lags, 99) <= 10)}); syncs more than 10 s overdue at the end: ${w.overdueAtEnd}`,
  `    run duration p50 ${s(percentile(w.durations, 50))}, p99 ${s(percentile(w.durations, 99))}; CPU: worker ${pct(w.cpu.worker, w.cpu.seconds)} of a core (${((w.cpu.worker / Math.max(1, w.runs)) * 1000).toFixed(1)} ms a run), Postgres ${pct(w.cpu.postgres, w.cpu.seconds)} (${((w.cpu.postgres / Math.max(1, w.runs)) * 1000).toFixed(1)} ms a run), simulators ${pct(w.cpu.simulators, w.cpu.seconds)}`,
];
const loadavg = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(
  [
    `${connections.toLocaleString()} HubSpot connections × ${OBJECTS.length} objects = ${syncs.toLocaleString()} syncs every ${periodS} s on one worker (concurrency ${t.runtime.deps.config.syncConcurrency}, ${t.runtime.deps.config.syncRunsPerConnection} runs per connection), ${latencyMs} ms provider latency; 2 cores shared with the simulator and Postgres (load ${loadavg})`,
    `  windows of ${windowS} s of the ${periodS} s period${windowS < periodS ? ' (shortened to keep the benchmark to minutes; the load in them is the full period’s)' : ''}; ${setUpS.toFixed(0)} s to create the connections`,
    `  idle with ${syncs.toLocaleString()} syncs scheduled: Postgres ${pct(idleTo.postgres - idleFrom.postgres, idleS)} of a core, worker ${pct(idleTo.worker - idleFrom.worker, idleS)}`,
    `  a claim's scans of syncs: ${plan.join(', ')}`,
    ...describe('steady state', steady),
    ...describe(`while one tenant backfills ${backfillRecords.toLocaleString()} Salesforce contacts`, during),
    `    the backfill: ${Number(progress[0]!.records).toLocaleString()} records written in the window, ${progress[0]!.ended ? 'done' : 'still running'}`,
    `  peak RSS (API + worker) ${peakRssMb()} MB`,
  ].join('\n'),
);

await t.stop();
await hubspot.stop();
await salesforce.stop();
