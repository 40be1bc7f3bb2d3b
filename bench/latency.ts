import { arg, simControl, spawnSimulator } from './lib.ts';
import { connect as connectCustomer, percentile, providerRequests, startBenchTrellis } from './trellis.ts';

/**
 * How soon a small sync starts and what a run that finds nothing costs, with every provider
 * answering after `--latency` ms (150 by default):
 * - a connection created → its first run started, over `--connections` HubSpot connections (20);
 * - a trigger → its run started, on the same connections;
 * - an incremental run that finds nothing, on one object of each provider: the requests it makes
 *   (counted at the simulator), its duration, its engine time (the duration less the providers'
 *   latency), its duration with no latency at all, and this process's CPU.
 * Every connection is made and triggered on an idle worker, one after the other.
 * Usage: npm run bench:latency -- [--connections 20] [--latency 150]
 */
const connections = arg('connections', 20);
const latencyMs = arg('latency', 150);
const emptyRuns = 5;
/** The object each provider's empty incremental reads: one its API filters by modification time. */
const OBJECTS: Record<string, string> = {
  hubspot: 'contacts',
  salesforce: 'Contact',
  pipedrive: 'persons',
  apollo: 'contacts',
  gong: 'calls',
};

const sims = Object.fromEntries(
  await Promise.all(Object.keys(OBJECTS).map(async (p) => [p, await spawnSimulator(p, 50)] as const)),
);
// A failed run leaves no simulator behind.
process.on('exit', () => {
  for (const s of Object.values(sims)) s.child.kill();
});
const urls = Object.fromEntries(Object.entries(sims).map(([p, s]) => [p, s.url]));
const setLatency = (ms: number) =>
  Promise.all(
    Object.values(urls).map((url) => simControl(url, 'faults', { latency_ms: ms, token_latency_ms: ms })),
  );
await setLatency(latencyMs);
const t = await startBenchTrellis({ simulators: urls });
for (const [provider, object] of Object.entries(OBJECTS)) {
  await t.api('POST', '/sync_configs', {
    destination_name: 'warehouse',
    provider_name: provider,
    config: {
      // An hour: every run in this benchmark is one a connection or a trigger started.
      default_config: { period_ms: 3_600_000, strategy: 'full then incremental' },
      standard_objects: [{ object }],
    },
  });
}

interface Run {
  id: string;
  status: string;
  startedAt: Date;
  endedAt: Date | null;
  error: string | null;
}

/** The newest run of a customer's sync of `provider`, once one other than `after` exists. */
async function runAfter(customer: string, provider: string, after?: string): Promise<Run> {
  for (;;) {
    const { rows } = await t.db.query<Run>(
      `select r.id, r.status, r.started_at as "startedAt", r.ended_at as "endedAt", r.error_message as error
         from sync_runs r join syncs s on s.id = r.sync_id join connections c on c.id = s.connection_id
         join customers cu on cu.id = c.customer_id
        where cu.external_id = $1 and c.provider_name = $2 order by r.started_at desc limit 1`,
      [customer, provider],
    );
    if (rows[0] && rows[0].id !== after) return rows[0];
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function ended(customer: string, provider: string, runId: string): Promise<Run> {
  for (;;) {
    const run = await runAfter(customer, provider);
    if (run.id === runId && run.status !== 'running') {
      if (run.status !== 'succeeded') throw new Error(`${provider} run failed: ${run.error}`);
      return run;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function connect(customer: string, provider: string): Promise<{ afterCommit: number; run: Run }> {
  await connectCustomer(t, customer, provider, urls[provider]!);
  const afterCommit = Date.now();
  const run = await runAfter(customer, provider);
  await ended(customer, provider, run.id);
  return { afterCommit, run };
}

async function trigger(customer: string, provider: string, previous: string) {
  await t.api(
    'POST',
    '/syncs/_trigger',
    { object_type: 'standard', object: OBJECTS[provider] },
    { 'x-customer-id': customer, 'x-provider-name': provider },
  );
  const answered = Date.now();
  const run = await runAfter(customer, provider, previous);
  return { answered, run: await ended(customer, provider, run.id) };
}

const createdToStart: number[] = [];
const triggerToStart: number[] = [];
const lastRun = new Map<string, string>();
for (let i = 0; i < connections; i++) {
  const { afterCommit, run } = await connect(`latency-${i}`, 'hubspot');
  createdToStart.push(run.startedAt.getTime() - afterCommit);
  lastRun.set(`latency-${i}`, run.id);
}
for (let i = 0; i < connections; i++) {
  const customer = `latency-${i}`;
  const { answered, run } = await trigger(customer, 'hubspot', lastRun.get(customer)!);
  triggerToStart.push(run.startedAt.getTime() - answered);
}

/** Empty incremental runs of each provider's object: requests, duration and this process's CPU, per run. */
async function emptyIncrementals(latency: number) {
  await setLatency(latency);
  const figures: { provider: string; requests: number; runMs: number; cpuMs: number }[] = [];
  for (const provider of Object.keys(OBJECTS)) {
    const customer = `empty-${provider}`;
    let previous = lastRun.get(customer);
    if (!previous) previous = (await connect(customer, provider)).run.id;
    const requestsBefore = await providerRequests(urls[provider]!);
    let cpuMicros = 0;
    const durations: number[] = [];
    for (let i = 0; i < emptyRuns; i++) {
      // Runs a second apart, as scheduled ones would be: the connection's pace (a few requests a
      // second for some providers) spaces back-to-back runs, and is not engine time.
      await new Promise((r) => setTimeout(r, 1000));
      const cpuBefore = process.cpuUsage();
      const { run } = await trigger(customer, provider, previous);
      const cpu = process.cpuUsage(cpuBefore);
      cpuMicros += cpu.user + cpu.system;
      durations.push(run.endedAt!.getTime() - run.startedAt.getTime());
      previous = run.id;
    }
    lastRun.set(customer, previous);
    figures.push({
      provider,
      requests: ((await providerRequests(urls[provider]!)) - requestsBefore) / emptyRuns,
      runMs: percentile(durations, 50),
      cpuMs: cpuMicros / 1000 / emptyRuns,
    });
  }
  return figures;
}
const withLatency = await emptyIncrementals(latencyMs);
const withoutLatency = await emptyIncrementals(0);

const ms = (n: number) => `${Math.round(n)} ms`;
const verdict = (ok: boolean) => (ok ? 'meets' : 'MISSES');
const lines = [
  `Small syncs, with ${latencyMs} ms of latency on every provider response (2 cores shared with the simulators and Postgres)`,
  `  connection created → run started, ${connections} HubSpot connections: p50 ${ms(percentile(createdToStart, 50))}, p95 ${ms(percentile(createdToStart, 95))}, max ${ms(Math.max(...createdToStart))}  (target ≤ 1,000 ms: ${verdict(percentile(createdToStart, 95) <= 1000)})`,
  `  trigger answered → run started, same connections: p50 ${ms(percentile(triggerToStart, 50))}, p95 ${ms(percentile(triggerToStart, 95))}, max ${ms(Math.max(...triggerToStart))}  (target ≤ 1,000 ms: ${verdict(percentile(triggerToStart, 95) <= 1000)})`,
  `  empty incremental run, median of ${emptyRuns} per provider (targets ≤ 2 requests, ≤ 300 ms engine time):`,
];
for (const [i, f] of withLatency.entries()) {
  const bare = withoutLatency[i]!;
  const engineMs = f.runMs - f.requests * latencyMs;
  lines.push(
    `    ${f.provider.padEnd(10)} ${f.requests} requests (${verdict(f.requests <= 2)}); run ${ms(f.runMs)} at ${latencyMs} ms latency → engine time ${ms(engineMs)} (${verdict(engineMs <= 300)}); run ${ms(bare.runMs)} with no latency (the connection's pace included); CPU of this process ${ms(f.cpuMs)} a run (trigger, API and worker)`,
  );
}
console.log(lines.join('\n'));

await t.stop();
await Promise.all(Object.values(sims).map((s) => s.stop()));
