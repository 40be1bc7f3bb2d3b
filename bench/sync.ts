import os from 'node:os';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { jsonForPostgres } from '../src/destinations/postgres.ts';
import {
  arg,
  bareRequest,
  peakRssMb,
  processTreeCpuSeconds,
  rate,
  simControl,
  spawnSimulator,
  timed,
} from './lib.ts';
import { startBenchTrellis } from './trellis.ts';

/**
 * End-to-end HubSpot full sync into a Postgres destination, next to the physical limits measured
 * in the same run on the same machine: a bare page-fetch loop over the simulator (the same pages
 * the sync reads), a bare COPY of the same rows, and a bare COPY into a staging table plus one
 * upsert. The simulator's rate limits are lifted, so the run is bound by CPU: the engine's own,
 * the simulator's and Postgres's, on the same cores. Reports the CPU each used for the sync, the
 * peak RSS of the API + worker process, and then an incremental run of 1,000 changes.
 * Usage: npm run bench:sync -- [--records 200000]
 */
const records = arg('records', 200_000);
const sim = await spawnSimulator('hubspot', records);
await simControl(sim.url, 'limits', {
  ten_second: 10_000_000,
  daily: 100_000_000,
  search_per_second: 100_000,
});
const trellis = await startBenchTrellis({ simulators: { hubspot: sim.url } });
const { api, warehouseUrl } = trellis;
const control = trellis.db;

async function waitForRun(count: number): Promise<{ num: number; runMs: number }> {
  for (;;) {
    const { rows } = await control.query<{
      status: string;
      num: number;
      error: string | null;
      runMs: number;
    }>(
      `select status, num_records_synced as num, error_message as error,
              (extract(epoch from ended_at - started_at) * 1000)::float8 as "runMs"
         from sync_runs where status <> 'running' order by started_at`,
    );
    if (rows.length >= count) {
      const last = rows[count - 1]!;
      if (last.status !== 'succeeded') throw new Error(`sync run failed: ${last.error}`);
      return last;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

await api('POST', '/sync_configs', {
  destination_name: 'warehouse',
  provider_name: 'hubspot',
  config: {
    default_config: { period_ms: 86_400_000, strategy: 'full then incremental' },
    standard_objects: [{ object: 'contacts' }],
  },
});
await api('PUT', '/customers', { customer_id: 'bench', name: 'Bench', email: 'bench@example.test' });
const refreshToken = (await simControl(sim.url, 'tokens', {})).refresh_token as string;
const statsBefore = await simControl(sim.url, 'stats');

/** CPU-seconds used so far by each process the stages run in. */
function cpuNow() {
  const own = process.cpuUsage();
  return {
    worker: (own.user + own.system) / 1e6,
    postgres: trellis.postgresCpuSeconds(),
    simulator: processTreeCpuSeconds(sim.child.pid!),
  };
}
type Cpu = ReturnType<typeof cpuNow>;
const cpuUsed = (before: Cpu, after: Cpu) => ({
  worker: after.worker - before.worker,
  postgres: since(before.postgres, after.postgres),
  simulator: since(before.simulator, after.simulator),
});
/** A stage's duration and the CPU all three processes used during it. */
async function stage<T>(fn: () => Promise<T>) {
  const before = cpuNow();
  const result = await timed(fn);
  const used = cpuUsed(before, cpuNow());
  return {
    ...result,
    cpu: used,
    cpuSeconds: used.worker + (used.postgres ?? Number.NaN) + (used.simulator ?? Number.NaN),
  };
}

const sync = await stage(async () => {
  await api('POST', '/customers/bench/connections', {
    provider_name: 'hubspot',
    type: 'oauth2',
    refresh_token: refreshToken,
  });
  return waitForRun(1);
});
const cpu = sync.cpu;
const syncRss = peakRssMb();
if (sync.value.num !== records) throw new Error(`synced ${sync.value.num} of ${records}`);
const fullRequests = countRequests(statsBefore, await simControl(sim.url, 'stats'));

const token = (await simControl(sim.url, 'tokens', {})).access_token as string;
// The connector asks for every property the properties API lists, so the bare loop does too.
const propertyList = (await (
  await fetch(`${sim.url}/crm/v3/properties/contacts`, { headers: { authorization: `Bearer ${token}` } })
).json()) as { results: { name: string }[] };
const properties = propertyList.results.map((p) => p.name).join(',');
const bareFetch = await stage(async () => {
  let after: string | undefined;
  let n = 0;
  for (;;) {
    const q = new URLSearchParams({ limit: '100', properties, archived: 'false' });
    if (after) q.set('after', after);
    const res = await bareRequest(`${sim.url}/crm/v3/objects/contacts?${q}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const body = (await res.json()) as { results: unknown[]; paging?: { next?: { after: string } } };
    n += body.results.length;
    after = body.paging?.next?.after;
    if (!after) return n;
  }
});

/** The same rows the sync wrote, from the simulator's own export, as COPY text lines. */
async function copyRows(client: pg.Client, table: string) {
  const res = await fetch(`${sim.url}/__sim/records/contacts`);
  let rest = '';
  const toCopy = new Transform({
    transform(chunk, _enc, done) {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      const out = lines
        .filter(Boolean)
        .map((line) => {
          const r = JSON.parse(line) as { id: string; updated_at: string; record: unknown };
          const raw = jsonForPostgres(r.record).replaceAll('\\', '\\\\');
          return `app\thubspot\tbench\t${r.id}\t${new Date().toISOString()}\t${r.updated_at}\tf\t${raw}\t{}\n`;
        })
        .join('');
      done(null, out);
    },
  });
  await pipeline(
    Readable.fromWeb(res.body as never),
    toCopy,
    client.query(copyStreams.from(`copy ${table} from stdin`)),
  );
}

const columns = `(_supaglue_application_id text, _supaglue_provider_name text, _supaglue_customer_id text, _supaglue_id text,
  _supaglue_emitted_at timestamptz, _supaglue_last_modified_at timestamptz, _supaglue_is_deleted boolean,
  _supaglue_raw_data jsonb, _supaglue_mapped_data jsonb)`;
const wh = new pg.Client({ connectionString: warehouseUrl.toString() });
await wh.connect();
await wh.query(`create table bare_copy ${columns}`);
const bareCopy = await timed(() => copyRows(wh, 'bare_copy'));
await wh.query(
  `create table bare_target ${columns.replace(/\)$/, ', primary key (_supaglue_application_id, _supaglue_provider_name, _supaglue_customer_id, _supaglue_id))')}`,
);
const copyUpsert = await stage(async () => {
  await wh.query('begin');
  await wh.query(`create temp table bare_stage ${columns} on commit drop`);
  await copyRows(wh, 'bare_stage');
  await wh.query(`insert into bare_target select * from bare_stage
    on conflict (_supaglue_application_id, _supaglue_provider_name, _supaglue_customer_id, _supaglue_id)
    do update set _supaglue_raw_data = excluded._supaglue_raw_data`);
  await wh.query('commit');
});
const { rows: count } = await wh.query('select count(*)::int as n from crm.hubspot_contacts');
if (count[0].n !== records) throw new Error(`destination holds ${count[0].n} rows`);
await wh.end();

// Incremental: 1,000 changes.
await simControl(sim.url, 'clock', { advance_ms: 120_000 });
await simControl(sim.url, 'mutate', { object: 'contacts', update: 1000 });
const beforeInc = await simControl(sim.url, 'stats');
const incremental = await timed(async () => {
  await api(
    'POST',
    '/syncs/_trigger',
    { object_type: 'standard', object: 'contacts' },
    { 'x-customer-id': 'bench', 'x-provider-name': 'hubspot' },
  );
  return waitForRun(2);
});
const incRequests = countRequests(beforeInc, await simControl(sim.url, 'stats'));

function since(before: number | undefined, after: number | undefined): number | undefined {
  return before === undefined || after === undefined ? undefined : after - before;
}

function countRequests(
  before: { requests: Record<string, number> },
  after: { requests: Record<string, number> },
) {
  let n = 0;
  for (const [key, value] of Object.entries(after.requests)) {
    if (!key.includes('/__sim') && !key.includes('/oauth/')) n += value - (before.requests[key] ?? 0);
  }
  return n;
}

// The sync's two stages are reading the provider and writing the destination (COPY + upsert).
const slowest = Math.max(bareFetch.ms, copyUpsert.ms);
const sum = bareFetch.ms + copyUpsert.ms;
// The CPU the two stages need: the write stage's rows come from the simulator's export, which the
// sync does not need, so the simulator's CPU is left out of that stage. Overlapping the stages
// cannot beat that CPU spread over every core.
const cores = os.availableParallelism();
const writeCpu = copyUpsert.cpu.worker + (copyUpsert.cpu.postgres ?? Number.NaN);
const bareCpu = bareFetch.cpuSeconds + writeCpu;
const floor = Math.max(slowest, (bareCpu * 1000) / cores);
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const x = (ms: number, of: number) => `${(ms / of).toFixed(2)}x`;
const cpuOf = (c: { worker: number; postgres?: number; simulator?: number }) =>
  [c.worker, c.postgres, c.simulator].map((v) => (v === undefined ? 'n/a' : v.toFixed(1))).join(' / ');
const per100k = (seconds: number | undefined) =>
  seconds === undefined || Number.isNaN(seconds)
    ? 'n/a (no /proc)'
    : `${((seconds * 100_000) / records).toFixed(2)} s`;
console.log(
  [
    `HubSpot full sync of ${records.toLocaleString()} contacts into Postgres (${os.availableParallelism()} cores; simulator and Postgres in their own processes)`,
    "  the simulator's rate limits are lifted: this measures CPU (engine, simulator, Postgres), not provider pacing",
    `  sync, end to end          ${rate(records, sync.ms).toLocaleString()} records/s (${s(sync.ms)} from connecting, ${fullRequests} provider requests)`,
    `  the sync run itself       ${rate(records, sync.value.runMs).toLocaleString()} records/s (${s(sync.value.runMs)})`,
    `  bare page-fetch loop      ${rate(records, bareFetch.ms).toLocaleString()} records/s (${s(bareFetch.ms)})`,
    `  bare COPY                 ${rate(records, bareCopy.ms).toLocaleString()} records/s (${s(bareCopy.ms)})`,
    `  bare COPY + one upsert    ${rate(records, copyUpsert.ms).toLocaleString()} records/s (${s(copyUpsert.ms)})`,
    `  run / sum of bare stages  ${x(sync.value.runMs, sum)} (${x(sync.ms, sum)} end to end; target <= 1.0x)`,
    `  run / slowest bare stage  ${x(sync.value.runMs, slowest)} (${x(sync.ms, slowest)} end to end; goal <= 1.2x)`,
    `  bare stages' CPU          ${bareCpu.toFixed(1)} s: fetch ${bareFetch.cpuSeconds.toFixed(1)} (bench, simulator), COPY + upsert ${writeCpu.toFixed(1)} (bench, Postgres); on ${cores} cores no overlap beats ${s(floor)} (${x(floor, slowest)} the slowest stage)`,
    `  the run's CPU             ${sync.cpuSeconds.toFixed(1)} s, ${x(sync.cpuSeconds, bareCpu)} the bare stages'; run / ${s(floor)}: ${x(sync.value.runMs, floor)}`,
    `  CPU-s by process          ${['run', 'bare fetch', 'bare COPY + upsert'].map((name, i) => `${name} ${cpuOf([sync, bareFetch, copyUpsert][i]!.cpu)}`).join('; ')} (bench + worker / Postgres / simulator)`,
    `  CPU per 100,000 records   API + worker ${per100k(cpu.worker)}, Postgres ${per100k(cpu.postgres)}, simulator ${per100k(cpu.simulator)}`,
    `  peak RSS (API + worker)   ${syncRss} MB (target < 300 MB at 1,000,000 records)`,
    `  incremental, 1,000 changes ${s(incremental.ms)}, ${incRequests} provider requests, ${incremental.value.num} records`,
  ].join('\n'),
);

await trellis.stop();
await sim.stop();
