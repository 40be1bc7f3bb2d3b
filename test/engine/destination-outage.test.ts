import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../src/db/embedded-postgres.ts';
import { createLogger } from '../../src/logger.ts';
import { portOutsideEphemeralRange } from '../helpers/process.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { webhookSchema } from '../helpers/seed-spec.ts';
import { simControl, simRecords } from '../helpers/simulator.ts';
import { connectHubspot, endedRuns, hourlySyncConfig, setUpHubspotSync } from '../helpers/syncs.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

const RECORDS = 50_000;

const syncCompleteSchema = webhookSchema('sync.complete');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the destination database goes down in the middle of a full run', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-outage-'));
  const pgLog = createLogger('warn');
  let port: number;
  let warehouse: EmbeddedPostgres;

  /**
   * A second, real PostgreSQL that this test stops and starts again on the same port: the
   * destination's address stays what it was, as after a real outage. The port lies outside the
   * kernel's ephemeral range, so nothing that asks for any free port, and no outgoing connection,
   * takes it while the database is down; should something bind exactly that port for a moment
   * (another test checking it is free), the start is tried again.
   */
  const startWarehouse = async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await startEmbeddedPostgres({ dataDir, port, log: pgLog });
      } catch (err) {
        if (attempt >= 20 || !/already in use/i.test(String(err))) throw err;
        await sleep(500);
      }
    }
  };

  const checkpointRecords = async () => {
    const { rows } = await t.runtime.deps.db.query<{ records: number | null }>(
      `select (state->'checkpoint'->>'records')::int as records from syncs where object = 'contacts'`,
    );
    return rows[0]?.records ?? null;
  };

  beforeAll(async () => {
    port = await portOutsideEphemeralRange();
    warehouse = await startWarehouse();
    sim = await startSimulator(hubspot, { records: RECORDS });
    await simControl(sim.url, 'limits', { ten_second: 100_000, search_per_second: 1000 });
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) } });
    api = client(t.baseUrl, t.apiKey);
    receiver = await startReceiver();

    const webhook = await api('POST', '/webhooks', {
      body: { url: receiver.url, event_types: ['sync.complete'] },
    });
    expect(webhook.status, JSON.stringify(webhook.body)).toBeLessThan(300);
    await setUpHubspotSync(api, warehouse.url, hourlySyncConfig('contacts'));
  });

  afterAll(async () => {
    await t?.stop();
    await receiver?.close();
    await sim?.close();
    await warehouse?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('fails the run cleanly, keeps the worker up, and the next run lands exactly the provider records', async () => {
    const connection = await connectHubspot(api, (await simControl(sim.url, 'tokens', {})).refresh_token);

    // Down after the first checkpoint: a batch is committed, the rest of the run is still to come.
    // From then on the table is locked, so the run's next write waits (IN_PROGRESS, on a machine
    // of any speed) and is cut off by the shutdown: the run cannot finish before the database is down.
    const holder = new pg.Client({ connectionString: warehouse.url });
    holder.on('error', () => {});
    await holder.connect();
    await holder.query('begin');
    const deadline = Date.now() + 120_000;
    while (!((await checkpointRecords()) ?? 0)) {
      if (Date.now() > deadline) throw new Error('the run saved no checkpoint within 120 s');
      await sleep(20);
    }
    await holder.query('lock table crm.hubspot_contacts in share mode');
    await warehouse.stop();
    await holder.end().catch(() => {});

    const [failed] = await endedRuns(api, 'contacts', 1);
    expect(failed).toMatchObject({ status: 'FAILURE', connection_id: connection.id });
    expect(failed.num_records_synced).toBeGreaterThan(0);
    expect(failed.num_records_synced).toBeLessThan(RECORDS);
    // The message says what failed: the destination, named, and why.
    expect(failed.error_message).toMatch(/destination "warehouse"/);
    expect(failed.error_message).toMatch(/terminat|ECONNREFUSED|shutting down|connect/i);

    const [delivery] = await receiver.waitFor(1, 120_000);
    const event = JSON.parse(delivery!.body);
    expect(syncCompleteSchema(event), JSON.stringify(syncCompleteSchema.errors)).toBe(true);
    expect(event).toMatchObject({
      webhook_event_type: 'sync.complete',
      run_id: failed.id,
      connection_id: connection.id,
      customer_id: 'acme',
      provider_name: 'hubspot',
      result: 'ERROR',
      error_message: failed.error_message,
      type: 'object',
      object_type: 'standard',
      object: 'contacts',
    });

    // Only the expected run failure was logged; nothing went unhandled.
    const failures = t.logs.filter((l) => l.msg === 'sync run failed');
    expect(failures).toHaveLength(1);
    expect(t.logs.filter((l) => l.level >= 50)).toEqual([]);

    // The database comes back on the same port; a trigger starts a run right away.
    warehouse = await startWarehouse();
    expect(new URL(warehouse.url).port).toBe(String(port));
    const trigger = await api('POST', '/syncs/_trigger', {
      headers: { 'x-customer-id': 'acme', 'x-provider-name': 'hubspot' },
      body: { object_type: 'standard', object: 'contacts' },
    });
    expect(trigger.status).toBe(200);

    const [latest, first] = await endedRuns(api, 'contacts', 2);
    expect(first.id).toBe(failed.id);
    expect(latest, JSON.stringify(latest)).toMatchObject({
      status: 'SUCCESS',
      num_records_synced: RECORDS,
      error_message: null,
    });
    const [, success] = await receiver.waitFor(2, 120_000);
    expect(JSON.parse(success!.body)).toMatchObject({
      run_id: latest.id,
      result: 'SUCCESS',
      num_records_synced: RECORDS,
    });

    const db = new pg.Client({ connectionString: warehouse.url });
    await db.connect();
    try {
      const { rows } = await db.query<{ id: string; deleted: boolean; raw: { properties: object } }>(
        `select _supaglue_id as id, _supaglue_is_deleted as deleted, _supaglue_raw_data as raw
           from crm.hubspot_contacts`,
      );
      const provider = await simRecords<{ properties: object }>(sim.url, 'contacts');
      expect(rows).toHaveLength(RECORDS);
      expect(rows.filter((r) => r.deleted)).toEqual([]);
      const byId = new Map(rows.map((r) => [r.id, r]));
      expect(byId.size).toBe(RECORDS);
      for (const r of provider)
        expect(byId.get(r.id)?.raw.properties, `record ${r.id}`).toEqual(r.record.properties);
    } finally {
      await db.end();
    }
    expect(t.logs.filter((l) => l.level >= 50)).toEqual([]);
  });
}, 240_000);
