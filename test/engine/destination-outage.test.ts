import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../src/db/embedded-postgres.ts';
import { createLogger } from '../../src/logger.ts';
import { freePort } from '../helpers/process.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

const RECORDS = 50_000;

const seedPath = path.resolve(import.meta.dirname, '../../../shared/seeds/001_supaglue_mgmt_v2.openapi.json');
const bundledPath = path.resolve(import.meta.dirname, '../../src/api/mgmt-v2/mgmt-v2.openapi.json');
const spec = JSON.parse(fs.readFileSync(fs.existsSync(seedPath) ? seedPath : bundledPath, 'utf8'));
const ajv = new Ajv2020({ strict: false });
ajv.addSchema(spec, 'seed');
const syncCompleteSchema = ajv.compile({
  $ref: 'seed#/webhooks/sync.complete/post/requestBody/content/application~1json/schema',
});

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

  /** A second, real PostgreSQL that this test stops and starts again on the same port. */
  const startWarehouse = () => startEmbeddedPostgres({ dataDir, port, log: pgLog });

  const simControl = async (p: string, body?: unknown) =>
    (
      await fetch(`${sim.url}/__sim/${p}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    ).json() as Promise<any>;

  const checkpointRecords = async () => {
    const { rows } = await t.runtime.deps.db.query<{ records: number | null }>(
      `select (state->'checkpoint'->>'records')::int as records from syncs where object = 'contacts'`,
    );
    return rows[0]?.records ?? null;
  };

  /** Waits until `count` runs have ended, and returns them newest first. */
  const endedRuns = async (count: number) => {
    for (let i = 0; i < 600; i++) {
      const runs = await api('GET', '/sync-runs', {
        query: { customer_id: 'acme', object_type: 'standard', object: 'contacts' },
      });
      const ended = runs.body.results.filter((r: { status: string }) => r.status !== 'IN_PROGRESS');
      if (ended.length >= count) return ended;
      await sleep(100);
    }
    throw new Error(`fewer than ${count} runs ended`);
  };

  beforeAll(async () => {
    port = await freePort();
    warehouse = await startWarehouse();
    sim = await startSimulator(hubspot, { records: RECORDS });
    await simControl('limits', { ten_second: 100_000, search_per_second: 1000 });
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) } });
    api = client(t.baseUrl, t.apiKey);
    receiver = await startReceiver();

    const ok = async (p: Promise<{ status: number; body: unknown }>) => {
      const res = await p;
      expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
    };
    const url = new URL(warehouse.url);
    await ok(api('POST', '/webhooks', { body: { url: receiver.url, event_types: ['sync.complete'] } }));
    await ok(
      api('POST', '/destinations', {
        body: {
          name: 'warehouse',
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
      }),
    );
    await ok(
      api('POST', '/providers', {
        body: {
          auth_type: 'oauth2',
          category: 'crm',
          name: 'hubspot',
          config: {
            provider_app_id: '',
            oauth: {
              oauth_scopes: ['oauth'],
              credentials: { oauth_client_id: 'sim-client-id', oauth_client_secret: 'sim-client-secret' },
            },
          },
        },
      }),
    );
    await ok(
      api('POST', '/sync_configs', {
        body: {
          destination_name: 'warehouse',
          provider_name: 'hubspot',
          config: {
            default_config: { period_ms: 3_600_000, strategy: 'full then incremental' },
            standard_objects: [{ object: 'contacts' }],
          },
        },
      }),
    );
    await ok(
      api('PUT', '/customers', { body: { customer_id: 'acme', name: 'Acme', email: 'it@acme.test' } }),
    );
  });

  afterAll(async () => {
    await t?.stop();
    await receiver?.close();
    await sim?.close();
    await warehouse?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('fails the run cleanly, keeps the worker up, and the next run lands exactly the provider records', async () => {
    const tokens = await simControl('tokens', {});
    const conn = await api('POST', '/customers/acme/connections', {
      body: { provider_name: 'hubspot', type: 'oauth2', refresh_token: tokens.refresh_token },
    });
    expect(conn.status).toBe(200);

    // Down after the first checkpoint: a batch is committed, the rest of the run is still to come.
    const deadline = Date.now() + 30_000;
    while (!((await checkpointRecords()) ?? 0)) {
      if (Date.now() > deadline) throw new Error('the run saved no checkpoint within 30 s');
      await sleep(20);
    }
    await warehouse.stop();

    const [failed] = await endedRuns(1);
    expect(failed).toMatchObject({ status: 'FAILURE', connection_id: conn.body.id });
    expect(failed.num_records_synced).toBeGreaterThan(0);
    expect(failed.num_records_synced).toBeLessThan(RECORDS);
    // The message says what failed: the destination, named, and why.
    expect(failed.error_message).toMatch(/destination "warehouse"/);
    expect(failed.error_message).toMatch(/terminat|ECONNREFUSED|shutting down|connect/i);

    const [delivery] = await receiver.waitFor(1, 30_000);
    const event = JSON.parse(delivery!.body);
    expect(syncCompleteSchema(event), JSON.stringify(syncCompleteSchema.errors)).toBe(true);
    expect(event).toMatchObject({
      webhook_event_type: 'sync.complete',
      run_id: failed.id,
      connection_id: conn.body.id,
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

    const [latest, first] = await endedRuns(2);
    expect(first.id).toBe(failed.id);
    expect(latest, JSON.stringify(latest)).toMatchObject({
      status: 'SUCCESS',
      num_records_synced: RECORDS,
      error_message: null,
    });
    const [, success] = await receiver.waitFor(2, 30_000);
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
      const simRecords = (await (await fetch(`${sim.url}/__sim/records/contacts`)).text())
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { id: string; record: { properties: object } });
      expect(rows).toHaveLength(RECORDS);
      expect(rows.filter((r) => r.deleted)).toEqual([]);
      const byId = new Map(rows.map((r) => [r.id, r]));
      expect(byId.size).toBe(RECORDS);
      for (const r of simRecords)
        expect(byId.get(r.id)?.raw.properties, `record ${r.id}`).toEqual(r.record.properties);
    } finally {
      await db.end();
    }
    expect(t.logs.filter((l) => l.level >= 50)).toEqual([]);
  }, 90_000);
});
