import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator } from '../../simulators/core/server.ts';
import { SIMULATORS } from '../../simulators/index.ts';
import { createConnection } from '../../src/core/connections.ts';
import { claimDueSyncs, startScheduler } from '../../src/engine/scheduler.ts';
import { simControl, simOAuthProvider, simServed, simServedSince } from '../helpers/simulator.ts';
import { connectHubspot, endedRuns, setUpHubspotSync, warehouseDestination } from '../helpers/syncs.ts';
import {
  type Client,
  client,
  createTestDatabase,
  startTrellis,
  type TestTrellis,
} from '../helpers/trellis.ts';

/** An hour: no run in this file comes from a sync's period. */
const PERIOD_MS = 3_600_000;

async function ok(p: Promise<{ status: number; body: any }>, status = 200) {
  const res = await p;
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  return res.body;
}

describe('a run starts when its sync becomes due, not at the scheduler’s next look', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;

  beforeAll(async () => {
    sim = await startSimulator(SIMULATORS.hubspot!, { records: 20 });
    // No worker: the test starts the only scheduler itself.
    t = await startTrellis({
      roles: { api: true, worker: false },
      env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) },
    });
    api = client(t.baseUrl, t.apiKey);
    await setUpHubspotSync(api, await createTestDatabase(), {
      default_config: { period_ms: PERIOD_MS, strategy: 'full then incremental' },
      standard_objects: [{ object: 'contacts' }],
    });
  });
  afterAll(async () => {
    await t?.stop();
    await sim?.close();
  });

  /**
   * A scheduler whose own timer waits an hour, started when nothing is due: its first look finds
   * nothing, so only the notice that a sync became due can start a run before the hour is up.
   */
  const idleScheduler = () => startScheduler(t.runtime.deps, { maxIdleMs: PERIOD_MS });

  it('a new connection’s sync runs at once, and so does a triggered or resumed one', async () => {
    let scheduler = idleScheduler();
    try {
      await connectHubspot(api, (await simControl(sim.url, 'tokens', {})).refresh_token);
      expect((await endedRuns(api, 'contacts', 1))[0].status).toBe('SUCCESS');

      // A new scheduler that has seen no run end: nothing but the trigger's notice wakes it.
      await scheduler.stop();
      scheduler = idleScheduler();
      const target = { object_type: 'standard', object: 'contacts' };
      const headers = { 'x-customer-id': 'acme', 'x-provider-name': 'hubspot' };
      await ok(api('POST', '/syncs/_trigger', { headers, body: target }));
      expect((await endedRuns(api, 'contacts', 2))[0].status).toBe('SUCCESS');

      await ok(api('POST', '/syncs/_pause', { headers, body: target }));
      await scheduler.stop();
      scheduler = idleScheduler();
      await ok(api('POST', '/syncs/_resume', { headers, body: target }));
      expect((await endedRuns(api, 'contacts', 3))[0].status).toBe('SUCCESS');
    } finally {
      await scheduler.stop();
    }
  });
});

/**
 * One object of each provider whose API filters by modification time. HubSpot is not among them
 * yet: its reads ask for the object's property list first (decision 0024), so its empty
 * incremental costs three requests (properties, search, archived list); see decision 0025.
 */
const INCREMENTAL_OBJECTS: Record<string, string> = {
  salesforce: 'Contact',
  pipedrive: 'persons',
  apollo: 'contacts',
  gong: 'calls',
};

describe('an incremental run that finds nothing costs at most two provider requests', () => {
  const sims: Record<string, RunningSimulator> = {};
  let t: TestTrellis;
  let api: Client;

  beforeAll(async () => {
    // More records than any provider's pages hold in two requests: a read that is not
    // incremental could not keep within two.
    for (const provider of Object.keys(INCREMENTAL_OBJECTS))
      sims[provider] = await startSimulator(SIMULATORS[provider]!, { records: 1200 });
    t = await startTrellis({
      env: {
        TRELLIS_PROVIDER_OVERRIDES: JSON.stringify(
          Object.fromEntries(Object.entries(sims).map(([p, s]) => [p, s.url])),
        ),
      },
    });
    api = client(t.baseUrl, t.apiKey);
    await ok(api('POST', '/destinations', { body: warehouseDestination(await createTestDatabase()) }), 201);
    for (const [provider, object] of Object.entries(INCREMENTAL_OBJECTS)) {
      const providerBody =
        provider === 'gong'
          ? { auth_type: 'api_key', category: 'no_category', name: provider }
          : { ...simOAuthProvider(provider), category: provider === 'apollo' ? 'engagement' : 'crm' };
      await ok(api('POST', '/providers', { body: providerBody }), 201);
      await ok(
        api('POST', '/sync_configs', {
          body: {
            destination_name: 'warehouse',
            provider_name: provider,
            config: {
              default_config: { period_ms: PERIOD_MS, strategy: 'full then incremental' },
              standard_objects: [{ object }],
            },
          },
        }),
        201,
      );
    }
  });
  afterAll(async () => {
    await t?.stop();
    for (const sim of Object.values(sims)) await sim.close();
  });

  /** Connects a customer named after the provider to it, with credentials its simulator issues. */
  const connect = async (provider: string, simUrl: string) => {
    const customer = { customer_id: provider, name: provider, email: `it@${provider}.test` };
    await ok(api('PUT', '/customers', { body: customer }));
    const issued = await simControl(simUrl, 'tokens', {});
    if (provider === 'pipedrive') {
      // The Management API takes refresh tokens for HubSpot and Salesforce only; a Pipedrive
      // connection is stored as the end of its OAuth flow stores it.
      const { rows } = await t.runtime.deps.db.query<{ projectId: string }>(
        `select project_id as "projectId" from customers where external_id = $1`,
        [provider],
      );
      await createConnection(t.runtime.deps, rows[0]!.projectId, provider, {
        providerName: 'pipedrive',
        credentials: { authType: 'oauth2', refreshToken: issued.refresh_token, instanceUrl: simUrl },
      });
      return;
    }
    const credentials = issued.api_key
      ? { type: 'api_key', api_key: issued.api_key }
      : issued.access_key
        ? {
            type: 'access_key_secret',
            access_key: issued.access_key,
            access_key_secret: issued.access_key_secret,
          }
        : {
            type: 'oauth2',
            refresh_token: issued.refresh_token,
            ...(provider === 'salesforce' ? { instance_url: simUrl } : {}),
          };
    await ok(
      api('POST', `/customers/${provider}/connections`, {
        body: { provider_name: provider, ...credentials },
      }),
    );
  };

  it.each(Object.entries(INCREMENTAL_OBJECTS))('%s %s', async (provider, object) => {
    const sim = sims[provider]!;
    await connect(provider, sim.url);
    const [full] = await endedRuns(api, object, 1, undefined, provider);
    expect(full.status, full.error_message).toBe('SUCCESS');
    expect(full.num_records_synced).toBeGreaterThan(0);

    const before = await simServed(sim.url);
    await ok(
      api('POST', '/syncs/_trigger', {
        headers: { 'x-customer-id': provider, 'x-provider-name': provider },
        body: { object_type: 'standard', object },
      }),
    );
    const [empty] = await endedRuns(api, object, 2, undefined, provider);
    expect(empty.status, empty.error_message).toBe('SUCCESS');
    // Nothing changed; the watermark's minute of margin may read the newest seeded records again.
    expect(empty.num_records_synced).toBeLessThan(60);
    const served = await simServedSince(sim.url, before);
    const requests = Object.values(served).reduce((a, b) => a + b, 0);
    expect(requests, JSON.stringify(served)).toBeGreaterThan(0);
    expect(requests, JSON.stringify(served)).toBeLessThanOrEqual(2);
  });
});

describe('claiming due syncs: each connection within its run limit, the longest overdue first', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  /** Sync ids by customer, in the order they fall due. */
  const syncs: Record<string, string[]> = {};

  beforeAll(async () => {
    sim = await startSimulator(SIMULATORS.hubspot!, { records: 5 });
    // No worker: nothing claims but the test.
    t = await startTrellis({
      roles: { api: true, worker: false },
      env: {
        TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }),
        TRELLIS_SYNC_RUNS_PER_CONNECTION: '2',
      },
    });
    const api = client(t.baseUrl, t.apiKey);
    await setUpHubspotSync(api, await createTestDatabase(), {
      default_config: {
        period_ms: PERIOD_MS,
        strategy: 'full then incremental',
        auto_start_on_connection: false,
      },
      standard_objects: [{ object: 'contacts' }, { object: 'companies' }, { object: 'deals' }],
    });
    for (const customer of ['big', 'small']) {
      await connectHubspot(api, (await simControl(sim.url, 'tokens', {})).refresh_token, {
        customer_id: customer,
        name: customer,
        email: `${customer}@x.test`,
      });
    }
  });
  afterAll(async () => {
    await t?.stop();
    await sim?.close();
  });

  /**
   * Every sync due and held by nobody: big's three have waited 10, 9 and 8 minutes, small's three
   * 3, 2 and 1 minutes.
   */
  beforeEach(async () => {
    const { rows } = await t.runtime.deps.db.query<{ id: string; customer: string; dueAt: Date }>(
      `update syncs s set paused = false, state = '{}',
              next_run_at = now() - make_interval(mins => (case when cu.external_id = 'big' then 10 else 3 end - x.i)::int)
         from (select s2.id, row_number() over (partition by s2.connection_id order by s2.object) - 1 as i
                 from syncs s2) x, connections c, customers cu
        where x.id = s.id and c.id = s.connection_id and cu.id = c.customer_id
       returning s.id, cu.external_id as customer, s.next_run_at as "dueAt"`,
    );
    rows.sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime());
    for (const customer of ['big', 'small'])
      syncs[customer] = rows.filter((r) => r.customer === customer).map((r) => r.id);
    await t.runtime.deps.db.query(`update connections set status = 'working'`);
  });

  const claim = (slots: number) => claimDueSyncs(t.runtime.deps, slots);

  it('a connection at its limit gets no more runs while other connections’ due syncs are claimed', async () => {
    const [big, small] = [syncs.big!, syncs.small!];
    // Big's third sync is more overdue than all of small's, but big holds two already.
    expect(await claim(4)).toEqual([big[0], big[1], small[0], small[1]]);
    expect(await claim(4)).toEqual([]);
  });

  it('a run that ends frees its place for the connection’s next due sync', async () => {
    const [big, small] = [syncs.big!, syncs.small!];
    expect(await claim(3)).toEqual([big[0], big[1], small[0]]);
    // What the end of a run does: the sync is scheduled again.
    await t.runtime.deps.db.query(`update syncs set next_run_at = now() + interval '1 hour' where id = $1`, [
      big[0],
    ]);
    expect(await claim(3)).toEqual([big[2], small[1]]);
  });

  it('a held sync whose worker stopped reporting is claimed again before any due one', async () => {
    const [big, small] = [syncs.big!, syncs.small!];
    expect(await claim(2)).toEqual([big[0], big[1]]);
    // big[0]'s worker died a minute ago (the stale-run time is 20 s); big[1]'s is alive.
    await t.runtime.deps.db.query(
      `update syncs set state = jsonb_build_object('heartbeat', now() - interval '1 minute') where id = $1`,
      [big[0]],
    );
    expect(await claim(1)).toEqual([big[0]]);
    expect(await claim(1)).toEqual([small[0]]);
  });

  it('the syncs of a connection whose credentials the provider refused are not claimed', async () => {
    await t.runtime.deps.db.query(
      `update connections c set status = 'bad_credentials' from customers cu
        where cu.id = c.customer_id and cu.external_id = 'big'`,
    );
    expect(await claim(6)).toEqual([syncs.small![0], syncs.small![1]]);
  });
});
