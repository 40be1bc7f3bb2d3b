import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { runTrellis, stopWorkersAndAll, type TrellisProcess } from '../helpers/process.ts';
import { simControl, simRecords } from '../helpers/simulator.ts';
import { syncHubspotIntoTestDatabase } from '../helpers/syncs.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

/**
 * The acceptance test for crash safety: a 200,000-record full sync whose worker process is
 * SIGKILLed again and again ends with exactly the provider's records and one truthful run, because
 * every restart resumes from the run's checkpoint.
 */
const RECORDS = 200_000;
/** HubSpot lists 100 records per page. */
const PAGES = RECORDS / 100;
const RANDOM_KILLS = 5;
/**
 * A kill comes at most about this many records after the previous one: the five random kills then
 * land before about 130,000 of the 200,000 records, so the run is still reading at each one
 * however fast the machine is.
 */
const MAX_STEP = 25_000;

interface Checkpoint {
  runId: string;
  records: number;
  readDone?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a 200,000-record HubSpot full sync whose worker is killed with SIGKILL', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let control: pg.Client;
  let warehouse: pg.Client;
  let workerEnv: Record<string, string>;
  const workers: TrellisProcess[] = [];

  /** The run in progress as the control database has it (null when no run is going). */
  const checkpoint = async (): Promise<Checkpoint | null> => {
    const { rows } = await control.query<{ checkpoint: Checkpoint | null }>(
      `select state->'checkpoint' as checkpoint from syncs where object = 'contacts'`,
    );
    return rows[0]?.checkpoint ?? null;
  };

  /** Polls `probe`; the deadline is far above what any step takes on a busy machine. */
  const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 180_000) => {
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

  const kill = async (worker: TrellisProcess) => {
    await worker.stop('SIGKILL');
    expect(worker.child.signalCode).toBe('SIGKILL');
  };

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: RECORDS });
    await simControl(sim.url, 'limits', { ten_second: 100_000, search_per_second: 1000 });
    const overrides = JSON.stringify({ hubspot: sim.url });
    // The API in this process; the only worker is a separate OS process, killed and restarted.
    t = await startTrellis({
      roles: { api: true, worker: false },
      env: { TRELLIS_PROVIDER_OVERRIDES: overrides },
    });
    workerEnv = {
      DATABASE_URL: t.databaseUrl,
      TRELLIS_ENCRYPTION_KEY: t.config.encryptionKey!.toString('hex'),
      TRELLIS_PROVIDER_OVERRIDES: overrides,
      // A dead worker's run is resumed after 3 s instead of 20 s, to keep six restarts quick.
      TRELLIS_STALE_RUN_SECONDS: '3',
    };
    api = client(t.baseUrl, t.apiKey);
    control = new pg.Client({ connectionString: t.databaseUrl });
    await control.connect();
    warehouse = await syncHubspotIntoTestDatabase(api, sim.url, 'contacts');
  });

  afterAll(() => stopWorkersAndAll(workers, [control, warehouse], t, sim));

  it('resumes from its checkpoint after every kill and ends with exactly the provider records and one run', async () => {
    const killedAt: number[] = [];
    const log: string[] = [];
    let worker = startWorker();

    // Random points: once the (resumed) run has committed a batch past the previous kill, a random
    // delay, so kills land while pages are fetched, batches are copied and checkpoints are saved —
    // cut short once the run is MAX_STEP records further, so a fast machine cannot finish the run first.
    for (let i = 0; i < RANDOM_KILLS; i++) {
      const floor = killedAt.at(-1) ?? 0;
      await waitFor(`progress past ${floor} records`, async () => {
        const c = await checkpoint();
        return c && c.records > floor ? c : undefined;
      });
      const waitedFrom = Date.now();
      const killAt = waitedFrom + Math.floor(Math.random() * 1200);
      while (Date.now() < killAt && ((await checkpoint())?.records ?? 0) < floor + MAX_STEP) {
        await sleep(Math.min(50, killAt - Date.now()));
      }
      await kill(worker);
      const c = await checkpoint();
      expect(c, `the run ended before kill ${i + 1} (${log.join(', ')})`).not.toBeNull();
      expect(c!.readDone, `the run read everything before kill ${i + 1}`).toBeFalsy();
      killedAt.push(c!.records);
      log.push(`kill ${i + 1} after ${Date.now() - waitedFrom} ms at ${c!.records}`);
      worker = startWorker();
    }

    // One more kill at the most delicate point: every record read and written, the final cursor
    // (null) saved, the run not yet recorded. Holding the run's row makes the worker wait right there.
    const runId = (await checkpoint())!.runId;
    const holder = new pg.Client({ connectionString: t.databaseUrl });
    await holder.connect();
    await holder.query('begin');
    await holder.query('select 1 from sync_runs where id = $1 for update', [runId]);
    await waitFor('the worker to wait on recording the run', async () => {
      const { rows } = await control.query(
        `select 1 from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock' and query like 'update sync_runs%'`,
      );
      return rows.length > 0 ? true : undefined;
    });
    const finishing = (await checkpoint())!;
    expect(finishing).toMatchObject({ runId, records: RECORDS, readDone: true });
    await kill(worker);
    await holder.query('rollback');
    await holder.end();
    killedAt.push(finishing.records);
    log.push(`kill ${killedAt.length} while finishing`);
    worker = startWorker();

    const runs = await waitFor('the run to end', async () => {
      const res = await api('GET', '/sync-runs', {
        query: { customer_id: 'acme', object_type: 'standard', object: 'contacts' },
      });
      const results = res.body.results as { status: string }[];
      return results.some((r) => r.status !== 'IN_PROGRESS') ? results : undefined;
    });
    // A truthful history: one run, resumed six times, that synced each record once.
    expect(runs, log.join(', ')).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      id: runId,
      status: 'SUCCESS',
      num_records_synced: RECORDS,
      error_message: null,
    });
    expect(await checkpoint()).toBeNull();

    // Exactly the provider's records: nothing missing, nothing twice, nothing extra.
    const { rows } = await warehouse.query<{ id: string; deleted: boolean }>(
      'select _supaglue_id as id, _supaglue_is_deleted as deleted from crm.hubspot_contacts',
    );
    const provider = await simRecords<{ properties: object }>(sim.url, 'contacts');
    expect(provider).toHaveLength(RECORDS);
    const ids = rows.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(provider.map((r) => r.id).sort());
    expect(rows.filter((r) => r.deleted)).toEqual([]);

    // Field by field, for a sample spread over the whole range (and the first and last record).
    const sample = [
      provider[0]!,
      provider.at(-1)!,
      ...Array.from({ length: 300 }, () => provider[Math.floor(Math.random() * RECORDS)]!),
    ];
    const stored = await warehouse.query<{ id: string; raw: { properties: object }; customer: string }>(
      `select _supaglue_id as id, _supaglue_raw_data as raw, _supaglue_customer_id as customer
         from crm.hubspot_contacts where _supaglue_id = any($1)`,
      [sample.map((r) => r.id)],
    );
    const byId = new Map(stored.rows.map((r) => [r.id, r]));
    for (const r of sample) {
      expect(byId.get(r.id)?.raw.properties, `record ${r.id}`).toEqual(r.record.properties);
      expect(byId.get(r.id)?.customer).toBe('acme');
    }

    // Resumed, not restarted: each restart re-reads at most what was fetched but not yet committed
    // (the batch being written and the prefetch buffer, about 150 pages), far from reading from page one.
    const stats = await simControl(sim.url, 'stats');
    const listRequests = stats.requests['GET /crm/v3/objects/:type'] as number;
    const fromZero = PAGES + killedAt.reduce((sum, records) => sum + records / 100, 0);
    expect(listRequests, log.join(', ')).toBeGreaterThanOrEqual(PAGES);
    expect(listRequests, log.join(', ')).toBeLessThanOrEqual(PAGES + 1 + killedAt.length * 160);
    expect(listRequests).toBeLessThan(fromZero);
    console.info(`${log.join(', ')}; ${listRequests} list requests (from zero each time: ${fromZero})`);
  }, 600_000);
});
