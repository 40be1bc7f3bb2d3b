import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { createProject } from '../../src/core/projects.ts';
import { createFixture, type Fixture, warehouseAt } from '../helpers/mgmt-fixtures.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { simControl, simOAuthProvider } from '../helpers/simulator.ts';
import { hourlySyncConfig } from '../helpers/syncs.ts';
import {
  type ApiResponse,
  type Client,
  client,
  createTestDatabase,
  startTrellis,
  type TestTrellis,
} from '../helpers/trellis.ts';

type CallOpts = NonNullable<Parameters<Client>[2]>;

/** One call, named by the operation it makes (`METHOD /path/{param}` as the spec writes it). */
interface Call {
  op: string;
  path: string;
  opts?: CallOpts;
}

interface Read extends Call {
  /** Drops what changes by itself between two reads (each use says why). */
  normalize?: (body: any) => any;
}

const SPEC = JSON.parse(
  fs.readFileSync(path.resolve(import.meta.dirname, '../../src/api/mgmt-v2/mgmt-v2.openapi.json'), 'utf8'),
);
/** Every operation of the Management API, plus Trellis's webhook endpoints (an extension). */
const OPERATIONS = [
  ...Object.entries(SPEC.paths as Record<string, Record<string, unknown>>).flatMap(([p, item]) =>
    Object.keys(item)
      .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
      .map((m) => `${m.toUpperCase()} ${p}`),
  ),
  'GET /webhooks',
  'POST /webhooks',
  'DELETE /webhooks/{webhook_id}',
  'GET /webhooks/{webhook_id}/deliveries',
];

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const DEADLINE_MS = 90_000;

/** Polls `read` until `done` holds for its value, which it returns. */
async function waitFor<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * A second project's key must not reach any row of the first project. Project A first gets one of
 * everything, including syncs that really ran against the HubSpot simulator and delivered their
 * events; then everything A can read is recorded through A's API. Project B tries every operation
 * on every id of A (404 each time), creates its own resources under A's names and customer id,
 * and never sees a row of A in its lists. Finally, A reads everything again and finds it unchanged.
 */
describe('tenant isolation', () => {
  let sim: RunningSimulator;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let t: TestTrellis;
  let a: Client;
  let b: Client;
  let db: pg.Client;
  let fx: Fixture;
  /** A's readable state before B did anything. */
  let before: Record<string, ApiResponse['body']>;
  /** Every id in A's readable state, A's project id among them. */
  let idsOfA: string[];
  const conn = (provider: string) => ({
    headers: { 'x-customer-id': fx.customerId, 'x-provider-name': provider },
  });
  const overrides = {
    standard_objects: [{ object: 'contacts', table: 'a_contacts' }, { object: 'companies' }],
  };

  const runsOfA = async () =>
    (await a('GET', '/sync-runs', { query: { customer_id: fx.customerId } })).body.results as {
      id: string;
      object: string;
      status: string;
    }[];

  /**
   * No sync run or webhook delivery is waiting or under way: nothing will change A on its own. A
   * sync run waits while its sync is due and runs while a worker holds it (decision 0025).
   */
  const queueIdle = () =>
    waitFor(
      'sync runs and webhook deliveries still queued',
      async () =>
        (
          await db.query<{ n: number }>(
            `select (select count(*) from pgboss.job
                      where name = 'webhook-delivery' and state in ('created', 'retry', 'active'))
                  + (select count(*) from trellis.syncs
                      where state ? 'checkpoint' or (not paused and (next_run_at is null or next_run_at <= now())))
                    ::int as n`,
          )
        ).rows[0]!.n,
      (n) => n === 0,
    );

  /** Every list and get operation A has, on every one of A's resources. */
  const reads = (): Read[] => {
    const c = fx.customerId;
    return [
      { op: 'GET /customers', path: '/customers' },
      { op: 'GET /customers/{customer_id}', path: `/customers/${c}` },
      { op: 'GET /customers/{customer_id}/connections', path: `/customers/${c}/connections` },
      {
        op: 'GET /customers/{customer_id}/connections/{provider_name}',
        path: `/customers/${c}/connections/apollo`,
      },
      {
        op: 'GET /customers/{customer_id}/connections/{provider_name}',
        path: `/customers/${c}/connections/hubspot`,
      },
      {
        op: 'GET /customers/{customer_id}/connections/_provider_user_id',
        path: `/customers/${c}/connections/_provider_user_id`,
        opts: { query: { provider_name: 'hubspot' } },
        // Read from the provider on each call: the token's remaining lifetime counts down with the
        // clock, and the simulator dates its owners a day before its current time.
        normalize: ({
          additional_raw_details: { expires_in: _ttl, ...token },
          raw_details: { createdAt: _created, updatedAt: _updated, ...owner },
          ...rest
        }) => ({ ...rest, raw_details: owner, additional_raw_details: token }),
      },
      {
        op: 'GET /customers/{customer_id}/connections/{provider_name}/_rate_limit_info',
        path: `/customers/${c}/connections/hubspot/_rate_limit_info`,
        // What is left of a rate-limit window changes with every call (these reads included) and
        // as windows reset; the limits themselves do not.
        normalize: (body) => JSON.parse(JSON.stringify(body, (k, v) => (k === 'remaining' ? undefined : v))),
      },
      { op: 'GET /destinations', path: '/destinations' },
      { op: 'GET /destinations/{destination_id}', path: `/destinations/${fx.destinationId}` },
      { op: 'GET /magic_links', path: '/magic_links' },
      { op: 'GET /field_mappings', path: '/field_mappings', opts: conn('hubspot') },
      { op: 'GET /entity_mappings', path: '/entity_mappings', opts: conn('hubspot') },
      { op: 'GET /schemas', path: '/schemas' },
      { op: 'GET /schemas/{schema_id}', path: `/schemas/${fx.schemaId}` },
      { op: 'GET /entities', path: '/entities' },
      { op: 'GET /entities/{entity_id}', path: `/entities/${fx.entityId}` },
      { op: 'GET /providers', path: '/providers' },
      { op: 'GET /providers/{provider_id}', path: `/providers/${fx.hubspotProviderId}` },
      { op: 'GET /providers/{provider_id}', path: `/providers/${fx.salesforceProviderId}` },
      { op: 'GET /sync_configs', path: '/sync_configs' },
      { op: 'GET /sync_configs/{sync_config_id}', path: `/sync_configs/${fx.syncConfigId}` },
      { op: 'GET /connection_sync_configs', path: '/connection_sync_configs', opts: conn('hubspot') },
      { op: 'GET /syncs', path: '/syncs' },
      { op: 'GET /syncs', path: '/syncs', opts: { query: { customer_id: c } } },
      { op: 'GET /sync-runs', path: '/sync-runs' },
      {
        op: 'GET /sync-runs',
        path: '/sync-runs',
        opts: { query: { customer_id: c, object_type: 'standard', object: 'contacts' } },
      },
      { op: 'GET /webhooks', path: '/webhooks' },
      { op: 'GET /webhooks/{webhook_id}/deliveries', path: `/webhooks/${fx.webhookId}/deliveries` },
    ];
  };

  /** Everything A reads, full bodies, by call. */
  const snapshot = async (): Promise<Record<string, ApiResponse['body']>> => {
    const out: Record<string, ApiResponse['body']> = {};
    for (const r of reads()) {
      const res = await a('GET', r.path, r.opts);
      const key = `${r.path} ${JSON.stringify(r.opts ?? {})}`;
      expect(res.status, `${key}: ${JSON.stringify(res.body)}`).toBe(200);
      out[key] = r.normalize ? r.normalize(res.body) : res.body;
    }
    return out;
  };

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: 25 });
    // The fixture's HubSpot app is a client the simulator knows, and its refresh token is real.
    await simControl(sim.url, 'clients', {
      client_id: 'hubspot-client-a',
      client_secret: 'client-secret-hubspot-client-a',
    });
    const tokens = await simControl(sim.url, 'tokens', { client_id: 'hubspot-client-a' });
    receiver = await startReceiver();
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) } });
    a = client(t.baseUrl, t.apiKey);
    b = client(t.baseUrl, (await createProject(t.runtime.deps.db, 'project-b')).apiKey);
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();

    // Project A: one of everything. The HubSpot connection starts syncing contacts and companies
    // into a real database as soon as it exists.
    const warehouse = warehouseAt(await createTestDatabase(), 'crm');
    fx = await createFixture(a, 'a', receiver.url, tokens.refresh_token, warehouse);
    const put = async (p: string, opts: CallOpts) => {
      const res = await a('PUT', p, opts);
      expect(res.status, `PUT ${p}: ${JSON.stringify(res.body)}`).toBe(200);
    };
    await put('/connection_sync_configs', { ...conn('hubspot'), body: overrides });
    await put('/field_mappings/_update_object', {
      ...conn('hubspot'),
      body: {
        name: 'contacts',
        type: 'standard',
        field_mappings: [
          { schema_field: 'score', mapped_field: 'hs_lead_score' },
          { schema_field: 'nickname', mapped_field: 'firstname' },
        ],
      },
    });
    await put(`/entity_mappings/${fx.entityId}`, {
      ...conn('hubspot'),
      body: {
        entity_id: fx.entityId,
        object: { type: 'standard', name: 'contacts' },
        field_mappings: [{ entity_field: 'full_name', mapped_field: 'firstname' }],
      },
    });
    const ended = (runs: { status: string }[]) => runs.every((r) => r.status !== 'IN_PROGRESS');
    await waitFor(
      'the first runs of contacts and companies',
      runsOfA,
      (runs) => ended(runs) && ['contacts', 'companies'].every((o) => runs.some((r) => r.object === o)),
    );
    // One more run, triggered now that the webhook exists: its sync.complete is delivered.
    const firstRuns = await runsOfA();
    const trigger = await a('POST', '/syncs/_trigger', {
      ...conn('hubspot'),
      body: { object_type: 'standard', object: 'contacts' },
    });
    expect(trigger.status, JSON.stringify(trigger.body)).toBe(200);
    const [latest] = await waitFor(
      'the triggered run',
      runsOfA,
      (runs) => runs.length > firstRuns.length && ended(runs),
    );
    await waitFor(
      'the delivery of the triggered run',
      async () => receiver.received.map((r) => JSON.parse(r.body).run_id),
      (runIds) => runIds.includes(latest!.id),
    );
    await queueIdle();
    before = await snapshot();
    idsOfA = [...new Set(JSON.stringify(before).match(UUID))];
  }, 180_000);
  afterAll(async () => {
    await db?.end();
    await t?.stop();
    await receiver?.close();
    await sim?.close();
  });

  it('project A has one of everything, syncs that ran included, and the check reads all of it', async () => {
    const body = (p: string, opts: CallOpts = {}) => before[`${p} ${JSON.stringify(opts)}`];
    const runs = body('/sync-runs').results;
    expect(runs.length).toBeGreaterThanOrEqual(3);
    for (const run of runs) {
      expect(run, JSON.stringify(run)).toMatchObject({ status: 'SUCCESS', customer_id: fx.customerId });
    }
    expect(runs.filter((r: { object: string }) => r.object === 'contacts').length).toBeGreaterThanOrEqual(2);
    expect(runs.find((r: { object: string }) => r.object === 'companies').num_records_synced).toBe(25);
    expect(
      body('/syncs')
        .results.map((s: { object: string }) => s.object)
        .sort(),
    ).toEqual(['companies', 'contacts']);
    const deliveries = body(`/webhooks/${fx.webhookId}/deliveries`);
    expect(deliveries.length).toBeGreaterThanOrEqual(1);
    expect(deliveries.every((d: { succeeded: boolean }) => d.succeeded)).toBe(true);
    expect(body('/connection_sync_configs', conn('hubspot'))).toEqual(overrides);
    expect(body(`/customers/${fx.customerId}/connections/hubspot`)).toMatchObject({
      status: 'working',
      connection_sync_config: overrides,
    });
    const contacts = body('/field_mappings', conn('hubspot')).find(
      (o: { object_name: string }) => o.object_name === 'contacts',
    );
    expect(contacts.fields).toContainEqual({
      name: 'score',
      is_added_by_customer: false,
      customer_mapped_name: 'hs_lead_score',
    });
    const person = body('/entity_mappings', conn('hubspot')).find(
      (e: { entity_id: string }) => e.entity_id === fx.entityId,
    );
    expect(person.object).toEqual({ type: 'standard', name: 'contacts', from: 'customer' });
    expect(body('/magic_links').map((m: { id: string }) => m.id)).toContain(fx.magicLinkId);
    expect(body('/webhooks').map((w: { id: string }) => w.id)).toContain(fx.webhookId);
    expect(body(`/customers/${fx.customerId}/connections`)).toHaveLength(2);
    expect(
      body(`/customers/${fx.customerId}/connections/_provider_user_id`, {
        query: { provider_name: 'hubspot' },
      }),
    ).toMatchObject({ user_id: expect.any(String) });

    // The snapshot covers every list and get operation there is.
    const readOps = new Set(reads().map((r) => r.op));
    expect(OPERATIONS.filter((op) => op.startsWith('GET ') && !readOps.has(op))).toEqual([]);
  });

  it("answers 404 to project B for every operation on every id of project A's", async () => {
    const c = fx.customerId;
    const sync = { object_type: 'standard', object: 'contacts' };
    const dataModel = { name: 'x', config: { fields: [], allow_additional_field_mappings: true } };
    const provider = {
      auth_type: 'oauth2',
      category: 'crm',
      name: 'hubspot',
      config: {
        provider_app_id: '',
        oauth: { oauth_scopes: [], credentials: { oauth_client_id: 'x', oauth_client_secret: 'y' } },
      },
    };
    const calls: Call[] = [
      { op: 'GET /customers/{customer_id}', path: `/customers/${c}` },
      { op: 'GET /customers/{customer_id}/connections', path: `/customers/${c}/connections` },
      {
        op: 'POST /customers/{customer_id}/connections',
        path: `/customers/${c}/connections`,
        opts: { body: { provider_name: 'apollo', type: 'api_key', api_key: 'x' } },
      },
      {
        op: 'GET /customers/{customer_id}/connections/_provider_user_id',
        path: `/customers/${c}/connections/_provider_user_id`,
        opts: { query: { provider_name: 'hubspot' } },
      },
      ...['apollo', 'hubspot'].flatMap((p): Call[] => [
        {
          op: 'GET /customers/{customer_id}/connections/{provider_name}',
          path: `/customers/${c}/connections/${p}`,
        },
        {
          op: 'GET /customers/{customer_id}/connections/{provider_name}/_rate_limit_info',
          path: `/customers/${c}/connections/${p}/_rate_limit_info`,
        },
        {
          op: 'DELETE /customers/{customer_id}/connections/{provider_name}',
          path: `/customers/${c}/connections/${p}`,
        },
      ]),
      { op: 'GET /destinations/{destination_id}', path: `/destinations/${fx.destinationId}` },
      {
        op: 'PUT /destinations/{destination_id}',
        path: `/destinations/${fx.destinationId}`,
        opts: {
          body: {
            name: 'stolen',
            type: 'postgres',
            version: 1,
            config: { host: 'h', port: 1, database: 'd', schema: 's', user: 'u' },
          },
        },
      },
      ...[fx.hubspotProviderId, fx.salesforceProviderId].flatMap((id): Call[] => [
        { op: 'GET /providers/{provider_id}', path: `/providers/${id}` },
        { op: 'PUT /providers/{provider_id}', path: `/providers/${id}`, opts: { body: provider } },
        { op: 'DELETE /providers/{provider_id}', path: `/providers/${id}` },
      ]),
      { op: 'GET /schemas/{schema_id}', path: `/schemas/${fx.schemaId}` },
      { op: 'PUT /schemas/{schema_id}', path: `/schemas/${fx.schemaId}`, opts: { body: dataModel } },
      { op: 'DELETE /schemas/{schema_id}', path: `/schemas/${fx.schemaId}` },
      { op: 'GET /entities/{entity_id}', path: `/entities/${fx.entityId}` },
      { op: 'PUT /entities/{entity_id}', path: `/entities/${fx.entityId}`, opts: { body: dataModel } },
      { op: 'DELETE /entities/{entity_id}', path: `/entities/${fx.entityId}` },
      { op: 'GET /sync_configs/{sync_config_id}', path: `/sync_configs/${fx.syncConfigId}` },
      {
        op: 'PUT /sync_configs/{sync_config_id}',
        path: `/sync_configs/${fx.syncConfigId}`,
        opts: { body: { config: { default_config: { period_ms: 60000, strategy: 'full only' } } } },
      },
      {
        op: 'DELETE /sync_configs/{sync_config_id}',
        path: `/sync_configs/${fx.syncConfigId}`,
        opts: { query: { force_delete_syncs: 'true' } },
      },
      {
        op: 'POST /magic_links',
        path: '/magic_links',
        opts: {
          body: {
            customer_id: c,
            provider_name: 'hubspot',
            return_url: 'https://x.test',
            expiration_secs: 60,
          },
        },
      },
      { op: 'DELETE /magic_links/{magic_link_id}', path: `/magic_links/${fx.magicLinkId}` },
      { op: 'GET /webhooks/{webhook_id}/deliveries', path: `/webhooks/${fx.webhookId}/deliveries` },
      { op: 'DELETE /webhooks/{webhook_id}', path: `/webhooks/${fx.webhookId}` },
      { op: 'GET /connection_sync_configs', path: '/connection_sync_configs', opts: conn('hubspot') },
      {
        op: 'PUT /connection_sync_configs',
        path: '/connection_sync_configs',
        opts: { ...conn('hubspot'), body: { standard_objects: [{ object: 'contacts' }] } },
      },
      { op: 'DELETE /connection_sync_configs', path: '/connection_sync_configs', opts: conn('hubspot') },
      { op: 'GET /field_mappings', path: '/field_mappings', opts: conn('hubspot') },
      {
        op: 'PUT /field_mappings/_update_object',
        path: '/field_mappings/_update_object',
        opts: {
          ...conn('hubspot'),
          body: {
            name: 'contacts',
            type: 'standard',
            field_mappings: [{ schema_field: 'score', mapped_field: 'x' }],
          },
        },
      },
      { op: 'GET /entity_mappings', path: '/entity_mappings', opts: conn('hubspot') },
      {
        op: 'PUT /entity_mappings/{entity_id}',
        path: `/entity_mappings/${fx.entityId}`,
        opts: {
          ...conn('hubspot'),
          body: { entity_id: fx.entityId, object: { type: 'standard', name: 'companies' } },
        },
      },
      {
        op: 'DELETE /entity_mappings/{entity_id}',
        path: `/entity_mappings/${fx.entityId}`,
        opts: conn('hubspot'),
      },
      { op: 'POST /syncs/_pause', path: '/syncs/_pause', opts: { ...conn('hubspot'), body: sync } },
      { op: 'POST /syncs/_resume', path: '/syncs/_resume', opts: { ...conn('hubspot'), body: sync } },
      {
        op: 'POST /syncs/_trigger',
        path: '/syncs/_trigger',
        opts: { ...conn('hubspot'), body: { ...sync, perform_full_refresh: true } },
      },
      { op: 'DELETE /customers/{customer_id}', path: `/customers/${c}` },
    ];
    for (const { op, path: p, opts } of calls) {
      const res = await b(op.split(' ')[0]!, p, opts);
      expect(res.status, `${op} (${p}): ${JSON.stringify(res.body)}`).toBe(404);
      expect(res.body.errors?.[0]?.code, op).toBe('NOT_FOUND_ERROR');
    }
    // Every operation on an existing resource was tried; the rest only create, and B does that below.
    const tried = new Set(calls.map((x) => x.op));
    const creations = ['PUT /customers', 'POST /destinations', 'POST /providers', 'POST /schemas'];
    creations.push('POST /entities', 'POST /sync_configs', 'POST /webhooks');
    expect(OPERATIONS.filter((op) => !op.startsWith('GET ') && !tried.has(op)).sort()).toEqual(
      creations.sort(),
    );
  });

  /** B's lists hold none of A's ids (nor A's project id), and B has no sync runs while A has. */
  const expectBListsClean = async () => {
    const listsOfB: Call[] = [
      '/customers',
      '/destinations',
      '/providers',
      '/schemas',
      '/entities',
      '/sync_configs',
      '/magic_links',
      '/webhooks',
      '/syncs',
      '/sync-runs',
    ].map((p) => ({ op: `GET ${p}`, path: p }));
    listsOfB.push({ op: 'GET /syncs', path: '/syncs', opts: { query: { customer_id: fx.customerId } } });
    listsOfB.push({
      op: 'GET /sync-runs',
      path: '/sync-runs',
      opts: { query: { customer_id: fx.customerId } },
    });
    for (const { path: p, opts } of listsOfB) {
      const res = await b('GET', p, opts);
      expect(res.status, p).toBe(200);
      const text = JSON.stringify(res.body);
      for (const id of idsOfA) expect(text.includes(id), `B's ${p} shows ${id} of A`).toBe(false);
    }
    expect((await runsOfA()).length).toBeGreaterThanOrEqual(3);
    const queries: Record<string, string>[] = [{}, { customer_id: fx.customerId }];
    for (const query of queries) {
      const runs = await b('GET', '/sync-runs', { query });
      expect(runs.body).toMatchObject({ results: [], total_count: 0 });
    }
  };

  it("project B's lists show none of project A's rows; B has no sync runs while A has", async () => {
    expect(idsOfA).toContain(fx.hubspotConnectionId);
    expect(idsOfA.length).toBeGreaterThan(15);
    await expectBListsClean();
  });

  it("project B's own resources under A's names and customer id stay in project B", async () => {
    const expectStatus = async (res: Promise<ApiResponse>, status: number) => {
      const r = await res;
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      return r.body;
    };
    const c = fx.customerId;
    await expectStatus(
      b('PUT', '/customers', { body: { customer_id: c, name: 'B-side', email: 'b@b.test' } }),
      200,
    );
    const apollo = await expectStatus(
      b('POST', `/customers/${c}/connections`, {
        body: { provider_name: 'apollo', type: 'api_key', api_key: 'apollo-key-b' },
      }),
      200,
    );
    await expectStatus(
      b('POST', '/destinations', {
        body: {
          name: fx.destinationName,
          type: 'postgres',
          config: { host: '127.0.0.1', port: 9, database: 'b', schema: 'b', user: 'b', password: 'b' },
        },
      }),
      201,
    );
    await expectStatus(b('POST', '/providers', { body: simOAuthProvider('hubspot') }), 201);
    const dataModel = { config: { fields: [{ name: 'email' }], allow_additional_field_mappings: true } };
    await expectStatus(b('POST', '/schemas', { body: { name: 'contact-schema-a', ...dataModel } }), 201);
    await expectStatus(b('POST', '/entities', { body: { name: 'person-a', ...dataModel } }), 201);
    await expectStatus(
      b('POST', '/sync_configs', {
        body: {
          destination_name: fx.destinationName,
          provider_name: 'hubspot',
          config: hourlySyncConfig('contacts'),
        },
      }),
      201,
    );
    await expectStatus(
      b('POST', '/magic_links', {
        body: {
          customer_id: c,
          provider_name: 'hubspot',
          return_url: 'https://b.test',
          expiration_secs: 600,
        },
      }),
      201,
    );
    await expectStatus(
      b('POST', '/webhooks', { body: { url: receiver.url, event_types: ['sync.complete'] } }),
      201,
    );

    // Same customer id, different customer: B's has only B's connection.
    const connections = await expectStatus(b('GET', `/customers/${c}/connections`), 200);
    expect(connections.map((x: { id: string }) => x.id)).toEqual([apollo.id]);
    expect(idsOfA).not.toContain(apollo.id);
    await expectBListsClean();
  });

  it("leaves every bit of project A's readable state as it was", async () => {
    await queueIdle();
    expect(await snapshot()).toEqual(before);
  });
});
