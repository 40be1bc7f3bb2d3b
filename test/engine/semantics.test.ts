import pg from 'pg';
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
import { until } from '../helpers/wait.ts';

/**
 * The sync engine's semantics as the Supaglue spec describes them, shown through what an API user
 * sees: the syncs (`GET /syncs`), the run history (`GET /sync-runs`), the webhooks, and — to tell
 * full runs from incremental ones — which HubSpot endpoints the simulator was asked for.
 */

const syncCompleteSchema = webhookSchema('sync.complete');
const syncPausedSchema = webhookSchema('sync.paused');

/**
 * An hour: no periodic run comes while this file runs, so every run a test sees was started by a
 * connection, a resume or a trigger — and "it ran" proves "it ran at once", however slow the machine.
 */
const PERIOD_MS = 3_600_000;
const RECORDS = 300;
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

describe('sync engine semantics, observed through syncs, run history and webhooks', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let syncConfigId: string;
  let warehouseUrl: string;
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
    // A trigger runs the sync now, not at its next period (an hour away): the run comes at all.
    const runs = await endedRuns(customer, object, before + 1);
    expect(runs).toHaveLength(before + 1);
    expect(Date.parse(runs[0]!.start_timestamp)).toBeGreaterThanOrEqual(triggeredAt);
    return { run: runs[0]!, searches: (await searches()) - searchesBefore };
  };

  /**
   * The sync as the engine sees it, from the control database (the API does not show it): when
   * the scheduler hands it out next (null: nothing scheduled), and whether it is settled — not
   * due, and held by no worker (neither claimed nor running). Any run the engine starts goes
   * through a due sync that a worker claims, so once settled, the run history shows every run
   * there is going to be until the next scheduled time.
   */
  const engineState = async (customer: string, object: string) => {
    const { rows } = await t.runtime.deps.db.query<{ nextRunAt: Date | null; settled: boolean }>(
      `select s.next_run_at as "nextRunAt",
                (s.next_run_at > now() or (s.next_run_at is null and s.paused))
                and not s.state ? 'checkpoint' as settled
           from syncs s where s.id = $1`,
      [(await syncOf(customer, object)).id],
    );
    return rows[0]!;
  };
  /** Waits until the sync is settled (see engineState); resolves with its next scheduled run. */
  const settled = async (customer: string, object: string) =>
    (
      await until(`${customer}/${object} to settle`, async () => {
        const state = await engineState(customer, object);
        return state.settled && state;
      })
    ).nextRunAt;
  /** Nothing more comes of what happened so far: the next run is the periodic one, an hour away. */
  const expectNothingPending = async (customer: string, object: string) => {
    const next = await settled(customer, object);
    expect(next, `next run of ${customer}/${object}`).not.toBeNull();
    expect(next!.getTime() - Date.now(), `next run of ${customer}/${object}`).toBeGreaterThan(PERIOD_MS / 2);
  };
  /** Paused, settled, with nothing scheduled: no run comes until it is resumed. */
  const expectHeld = async (customer: string, object: string) => {
    expect((await syncOf(customer, object)).paused, `${customer}/${object} paused`).toBe(true);
    expect(await settled(customer, object), `next run of ${customer}/${object}`).toBeNull();
  };
  /**
   * Blocks writes to the contacts table until released: a run that has read its records stays
   * IN_PROGRESS, on a machine of any speed, for as long as a test needs it in flight.
   */
  const holdContactWrites = async () => {
    const holder = new pg.Client({ connectionString: warehouseUrl });
    await holder.connect();
    await holder.query('begin');
    await holder.query('lock table crm.hubspot_contacts in share mode');
    return async () => {
      await holder.query('rollback');
      await holder.end();
    };
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

  /**
   * The events received, each once: a delivery that is retried (say, its answer came too late for
   * Trellis) arrives again with the same webhook-id, and is still one event.
   */
  const events = (type: string, match: Record<string, unknown> = {}): Event[] =>
    [...new Map(receiver.received.map((r) => [String(r.headers['webhook-id']), r])).values()]
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
    warehouseUrl = await createTestDatabase();
    syncConfigId = await setUpHubspotSync(api, warehouseUrl, syncConfig());
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
    // auto_start_on_connection defaults to true: each first run starts at once (the period is an
    // hour, so only the connection can have started it) and is full.
    for (const object of OBJECTS) {
      const [first, ...more] = await endedRuns('lifecycle', object, 1);
      expect(more).toHaveLength(0);
      expect(first).toMatchObject({ status: 'SUCCESS', num_records_synced: RECORDS, error_message: null });
      expect(Date.parse(first!.start_timestamp)).toBeGreaterThanOrEqual(connectedAt);
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
    expect(Date.parse(owners!.start_timestamp)).toBeGreaterThanOrEqual(widenedAt);
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
      // Paused with nothing scheduled: the scheduler never hands them out, so nothing runs.
      for (const object of OBJECTS) await expectHeld('manual', object);
      expect(await runsOf('manual')).toEqual([]);

      const resumedAt = Date.now();
      const resumed = await ok(pauseOrResume('_resume', 'manual', 'contacts'));
      expect(resumed.paused).toBe(false);
      // The resumed sync runs at once (its period is an hour), and only after the resume.
      const [run] = await endedRuns('manual', 'contacts', 1);
      expect(run).toMatchObject({ status: 'SUCCESS', num_records_synced: RECORDS });
      expect(Date.parse(run!.start_timestamp)).toBeGreaterThanOrEqual(resumedAt);
      await expectReported([run!]);
      // The others stay paused, with nothing scheduled, and have not run.
      for (const object of ['companies', 'deals']) await expectHeld('manual', object);
      expect((await runsOf('manual')).map((r) => r.object)).toEqual(['contacts']);
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
    });

    it('perform_full_refresh forces one full run; the next is incremental again', async () => {
      expectFull(await triggeredRun('acme', 'contacts', true), RECORDS);
      expectIncremental(await triggeredRun('acme', 'contacts', false), RECORDS);
    });

    describe('with a run held in flight', () => {
      it('a run is IN_PROGRESS, then SUCCESS; triggers that arrive meanwhile are kept and run once, right after', async () => {
        const before = (await endedRuns('acme', 'contacts', 0)).length;
        const release = await holdContactWrites();
        let running: Run;
        let searchesBefore: number;
        try {
          await ok(trigger('acme', 'contacts', true));
          running = await inProgress('acme', 'contacts', before + 1);
          expect(running).toMatchObject({ end_timestamp: null, error_message: null });
          searchesBefore = await searches();
          // Two triggers during the run: one run follows, not zero (lost) and not two.
          await ok(trigger('acme', 'contacts'));
          await ok(trigger('acme', 'contacts'));
          expect((await runsOf('acme', 'contacts'))[0]).toMatchObject({
            id: running.id,
            status: 'IN_PROGRESS',
          });
        } finally {
          await release();
        }

        const runs = await endedRuns('acme', 'contacts', before + 2);
        const [next, done] = [runs[0]!, runs[1]!];
        expect(done).toMatchObject({ id: running.id, status: 'SUCCESS', num_records_synced: RECORDS });
        expectIncremental({ run: next, searches: (await searches()) - searchesBefore }, RECORDS);
        // The kept trigger starts the next run once the first has ended (not an hour later, with the period).
        expect(Date.parse(next.start_timestamp)).toBeGreaterThanOrEqual(Date.parse(done.end_timestamp!));
        // Both triggers were served by that one run: nothing more is pending.
        await expectNothingPending('acme', 'contacts');
        expect(await runsOf('acme', 'contacts')).toHaveLength(before + 2);
        await expectReported([next, done]);
      });

      it('pausing lets the run in flight finish, announces sync.paused, and holds every later run until resumed', async () => {
        const before = (await endedRuns('acme', 'contacts', 0)).length;
        const release = await holdContactWrites();
        let running: Run;
        try {
          await ok(trigger('acme', 'contacts', true));
          running = await inProgress('acme', 'contacts', before + 1);
          await ok(trigger('acme', 'contacts'));
          const paused = await ok(pauseOrResume('_pause', 'acme', 'contacts'));
          expect(paused.paused).toBe(true);

          const [event] = await waitForEvents('sync.paused', { customer_id: 'acme', object: 'contacts' });
          expectSyncPaused(event, running.connection_id, 'Manually paused by user');
          expect((await runsOf('acme', 'contacts'))[0]).toMatchObject({
            id: running.id,
            status: 'IN_PROGRESS',
          });
        } finally {
          await release();
        }

        // The run in flight finishes normally…
        const [done] = await endedRuns('acme', 'contacts', before + 1);
        expect(done).toMatchObject({ id: running.id, status: 'SUCCESS', num_records_synced: RECORDS });
        await expectReported([done!]);
        // …but neither the pending trigger nor the schedule starts another while paused: nothing is
        // scheduled, and the scheduler hands out only unpaused syncs.
        await expectHeld('acme', 'contacts');
        expect(await runsOf('acme', 'contacts')).toHaveLength(before + 1);
        // Supaglue's trigger ignored the pause (a Temporal schedule trigger runs even when paused).
        // Trellis refuses it instead: a pause (by a user, or by Trellis after the provider revoked
        // the credentials) means "do not run", and accepting a trigger that does nothing would
        // mislead the caller. Resuming is the way to run a paused sync, and it runs at once.
        const refused = await trigger('acme', 'contacts');
        expect(refused.status, JSON.stringify(refused.body)).toBe(409);
        expect(JSON.stringify(refused.body)).toMatch(/paused/);
        await expectHeld('acme', 'contacts');
        expect(await runsOf('acme', 'contacts')).toHaveLength(before + 1);

        const resumedAt = Date.now();
        await ok(pauseOrResume('_resume', 'acme', 'contacts'));
        const [afterResume] = await endedRuns('acme', 'contacts', before + 2);
        expect(afterResume!.status).toBe('SUCCESS');
        expect(Date.parse(afterResume!.start_timestamp)).toBeGreaterThanOrEqual(resumedAt);
        // The resume and the trigger kept from before the pause make one run, not two.
        await expectNothingPending('acme', 'contacts');
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
      expectIncremental(await triggeredRun('acme', 'contacts'), RECORDS);
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

    // One sync.paused per sync, each valid per the seed. They are sent once the connection is
    // marked, which comes just after the failed run is recorded: wait for them before looking.
    for (const object of OBJECTS) {
      const [event, ...more] = await waitForEvents('sync.paused', { customer_id: 'revoked', object });
      expect(more).toHaveLength(0);
      expectSyncPaused(event, connection.id, expect.any(String));
    }
    const status = await ok(api('GET', '/customers/revoked/connections/hubspot'));
    expect(status).toMatchObject({ id: connection.id, status: 'bad_credentials' });
    // Nothing more runs on these credentials: each sync is paused with nothing scheduled, and a
    // trigger is refused.
    for (const object of OBJECTS) await expectHeld('revoked', object);
    expect((await trigger('revoked', 'deals')).status).toBe(409);
    for (const object of OBJECTS) await expectHeld('revoked', object);
    expect(await runsOf('revoked')).toHaveLength(4);
  });

  it('removing an object from the sync config deletes its syncs, only with force_delete_syncs=true', async () => {
    // A connection of its own, with a run of every object; connections of earlier tests are checked too.
    await connect('removal');
    for (const object of OBJECTS) await endedRuns('removal', object, 1);
    const allSyncs = async (): Promise<(Sync & { customer_id: string })[]> =>
      (await ok(api('GET', '/syncs', { query: { page_size: '1000' } }))).results;
    const before = await allSyncs();
    expect(
      before
        .filter((s) => s.customer_id === 'removal')
        .map((s) => s.object)
        .sort(),
    ).toEqual(OBJECTS);

    const { standard_objects, ...rest } = syncConfig();
    const without = { ...rest, standard_objects: standard_objects.filter((o) => o.object !== 'deals') };
    const refused = await api('PUT', `/sync_configs/${syncConfigId}`, { body: { config: without } });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toMatch(/force_delete_syncs/);
    expect(await allSyncs()).toEqual(before);
    await ok(
      api('PUT', `/sync_configs/${syncConfigId}`, {
        query: { force_delete_syncs: 'true' },
        body: { config: without },
      }),
    );
    expect(await allSyncs()).toEqual(before.filter((s) => s.object !== 'deals'));
    expect((await syncsOf('removal')).map((s) => s.object).sort()).toEqual(['companies', 'contacts']);
    const runs: Run[] = (await ok(api('GET', '/sync-runs', { query: { page_size: '1000' } }))).results;
    expect(runs.map((r) => `${r.customer_id}/${r.object}`)).toContain('removal/contacts');
    expect(runs.map((r) => r.object)).not.toContain('deals');
  });

  it('every run in the history ended with one sync.complete that matches it and the seed schema', async () => {
    // Runs of its own; with the whole file, the runs of every earlier test too.
    await connect('history');
    const objects = (await syncsOf('history')).map((s) => s.object);
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) await endedRuns('history', object, 1);
    const runs = await until('no run in progress', async () => {
      const all: Run[] = (await ok(api('GET', '/sync-runs', { query: { page_size: '1000' } }))).results;
      return all.every((r) => r.status !== 'IN_PROGRESS') && all;
    });
    expect(
      runs
        .filter((r) => r.customer_id === 'history')
        .map((r) => r.object)
        .sort(),
    ).toEqual(objects.sort());
    await expectReported(runs);
  });
}, 240_000);
