import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { loadConfig } from '../src/config.ts';
import type { ProviderName } from '../src/connectors/catalog.ts';
import type { RequestOptions } from '../src/connectors/http.ts';
import { CATALOG } from '../src/connectors/index.ts';
import { createConnection } from '../src/core/connections.ts';
import { createProject } from '../src/core/projects.ts';
import { openConnector } from '../src/core/provider-access.ts';
import { createLogger } from '../src/logger.ts';
import { type Runtime, startRuntime } from '../src/runtime.ts';
import { arg, peakRssMb, simControl, spawnSimulator } from './lib.ts';
import { startBenchPostgres } from './trellis.ts';

/**
 * Throughput against each provider's documented rate limits (its simulator's defaults) with
 * 150 ms and 300 ms of latency per request, through the one request budget every process shares.
 *
 * First, requests straight through a connection's ProviderHttp, 32 in flight (what a run's
 * partitions ask at once at most): what the budget itself lets through, against the bound the provider's
 * windows allow. With N requests counted by a window of L requests per W, the last can go no
 * sooner than floor((N-1)/L) windows after the first, plus one request's latency: higher than the
 * ceiling for runs of a few windows, whose first window is a burst.
 *
 * Then a full sync of one object through the real runtime (scheduler, worker, connector, Postgres
 * destination) per provider: first with no latency and no simulator limit (what this machine does,
 * measured in the same run), then at each latency, its records a second against the ceiling (a
 * window's requests times a page's records) and against the lower of ceiling and machine, and the
 * 429s the simulator answered (its own limits refusing a request).
 * Usage: npm run bench:budget -- [--scale 1] (scales every run's records) [--providers hubspot,gong]
 */

const LATENCIES = [150, 300];
const scale = arg('scale', 1);
const providersArg = process.argv.indexOf('--providers');
const only = providersArg > 0 ? new Set(process.argv[providersArg + 1]?.split(',')) : undefined;

/** A window of the provider's: its simulator limit's name (or Trellis's own budget), size, and what it counts. */
interface Window {
  /** The simulator's name for the limit; none when the provider has no short window (Trellis's own budget then). */
  limit?: string;
  windowMs: number;
  /** Whether a request to `route` (`METHOD /path`) counts against it. */
  counts: (route: string) => boolean;
}

interface Case {
  provider: ProviderName;
  object: string;
  records: number;
  /** Records a page of the object's read. */
  perPage: number;
  /** The window a steady read is held to: its limit times a page is the ceiling. */
  windows: Window[];
  /** A request through ProviderHttp, for the direct part. */
  probe: RequestOptions;
  /** How the project's provider app for it is made: with the simulator's OAuth client, or none. */
  app: 'oauth2' | 'api_key';
  /** Limits lifted for the bench where the simulator's default would stop it (never a short window). */
  lift?: Record<string, number>;
  connect(runtime: Runtime, projectId: string, simUrl: string): Promise<string>;
}

const everything = () => true;
const byRefreshToken =
  (provider: ProviderName, withInstanceUrl = false) =>
  async (runtime: Runtime, projectId: string, simUrl: string) => {
    const tokens = await simControl(simUrl, 'tokens', {});
    const connection = await createConnection(runtime.deps, projectId, 'bench', {
      providerName: provider,
      credentials: {
        authType: 'oauth2',
        refreshToken: tokens.refresh_token,
        ...(withInstanceUrl ? { instanceUrl: tokens.instance_url ?? tokens.api_domain } : {}),
      },
    });
    return connection.id;
  };

const ALL_CASES: Case[] = [
  {
    provider: 'hubspot',
    app: 'oauth2',
    object: 'contacts',
    records: 20_000,
    perPage: 100,
    windows: [
      { limit: 'ten_second', windowMs: 10_000, counts: (r) => !r.endsWith('/search') },
      { limit: 'search_per_second', windowMs: 1_000, counts: (r) => r.endsWith('/search') },
    ],
    probe: { path: '/crm/v3/objects/contacts', query: { limit: 100 } },
    connect: byRefreshToken('hubspot'),
  },
  {
    provider: 'pipedrive',
    app: 'oauth2',
    object: 'persons',
    records: 200_000,
    perPage: 500,
    windows: [{ limit: 'burst_per_2s', windowMs: 2_000, counts: everything }],
    probe: { path: '/api/v2/persons', query: { limit: 500 } },
    connect: byRefreshToken('pipedrive', true),
  },
  {
    provider: 'apollo',
    app: 'oauth2',
    object: 'contacts',
    // A little more than a minute window's pages: Apollo also allows 400 an hour per endpoint.
    records: 21_000,
    perPage: 100,
    windows: [{ limit: 'per_minute', windowMs: 60_000, counts: everything }],
    probe: { method: 'POST', path: '/api/v1/contacts/search', body: { page: 1, per_page: 100 } },
    connect: async (runtime, projectId, simUrl) => {
      const { api_key: apiKey } = await simControl(simUrl, 'tokens', {});
      const connection = await createConnection(runtime.deps, projectId, 'bench', {
        providerName: 'apollo',
        credentials: { authType: 'api_key', apiKey },
      });
      return connection.id;
    },
  },
  {
    provider: 'gong',
    app: 'api_key',
    object: 'calls',
    records: 6_000,
    perPage: 100,
    windows: [{ limit: 'per_second', windowMs: 1_000, counts: everything }],
    probe: { path: '/v2/users' },
    connect: async (runtime, projectId, simUrl) => {
      const pair = await simControl(simUrl, 'tokens', {});
      const connection = await createConnection(runtime.deps, projectId, 'bench', {
        providerName: 'gong',
        credentials: {
          authType: 'access_key_secret',
          accessKey: pair.access_key,
          accessKeySecret: pair.access_key_secret,
        },
      });
      return connection.id;
    },
  },
  {
    provider: 'salesforce',
    app: 'oauth2',
    object: 'Account',
    // Pages of 2,000 rows: Id ranges read through REST queryAll at once (from 20,000 rows); enough
    // rows that the few round trips planning the split costs weigh little.
    records: 400_000,
    perPage: 2_000,
    windows: [{ windowMs: 1_000, counts: everything }],
    probe: { path: '/services/data/v59.0/limits' },
    lift: { daily_api_requests: 1_000_000 },
    connect: byRefreshToken('salesforce', true),
  },
];

const CASES = ALL_CASES.filter((c) => !only || only.has(c.provider));

const log = createLogger('warn');
const postgres = await startBenchPostgres();
const { controlUrl, warehouseUrl } = postgres;
const encryptionKey = randomBytes(32).toString('hex');

const start = (overrides: Record<string, string>) =>
  startRuntime(
    loadConfig({
      DATABASE_URL: controlUrl,
      TRELLIS_ENCRYPTION_KEY: encryptionKey,
      TRELLIS_PROVIDER_OVERRIDES: JSON.stringify(overrides),
      PORT: '0',
      LOG_LEVEL: 'warn',
    }),
    log,
    { api: true, worker: true },
  );

/** A simulator for `c` at its default limits (bar `lift`), answering after `latencyMs`. */
async function simulatorFor(c: Case, latencyMs: number, records = Math.round(c.records * scale)) {
  const sim = await spawnSimulator(c.provider, records);
  await simControl(sim.url, 'faults', { latency_ms: latencyMs });
  if (c.lift) await simControl(sim.url, 'limits', c.lift);
  const limits = (await simControl(sim.url, 'limits')) as Record<string, number>;
  return { ...sim, limits };
}

/**
 * A project of its own (and so budgets of its own) with customer `bench` connected to `c`'s
 * provider at `simUrl`; with `sync`, a sync of `c.object` into the warehouse, which starts as the
 * connection is made. Returns the connection.
 */
async function connect(runtime: Runtime, name: string, c: Case, simUrl: string, sync: boolean) {
  const { project, apiKey } = await createProject(runtime.deps.db, name);
  const address = runtime.app!.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/mgmt/v2`;
  const api = async (method: string, p: string, body: unknown) => {
    const res = await fetch(base + p, {
      method,
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
  };
  const entry = CATALOG[c.provider];
  await api('PUT', '/customers', { customer_id: 'bench', name: 'Bench', email: 'bench@example.test' });
  await api(
    'POST',
    '/providers',
    c.app === 'api_key'
      ? { auth_type: 'api_key', category: entry.category, name: c.provider }
      : {
          auth_type: 'oauth2',
          category: entry.category,
          name: c.provider,
          config: {
            provider_app_id: '',
            oauth: {
              oauth_scopes: [],
              credentials: { oauth_client_id: 'sim-client-id', oauth_client_secret: 'sim-client-secret' },
            },
          },
        },
  );
  if (sync) {
    await api('POST', '/destinations', {
      name: 'warehouse',
      type: 'postgres',
      config: {
        host: warehouseUrl.hostname,
        port: Number(warehouseUrl.port),
        database: 'warehouse',
        schema: name.replaceAll('-', '_'),
        user: decodeURIComponent(warehouseUrl.username),
        password: decodeURIComponent(warehouseUrl.password),
      },
    });
    await api('POST', '/sync_configs', {
      destination_name: 'warehouse',
      provider_name: c.provider,
      config: {
        default_config: { period_ms: 86_400_000, strategy: 'full then incremental' },
        standard_objects: [{ object: c.object }],
      },
    });
  }
  return c.connect(runtime, project.id, simUrl);
}

/** Requests the simulator served to its API, per route, and the 429s its own limits answered. */
async function served(simUrl: string): Promise<{ routes: Record<string, number>; refused: number }> {
  const stats = await simControl(simUrl, 'stats');
  const routes = Object.fromEntries(
    Object.entries(stats.requests as Record<string, number>).filter(
      ([route]) => !/\/(__sim|oauth|oauth2|id)\//.test(route),
    ),
  );
  return { routes, refused: stats.rate_limited };
}

const since = (before: Record<string, number>, after: Record<string, number>) =>
  Object.fromEntries(Object.entries(after).map(([route, n]) => [route, n - (before[route] ?? 0)]));

/** The window's limit in requests: the simulator's, or for a provider with none, Trellis's own. */
const requestsOf = (c: Case, w: Window, limits: Record<string, number>) =>
  w.limit ? limits[w.limit]! : CATALOG[c.provider].api!.requestLimits.default.requests;

/** The fastest `routes`' requests could have gone through the windows, in ms (see the file's comment). */
function boundMs(c: Case, routes: Record<string, number>, limits: Record<string, number>, latencyMs: number) {
  let ms = 0;
  for (const w of c.windows) {
    const n = Object.entries(routes)
      .filter(([route]) => w.counts(route))
      .reduce((sum, [, k]) => sum + k, 0);
    if (n > 0) ms = Math.max(ms, Math.floor((n - 1) / requestsOf(c, w, limits)) * w.windowMs);
  }
  return ms + latencyMs;
}

const pct = (x: number) => `${Math.round(x * 100)} %`;
const pad = (cells: (string | number)[], widths: number[]) =>
  cells.map((cell, i) => String(cell).padStart(widths[i]!)).join('  ');
const total = (routes: Record<string, number>) => Object.values(routes).reduce((sum, n) => sum + n, 0);

console.log(
  `bench:budget, ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, scale ${scale}`,
);

// ---- requests straight through ProviderHttp --------------------------------------------------

const DIRECT_LATENCY = 300;
/** Requests in flight per provider, as many as a run's partitions: Pipedrive's 40 a second of pages 0.4 s away need more than 16. */
const IN_FLIGHT = 32;
console.log(
  `\nRequests through a connection's ProviderHttp and the shared budget, ${DIRECT_LATENCY} ms latency, every provider at once (each its own account), ${IN_FLIGHT} in flight:`,
);
const directWidths = [10, 8, 6, 7, 9, 9, 8, 5];
console.log(
  pad(['provider', 'requests', 's', 'req/s', 'limit/s', 'bound/s', 'of bound', '429s'], directWidths),
);
{
  const sims = await Promise.all(CASES.map((c) => simulatorFor(c, DIRECT_LATENCY, 100)));
  const runtime = await start(Object.fromEntries(CASES.map((c, i) => [c.provider, sims[i]!.url])));
  const rows = await Promise.all(
    CASES.map(async (c, i) => {
      const sim = sims[i]!;
      const connectionId = await connect(runtime, `direct-${c.provider}`, c, sim.url, false);
      const window = c.windows[0]!;
      const limit = requestsOf(c, window, sim.limits);
      // Several windows' worth; a minute window's one and a half (Apollo also allows 400 an hour).
      const windows = window.windowMs >= 60_000 ? 1.5 : Math.max(2.5, 10_000 / window.windowMs);
      const requests = Math.round(limit * windows);
      const { ctx } = await openConnector(runtime.deps, connectionId);
      const before = await served(sim.url);
      let next = 0;
      const startedAt = performance.now();
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next++ < requests) await ctx.http.request(c.probe);
        }),
      );
      const ms = performance.now() - startedAt;
      const after = await served(sim.url);
      const sent = total(since(before.routes, after.routes));
      const bound = boundMs(c, since(before.routes, after.routes), sim.limits, DIRECT_LATENCY);
      await sim.stop();
      return pad(
        [
          c.provider,
          sent,
          (ms / 1000).toFixed(1),
          ((sent / ms) * 1000).toFixed(1),
          ((limit / window.windowMs) * 1000).toFixed(1),
          ((sent / bound) * 1000).toFixed(1),
          pct(bound / ms),
          after.refused - before.refused,
        ],
        directWidths,
      );
    }),
  );
  for (const row of rows) console.log(row);
  await runtime.stop();
}

// ---- full syncs through the runtime ----------------------------------------------------------

let run = 0;

/** A full sync of `c.object` through a runtime of its own, its simulator `latencyMs` away; with `lifted`, no simulator limit. */
async function fullSync(c: Case, latencyMs: number, lifted: boolean) {
  const sim = await simulatorFor(c, latencyMs);
  if (lifted)
    await simControl(sim.url, 'limits', Object.fromEntries(Object.keys(sim.limits).map((k) => [k, 1e9])));
  const runtime = await start({ [c.provider]: sim.url });
  const before = await served(sim.url);
  const connectionId = await connect(runtime, `sync-${++run}`, c, sim.url, true);
  let ended: { status: string; num: number; ms: number; error: string | null } | undefined;
  while (!ended) {
    await new Promise((r) => setTimeout(r, 100));
    const { rows } = await runtime.deps.db.query<{
      status: string;
      num: number;
      ms: number;
      error: string | null;
    }>(
      `select r.status, r.num_records_synced as num, r.error_message as error,
              extract(epoch from r.ended_at - r.started_at) * 1000 as ms
         from sync_runs r join syncs s on s.id = r.sync_id
        where s.connection_id = $1 and r.ended_at is not null`,
      [connectionId],
    );
    ended = rows[0];
  }
  if (ended.status !== 'succeeded') throw new Error(`${c.provider} sync ${ended.status}: ${ended.error}`);
  const after = await served(sim.url);
  await runtime.stop();
  await sim.stop();
  return {
    records: ended.num,
    ms: ended.ms,
    requests: total(since(before.routes, after.routes)),
    refused: after.refused - before.refused,
    limits: sim.limits,
  };
}

console.log(
  `\nA full sync of one object through the runtime (one at a time), at the simulator's default limits. "Machine" is the
same sync with no latency and no simulator limit: what this machine's engine, simulator and Postgres do together,
the physical bound in this run (where a provider states no limit in its headers, Gong and Salesforce, Trellis's own
budget from the catalog still holds it). "Reachable" is the lower of the ceiling (a window's requests times a
page's records) and the machine:`,
);
const syncWidths = [10, 9, 7, 8, 8, 6, 9, 8, 8, 8, 9, 5, 9];
console.log(
  pad(
    [
      'provider',
      'object',
      'latency',
      'records',
      'requests',
      's',
      'records/s',
      'ceiling',
      'machine',
      'of ceil',
      'of reach',
      '429s',
      'peak RSS*',
    ],
    syncWidths,
  ),
);
for (const c of CASES) {
  const machine = await fullSync(c, 0, true);
  const machineRate = (machine.records / machine.ms) * 1000;
  for (const latency of [0, ...LATENCIES]) {
    const sync = latency === 0 ? machine : await fullSync(c, latency, false);
    const window = c.windows[0]!;
    const ceiling = (requestsOf(c, window, sync.limits) / window.windowMs) * 1000 * c.perPage;
    const achieved = (sync.records / sync.ms) * 1000;
    const reachable = Math.min(ceiling, machineRate);
    console.log(
      pad(
        [
          c.provider,
          c.object,
          latency === 0 ? 'machine' : `${latency} ms`,
          sync.records,
          sync.requests,
          (sync.ms / 1000).toFixed(1),
          Math.round(achieved),
          latency === 0 ? '-' : Math.round(ceiling),
          Math.round(machineRate),
          latency === 0 ? '-' : pct(achieved / ceiling),
          latency === 0 ? '-' : pct(achieved / reachable),
          sync.refused,
          `${peakRssMb()} MB`,
        ],
        syncWidths,
      ),
    );
  }
}
console.log('* of this process so far: the runtime, its pools and the bench; the simulators run apart');
await postgres.stop();
