import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { salesforce } from '../../simulators/salesforce/index.ts';
import { warehouseAt } from '../helpers/mgmt-fixtures.ts';
import { simControl, simOAuthProvider, simRecords, simServed } from '../helpers/simulator.ts';
import { endedRuns } from '../helpers/syncs.ts';
import {
  type Client,
  client,
  createTestDatabase,
  startTrellis,
  type TestTrellis,
} from '../helpers/trellis.ts';

/**
 * Custom objects through the Management API alone: a sync config's `custom_objects` names a
 * HubSpot custom object type (by its internal name, as Supaglue's configs did) or a Salesforce
 * `__c` object; a customer connects; the first run lands exactly the provider's records, and after
 * changes at the provider the next run delivers exactly those changes, deletions marked.
 */

interface Row {
  _supaglue_id: string;
  _supaglue_is_deleted: boolean;
  _supaglue_emitted_at: Date;
  _supaglue_raw_data: Record<string, unknown>;
}

const CASES = [
  {
    provider: 'hubspot',
    simulator: hubspot,
    scopes: ['oauth', 'crm.objects.custom.read', 'crm.schemas.custom.read'],
    object: 'invoice',
    simObject: `p${hubspot.account.accountId}_invoice`,
    table: 'hubspot_invoice',
    records: 1200,
    fullRead: 'GET /crm/v3/objects/:type',
    limits: { ten_second: 5000, search_per_second: 100 },
    /** The record as the connector keeps it: HubSpot's object as the API lists it. */
    raw: (record: Record<string, unknown>) => record,
    /** HubSpot keeps modification times to the millisecond: an incremental read repeats nothing. */
    stampToTheSecond: undefined,
  },
  {
    provider: 'salesforce',
    simulator: salesforce,
    scopes: ['api', 'refresh_token'],
    object: 'Invoice__c',
    simObject: 'Invoice__c',
    table: 'salesforce_invoice__c',
    // Past the connector's threshold for a Bulk API 2.0 export on full reads.
    records: 10_500,
    fullRead: 'POST /services/data/:version/jobs/query',
    limits: { daily_api_requests: 1_000_000 },
    /** The record as the connector keeps it: the REST record without its `attributes`. */
    raw: ({ attributes: _, ...fields }: Record<string, unknown>) => fields,
    /**
     * Salesforce keeps modification stamps to the second, so an incremental read starts at the
     * second its watermark falls in (a change later in that second would be missed otherwise):
     * the records stamped earlier in that second come again, unchanged.
     */
    stampToTheSecond: (raw: Record<string, unknown>) => Date.parse(String(raw.SystemModstamp)),
  },
] as const;

describe.each(CASES)('a $provider custom object synced through /mgmt/v2', (c) => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let warehouse: pg.Client;
  const control = (path: string, body?: unknown) => simControl(sim.url, path, body);
  const target = { object_type: 'custom', object: c.object } as const;

  /** The table holds exactly the simulator's records: the same ids, the same values, deletions flagged. */
  const expectTableEqualsSimulator = async () => {
    const { rows } = await warehouse.query<Row>(`select * from crm.${c.table}`);
    const records = await simRecords<Record<string, unknown>>(sim.url, c.simObject);
    const live = records.filter((r) => !r.deleted);
    expect(
      rows
        .filter((r) => !r._supaglue_is_deleted)
        .map((r) => r._supaglue_id)
        .sort(),
    ).toEqual(live.map((r) => r.id).sort());
    const rowsById = new Map(rows.map((r) => [r._supaglue_id, r]));
    for (const r of live) {
      expect(rowsById.get(r.id)!._supaglue_raw_data, `record ${r.id}`).toEqual(c.raw(r.record));
    }
    for (const r of records.filter((x) => x.deleted)) {
      const row = rowsById.get(r.id);
      if (row) expect(row._supaglue_is_deleted, `deleted record ${r.id}`).toBe(true);
    }
    return { rows, live };
  };

  beforeAll(async () => {
    sim = await startSimulator(c.simulator, { records: 300 });
    await control('limits', c.limits);
    await control('seed', { object: c.simObject, count: c.records });
    t = await startTrellis({
      env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ [c.provider]: sim.url }) },
    });
    api = client(t.baseUrl, t.apiKey);
    const databaseUrl = await createTestDatabase();
    const ok = async (call: Promise<{ status: number; body: any }>, status: number) => {
      const res = await call;
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      return res.body;
    };
    await ok(
      api('POST', '/destinations', {
        body: { name: 'warehouse', type: 'postgres', config: warehouseAt(databaseUrl, 'crm') },
      }),
      201,
    );
    await ok(api('POST', '/providers', { body: simOAuthProvider(c.provider, [...c.scopes]) }), 201);
    await ok(
      api('POST', '/sync_configs', {
        body: {
          destination_name: 'warehouse',
          provider_name: c.provider,
          config: {
            default_config: { period_ms: 3_600_000, strategy: 'full then incremental' },
            custom_objects: [{ object: c.object }],
          },
        },
      }),
      201,
    );
    await ok(
      api('PUT', '/customers', { body: { customer_id: 'acme', name: 'Acme', email: 'it@acme.test' } }),
      200,
    );
    const { refresh_token } = await control('tokens', {});
    await ok(
      api('POST', '/customers/acme/connections', {
        body: {
          provider_name: c.provider,
          type: 'oauth2',
          refresh_token,
          ...(c.provider === 'salesforce' ? { instance_url: sim.url } : {}),
        },
      }),
      200,
    );
    warehouse = new pg.Client({ connectionString: databaseUrl });
    await warehouse.connect();
  });
  afterAll(async () => {
    await warehouse?.end();
    await t?.stop();
    await sim?.close();
  });

  it('the sync config reads back with its custom object, and the connection has a sync of it', async () => {
    const configs = await api('GET', '/sync_configs');
    expect(configs.body[0].config.custom_objects).toEqual([{ object: c.object }]);
    const syncs = await api('GET', '/syncs', { query: { customer_id: 'acme', provider_name: c.provider } });
    expect(syncs.status, JSON.stringify(syncs.body)).toBe(200);
    expect(syncs.body.results.map((s: any) => [s.object_type, s.object])).toEqual([['custom', c.object]]);
  });

  it('the first run lands exactly the simulator records, value by value', async () => {
    const [run] = await endedRuns(api, target, 1);
    expect(run).toMatchObject({ status: 'SUCCESS', error_message: null, num_records_synced: c.records });
    expect((await simServed(sim.url))[c.fullRead]).toBeGreaterThan(0);
    const { rows } = await expectTableEqualsSimulator();
    expect(rows).toHaveLength(c.records);
    expect(rows[0]).toMatchObject({ _supaglue_provider_name: c.provider, _supaglue_customer_id: 'acme' });
  });

  it('after creations, changes and deletions, the next run delivers exactly those, deletions marked', async () => {
    const [first] = await endedRuns(api, target, 1);
    expect(first.status).toBe('SUCCESS');
    await control('clock', { advance_ms: 120_000 });
    const changes = await control('mutate', { object: c.simObject, create: 4, update: 25, delete: 6 });
    const changed = [...changes.created, ...changes.updated, ...changes.deleted];
    const triggeredAt = new Date();
    const trigger = await api('POST', '/syncs/_trigger', {
      headers: { 'x-customer-id': 'acme', 'x-provider-name': c.provider },
      body: target,
    });
    expect(trigger.status, JSON.stringify(trigger.body)).toBe(200);
    const [latest] = await endedRuns(api, target, 2);
    expect(latest.status).toBe('SUCCESS');
    const { rows } = await expectTableEqualsSimulator();
    const written = rows.filter((r) => r._supaglue_emitted_at >= triggeredAt);
    expect(latest.num_records_synced).toBe(written.length);
    expect(written.map((r) => r._supaglue_id)).toEqual(expect.arrayContaining(changed));
    // Beyond the changes, only what the provider's stamp precision brings again (see the case).
    const watermark = Date.parse(first.start_timestamp) - 60_000;
    for (const row of written.filter((r) => !changed.includes(r._supaglue_id))) {
      expect(c.stampToTheSecond, `record ${row._supaglue_id} delivered again`).toBeDefined();
      const stamp = c.stampToTheSecond!(row._supaglue_raw_data);
      expect(Math.abs(stamp - watermark), `record ${row._supaglue_id} delivered again`).toBeLessThan(2000);
    }
    expect(
      rows
        .filter((r) => r._supaglue_is_deleted)
        .map((r) => r._supaglue_id)
        .sort(),
    ).toEqual([...changes.deleted].sort());
  });
}, 240_000);
