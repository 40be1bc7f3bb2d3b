import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { simControl, simRecords } from '../helpers/simulator.ts';
import { endedRuns, syncHubspotIntoTestDatabase } from '../helpers/syncs.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

const RECORDS = 20_000;
/** The page size of the HubSpot connector's full reads (`LIST_LIMIT` in src/connectors/hubspot). */
const LIST_PAGE_SIZE = 100;
const LIST_ROUTE = 'GET /crm/v3/objects/:type';
const FAULT_KINDS = ['drop', 'error', 'rate_limit', 'truncate'] as const;

interface SimStats {
  requests: Record<string, number>;
  faults_injected: Record<(typeof FAULT_KINDS)[number], number>;
  token_refreshes: number;
}

/**
 * Syncs complete with exact results while the provider misbehaves: 5% 5xx, 2% 429s with wait
 * hints, dropped connections, truncated bodies, and access tokens that die mid-run by the
 * provider's clock (Trellis learns it from the 401s) with rotating refresh tokens.
 */
describe('syncs under provider faults', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let warehouse: pg.Client;
  const control = (path: string, body?: unknown) => simControl(sim.url, path, body);
  const stats = (): Promise<SimStats> => control('stats');
  /** Requests served by the provider's API, which faults apply to (not /__sim, not OAuth). */
  const apiRequests = (s: SimStats) =>
    Object.entries(s.requests)
      .filter(([route]) => !/^\S+ \/(__sim|oauth)\//.test(route))
      .reduce((sum, [, n]) => sum + n, 0);
  const faultsInjected = (s: SimStats) => FAULT_KINDS.reduce((sum, kind) => sum + s.faults_injected[kind], 0);
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
    sim = await startSimulator(hubspot, { records: RECORDS });
    await control('limits', { ten_second: 100_000, search_per_second: 1000 });
    await control('faults', {
      error_rate: 0.05,
      rate_limit_rate: 0.02,
      rate_limit_retry_after_seconds: 1,
      drop_rate: 0.01,
      truncate_rate: 0.01,
      // Longer than the minute Trellis renews ahead, so tokens die by the provider's clock only.
      token_ttl_seconds: 600,
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
    let expiredAt: SimStats | undefined;
    const [contacts] = await endedRuns(api, 'contacts', 1, async () => {
      // Once the run is under way, let the tokens expire: the provider's clock moves 601 s, while
      // Trellis still takes them for valid, so only the provider's 401 can tell it.
      if (expiredAt) return;
      if (((await stats()).requests[LIST_ROUTE] ?? 0) > 20) {
        await control('clock', { advance_ms: 601_000 });
        expiredAt = await stats();
      }
    });
    const [companies] = await endedRuns(api, 'companies', 1);
    expect(contacts, JSON.stringify(contacts)).toMatchObject({
      status: 'SUCCESS',
      num_records_synced: RECORDS,
    });
    expect(companies, JSON.stringify(companies)).toMatchObject({
      status: 'SUCCESS',
      num_records_synced: RECORDS,
    });
    expect(expiredAt).toBeDefined();
    const atExpiry = expiredAt!;
    expect(await tableIds('contacts')).toEqual(await liveIds('contacts'));
    expect(await tableIds('companies')).toEqual(await liveIds('companies'));
    const served = await stats();
    const pages = 2 * Math.ceil(RECORDS / LIST_PAGE_SIZE);
    // The expired token was renewed, with the rotated refresh token saved each time: every token
    // issued before the clock moved is refused, and the runs still had pages to read then.
    expect(atExpiry.requests[LIST_ROUTE]).toBeLessThan(pages);
    // The runs' 401s led to a renewal, shared by both runs (one refresh, or one per run at most).
    const renewals = served.token_refreshes - atExpiry.token_refreshes;
    expect(renewals).toBeGreaterThanOrEqual(1);
    expect(renewals).toBeLessThanOrEqual(2);

    // Every kind of fault configured did happen during the runs...
    for (const kind of FAULT_KINDS) expect(served.faults_injected[kind], kind).toBeGreaterThan(0);
    // ...and every request a fault spoiled was made again: each page of both objects was served
    // whole once, besides the requests that got a fault instead. Other routes (properties, owners)
    // can have taken some of the faults, but no more than they served.
    const list = served.requests[LIST_ROUTE]!;
    const other = apiRequests(served) - list;
    expect(list).toBeGreaterThanOrEqual(pages + faultsInjected(served) - other);
    expect(list).toBeGreaterThan(pages);
  }, 120_000);

  it('incremental runs stay exact', async () => {
    // The full run of contacts comes first (whether or not the test above waited for it).
    await endedRuns(api, 'contacts', 1);
    await control('clock', { advance_ms: 120_000 });
    const before = await stats();
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
    // The changed records took a search page per 200 and the deleted ones an archived-list page,
    // each served once besides any request a fault spoiled.
    const served = await stats();
    const pages = Math.ceil((20 + 300) / 200) + Math.ceil(25 / LIST_PAGE_SIZE);
    expect(apiRequests(served) - apiRequests(before)).toBeGreaterThanOrEqual(
      pages + faultsInjected(served) - faultsInjected(before),
    );
    expect(t.logs.filter((l) => l.level >= 50)).toEqual([]);
  }, 120_000);
});
