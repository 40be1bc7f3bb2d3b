import { createCipheriv, randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { SEALED_COLUMNS, type SealedColumn, Vault } from '../../src/auth/vault.ts';
import { runTrellisCommand } from '../helpers/process.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { simControl, simOAuthProvider } from '../helpers/simulator.ts';
import { connectHubspot, endedRuns, hourlySyncConfig, setUpHubspotSync } from '../helpers/syncs.ts';
import {
  type Client,
  client,
  createTestDatabase,
  startTrellis,
  type TestTrellis,
} from '../helpers/trellis.ts';
import { until } from '../helpers/wait.ts';

const RECORDS = 20_000;

/**
 * Every sealed value in Trellis's tables, found by its format in every text column (not from the
 * vault's own list, so a secret column the rotation does not know shows up as unknown).
 */
async function sealedValues(db: pg.Client) {
  const { rows: columns } = await db.query<{ table: string; column: string }>(
    `select table_name as table, column_name as column from information_schema.columns
      where table_schema = 'trellis' and data_type = 'text'`,
  );
  const known = Object.values(SEALED_COLUMNS) as SealedColumn[];
  const values: { place: SealedColumn; row: string; sealed: string }[] = [];
  for (const { table, column } of columns) {
    const registered = known.find((p) => p.table === table && p.column === column);
    const place = registered ?? { table, column };
    // An unknown column's rows are named by their physical location: the test only reports them.
    const row = registered ? (registered.rowKey ?? 'id') : 'ctid';
    const { rows } = await db.query<{ row: string; sealed: string }>(
      `select ${row}::text as row, "${column}" as sealed from trellis."${table}"
        where "${column}" ~ '^v[12][.][A-Za-z0-9_-]+[.]'`,
    );
    values.push(...rows.map((r) => ({ place, ...r })));
  }
  return { values, unknown: values.filter((v) => !known.includes(v.place)) };
}

/** The first format (`v1.<iv>.<tag>.<ciphertext>`, no key id, no associated data), as older databases hold. */
function sealV1(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', ...[iv, cipher.getAuthTag(), ciphertext].map((b) => b.toString('base64url'))].join('.');
}

/**
 * `trellis keys rotate-encryption` on a populated database while a sync runs: every secret ends up
 * sealed under the new key, the platform then runs on the new key alone, and a sealed value moved
 * to another row does not open there.
 */
describe('encryption key rotation', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  let sim: RunningSimulator;
  let databaseUrl: string;
  let t: TestTrellis;
  let api: Client;
  let apiKey: string;
  let db: pg.Client;
  const env = () => ({ TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) });

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: RECORDS });
    await simControl(sim.url, 'limits', { ten_second: 100_000, search_per_second: 1000 });
    databaseUrl = await createTestDatabase();
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();

    // A database populated under the old key: providers, a destination, webhook endpoints,
    // connections, an OAuth state with a PKCE verifier.
    // No worker: a sync run here would refresh tokens under the old key before the rotation starts.
    const before = await startTrellis({
      databaseUrl,
      roles: { api: true, worker: false },
      env: { ...env(), TRELLIS_ENCRYPTION_KEY: oldKey.toString('hex') },
    });
    apiKey = before.apiKey;
    const oldApi = client(before.baseUrl, apiKey);
    const warehouseUrl = await createTestDatabase();
    await setUpHubspotSync(oldApi, warehouseUrl, hourlySyncConfig('contacts'));
    // Syncs wait until the rotation is under way: the provider is slow from the start.
    await simControl(sim.url, 'faults', { latency_ms: 40 });
    for (const customer of ['acme', 'globex', 'initech']) {
      await connectHubspot(oldApi, (await simControl(sim.url, 'tokens', {})).refresh_token, {
        customer_id: customer,
        name: customer,
        email: `it@${customer}.test`,
      });
    }
    expect((await oldApi('POST', '/providers', { body: simOAuthProvider('salesforce') })).status).toBe(201);
    // A connection no sync touches, so that its secret is still the old one when the rotation runs.
    const apollo = await oldApi('POST', '/customers/acme/connections', {
      body: { provider_name: 'apollo', type: 'api_key', api_key: 'apollo-key-1234567890' },
    });
    expect(apollo.status, JSON.stringify(apollo.body)).toBe(200);
    const hook = await oldApi('POST', '/webhooks', {
      body: { url: 'http://127.0.0.1:9/hook', event_types: [] },
    });
    expect(hook.status).toBe(201);
    const link = await oldApi('POST', '/magic_links', {
      body: {
        customer_id: 'acme',
        provider_name: 'salesforce',
        return_url: 'http://127.0.0.1:9/back',
        expiration_secs: 600,
      },
    });
    expect(link.status, JSON.stringify(link.body)).toBe(201);
    const started = await fetch(`${before.baseUrl}/links/${link.body.id}/oauth`, {
      method: 'POST',
      body: new URLSearchParams(),
      redirect: 'manual',
    });
    expect(started.status, await started.text()).toBe(303);
    await before.stop();
    // One secret still in the first format, as a database from before associated data would hold.
    const { rows } = await db.query<{ id: string; sealed: string }>(
      `select c.id, c.credentials_sealed as sealed from trellis.connections c
        where c.provider_name = 'apollo'`,
    );
    const legacy = new Vault(oldKey).open(rows[0]!.sealed, SEALED_COLUMNS.connectionCredentials, rows[0]!.id);
    await db.query('update trellis.connections set credentials_sealed = $2 where id = $1', [
      rows[0]!.id,
      sealV1(oldKey, legacy),
    ]);

    // The platform now runs with the new key, and the old one while the rotation runs.
    t = await startTrellis({
      databaseUrl,
      env: {
        ...env(),
        TRELLIS_ENCRYPTION_KEY: newKey.toString('hex'),
        TRELLIS_ENCRYPTION_KEY_PREVIOUS: oldKey.toString('hex'),
      },
    });
    api = client(t.baseUrl, apiKey);
  });
  afterAll(async () => {
    await db?.end();
    await t?.stop();
    await sim?.close();
  });

  it('re-seals every secret under the new key while a sync runs; then the new key alone serves, and a moved value opens nowhere else', async () => {
    const runs = async () =>
      (await api('GET', '/sync-runs', { query: { customer_id: 'acme' } })).body.results as {
        status: string;
      }[];
    for (let i = 0; i < 300 && (await runs())[0]?.status !== 'IN_PROGRESS'; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await runs())[0]?.status).toBe('IN_PROGRESS');
    // The running syncs save refreshed tokens under the new key already; once they have, what is
    // left under the old key is what the rotation must re-seal.
    const isNew = (sealed: string) => sealed.startsWith(`v2.${new Vault(newKey).keyId}.`);
    await until('the syncs to save their refreshed tokens', async () => {
      const { rows } = await db.query<{ sealed: string }>(
        `select credentials_sealed as sealed from trellis.connections where provider_name = 'hubspot'`,
      );
      return rows.every((r) => isNew(r.sealed));
    });
    const found = await sealedValues(db);
    expect(found.unknown).toEqual([]);
    const oldValues = found.values.filter((v) => !isNew(v.sealed));
    expect(new Set(oldValues.map((v) => v.place.table))).toEqual(
      new Set([
        'connections',
        'provider_apps',
        'destinations',
        'oauth_states',
        'webhook_endpoints',
        'settings',
      ]),
    );

    const rotation = await runTrellisCommand(['keys', 'rotate-encryption'], {
      DATABASE_URL: databaseUrl,
      TRELLIS_ENCRYPTION_KEY: newKey.toString('hex'),
      TRELLIS_ENCRYPTION_KEY_PREVIOUS: oldKey.toString('hex'),
    });
    expect(rotation.code, rotation.output).toBe(0);
    // The sync was still running while the secrets were re-sealed.
    expect((await runs())[0]?.status).toBe('IN_PROGRESS');
    const report = JSON.parse(rotation.output.slice(rotation.output.indexOf('{')));
    const resealed = report.tables.reduce((n: number, table: { resealed: number }) => n + table.resealed, 0);
    expect(resealed).toBe(oldValues.length);

    // Run again (as after an interruption): nothing is left to do.
    const again = await runTrellisCommand(['keys', 'rotate-encryption'], {
      DATABASE_URL: databaseUrl,
      TRELLIS_ENCRYPTION_KEY: newKey.toString('hex'),
      TRELLIS_ENCRYPTION_KEY_PREVIOUS: oldKey.toString('hex'),
    });
    expect(again.code, again.output).toBe(0);
    expect(
      JSON.parse(again.output.slice(again.output.indexOf('{'))).tables.every(
        (x: { resealed: number }) => x.resealed === 0,
      ),
    ).toBe(true);

    await simControl(sim.url, 'faults', { latency_ms: 0 });
    for (const customer of ['acme', 'globex', 'initech']) {
      const [latest] = await endedRuns(api, 'contacts', 1, undefined, customer);
      expect(latest, customer).toMatchObject({ status: 'SUCCESS', num_records_synced: RECORDS });
    }

    // Every value now opens with the new key alone, where it is.
    const newOnly = new Vault(newKey);
    for (const v of (await sealedValues(db)).values) {
      expect(v.sealed.startsWith(`v2.${newOnly.keyId}.`), `${v.place.table} ${v.row}`).toBe(true);
      expect(() => newOnly.open(v.sealed, v.place, v.row)).not.toThrow();
    }

    // The platform runs on the new key alone afterwards.
    await t.stop();
    t = await startTrellis({
      databaseUrl,
      env: { ...env(), TRELLIS_ENCRYPTION_KEY: newKey.toString('hex') },
    });
    api = client(t.baseUrl, apiKey);
    // Connection credentials and the provider's client secret (opened with every connection use),
    // then a webhook's secret and the destination's password.
    for (const customer of ['acme', 'initech']) {
      const user = await api('GET', `/customers/${customer}/connections/_provider_user_id`, {
        query: { provider_name: 'hubspot' },
      });
      expect(user.status, JSON.stringify(user.body)).toBe(200);
    }
    const receiver = await startReceiver();
    const hook = await api('POST', '/webhooks', {
      body: { url: receiver.url, event_types: ['sync.complete'] },
    });
    expect(hook.status).toBe(201);
    // The destination's password: a triggered run writes to the warehouse.
    const trigger = await api('POST', '/syncs/_trigger', {
      headers: { 'x-customer-id': 'globex', 'x-provider-name': 'hubspot' },
      body: { object_type: 'standard', object: 'contacts' },
    });
    expect(trigger.status).toBe(200);
    const [event] = await receiver.waitFor(1, 60_000);
    expect(JSON.parse(event!.body)).toMatchObject({ customer_id: 'globex', result: 'SUCCESS' });
    await receiver.close();

    // A sealed value moved to another row does not open there.
    const { rows } = await db.query<{ id: string; external: string; sealed: string }>(
      `select c.id, cu.external_id as external, c.credentials_sealed as sealed from trellis.connections c
         join trellis.customers cu on cu.id = c.customer_id
        where c.provider_name = 'hubspot' order by cu.external_id`,
    );
    const [acme, globex] = rows as [(typeof rows)[0], (typeof rows)[0]];
    const vault = new Vault(newKey);
    expect(() => vault.open(acme.sealed, SEALED_COLUMNS.connectionCredentials, globex.id)).toThrow();
    await db.query('update trellis.connections set credentials_sealed = $2 where id = $1', [
      globex.id,
      acme.sealed,
    ]);
    const moved = await api('GET', '/customers/globex/connections/_provider_user_id', {
      query: { provider_name: 'hubspot' },
    });
    expect(moved.status).toBeGreaterThanOrEqual(400);
    expect(JSON.stringify(moved.body)).not.toContain('refresh');
    expect(
      (
        await api('GET', '/customers/acme/connections/_provider_user_id', {
          query: { provider_name: 'hubspot' },
        })
      ).status,
    ).toBe(200);
  }, 180_000);
});
