import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { pipedrive } from '../../simulators/pipedrive/index.ts';
import { openConnector } from '../../src/core/provider-access.ts';
import { collect } from '../helpers/connector.ts';
import { runTrellis, stopWorkersAndAll, type TrellisProcess } from '../helpers/process.ts';
import { simControl, simRecords } from '../helpers/simulator.ts';
import { endedRuns, syncHubspotIntoTestDatabase, syncPipedriveIntoTestDatabase } from '../helpers/syncs.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';
import { until } from '../helpers/wait.ts';

/**
 * Full runs read HubSpot objects in id-range partitions at the same time, write them through the
 * same batches and save each partition's position with the batch that holds its pages: what lands
 * is exactly what one sequential read returns, also when the worker is killed part-way through a
 * partition and the run resumes. A checkpoint saved before partitions existed resumes as before.
 * The worker is a separate OS process, killed with SIGKILL.
 */
const RECORDS = 12_000;
/** 4,000 records a partition (src/connectors/hubspot). */
const PARTITIONS = 3;
const SEARCH_PAGE = 200;
/** The range requests of a whole partitioned read: each partition's 4,000 records, 200 a page. */
const PAGES = RECORDS / SEARCH_PAGE;
const SEARCH = 'POST /crm/v3/objects/:type/search';
const LIST = 'GET /crm/v3/objects/:type';

interface Checkpoint {
  runId: string;
  records: number;
  pages?: number;
  readDone?: boolean;
  partitions?: { partition: string; cursor: string | null; done?: boolean; last?: boolean }[];
}

interface SimStats {
  requests: Record<string, number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('partitioned full reads', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let control: pg.Client;
  let warehouse: pg.Client;
  let workerEnv: Record<string, string>;
  const workers: TrellisProcess[] = [];
  /** Search requests the simulator is answering right now, and the most it ever answered at once. */
  const searching = { now: 0, peak: 0 };

  const stats = (): Promise<SimStats> => simControl(sim.url, 'stats');
  const served = (s: SimStats, route: string) => s.requests[route] ?? 0;
  const checkpoint = async (object: string): Promise<Checkpoint | null> => {
    const { rows } = await control.query<{ checkpoint: Checkpoint | null }>(
      `select state->'checkpoint' as checkpoint from syncs where object = $1`,
      [object],
    );
    return rows[0]?.checkpoint ?? null;
  };
  const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; worker output:\n${workers.at(-1)?.output()}`);
      await sleep(50);
    }
  };
  const startWorker = () => {
    const worker = runTrellis(['worker'], workerEnv);
    workers.push(worker);
    return worker;
  };
  /** Lets the sync of `object` run (every sync is paused until its test). */
  const release = (object: string) =>
    control.query('update syncs set paused = false, next_run_at = now() where object = $1', [object]);
  const stored = async (object: string) =>
    (
      await warehouse.query<{ id: string; deleted: boolean; raw: unknown }>(
        `select _supaglue_id as id, _supaglue_is_deleted as deleted, _supaglue_raw_data as raw
           from crm.hubspot_${object}`,
      )
    ).rows;

  /** The destination holds exactly what one sequential read (the list endpoint, page after page) returns. */
  const expectSequentialRead = async (object: string) => {
    const { rows } = await control.query<{ id: string }>('select id from connections');
    const { connector, ctx } = await openConnector(t.runtime.deps, rows[0]!.id);
    const { records } = await collect(connector.read!(ctx, { object }));
    expect(records).toHaveLength(RECORDS);
    const rowsNow = await stored(object);
    expect(rowsNow.filter((r) => r.deleted)).toEqual([]);
    expect(rowsNow.map((r) => r.id).sort()).toEqual(records.map((r) => r.id).sort());
    const byId = new Map(rowsNow.map((r) => [r.id, r.raw]));
    for (const r of records) expect(byId.get(r.id), `record ${r.id}`).toEqual(r.raw);
  };

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: RECORDS });
    sim.app.server.on('request', (req, res) => {
      if (req.method !== 'POST' || !req.url?.endsWith('/search')) return;
      searching.peak = Math.max(searching.peak, ++searching.now);
      res.once('close', () => searching.now--);
    });
    // Search's limit out of the way, so that only Trellis's pace shapes its requests; the list's
    // within what HubSpot documents, so that full reads are split.
    await simControl(sim.url, 'limits', { ten_second: 500, search_per_second: 1000 });
    const overrides = JSON.stringify({ hubspot: sim.url });
    t = await startTrellis({
      roles: { api: true, worker: false },
      env: { TRELLIS_PROVIDER_OVERRIDES: overrides },
    });
    workerEnv = {
      DATABASE_URL: t.databaseUrl,
      TRELLIS_ENCRYPTION_KEY: t.config.encryptionKey!.toString('hex'),
      TRELLIS_PROVIDER_OVERRIDES: overrides,
      TRELLIS_STALE_RUN_SECONDS: '3',
    };
    api = client(t.baseUrl, t.apiKey);
    control = new pg.Client({ connectionString: t.databaseUrl });
    await control.connect();
    warehouse = await syncHubspotIntoTestDatabase(api, sim.url, 'contacts', 'companies', 'deals');
    await control.query('update syncs set paused = true');
  });

  afterAll(() => stopWorkersAndAll(workers, [control, warehouse], t, sim));

  it('read their partitions at the same time and land exactly what a sequential read returns', async () => {
    // Slow answers: partitions read one after the other would never have two requests in progress.
    await simControl(sim.url, 'faults', { latency_ms: 1000 });
    const before = await stats();
    await release('contacts');
    const worker = startWorker();
    const split = await waitFor('the run to split its read', async () => {
      const c = await checkpoint('contacts');
      return c?.partitions ? c.partitions : undefined;
    });
    expect(split).toHaveLength(PARTITIONS);
    const [run] = await endedRuns(api, 'contacts', 1);
    await worker.stop();
    await simControl(sim.url, 'faults', { latency_ms: 0 });
    expect(run).toMatchObject({ status: 'SUCCESS', num_records_synced: RECORDS });

    const after = await stats();
    // Ranges were read at the same time: the simulator was answering more than one search at once.
    expect(searching.peak).toBeGreaterThanOrEqual(2);
    // Two searches find the span of ids, then one per page of each range; the list is not read.
    expect(served(after, SEARCH) - served(before, SEARCH)).toBe(2 + PAGES);
    expect(served(after, LIST) - served(before, LIST)).toBe(0);
    await expectSequentialRead('contacts');
  }, 180_000);

  it('resume each partition after its last written page when the worker is killed part-way', async () => {
    await release('companies');
    let worker = startWorker();
    const first = await waitFor('a partition part-way read, its first pages written', async () => {
      const c = await checkpoint('companies');
      return c?.partitions?.some((p) => p.cursor !== null && !p.done) ? c : undefined;
    });
    // Hold the writer up for a while: the partitions read on, ahead of what is written, so that a
    // position saved for a page not yet written would lose the pages between. Then kill the worker
    // right after it saved the batch it was holding.
    await warehouse.query('begin');
    await warehouse.query('lock table crm.hubspot_companies in exclusive mode');
    await sleep(3000);
    await warehouse.query('rollback');
    await waitFor('the held batch, saved', async () => {
      const c = await checkpoint('companies');
      return c && c.records > first.records ? c : undefined;
    });
    await worker.stop('SIGKILL');
    expect(worker.child.signalCode).toBe('SIGKILL');
    // Requests the killed worker had sent are counted before the restart is measured.
    await sleep(500);
    const atKill = (await checkpoint('companies'))!;
    const killed = await stats();
    // Killed in the middle of a partition: its position saved, the read not done.
    expect(atKill.partitions!.some((p) => p.cursor !== null && !p.done)).toBe(true);
    expect(atKill.readDone).toBeFalsy();
    expect(atKill.records).toBeGreaterThan(0);
    expect(atKill.records).toBeLessThan(RECORDS);
    // Every page written so far was a full one.
    expect(atKill.pages).toBe(atKill.records / SEARCH_PAGE);

    worker = startWorker();
    const [run] = await endedRuns(api, 'companies', 1);
    await worker.stop();
    expect(run).toMatchObject({ id: atKill.runId, status: 'SUCCESS', num_records_synced: RECORDS });
    // The resumed run split nothing again and read exactly the pages not written before the kill:
    // each partition from its saved cursor on, the pages fetched but not yet written again.
    const resumed = served(await stats(), SEARCH) - served(killed, SEARCH);
    expect(resumed).toBe(PAGES - atKill.pages!);
    await expectSequentialRead('companies');
  }, 180_000);

  it('resume a checkpoint saved before partitions existed as one read from its cursor', async () => {
    const { rows } = await control.query<{ id: string; projectId: string }>(
      `select id, project_id as "projectId" from syncs where object = 'deals'`,
    );
    const sync = rows[0]!;
    const run = await control.query<{ id: string }>(
      `insert into sync_runs (id, project_id, sync_id, status) values (gen_random_uuid(), $1, $2, 'running') returning id`,
      [sync.projectId, sync.id],
    );
    const runId = run.rows[0]!.id;
    // Half the deals read and written by the previous release, whose worker then died: its
    // checkpoint has the list's cursor, no page count and no partitions.
    const half = RECORDS / 2;
    const cursor = Buffer.from(JSON.stringify({ mode: 'full', after: String(half) })).toString('base64url');
    const old = {
      runId,
      mode: 'full',
      cursor,
      startedAt: new Date(Date.now() - 60_000).toISOString(),
      records: half,
    };
    await control.query(
      `update syncs set state = state || jsonb_build_object('checkpoint', $2::jsonb, 'heartbeat', '1970-01-01T00:00:00Z')
        where id = $1`,
      [sync.id, old],
    );
    const before = await stats();
    const worker = startWorker();
    const [ended] = await endedRuns(api, 'deals', 1);
    await worker.stop();
    expect(ended).toMatchObject({ id: runId, status: 'SUCCESS', num_records_synced: RECORDS });
    // The list from the cursor on, a page of 100 at a time, and no split.
    const after = await stats();
    expect(served(after, LIST) - served(before, LIST)).toBe(half / 100);
    expect(served(after, SEARCH) - served(before, SEARCH)).toBe(0);
    const provider = (await simRecords<{ properties: object }>(sim.url, 'deals')).slice(half);
    const rowsNow = await stored('deals');
    expect(rowsNow.map((r) => r.id).sort()).toEqual(provider.map((r) => r.id).sort());
    const byId = new Map(rowsNow.map((r) => [r.id, r.raw as { properties: object }]));
    for (const r of provider) expect(byId.get(r.id)?.properties, r.id).toEqual(r.record.properties);
  }, 180_000);
});

describe('a partitioned full read whose destination refuses a batch', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let warehouse: pg.Client;
  /** Search answers Trellis gave up on before they were sent: the simulator's response closed unfinished. */
  let abandoned = 0;

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: RECORDS });
    sim.app.server.on('request', (req, res) => {
      if (req.method !== 'POST' || !req.url?.endsWith('/search')) return;
      res.once('close', () => {
        if (!res.writableFinished) abandoned++;
      });
    });
    await simControl(sim.url, 'limits', { ten_second: 500, search_per_second: 1000 });
    // Slow answers: the partitions' next pages are on their way when the first batch is refused,
    // and the table is made to refuse writes long before the first page comes.
    await simControl(sim.url, 'faults', { latency_ms: 2000 });
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) } });
    warehouse = await syncHubspotIntoTestDatabase(client(t.baseUrl, t.apiKey), sim.url, 'contacts');
  });

  afterAll(() => stopWorkersAndAll([], [warehouse], t, sim));

  it('fails the run and ends the requests its other partitions have on their way', async () => {
    await until('the run to make its table', async () => {
      const { rows } = await warehouse.query<{ table: string | null }>(
        `select to_regclass('crm.hubspot_contacts')::text as table`,
      );
      return rows[0]?.table;
    });
    await warehouse.query(
      `create function crm.refuse() returns trigger language plpgsql as $$ begin raise exception 'writes refused'; end $$`,
    );
    await warehouse.query(
      'create trigger refuse before insert or update on crm.hubspot_contacts for each row execute function crm.refuse()',
    );
    const [run] = await endedRuns(client(t.baseUrl, t.apiKey), 'contacts', 1);
    expect(run).toMatchObject({ status: 'FAILURE', num_records_synced: 0 });
    expect(run.error_message).toMatch(/destination "warehouse"/);
    // Waited for, they would have been answered whole two seconds later.
    await until('the simulator to see requests abandoned', async () => abandoned > 0, 10_000);
  }, 60_000);
});

/**
 * Pipedrive's full runs read ranges of update time at the same time, then a catch-up partition of
 * what changed since the split, only once every range is read. A record changed while the ranges
 * are read leaves its range (here before the range reached it); the catch-up delivers it, and the
 * sweep after the run does not take it for deleted.
 */
/** The destination holds exactly the simulator's persons as they are now, none taken for deleted; answers them. */
async function expectPersonsAsAtProvider(warehouse: pg.Client, simUrl: string) {
  const provider = await simRecords(simUrl, 'persons');
  const { rows } = await warehouse.query<{ id: string; deleted: boolean; raw: unknown }>(
    'select _supaglue_id as id, _supaglue_is_deleted as deleted, _supaglue_raw_data as raw from crm.pipedrive_persons',
  );
  expect(rows.filter((r) => r.deleted).map((r) => r.id)).toEqual([]);
  expect(rows.map((r) => r.id).sort()).toEqual(provider.map((r) => r.id).sort());
  const byId = new Map(rows.map((r) => [r.id, r.raw]));
  for (const r of provider) expect(byId.get(r.id), r.id).toEqual(r.record);
  return provider;
}

describe('partitioned full reads by update time (Pipedrive)', () => {
  const PERSONS = 12_000;
  /** Changed as the first range request arrives: the oldest records, in the first range. */
  const CHANGED = Array.from({ length: 10 }, (_, i) => i + 1);
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let warehouse: pg.Client;
  /** The persons list requests the simulator received, in order, once watching. */
  let seen: URLSearchParams[] | undefined;

  beforeAll(async () => {
    sim = await startSimulator(pipedrive, { records: PERSONS });
    // Ahead of the simulator's own handling: a change made here precedes the answer to the request.
    sim.app.server.prependListener('request', (req) => {
      const url = new URL(req.url ?? '/', 'http://sim');
      if (!seen || url.pathname !== '/api/v2/persons') return;
      if (url.searchParams.has('updated_until') && !seen.some((q) => q.has('updated_until'))) {
        const store = sim.ctx.store('persons');
        for (const seq of CHANGED) store.edit(seq);
      }
      seen.push(url.searchParams);
    });
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ pipedrive: sim.url }) } });
    api = client(t.baseUrl, t.apiKey);
    warehouse = await syncPipedriveIntoTestDatabase(t, sim.url, 'persons');
  });

  afterAll(async () => {
    await warehouse?.end();
    await t?.stop();
    await sim?.close();
  });

  it('deliver a record changed during the read, so that the sweep keeps it', async () => {
    const [first] = await endedRuns(api, 'persons', 1);
    expect(first).toMatchObject({ status: 'SUCCESS', num_records_synced: PERSONS });

    // Update times bunched up before the split, as after a bulk edit: the last range holds these
    // 2,000 besides its share and is still being read when the other ranges are done.
    const bulk = Array.from({ length: 2000 }, (_, i) => String(2001 + i));
    await simControl(sim.url, 'mutate', { object: 'persons', update: bulk });
    seen = [];
    const trigger = await api('POST', '/syncs/_trigger', {
      headers: { 'x-customer-id': 'acme', 'x-provider-name': 'pipedrive' },
      body: { object_type: 'standard', object: 'persons', perform_full_refresh: true },
    });
    expect(trigger.status).toBe(200);
    const [run] = await endedRuns(api, 'persons', 2);
    expect(run.status, run.error_message).toBe('SUCCESS');
    // Each person written once: the catch-up's reads of records a range wrote at the same version are skipped.
    expect(run.num_records_synced).toBe(PERSONS);

    // Two requests plan the split; the catch-up's requests all come after the last range's.
    const requests = seen;
    seen = undefined;
    const ranges = requests.flatMap((q, i) => (q.has('updated_until') ? [i] : []));
    const catchUp = requests.flatMap((q, i) =>
      q.has('updated_since') && !q.has('updated_until') ? [i] : [],
    );
    expect(requests.filter((q) => q.get('limit') === '1')).toHaveLength(2);
    expect(ranges.length).toBeGreaterThanOrEqual(16);
    expect(catchUp.length).toBeGreaterThan(0);
    expect(Math.min(...catchUp)).toBeGreaterThan(Math.max(...ranges));

    // The table holds every person, none taken for deleted, the changed ones as they are now.
    const provider = await expectPersonsAsAtProvider(warehouse, sim.url);
    // Changed during this run, after the split.
    for (const seq of CHANGED)
      expect(Date.parse(provider[seq - 1]!.updated_at)).toBeGreaterThan(Date.parse(run.start_timestamp));
  }, 180_000);
});

describe('a killed worker resumes the catch-up partition (Pipedrive)', () => {
  const PERSONS = 12_000;
  /** Changed just before the run: the catch-up reads these again, 500 a page. */
  const CHANGED = Array.from({ length: 5000 }, (_, i) => String(3001 + i));
  let sim: RunningSimulator;
  let t: TestTrellis;
  let control: pg.Client;
  let warehouse: pg.Client;
  const workers: TrellisProcess[] = [];
  /** Requests for the ranges (an upper bound) and for the catch-up (changed since, no upper bound). */
  const requested = { ranges: 0, catchUp: 0 };

  const catchUp = async () => {
    const { rows } = await control.query<{ checkpoint: Checkpoint | null }>(
      `select state->'checkpoint' as checkpoint from syncs where object = 'persons'`,
    );
    const checkpoint = rows[0]?.checkpoint;
    const partitions = checkpoint?.partitions ?? [];
    return {
      pages: checkpoint?.pages ?? 0,
      ranges: partitions.filter((p) => !p.last),
      last: partitions.find((p) => p.last),
    };
  };

  beforeAll(async () => {
    sim = await startSimulator(pipedrive, { records: PERSONS });
    sim.app.server.prependListener('request', (req) => {
      const url = new URL(req.url ?? '/', 'http://sim');
      const q = url.searchParams;
      if (url.pathname !== '/api/v2/persons') return;
      if (q.has('updated_until')) requested.ranges++;
      else if (q.has('updated_since')) requested.catchUp++;
    });
    const overrides = JSON.stringify({ pipedrive: sim.url });
    t = await startTrellis({
      roles: { api: true, worker: false },
      env: { TRELLIS_PROVIDER_OVERRIDES: overrides },
    });
    warehouse = await syncPipedriveIntoTestDatabase(t, sim.url, 'persons');
    control = new pg.Client({ connectionString: t.databaseUrl });
    await control.connect();
  });

  afterAll(() => stopWorkersAndAll(workers, [control, warehouse], t, sim));

  it('from its saved cursor, and lands exactly what the provider holds', async () => {
    await simControl(sim.url, 'mutate', { object: 'persons', update: CHANGED });
    // Slow answers: the catch-up's ten pages take seconds, and its position is saved on the way.
    await simControl(sim.url, 'faults', { latency_ms: 600 });
    const workerEnv = {
      DATABASE_URL: t.databaseUrl,
      TRELLIS_ENCRYPTION_KEY: t.config.encryptionKey!.toString('hex'),
      TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ pipedrive: sim.url }),
      TRELLIS_STALE_RUN_SECONDS: '3',
    };
    let worker = runTrellis(['worker'], workerEnv);
    workers.push(worker);
    const deadline = Date.now() + 120_000;
    for (;;) {
      const { last } = await catchUp();
      if (last && last.cursor !== null && !last.done) break;
      if (Date.now() > deadline) throw new Error(`the catch-up never got part-way:\n${worker.output()}`);
      await sleep(20);
    }
    await worker.stop('SIGKILL');
    expect(worker.child.signalCode).toBe('SIGKILL');
    await sleep(500);
    const atKill = await catchUp();
    // Killed in the catch-up: every range read and written, the catch-up part-way.
    expect(atKill.ranges.length).toBeGreaterThan(1);
    expect(atKill.ranges.every((p) => p.done)).toBe(true);
    expect(atKill.last!.cursor).not.toBeNull();
    expect(atKill.last!.done).toBeFalsy();
    // Pages written and saved: every range's (a request each), then the catch-up's first ones.
    const rangeRequests = requested.ranges;
    const saved = atKill.pages - rangeRequests;
    expect(saved).toBeGreaterThan(0);
    expect(requested.catchUp).toBeGreaterThanOrEqual(saved);
    const beforeResume = requested.catchUp;

    await simControl(sim.url, 'faults', { latency_ms: 0 });
    worker = runTrellis(['worker'], workerEnv);
    workers.push(worker);
    const [run] = await endedRuns(client(t.baseUrl, t.apiKey), 'persons', 1);
    await worker.stop();
    expect(run.status, run.error_message).toBe('SUCCESS');
    // The resumed run went on from the catch-up's saved cursor, and read no range again: a whole
    // catch-up is ten pages of 500 and the empty one that says there are no more.
    expect(requested.catchUp - beforeResume).toBe(CHANGED.length / 500 + 1 - saved);
    expect(requested.ranges).toBe(rangeRequests);

    await expectPersonsAsAtProvider(warehouse, sim.url);
  }, 180_000);
});
