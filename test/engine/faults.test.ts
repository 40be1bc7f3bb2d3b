import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { simControl, simRecords } from '../helpers/simulator.ts';
import { endedRuns, syncHubspotIntoTestDatabase } from '../helpers/syncs.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

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
  const control = (path: string, body?: unknown) => simControl(sim.url, path, body);
  const liveIds = async (object: string) =>
    (await simRecords(sim.url, object))
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
    warehouse = await syncHubspotIntoTestDatabase(api, sim.url, 'contacts', 'companies');
  });
  afterAll(async () => {
    await warehouse?.end();
    await t?.stop();
    await sim?.close();
  });

  it('full runs land exactly the provider records', async () => {
    let expired = false;
    const [contacts] = await endedRuns(api, 'contacts', 1, async () => {
      // Once the run is under way, let the tokens expire: the provider's clock moves 31 s.
      if (!expired && (await control('stats')).requests['GET /crm/v3/objects/:type'] > 20) {
        expired = true;
        await control('clock', { advance_ms: 31_000 });
      }
    });
    const [companies] = await endedRuns(api, 'companies', 1);
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
    const [latest] = await endedRuns(api, 'contacts', 2);
    expect(latest, JSON.stringify(latest)).toMatchObject({ status: 'SUCCESS' });
    expect(await tableIds('contacts')).toEqual(await liveIds('contacts'));
    const { rows } = await warehouse.query<{ id: string }>(
      'select _supaglue_id as id from crm.hubspot_contacts where _supaglue_is_deleted',
    );
    expect(rows.map((r) => r.id).sort()).toEqual([...changes.deleted].sort());
    expect(t.logs.filter((l) => l.level >= 50)).toEqual([]);
  }, 120_000);
});
