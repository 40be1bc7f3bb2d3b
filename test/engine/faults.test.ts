import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import {
  type Client,
  client,
  createTestDatabase,
  startTrellis,
  type TestTrellis,
} from '../helpers/trellis.ts';

/**
 * Syncs complete with exact results while the provider misbehaves: 5% 5xx, 2% 429s with wait
 * hints, dropped connections, truncated bodies, and access tokens that live 30 s (expired mid-run
 * by moving the provider's clock) with rotating refresh tokens.
 */
describe('syncs under provider faults', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let warehouse: pg.Client;
  const control = async (path: string, body?: unknown) =>
    (
      await fetch(`${sim.url}/__sim/${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    ).json() as Promise<any>;
  const liveIds = async (object: string) =>
    (await (await fetch(`${sim.url}/__sim/records/${object}`)).text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; deleted: boolean })
      .filter((r) => !r.deleted)
      .map((r) => r.id)
      .sort();
  const tableIds = async (object: string) =>
    (
      await warehouse.query<{ id: string }>(
        `select _supaglue_id as id from crm.hubspot_${object} where not _supaglue_is_deleted order by 1`,
      )
    ).rows
      .map((r) => r.id)
      .sort();
  const ended = async (object: string) =>
    (await api('GET', '/sync-runs', { query: { object_type: 'standard', object } })).body.results.filter(
      (r: { status: string }) => r.status !== 'IN_PROGRESS',
    );
  const waitForRuns = async (object: string, count: number, whileWaiting?: () => Promise<void>) => {
    for (let i = 0; i < 600; i++) {
      const runs = await ended(object);
      if (runs.length >= count) return runs;
      await whileWaiting?.();
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`runs of ${object} did not end`);
  };

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: 20_000 });
    await control('limits', { ten_second: 100_000, search_per_second: 1000 });
    await control('faults', {
      error_rate: 0.05,
      rate_limit_rate: 0.02,
      rate_limit_retry_after_seconds: 1,
      drop_rate: 0.01,
      truncate_rate: 0.01,
      token_ttl_seconds: 30,
      rotate_refresh_tokens: true,
    });
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) } });
    api = client(t.baseUrl, t.apiKey);
    const url = new URL(await createTestDatabase());
    warehouse = new pg.Client({ connectionString: url.toString() });
    await warehouse.connect();
    const oauth = {
      oauth_scopes: [],
      credentials: { oauth_client_id: 'sim-client-id', oauth_client_secret: 'sim-client-secret' },
    };
    const calls: [string, string, unknown][] = [
      [
        'POST',
        '/destinations',
        {
          name: 'wh',
          type: 'postgres',
          config: {
            host: url.hostname,
            port: Number(url.port),
            database: url.pathname.slice(1),
            schema: 'crm',
            user: decodeURIComponent(url.username),
            password: decodeURIComponent(url.password),
          },
        },
      ],
      [
        'POST',
        '/providers',
        { auth_type: 'oauth2', category: 'crm', name: 'hubspot', config: { provider_app_id: '', oauth } },
      ],
      [
        'POST',
        '/sync_configs',
        {
          destination_name: 'wh',
          provider_name: 'hubspot',
          config: {
            default_config: { period_ms: 3_600_000, strategy: 'full then incremental' },
            standard_objects: [{ object: 'contacts' }, { object: 'companies' }],
          },
        },
      ],
      ['PUT', '/customers', { customer_id: 'acme', name: 'Acme', email: 'it@acme.test' }],
    ];
    for (const [method, path, body] of calls)
      expect((await api(method, path, { body })).status).toBeLessThan(300);
    const tokens = await control('tokens', {});
    const conn = await api('POST', '/customers/acme/connections', {
      body: { provider_name: 'hubspot', type: 'oauth2', refresh_token: tokens.refresh_token },
    });
    expect(conn.status).toBe(200);
  });
  afterAll(async () => {
    await warehouse?.end();
    await t?.stop();
    await sim?.close();
  });

  it('full runs land exactly the provider records', async () => {
    let expired = false;
    const [contacts] = await waitForRuns('contacts', 1, async () => {
      // Once the run is under way, let the tokens expire: the provider's clock moves 31 s.
      if (!expired && (await control('stats')).requests['GET /crm/v3/objects/:type'] > 20) {
        expired = true;
        await control('clock', { advance_ms: 31_000 });
      }
    });
    const [companies] = await waitForRuns('companies', 1);
    expect(contacts, JSON.stringify(contacts)).toMatchObject({
      status: 'SUCCESS',
      num_records_synced: 20_000,
    });
    expect(companies, JSON.stringify(companies)).toMatchObject({
      status: 'SUCCESS',
      num_records_synced: 20_000,
    });
    expect(expired).toBe(true);
    expect(await tableIds('contacts')).toEqual(await liveIds('contacts'));
    expect(await tableIds('companies')).toEqual(await liveIds('companies'));
    // The expired token was renewed, with the rotated refresh token saved each time.
    expect((await control('stats')).token_refreshes).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('incremental runs stay exact', async () => {
    await control('clock', { advance_ms: 120_000 });
    const changes = await control('mutate', { object: 'contacts', create: 20, update: 300, delete: 25 });
    await api('POST', '/syncs/_trigger', {
      headers: { 'x-customer-id': 'acme', 'x-provider-name': 'hubspot' },
      body: { object_type: 'standard', object: 'contacts' },
    });
    const [latest] = await waitForRuns('contacts', 2);
    expect(latest, JSON.stringify(latest)).toMatchObject({ status: 'SUCCESS' });
    expect(await tableIds('contacts')).toEqual(await liveIds('contacts'));
    const { rows } = await warehouse.query<{ id: string }>(
      'select _supaglue_id as id from crm.hubspot_contacts where _supaglue_is_deleted',
    );
    expect(rows.map((r) => r.id).sort()).toEqual([...changes.deleted].sort());
    expect(t.logs.filter((l) => l.level >= 50)).toEqual([]);
  }, 120_000);
});
