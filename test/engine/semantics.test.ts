import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { runSync } from '../../src/engine/sync-runner.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { webhookSchema } from '../helpers/seed-spec.ts';
import { connectHubspot, setUpHubspotSync } from '../helpers/syncs.ts';
import {
  type ApiResponse,
  type Client,
  client,
  createTestDatabase,
  startTrellis,
  type TestTrellis,
} from '../helpers/trellis.ts';

/**
 * The sync engine's semantics as the Supaglue spec describes them, shown through what an API user
 * sees: the syncs (`GET /syncs`), the run history (`GET /sync-runs`), the webhooks, and — to tell
 * full runs from incremental ones — which HubSpot endpoints the simulator was asked for.
 */

const syncCompleteSchema = webhookSchema('sync.complete');
const syncPausedSchema = webhookSchema('sync.paused');

/** The minimum period: no periodic run comes within a test; runs are driven with triggers. */
const PERIOD_MS = 60_000;
const RECORDS = 300;
/** Contacts, once the provider is made slow: enough pages for a run to be caught in flight. */
const SLOW_RECORDS = 4000;
const SEARCH = 'POST /crm/v3/objects/:type/search';
const OBJECTS = ['companies', 'contacts', 'deals'];

const syncConfig = (extra: { auto_start_on_connection?: boolean } = {}) => ({
  default_config: { period_ms: PERIOD_MS, strategy: 'full then incremental', ...extra },
  standard_objects: [
    { object: 'contacts' },
    {
      object: 'companies',
      sync_strategy_override: { period_ms: PERIOD_MS, strategy: 'full only', ...extra },
    },
    {
      object: 'deals',
      sync_strategy_override: {
        period_ms: PERIOD_MS,
        strategy: 'full then incremental',
        full_sync_every_n_incrementals: 2,
        ...extra,
      },
    },
  ],
});

interface Run {
  id: string;
  sync_id: string;
  object_type: string;
  object: string;
  status: 'IN_PROGRESS' | 'SUCCESS' | 'FAILURE';
  error_message: string | null;
  start_timestamp: string;
  end_timestamp: string | null;
  num_records_synced: number | null;
  customer_id: string;
  connection_id: string;
  provider_name: string;
}

interface Sync {
  id: string;
  object: string;
  paused: boolean;
  connection_id: string;
  sync_config_id: string;
}

type Event = Record<string, any>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns something truthy. */
async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('sync engine semantics, observed through syncs, run history and webhooks', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let syncConfigId: string;
  const refreshTokens = new Map<string, string>();

  const ok = async <T = any>(p: Promise<ApiResponse<T>>, status = 200): Promise<T> => {
    const res = await p;
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    return res.body;
  };
  const control = async (p: string, body?: unknown) => {
    const res = await fetch(`${sim.url}/__sim/${p}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    return res.json() as Promise<any>;
  };
  const searches = async (): Promise<number> => (await control('stats')).requests[SEARCH] ?? 0;
  const headers = (customer: string) => ({ 'x-customer-id': customer, 'x-provider-name': 'hubspot' });

  const connect = async (customer: string) => {
    const tokens = await control('tokens', {});
    refreshTokens.set(customer, tokens.refresh_token);
    return connectHubspot(api, tokens.refresh_token, {
      customer_id: customer,
      name: customer,
      email: 'it@x.test',
    });
  };
  const syncsOf = async (customer: string): Promise<Sync[]> =>
    (await ok(api('GET', '/syncs', { query: { customer_id: customer } }))).results;
  const syncOf = async (customer: string, object: string): Promise<Sync> =>
    (await syncsOf(customer)).find((s) => s.object === object)!;
  /** Runs of a customer's syncs (of one object), newest first. */
  const runsOf = async (customer: string, object?: string): Promise<Run[]> =>
    (
      await ok(
        api('GET', '/sync-runs', {
          query: { customer_id: customer, ...(object ? { object_type: 'standard', object } : {}) },
        }),
      )
    ).results;
  /** Waits until `count` runs exist and none is in progress; returns them newest first. */
  const endedRuns = (customer: string, object: string, count: number, timeoutMs?: number) =>
    until(
      `${count} ended runs of ${customer}/${object}`,
      async () => {
        const runs = await runsOf(customer, object);
        return runs.length >= count && runs.every((r) => r.status !== 'IN_PROGRESS') && runs;
      },
      timeoutMs,
    );
  const inProgress = (customer: string, object: string, count: number) =>
    until(`run ${count} of ${customer}/${object} in progress`, async () => {
      const runs = await runsOf(customer, object);
      return runs.length === count && runs[0]!.status === 'IN_PROGRESS' && runs[0];
    });
  const trigger = (customer: string, object: string, fullRefresh?: boolean) =>
    api('POST', '/syncs/_trigger', {
      headers: headers(customer),
      body: {
        object_type: 'standard',
        object,
        ...(fullRefresh === undefined ? {} : { perform_full_refresh: fullRefresh }),
      },
    });
  /** Pauses or resumes a customer's sync of a standard object. */
  const pauseOrResume = (action: '_pause' | '_resume', customer: string, object: string) =>
    api('POST', `/syncs/${action}`, {
      headers: headers(customer),
      body: { object_type: 'standard', object },
    });
  /** Triggers a run, waits for it to end, and reports it with the search requests made meanwhile. */
  const triggeredRun = async (customer: string, object: string, fullRefresh?: boolean) => {
    const before = (await endedRuns(customer, object, 0)).length;
    const searchesBefore = await searches();
    const triggeredAt = Date.now();
    await ok(trigger(customer, object, fullRefresh));
    const runs = await endedRuns(customer, object, before + 1);
    expect(runs).toHaveLength(before + 1);
    // A trigger runs the sync now, not at its next period.
    expect(Date.parse(runs[0]!.start_timestamp) - triggeredAt).toBeLessThan(5000);
    return { run: runs[0]!, searches: (await searches()) - searchesBefore };
  };
  const expectFull = (r: { run: Run; searches: number }, total: number) => {
    expect(r.run, JSON.stringify(r.run)).toMatchObject({ status: 'SUCCESS', num_records_synced: total });
    expect(r.searches, 'a full run lists, it does not search').toBe(0);
  };
  const expectIncremental = (r: { run: Run; searches: number }, total: number) => {
    expect(r.run.status, JSON.stringify(r.run)).toBe('SUCCESS');
    expect(r.run.num_records_synced).toBeLessThan(total);
    expect(r.searches, 'an incremental run searches by last-modified date').toBeGreaterThan(0);
  };

  const events = (type: string, match: Record<string, unknown> = {}): Event[] =>
    receiver.received
      .map((r) => JSON.parse(r.body) as Event)
      .filter((e) => e.webhook_event_type === type && Object.entries(match).every(([k, v]) => e[k] === v));
  const waitForEvents = (type: string, match: Record<string, unknown>, count = 1) =>
    until(`${count} ${type} ${JSON.stringify(match)}`, async () => {
      const found = events(type, match);
      return found.length >= count && found;
    });

  /** A sync.paused event valid per the seed, for a HubSpot sync of a standard object. */
  const expectSyncPaused = (event: Event | undefined, connectionId: string, pauseReason: unknown) => {
    expect(syncPausedSchema(event), JSON.stringify(syncPausedSchema.errors)).toBe(true);
    expect(event).toMatchObject({
      connection_id: connectionId,
      provider_name: 'hubspot',
      type: 'object',
      object_type: 'standard',
      pause_reason: pauseReason,
    });
  };

  /** Every ended run was announced by exactly one sync.complete that matches it and the seed's schema. */
  const expectReported = async (runs: Run[]) => {
    for (const run of runs) {
      expect(run.status, JSON.stringify(run)).not.toBe('IN_PROGRESS');
      const [event, ...more] = await waitForEvents('sync.complete', { run_id: run.id });
      expect(more).toHaveLength(0);
      expect(syncCompleteSchema(event), JSON.stringify(syncCompleteSchema.errors)).toBe(true);
      expect(event).toMatchObject({
        connection_id: run.connection_id,
        customer_id: run.customer_id,
        provider_name: 'hubspot',
        type: 'object',
        object_type: run.object_type,
        object: run.object,
        result: run.status === 'SUCCESS' ? 'SUCCESS' : 'ERROR',
        num_records_synced: run.num_records_synced,
      });
      expect(event!.error_message ?? null).toBe(run.error_message);
      // The run's record: timestamps in order, an error message exactly when it failed.
      expect(Date.parse(run.end_timestamp!)).toBeGreaterThanOrEqual(Date.parse(run.start_timestamp));
      expect(run.error_message === null).toBe(run.status === 'SUCCESS');
      expect(run.num_records_synced).toEqual(expect.any(Number));
    }
  };

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: RECORDS });
    await control('limits', { ten_second: 100_000, search_per_second: 1000 });
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) } });
    api = client(t.baseUrl, t.apiKey);
    receiver = await startReceiver();
    await ok(
      api('POST', '/webhooks', {
        body: { url: receiver.url, event_types: ['sync.complete', 'sync.paused'] },
      }),
      201,
    );
    syncConfigId = await setUpHubspotSync(api, await createTestDatabase(), syncConfig());
  });
  afterAll(async () => {
    await t?.stop();
    await receiver?.close();
    await sim?.close();
  });

  it('a connection gets a sync per object of the sync config, narrowed or widened by its own config, gone with it', async () => {
    const connectedAt = Date.now();
    const connection = await connect('lifecycle');
    const syncs = await syncsOf('lifecycle');
    expect(syncs.map((s) => s.object).sort()).toEqual(OBJECTS);
    for (const s of syncs) {
      expect(s).toMatchObject({ paused: false, connection_id: connection.id, sync_config_id: syncConfigId });
    }
    // auto_start_on_connection defaults to true: each first run starts within 5 s and is full.
    for (const object of OBJECTS) {
      const [first, ...more] = await endedRuns('lifecycle', object, 1);
      expect(more).toHaveLength(0);
      expect(first).toMatchObject({ status: 'SUCCESS', num_records_synced: RECORDS, error_message: null });
      expect(Date.parse(first!.start_timestamp) - connectedAt).toBeLessThan(5000);
    }
    await expectReported(await runsOf('lifecycle'));

    // The connection's standard_objects replace the sync config's list: narrowed to contacts…
    await ok(
      api('PUT', '/connection_sync_configs', {
        headers: headers('lifecycle'),
        body: { standard_objects: [{ object: 'contacts' }] },
      }),
    );
    const narrowed = await syncsOf('lifecycle');
    expect(narrowed.map((s) => s.id)).toEqual(syncs.filter((s) => s.object === 'contacts').map((s) => s.id));
    // …then widened with an object the sync config does not list; its sync starts at once.
    const widenedAt = Date.now();
    await ok(
      api('PUT', '/connection_sync_configs', {
        headers: headers('lifecycle'),
        body: { standard_objects: [{ object: 'contacts' }, { object: 'owners' }] },
      }),
    );
    const widened = await syncsOf('lifecycle');
    expect(widened.map((s) => s.object).sort()).toEqual(['contacts', 'owners']);
    expect(widened.find((s) => s.object === 'contacts')!.id).toBe(narrowed[0]!.id);
    const [owners] = await endedRuns('lifecycle', 'owners', 1);
    expect(owners).toMatchObject({ status: 'SUCCESS', num_records_synced: 3 });
    expect(Date.parse(owners!.start_timestamp) - widenedAt).toBeLessThan(5000);
    await expectReported([owners!]);

    // Without its own config, the connection follows the sync config again.
    await ok(api('DELETE', '/connection_sync_configs', { headers: headers('lifecycle') }), 204);
    expect((await syncsOf('lifecycle')).map((s) => s.object).sort()).toEqual(OBJECTS);
    for (const object of ['companies', 'deals']) await endedRuns('lifecycle', object, 1);

    // Deleting the connection deletes its syncs, and with them their run history.
    await ok(api('DELETE', '/customers/lifecycle/connections/hubspot'), 204);
    expect(await syncsOf('lifecycle')).toEqual([]);
    expect(await runsOf('lifecycle')).toEqual([]);
  });

  it('with auto_start_on_connection false the syncs exist paused and run only once resumed', async () => {
    await ok(
      api('PUT', `/sync_configs/${syncConfigId}`, {
        body: { config: syncConfig({ auto_start_on_connection: false }) },
      }),
    );
    try {
      await connect('manual');
      const syncs = await syncsOf('manual');
      expect(syncs.map((s) => s.object).sort()).toEqual(OBJECTS);
      for (const s of syncs) expect(s.paused).toBe(true);
      await sleep(3000);
      expect(await runsOf('manual')).toEqual([]);

      const resumedAt = Date.now();
      const resumed = await ok(pauseOrResume('_resume', 'manual', 'contacts'));
      expect(resumed.paused).toBe(false);
      const [run] = await endedRuns('manual', 'contacts', 1);
      expect(run).toMatchObject({ status: 'SUCCESS', num_records_synced: RECORDS });
      expect(Date.parse(run!.start_timestamp) - resumedAt).toBeLessThan(5000);
      await expectReported([run!]);
      // The others stay paused and have not run.
      expect((await runsOf('manual')).map((r) => r.object)).toEqual(['contacts']);
      expect(
        (await syncsOf('manual'))
          .filter((s) => s.paused)
          .map((s) => s.object)
          .sort(),
      ).toEqual(['companies', 'deals']);
    } finally {
      await ok(api('PUT', `/sync_configs/${syncConfigId}`, { body: { config: syncConfig() } }));
    }
    await ok(api('DELETE', '/customers/manual/connections/hubspot'), 204);
  });

  describe('strategies, triggers and pauses on one connection', () => {
    beforeAll(async () => {
      const before = await searches();
      await connect('acme');
      for (const object of OBJECTS) {
        const [first] = await endedRuns('acme', object, 1);
        expect(first).toMatchObject({ status: 'SUCCESS', num_records_synced: RECORDS });
      }
      // First runs are full: they list, they do not search.
      expect(await searches()).toBe(before);
    });

    it('full then incremental: after the first, full run, runs read only changes, through search', async () => {
      const changes = await control('mutate', { object: 'contacts', update: 7 });
      const second = await triggeredRun('acme', 'contacts');
      expectIncremental(second, RECORDS);
      expect(second.run.num_records_synced).toBeGreaterThanOrEqual(changes.updated.length);
      expectIncremental(await triggeredRun('acme', 'contacts'), RECORDS);
      await expectReported(await runsOf('acme', 'contacts'));
    });

    it('full only: every run is full', async () => {
      expectFull(await triggeredRun('acme', 'companies'), RECORDS);
      expectFull(await triggeredRun('acme', 'companies'), RECORDS);
      await expectReported(await runsOf('acme', 'companies'));
      // Out of the way of the search counts in later tests.
      await ok(pauseOrResume('_pause', 'acme', 'companies'));
    });

    it('full_sync_every_n_incrementals: 2 makes every third run after a full one full again', async () => {
      const modes: string[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await triggeredRun('acme', 'deals');
        const full = r.searches === 0;
        if (full) expectFull(r, RECORDS);
        else expectIncremental(r, RECORDS);
        modes.push(full ? 'full' : 'incremental');
      }
      expect(modes).toEqual(['incremental', 'incremental', 'full', 'incremental']);
      await expectReported(await runsOf('acme', 'deals'));
      await ok(pauseOrResume('_pause', 'acme', 'deals'));
    });

    it('perform_full_refresh forces one full run; the next is incremental again', async () => {
      expectFull(await triggeredRun('acme', 'contacts', true), RECORDS);
      expectIncremental(await triggeredRun('acme', 'contacts', false), RECORDS);
    });

    describe('with a slow provider', () => {
      beforeAll(async () => {
        await control('seed', { object: 'contacts', count: SLOW_RECORDS });
        await control('faults', { latency_ms: 50 });
      });
      afterAll(async () => {
        await control('faults', { latency_ms: 0 });
      });

      it('a run is IN_PROGRESS, then SUCCESS; triggers that arrive meanwhile are kept and run once, right after', async () => {
        const before = (await endedRuns('acme', 'contacts', 0)).length;
        await ok(trigger('acme', 'contacts', true));
        const running = await inProgress('acme', 'contacts', before + 1);
        expect(running).toMatchObject({ end_timestamp: null, error_message: null });
        const searchesBefore = await searches();
        // Two triggers during the run: one run follows, not zero (lost) and not two.
        await ok(trigger('acme', 'contacts'));
        await ok(trigger('acme', 'contacts'));

        const runs = await endedRuns('acme', 'contacts', before + 2);
        const [next, done] = [runs[0]!, runs[1]!];
        expect(done).toMatchObject({ id: running.id, status: 'SUCCESS', num_records_synced: SLOW_RECORDS });
        expectIncremental({ run: next, searches: (await searches()) - searchesBefore }, SLOW_RECORDS);
        // The kept trigger starts the next run as soon as the scheduler sees the first one end.
        expect(Date.parse(next.start_timestamp) - Date.parse(done.end_timestamp!)).toBeLessThan(3000);
        await sleep(2500);
        expect(await runsOf('acme', 'contacts')).toHaveLength(before + 2);
        await expectReported([next, done]);
      });

      it('pausing lets the run in flight finish, announces sync.paused, and holds every later run until resumed', async () => {
        const before = (await endedRuns('acme', 'contacts', 0)).length;
        await ok(trigger('acme', 'contacts', true));
        const running = await inProgress('acme', 'contacts', before + 1);
        await ok(trigger('acme', 'contacts'));
        const paused = await ok(pauseOrResume('_pause', 'acme', 'contacts'));
        expect(paused.paused).toBe(true);

        const [event] = await waitForEvents('sync.paused', { customer_id: 'acme', object: 'contacts' });
        expectSyncPaused(event, running.connection_id, 'Manually paused by user');

        // The run in flight finishes normally…
        const [done] = await endedRuns('acme', 'contacts', before + 1);
        expect(done).toMatchObject({ id: running.id, status: 'SUCCESS', num_records_synced: SLOW_RECORDS });
        await expectReported([done!]);
        // …but neither the pending trigger nor the schedule starts another while paused.
        await sleep(3000);
        expect(await runsOf('acme', 'contacts')).toHaveLength(before + 1);
        // Supaglue's trigger ignored the pause (a Temporal schedule trigger runs even when paused).
        // Trellis refuses it instead: a pause (by a user, or by Trellis after the provider revoked
        // the credentials) means "do not run", and accepting a trigger that does nothing would
        // mislead the caller. Resuming is the way to run a paused sync, and it runs at once.
        const refused = await trigger('acme', 'contacts');
        expect(refused.status, JSON.stringify(refused.body)).toBe(409);
        expect(JSON.stringify(refused.body)).toMatch(/paused/);
        expect((await syncOf('acme', 'contacts')).paused).toBe(true);
        await sleep(1500);
        expect(await runsOf('acme', 'contacts')).toHaveLength(before + 1);

        const resumedAt = Date.now();
        await ok(pauseOrResume('_resume', 'acme', 'contacts'));
        const [afterResume] = await endedRuns('acme', 'contacts', before + 2);
        expect(afterResume!.status).toBe('SUCCESS');
        expect(Date.parse(afterResume!.start_timestamp) - resumedAt).toBeLessThan(5000);
        await sleep(2000);
        expect(await runsOf('acme', 'contacts')).toHaveLength(before + 2);
        await expectReported([afterResume!]);
      });
    });

    it('a run job that arrives after another run served its sync (a late job) starts no run', async () => {
      // The scheduler hands out a due sync as a job; if a trigger's run served the sync before that
      // job was picked up, the job comes late. Delivered here by hand, as a worker would.
      const sync = await syncOf('acme', 'contacts');
      const before = (await endedRuns('acme', 'contacts', 0)).length;
      await runSync(t.runtime.deps, sync.id);
      expect(await runsOf('acme', 'contacts')).toHaveLength(before);
      // A run that is due still happens.
      expectIncremental(await triggeredRun('acme', 'contacts'), SLOW_RECORDS);
    });
  });

  it('revoked credentials: the run fails, the syncs pause with sync.paused, the connection is bad_credentials', async () => {
    const connection = await connect('revoked');
    for (const object of OBJECTS) await endedRuns('revoked', object, 1);
    await control('revoke', { refresh_token: refreshTokens.get('revoked') });
    await control('faults', { expire_tokens_now: true });

    await ok(trigger('revoked', 'contacts'));
    const [failed] = await endedRuns('revoked', 'contacts', 2);
    expect(failed).toMatchObject({ status: 'FAILURE', num_records_synced: 0 });
    expect(failed!.error_message).toEqual(expect.any(String));
    expect(failed!.end_timestamp).not.toBeNull();
    await expectReported(await runsOf('revoked'));

    const status = await ok(api('GET', '/customers/revoked/connections/hubspot'));
    expect(status).toMatchObject({ id: connection.id, status: 'bad_credentials' });
    const syncs = await syncsOf('revoked');
    for (const s of syncs) expect(s.paused, s.object).toBe(true);
    // One sync.paused per sync, each valid per the seed.
    for (const object of OBJECTS) {
      const [event, ...more] = await waitForEvents('sync.paused', { customer_id: 'revoked', object });
      expect(more).toHaveLength(0);
      expectSyncPaused(event, connection.id, expect.any(String));
    }
    // Nothing more runs on these credentials.
    expect((await trigger('revoked', 'deals')).status).toBe(409);
    await sleep(2000);
    expect(await runsOf('revoked')).toHaveLength(4);
  });

  it('removing an object from the sync config deletes its syncs, only with force_delete_syncs=true', async () => {
    const { standard_objects, ...rest } = syncConfig();
    const without = { ...rest, standard_objects: standard_objects.filter((o) => o.object !== 'deals') };
    const refused = await api('PUT', `/sync_configs/${syncConfigId}`, { body: { config: without } });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toMatch(/force_delete_syncs/);
    for (const customer of ['acme', 'revoked']) {
      expect((await syncsOf(customer)).map((s) => s.object).sort()).toEqual(OBJECTS);
    }
    await ok(
      api('PUT', `/sync_configs/${syncConfigId}`, {
        query: { force_delete_syncs: 'true' },
        body: { config: without },
      }),
    );
    for (const customer of ['acme', 'revoked']) {
      expect((await syncsOf(customer)).map((s) => s.object).sort()).toEqual(['companies', 'contacts']);
      expect((await runsOf(customer)).map((r) => r.object)).not.toContain('deals');
    }
  });

  it('every run in the history ended with one sync.complete that matches it and the seed schema', async () => {
    const runs = await until('no run in progress', async () => {
      const all: Run[] = (await ok(api('GET', '/sync-runs'))).results;
      return all.every((r) => r.status !== 'IN_PROGRESS') && all;
    });
    expect(runs.length).toBeGreaterThan(10);
    await expectReported(runs);
  });
});
