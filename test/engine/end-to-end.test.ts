import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { PostgresWriter } from '../../src/destinations/postgres.ts';
import { simControl, simRecords } from '../helpers/simulator.ts';
import { endedRuns, syncHubspotIntoTestDatabase } from '../helpers/syncs.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

interface Row {
  _supaglue_id: string;
  _supaglue_is_deleted: boolean;
  _supaglue_raw_data: { id: string; properties: Record<string, string | null> };
  _supaglue_last_modified_at: Date;
}

describe('a HubSpot sync into a Postgres destination, through the API only', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let warehouse: pg.Client;
  const control = (path: string, body?: unknown) => simControl(sim.url, path, body);

  /** The table holds exactly the simulator's records: same ids, same properties, deletions flagged. */
  const expectTableEqualsSimulator = async (object: string) => {
    const { rows } = await warehouse.query<Row>(`select * from crm.hubspot_${object} order by _supaglue_id`);
    const records = await simRecords<{ properties: Record<string, string> }>(sim.url, object);
    const live = records.filter((r) => !r.deleted);
    const rowsById = new Map(rows.map((r) => [r._supaglue_id, r]));
    expect(
      rows
        .filter((r) => !r._supaglue_is_deleted)
        .map((r) => r._supaglue_id)
        .sort(),
    ).toEqual(live.map((r) => r.id).sort());
    for (const r of live) {
      const row = rowsById.get(r.id)!;
      expect(row._supaglue_raw_data.properties, `record ${r.id}`).toEqual(r.record.properties);
    }
    for (const r of records.filter((x) => x.deleted)) {
      const row = rowsById.get(r.id);
      if (row) expect(row._supaglue_is_deleted, `deleted record ${r.id}`).toBe(true);
    }
    return rows;
  };

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: 1500 });
    await control('limits', { ten_second: 5000, search_per_second: 100 });
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) } });
    api = client(t.baseUrl, t.apiKey);
    warehouse = await syncHubspotIntoTestDatabase(api, sim.url, 'contacts', 'companies');
  });
  afterAll(async () => {
    await warehouse?.end();
    await t?.stop();
    await sim?.close();
  });

  it('the first run lands exactly the simulator records, field by field', async () => {
    const [run] = await endedRuns(api, 'contacts', 1);
    expect(run).toMatchObject({ status: 'SUCCESS', num_records_synced: 1500, error_message: null });
    const rows = await expectTableEqualsSimulator('contacts');
    expect(rows).toHaveLength(1500);
    expect(rows[0]).toMatchObject({
      _supaglue_application_id: expect.any(String),
      _supaglue_provider_name: 'hubspot',
      _supaglue_customer_id: 'acme',
    });
    const [companies] = await endedRuns(api, 'companies', 1);
    expect(companies, JSON.stringify(companies)).toMatchObject({
      status: 'SUCCESS',
      num_records_synced: 1500,
    });
    await expectTableEqualsSimulator('companies');
  });

  it('after changes and deletions, the next incremental run makes the table equal again', async () => {
    // After the first, full run (the test before shows what it lands).
    const [first] = await endedRuns(api, 'contacts', 1);
    expect(first.status).toBe('SUCCESS');
    await control('clock', { advance_ms: 120_000 });
    const changes = await control('mutate', { object: 'contacts', create: 5, update: 40, delete: 7 });
    const trigger = await api('POST', '/syncs/_trigger', {
      headers: { 'x-customer-id': 'acme', 'x-provider-name': 'hubspot' },
      body: { object_type: 'standard', object: 'contacts' },
    });
    expect(trigger.status).toBe(200);
    const [latest, previous] = await endedRuns(api, 'contacts', 2);
    expect(latest.status).toBe('SUCCESS');
    expect(latest.num_records_synced, JSON.stringify([latest, previous])).toBeLessThan(300);
    // An incremental run reads only what changed (plus deletions), not the whole object.
    expect(latest.num_records_synced).toBeLessThan(300);
    expect(latest.num_records_synced).toBeGreaterThanOrEqual(
      new Set([...changes.created, ...changes.updated, ...changes.deleted]).size,
    );
    const rows = await expectTableEqualsSimulator('contacts');
    const deleted = rows.filter((r) => r._supaglue_is_deleted).map((r) => r._supaglue_id);
    expect(deleted.sort()).toEqual([...changes.deleted].sort());
  });

  it('a full refresh marks what the provider no longer has as deleted', async () => {
    // After the first run of companies, which created the table and filled it.
    const [first] = await endedRuns(api, 'companies', 1);
    expect(first.status).toBe('SUCCESS');
    // Deletions the incremental archive pass cannot see: records purged outright.
    await warehouse.query(
      `insert into crm.hubspot_companies select _supaglue_application_id, _supaglue_provider_name, _supaglue_customer_id,
         'ghost-1', _supaglue_emitted_at, _supaglue_last_modified_at, false, _supaglue_raw_data, _supaglue_mapped_data
       from crm.hubspot_companies limit 1`,
    );
    const trigger = await api('POST', '/syncs/_trigger', {
      headers: { 'x-customer-id': 'acme', 'x-provider-name': 'hubspot' },
      body: { object_type: 'standard', object: 'companies', perform_full_refresh: true },
    });
    expect(trigger.status).toBe(200);
    const [latest] = await endedRuns(api, 'companies', 2);
    expect(latest).toMatchObject({ status: 'SUCCESS', num_records_synced: 1500 });
    const { rows } = await warehouse.query(
      `select _supaglue_is_deleted from crm.hubspot_companies where _supaglue_id = 'ghost-1'`,
    );
    expect(rows[0]._supaglue_is_deleted).toBe(true);
    await expectTableEqualsSimulator('companies');
  });

  it("a full run that finds none of the customer's records in the table has nothing to mark deleted, and does not try", async () => {
    // As on a first sync: every row of the customer's is marked deleted already.
    await warehouse.query('update crm.hubspot_contacts set _supaglue_is_deleted = true');
    // Observed, not replaced: the writer still does the work.
    const sweeps = vi.spyOn(PostgresWriter.prototype, 'markUnseenDeleted');
    try {
      const trigger = await api('POST', '/syncs/_trigger', {
        headers: { 'x-customer-id': 'acme', 'x-provider-name': 'hubspot' },
        body: { object_type: 'standard', object: 'contacts', perform_full_refresh: true },
      });
      expect(trigger.status).toBe(200);
      const [latest] = await endedRuns(api, 'contacts', 3);
      expect(latest.status, latest.error_message ?? '').toBe('SUCCESS');
      expect(sweeps).not.toHaveBeenCalled();
      await expectTableEqualsSimulator('contacts');
    } finally {
      sweeps.mockRestore();
    }
  });
}, 180_000);
