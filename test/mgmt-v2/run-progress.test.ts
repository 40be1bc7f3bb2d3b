import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { responseSchemas } from '../helpers/openapi-responses.ts';
import { simControl } from '../helpers/simulator.ts';
import { endedRuns, syncHubspotIntoTestDatabase } from '../helpers/syncs.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';
import { until } from '../helpers/wait.ts';

/**
 * A running run's progress on GET /mgmt/v2/sync-runs, as the Trellis extension `trellis_progress`:
 * records written so far (as each batch is saved), the rate and the time since it started, and
 * what the sync's biggest succeeded run wrote; none on ended runs. Answers stay within the seed's
 * shapes and meet the served document, which describes the extension.
 */
const RECORDS = 8_000;

describe('sync runs in progress', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let warehouse: pg.Client;

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: RECORDS, seed: 5 });
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) } });
    api = client(t.baseUrl, t.apiKey);
  });
  afterAll(async () => {
    await warehouse?.end();
    await t?.stop();
    await sim?.close();
  });

  it('show records so far, rate and elapsed time while a run goes, and nothing once it ended', async () => {
    // Pages slow enough that the run is seen between its batches (written every 5,000 records, or
    // every 2 s when pages come slower).
    await simControl(sim.url, 'faults', { latency_ms: 30 });
    warehouse = await syncHubspotIntoTestDatabase(api, sim.url, 'contacts');
    const seen = await until('a running run that has written records', async () => {
      const res = await api('GET', '/sync-runs', { query: { customer_id: 'acme', status: 'IN_PROGRESS' } });
      expect(res.status).toBe(200);
      const run = res.body.results[0];
      return run?.trellis_progress?.records > 0 ? run : undefined;
    });
    expect(seen.trellis_progress).toMatchObject({ expected_records: null });
    expect(seen.trellis_progress.records).toBeLessThan(RECORDS);
    // The pages written so far: of 200 contacts (searches of a partitioned read), a part-full last
    // one per partition at most.
    const { records, pages } = seen.trellis_progress;
    expect(pages).toBeGreaterThanOrEqual(Math.ceil(records / 200));
    expect(pages).toBeLessThan(Math.ceil(records / 200) + 16);
    expect(seen.trellis_progress.records_per_second).toBeGreaterThan(0);
    expect(seen.trellis_progress.elapsed_seconds).toBeGreaterThan(0);
    expect(Date.parse(seen.trellis_progress.reported_at)).toBeLessThanOrEqual(Date.now());

    const served = (await (await fetch(`${t.baseUrl}/mgmt/v2/openapi.json`)).json()) as object;
    const schemas = responseSchemas(served, { overlappingOneOf: ['Data model: Objects'] });
    const getSyncRuns = schemas.operationOf('GET', '/sync-runs')!;
    const validate = schemas.validator(getSyncRuns, 200)!;
    const page = { next: null, previous: null, total_count: 1, results: [seen] };
    expect(validate(page), schemas.errorsText(validate.errors)).toBe(true);
    expect(validate({ ...page, results: [{ ...seen, trellis_progress: { records: 'many' } }] })).toBe(false);

    await simControl(sim.url, 'faults', { latency_ms: 0 });
    const [ended] = await endedRuns(api, 'contacts', 1);
    expect(ended).toMatchObject({ status: 'SUCCESS', num_records_synced: RECORDS });
    expect(ended).not.toHaveProperty('trellis_progress');
  });

  it('expect a full refresh to come to what the biggest succeeded run wrote', async () => {
    await simControl(sim.url, 'faults', { latency_ms: 30 });
    const trigger = await api('POST', '/syncs/_trigger', {
      headers: { 'x-customer-id': 'acme', 'x-provider-name': 'hubspot' },
      body: { object_type: 'standard', object: 'contacts', perform_full_refresh: true },
    });
    expect(trigger.status).toBe(200);
    const seen = await until('the full refresh, running', async () => {
      const res = await api('GET', '/sync-runs', { query: { customer_id: 'acme', status: 'IN_PROGRESS' } });
      return res.body.results[0]?.trellis_progress;
    });
    expect(seen.expected_records).toBe(RECORDS);
    await simControl(sim.url, 'faults', { latency_ms: 0 });
  });
});
