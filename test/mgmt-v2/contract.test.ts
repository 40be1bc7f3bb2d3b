import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { createFixture, type Fixture } from '../helpers/mgmt-fixtures.ts';
import { responseSchemas } from '../helpers/openapi-responses.ts';
import { type ApiResponse, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

/**
 * Contract test of the Management API v2 against the Supaglue seed spec: every operation is
 * driven over real HTTP and every response is validated against the seed's schema for its
 * operation and status. The last test fails if any seed operation was not exercised.
 */

const here = import.meta.dirname ?? path.dirname(fileURLToPath(import.meta.url));
const SEED = path.resolve(here, '../../../shared/seeds/001_supaglue_mgmt_v2.openapi.json');
const BUNDLED = path.resolve(here, '../../src/api/mgmt-v2/mgmt-v2.openapi.json');

const spec = JSON.parse(fs.readFileSync(fs.existsSync(SEED) ? SEED : BUNDLED, 'utf8')) as object;
const schemas = responseSchemas(spec);

type Body = ApiResponse['body'];
interface CallOptions {
  body?: unknown;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  /** The status the call must answer. */
  status?: number;
  /** Skips schema validation; names the seed defect that makes the valid response fail it. */
  unvalidated?: string;
}

/** Operation id → statuses seen. */
const exercised = new Map<string, Set<number>>();
/** Values sent as secrets; no response may contain one. */
const secrets: string[] = [];
const WRITE_ONLY_KEYS = [
  'password',
  'client_key',
  'private_key',
  'api_key',
  'refresh_token',
  'access_key_secret',
];

function leakIn(node: unknown, at = '$'): string | undefined {
  if (Array.isArray(node)) return node.map((v, i) => leakIn(v, `${at}[${i}]`)).find(Boolean);
  if (!node || typeof node !== 'object') return undefined;
  for (const [k, v] of Object.entries(node)) {
    if (WRITE_ONLY_KEYS.includes(k)) return `${at}.${k}`;
    if (k === 'oauth_client_secret' && v !== '') return `${at}.${k}`;
    const found = leakIn(v, `${at}.${k}`);
    if (found) return found;
  }
  return undefined;
}

function expectErrorBody(body: Body, status: number): void {
  expect(body).toEqual({
    errors: [
      {
        id: expect.any(String),
        title: expect.any(String),
        detail: expect.any(String),
        problem_type: expect.any(String),
        code: expect.any(String),
        status: String(status),
        meta: { origin: status === 499 ? 'remote-provider' : 'supaglue' },
      },
    ],
  });
}

/** Records the operation and checks the response against the seed (and against leaking secrets). */
function check(method: string, urlPath: string, res: ApiResponse, opts: CallOptions): void {
  const what = `${method} ${urlPath} → ${res.status} ${JSON.stringify(res.body)}`;
  if (opts.status !== undefined) expect(res.status, what).toBe(opts.status);
  const text = typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
  for (const secret of secrets) expect(text, `${what} leaks a secret`).not.toContain(secret);
  expect(leakIn(res.body), `${what} returns a write-only field`).toBeUndefined();
  if (res.status >= 400) expectErrorBody(res.body, res.status);

  const op = schemas.operationOf(method, urlPath);
  if (!op) {
    // Webhook endpoints are a Trellis extension (the fixture registers one); the seed has no such path.
    expect(urlPath.startsWith('/webhooks'), `${method} ${urlPath} is not a seed operation`).toBe(true);
    return;
  }
  if (!exercised.has(op.id)) exercised.set(op.id, new Set());
  exercised.get(op.id)!.add(res.status);

  // A 204 has no body, whatever the seed declares (deleteCustomer/Schema/Entity declare one).
  if (res.status === 204) {
    expect(res.body, what).toBe('');
    return;
  }
  if (opts.unvalidated) return;
  const validate = schemas.validator(op, res.status);
  expect(validate, `${what}: the seed documents no ${res.status} for ${op.id}`).not.toBeUndefined();
  // No JSON schema in the seed (e.g. upsertEntityMapping's 200): the caller asserts the body.
  if (!validate) return;
  expect(validate(res.body), `${what}\n${op.id} ${res.status}: ${schemas.errorsText(validate.errors)}`).toBe(
    true,
  );
}

describe('Management API v2 contract (seed spec)', () => {
  let t: TestTrellis;
  let sim: RunningSimulator;
  let fx: Fixture;
  let projectId: string;

  async function api(method: string, urlPath: string, opts: CallOptions = {}): Promise<ApiResponse> {
    const res = await client(t.baseUrl, t.apiKey)(method, urlPath, opts);
    check(method, urlPath, res, opts);
    return res;
  }

  const connection = (customerId: string, providerName: string) => ({
    'x-customer-id': customerId,
    'x-provider-name': providerName,
  });

  beforeAll(async () => {
    // The HubSpot connection is real, against the simulator: the fixture's OAuth client is
    // registered there and its refresh token comes from it.
    sim = await startSimulator(hubspot, { records: 5 });
    const control = (path: string, body: unknown) =>
      fetch(`${sim.url}/__sim/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then((r) => r.json() as Promise<Body>);
    await control('clients', {
      client_id: 'hubspot-client-a',
      client_secret: 'client-secret-hubspot-client-a',
    });
    const tokens = await control('tokens', { client_id: 'hubspot-client-a' });
    secrets.push(tokens.refresh_token);
    // The API alone: this test is about the contract, and no sync engine runs alongside it.
    t = await startTrellis({
      roles: { api: true, worker: false },
      env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) },
    });
    fx = await createFixture(api, 'a', undefined, tokens.refresh_token);
    projectId = (await api('GET', `/customers/${fx.customerId}`, { status: 200 })).body.application_id;
  });
  afterAll(async () => {
    await t?.stop();
    await sim?.close();
  });

  it('answers 401 without a valid API key', async () => {
    for (const [method, urlPath] of [
      ['GET', '/customers'],
      ['POST', '/destinations'],
      ['GET', '/sync-runs'],
    ] as const) {
      const res = await fetch(new URL(`/mgmt/v2${urlPath}`, t.baseUrl), { method });
      const text = await res.text();
      check(
        method,
        urlPath,
        { status: res.status, headers: res.headers, body: JSON.parse(text) },
        { status: 401 },
      );
    }
    const wrongKey = await client(t.baseUrl, 'not-a-key')('DELETE', `/providers/${fx.salesforceProviderId}`);
    check('DELETE', `/providers/${fx.salesforceProviderId}`, wrongKey, { status: 401 });
  });

  it('customers: upsert, get, list, update, delete', async () => {
    const input = { customer_id: 'contract-customer', name: 'Contract Co', email: 'ops@contract.test' };
    const created = await api('PUT', '/customers', { body: input, status: 200 });
    expect(created.body).toEqual({ ...input, application_id: projectId, connections: [] });
    expect((await api('GET', '/customers/contract-customer', { status: 200 })).body).toEqual({
      ...input,
      application_id: projectId,
    });

    const updated = { ...input, name: 'Contract Company', email: 'hello@contract.test' };
    await api('PUT', '/customers', { body: updated, status: 200 });
    expect((await api('GET', '/customers/contract-customer', { status: 200 })).body).toEqual({
      ...updated,
      application_id: projectId,
    });
    const list = await api('GET', '/customers', { status: 200 });
    expect(list.body.map((c: Body) => c.customer_id)).toEqual(['contract-customer', fx.customerId]);

    // Upserting an existing customer returns its connections.
    const withConnections = await api('PUT', '/customers', {
      body: { customer_id: fx.customerId, name: 'Customer a', email: 'a@example.test' },
      status: 200,
    });
    expect(withConnections.body.connections.map((c: Body) => c.provider_name)).toEqual(['apollo', 'hubspot']);

    await api('PUT', '/customers', { body: { customer_id: 'no-email', name: 'x' }, status: 400 });
    await api('GET', '/customers/nobody', { status: 404 });
    await api('DELETE', '/customers/contract-customer', { status: 204 });
    await api('GET', '/customers/contract-customer', { status: 404 });
    await api('DELETE', '/customers/contract-customer', { status: 404 });
  });

  it('destinations: create, get, list, update; secrets never come back', async () => {
    secrets.push('contract-pg-password', 'contract-pg-client-key');
    const safe = {
      host: 'db.contract.test',
      port: 5433,
      database: 'analytics',
      schema: 'supaglue',
      user: 'writer',
      ssl_mode: 'require',
    };
    const created = await api('POST', '/destinations', {
      body: {
        name: 'contract-warehouse',
        type: 'postgres',
        config: { ...safe, password: 'contract-pg-password', client_key: 'contract-pg-client-key' },
      },
      status: 201,
    });
    expect(created.body).toEqual({
      id: expect.any(String),
      application_id: projectId,
      name: 'contract-warehouse',
      type: 'postgres',
      config: safe,
      version: expect.any(Number),
    });
    const id = created.body.id;
    expect((await api('GET', `/destinations/${id}`, { status: 200 })).body).toEqual(created.body);

    const list = await api('GET', '/destinations', { status: 200 });
    expect(list.body.map((d: Body) => d.type)).toEqual(['supaglue', 'postgres', 'postgres']);
    expect(list.body).toContainEqual(created.body);

    await api('POST', '/destinations', {
      body: { name: 'contract-warehouse', type: 'postgres', config: { ...safe, password: 'x' } },
      status: 409,
    });
    await api('POST', '/destinations', { body: { type: 'supaglue' }, status: 409 });
    const managed = list.body.find((d: Body) => d.type === 'supaglue');
    await api('PUT', `/destinations/${managed.id}`, {
      body: { name: 'mine', type: 'postgres', config: { ...safe, password: 'x' }, version: managed.version },
      status: 400,
    });

    // An update may leave the password out: the stored one is kept.
    const newSafe = {
      host: 'db2.contract.test',
      port: 5432,
      database: 'analytics2',
      schema: 'sg',
      user: 'w2',
    };
    const updated = await api('PUT', `/destinations/${id}`, {
      body: {
        name: 'contract-warehouse-2',
        type: 'postgres',
        config: newSafe,
        version: created.body.version,
      },
      status: 200,
    });
    expect(updated.body).toEqual({
      ...created.body,
      name: 'contract-warehouse-2',
      config: newSafe,
      version: created.body.version + 1,
    });
    expect((await api('GET', `/destinations/${id}`, { status: 200 })).body).toEqual(updated.body);
    await api('PUT', `/destinations/${id}`, {
      body: { name: 'stale', type: 'postgres', config: newSafe, version: created.body.version },
      status: 409,
    });

    // BigQuery: the service account's private key is sealed like the Postgres password.
    secrets.push('contract-bq-key-1', 'contract-bq-key-2');
    const bqSafe = {
      project_id: 'contract-gcp',
      dataset: 'crm',
      credentials: { client_email: 'sa@contract.test' },
    };
    const bq = await api('POST', '/destinations', {
      body: {
        name: 'contract-bq',
        type: 'bigquery',
        config: { ...bqSafe, credentials: { ...bqSafe.credentials, private_key: 'contract-bq-key-1' } },
      },
      status: 201,
    });
    expect(bq.body).toMatchObject({ name: 'contract-bq', type: 'bigquery', config: bqSafe });
    const bqNew = { ...bqSafe, dataset: 'crm_v2' };
    const bqUpdated = await api('PUT', `/destinations/${bq.body.id}`, {
      body: {
        name: 'contract-bq',
        type: 'bigquery',
        config: { ...bqNew, credentials: { ...bqNew.credentials, private_key: 'contract-bq-key-2' } },
        version: bq.body.version,
      },
      status: 200,
    });
    expect(bqUpdated.body).toEqual({ ...bq.body, config: bqNew, version: bq.body.version + 1 });
    expect((await api('GET', `/destinations/${bq.body.id}`, { status: 200 })).body).toEqual(bqUpdated.body);
    await api('PUT', `/destinations/${bq.body.id}`, {
      body: { name: 'x', type: 'postgres', config: newSafe, version: bqUpdated.body.version },
      status: 400,
    });

    await api('GET', '/destinations/00000000-0000-0000-0000-000000000000', { status: 404 });
    await api('PUT', '/destinations/not-an-id', {
      body: { name: 'x', type: 'postgres', config: newSafe, version: 1 },
      status: 404,
    });
  });

  for (const kind of ['schemas', 'entities'] as const) {
    it(`${kind}: create, get, list, update, delete`, async () => {
      const inUseId = kind === 'schemas' ? fx.schemaId : fx.entityId;
      const config =
        kind === 'schemas'
          ? {
              fields: [{ name: 'title', mapped_name: 'jobtitle' }, { name: 'phone' }],
              allow_additional_field_mappings: false,
            }
          : { fields: [{ name: 'title' }, { name: 'phone' }], allow_additional_field_mappings: false };
      const created = await api('POST', `/${kind}`, {
        body: { name: `contract-${kind}`, config },
        status: 201,
      });
      expect(created.body).toEqual({
        id: expect.any(String),
        application_id: projectId,
        name: `contract-${kind}`,
        config,
      });
      const id = created.body.id;
      expect((await api('GET', `/${kind}/${id}`, { status: 200 })).body).toEqual(created.body);
      const list = await api('GET', `/${kind}`, { status: 200 });
      expect(list.body.map((m: Body) => m.id)).toEqual([inUseId, id]);

      await api('POST', `/${kind}`, { body: { name: `contract-${kind}`, config }, status: 409 });
      await api('POST', `/${kind}`, {
        body: {
          name: 'dup-fields',
          config: { fields: [{ name: 'a' }, { name: 'a' }], allow_additional_field_mappings: true },
        },
        status: 400,
      });

      const newConfig = { fields: [{ name: 'title' }], allow_additional_field_mappings: true };
      const updated = await api('PUT', `/${kind}/${id}`, {
        body: { name: `contract-${kind}-2`, config: newConfig },
        status: 200,
      });
      expect(updated.body).toEqual({ ...created.body, name: `contract-${kind}-2`, config: newConfig });
      expect((await api('GET', `/${kind}/${id}`, { status: 200 })).body).toEqual(updated.body);
      const taken = (await api('GET', `/${kind}/${inUseId}`, { status: 200 })).body.name;
      await api('PUT', `/${kind}/${id}`, { body: { name: taken, config: newConfig }, status: 409 });
      await api('PUT', `/${kind}/not-an-id`, { body: { name: 'x', config: newConfig }, status: 404 });

      // The fixture's HubSpot provider uses the fixture's schema and entity.
      await api('DELETE', `/${kind}/${inUseId}`, { status: 409 });
      await api('DELETE', `/${kind}/${id}`, { status: 204 });
      await api('GET', `/${kind}/${id}`, { status: 404 });
      await api('DELETE', `/${kind}/${id}`, { status: 404 });
    });
  }

  it('providers: create, get, list, update, delete; the client secret is write-only', async () => {
    secrets.push('contract-oauth-secret', 'contract-oauth-secret-2');
    const list = await api('GET', '/providers', { status: 200 });
    expect(list.body.map((p: Body) => p.name).sort()).toEqual(['apollo', 'hubspot', 'salesforce']);

    const body = {
      auth_type: 'oauth2',
      category: 'crm',
      name: 'pipedrive',
      config: {
        provider_app_id: '',
        oauth: {
          oauth_scopes: ['deals:read', 'contacts:read'],
          credentials: { oauth_client_id: 'pd-client', oauth_client_secret: 'contract-oauth-secret' },
        },
      },
      objects: { standard: [{ name: 'persons', schema_id: fx.schemaId }], common: [{ name: 'contact' }] },
    };
    const created = await api('POST', '/providers', { body, status: 201 });
    const withoutSecret = (config: typeof body.config) => ({
      ...config,
      oauth: { ...config.oauth, credentials: { ...config.oauth.credentials, oauth_client_secret: '' } },
    });
    expect(created.body).toEqual({
      id: expect.any(String),
      application_id: projectId,
      auth_type: 'oauth2',
      category: 'crm',
      name: 'pipedrive',
      config: { ...withoutSecret(body.config), use_managed_oauth: false },
      objects: body.objects,
      entity_mappings: [],
    });
    const id = created.body.id;
    expect((await api('GET', `/providers/${id}`, { status: 200 })).body).toEqual(created.body);
    await api('POST', '/providers', { body, status: 409 });

    const update = {
      auth_type: 'oauth2',
      category: 'crm',
      name: 'pipedrive',
      config: {
        provider_app_id: 'pd-app-1',
        oauth: {
          oauth_scopes: ['deals:full'],
          credentials: { oauth_client_id: 'pd-client-2', oauth_client_secret: 'contract-oauth-secret-2' },
        },
      },
      objects: { standard: [{ name: 'deals' }] },
      entity_mappings: [
        {
          entity_id: fx.entityId,
          object: { type: 'standard', name: 'persons' },
          field_mappings: [{ entity_field: 'email', mapped_field: 'primary_email' }],
        },
      ],
    };
    const updated = await api('PUT', `/providers/${id}`, { body: update, status: 200 });
    expect(updated.body).toEqual({
      ...created.body,
      config: { ...withoutSecret(update.config), use_managed_oauth: false },
      objects: update.objects,
      entity_mappings: update.entity_mappings,
    });
    expect((await api('GET', `/providers/${id}`, { status: 200 })).body).toEqual(updated.body);
    await api('PUT', '/providers/00000000-0000-0000-0000-000000000000', { body: update, status: 404 });
    await api('PUT', `/providers/${id}`, { body: { ...update, name: 'hubspot' }, status: 400 });

    // The API-key branch of create_provider (no_category providers, no OAuth config).
    const intercom = await api('POST', '/providers', {
      body: { auth_type: 'api_key', category: 'no_category', name: 'intercom' },
      status: 201,
    });
    expect(intercom.body).toEqual({
      id: expect.any(String),
      application_id: projectId,
      auth_type: 'api_key',
      category: 'no_category',
      name: 'intercom',
      objects: {},
      entity_mappings: [],
    });
    expect((await api('GET', `/providers/${intercom.body.id}`, { status: 200 })).body).toEqual(intercom.body);

    // HubSpot has a sync config and a connection.
    await api('DELETE', `/providers/${fx.hubspotProviderId}`, { status: 409 });
    expect((await api('DELETE', `/providers/${id}`, { status: 200 })).body).toEqual(updated.body);
    await api('GET', `/providers/${id}`, { status: 404 });
    await api('DELETE', `/providers/${id}`, { status: 404 });
    await api('DELETE', `/providers/${intercom.body.id}`, { status: 200 });
  });

  const syncConfigOf = (entityId: string) => ({
    default_config: {
      period_ms: 3_600_000,
      strategy: 'full then incremental',
      auto_start_on_connection: true,
    },
    common_objects: [{ object: 'contact' }],
    standard_objects: [
      { object: 'Contact', associations_to_fetch: ['Account'] },
      { object: 'Account', sync_strategy_override: { period_ms: 600_000, strategy: 'full only' } },
    ],
    entities: [{ entity_id: entityId }],
  });
  let syncConfig: ReturnType<typeof syncConfigOf>;
  let syncConfigId: string;

  it('sync configs: create, get, list, update', async () => {
    syncConfig = syncConfigOf(fx.entityId);
    const body = { destination_name: fx.destinationName, provider_name: 'salesforce', config: syncConfig };
    const created = await api('POST', '/sync_configs', { body, status: 201 });
    expect(created.body).toEqual({ id: expect.any(String), application_id: projectId, ...body });
    syncConfigId = created.body.id;
    expect((await api('GET', `/sync_configs/${syncConfigId}`, { status: 200 })).body).toEqual(created.body);
    const list = await api('GET', '/sync_configs', { status: 200 });
    expect(list.body.map((s: Body) => s.id)).toEqual([fx.syncConfigId, syncConfigId]);

    const duplicate = await api('POST', '/sync_configs', { body, status: 409 });
    expect(duplicate.body.errors[0].detail).toBe('salesforce already has a sync config');
    await api('POST', '/sync_configs', { body: { ...body, provider_name: 'zoho_crm' }, status: 404 });
    await api('POST', '/sync_configs', { body: { ...body, destination_name: 'nowhere' }, status: 404 });

    // An update that removes no sync needs no force.
    const config = { ...syncConfig, default_config: { period_ms: 7_200_000, strategy: 'full only' } };
    const updated = await api('PUT', `/sync_configs/${syncConfigId}`, { body: { config }, status: 200 });
    expect(updated.body).toEqual({ ...created.body, config });
    expect((await api('GET', `/sync_configs/${syncConfigId}`, { status: 200 })).body).toEqual(updated.body);
    await api('PUT', '/sync_configs/00000000-0000-0000-0000-000000000000', { body: { config }, status: 404 });
    const missing = await api('GET', '/sync_configs/not-an-id', { status: 404 });
    expect(missing.body.errors[0].detail).toBe('sync config not found');
  });

  it('sync configs: an object the provider cannot read is refused when saved, not when it runs', async () => {
    const unreadable = {
      ...syncConfig,
      standard_objects: [{ object: 'Contact' }, { object: 'NoSuchThing' }],
    };
    const body = { destination_name: fx.destinationName, provider_name: 'salesforce', config: unreadable };
    const created = await api('POST', '/sync_configs', { body, status: 400 });
    expect(created.body.errors[0].detail).toBe(
      'standard object "NoSuchThing" cannot be read from salesforce (custom object API names end in __c)',
    );
    const updated = await api('PUT', `/sync_configs/${syncConfigId}`, {
      body: { config: { ...syncConfig, custom_objects: [{ object: 'Contact' }, { object: 'Invoice' }] } },
      status: 400,
    });
    expect(updated.body.errors[0].detail).toBe(
      'custom object "Invoice" cannot be read from salesforce (custom object API names end in __c)',
    );
    // Nothing was saved: the config reads back as it was.
    const stored = await api('GET', `/sync_configs/${syncConfigId}`, { status: 200 });
    expect(stored.body.config).not.toHaveProperty('custom_objects');
  });

  it('connections: create, get, list, delete; provider user id and rate limits from the provider', async () => {
    secrets.push('contract-sf-refresh', 'contract-gong-secret');
    const sf = await api('POST', `/customers/${fx.customerId}/connections`, {
      body: {
        provider_name: 'salesforce',
        type: 'oauth2',
        refresh_token: 'contract-sf-refresh',
        instance_url: 'https://contract.my.salesforce.com',
      },
      status: 200,
    });
    expect(sf.body).toMatchObject({
      application_id: projectId,
      customer_id: fx.customerId,
      provider_id: fx.salesforceProviderId,
      provider_name: 'salesforce',
      category: 'crm',
      instance_url: 'https://contract.my.salesforce.com',
    });
    expect(
      (await api('GET', `/customers/${fx.customerId}/connections/salesforce`, { status: 200 })).body,
    ).toEqual(sf.body);
    const gong = await api('POST', `/customers/${fx.customerId}/connections`, {
      body: {
        provider_name: 'gong',
        type: 'access_key_secret',
        access_key: 'gk',
        access_key_secret: 'contract-gong-secret',
      },
      status: 200,
    });
    expect(gong.body).toMatchObject({
      provider_name: 'gong',
      category: 'no_category',
      customer_id: fx.customerId,
    });
    const list = await api('GET', `/customers/${fx.customerId}/connections`, { status: 200 });
    expect(list.body.map((c: Body) => c.provider_name)).toEqual(['apollo', 'gong', 'hubspot', 'salesforce']);
    expect(list.body).toContainEqual(sf.body);

    await api('POST', `/customers/${fx.customerId}/connections`, {
      body: { provider_name: 'apollo', type: 'api_key', api_key: 'again' },
      status: 409,
    });
    await api('POST', '/customers/nobody/connections', {
      body: { provider_name: 'apollo', type: 'api_key', api_key: 'k' },
      status: 404,
    });
    await api('GET', '/customers/nobody/connections', { status: 404 });
    await api('GET', `/customers/${fx.customerId}/connections/pipedrive`, { status: 404 });

    // HubSpot answers from its simulator: the connected user is a HubSpot owner.
    const user = await api('GET', `/customers/${fx.customerId}/connections/_provider_user_id`, {
      query: { provider_name: 'hubspot' },
      status: 200,
    });
    expect(user.body).toMatchObject({ user_id: '41000001', raw_details: { email: 'owner.one@sim.example' } });
    expect(user.body.additional_raw_details).toMatchObject({ hub_id: 24681357 });
    const limits = await api('GET', `/customers/${fx.customerId}/connections/hubspot/_rate_limit_info`, {
      status: 200,
    });
    expect(limits.body).toMatchObject({ daily: { limit: 250000 }, other: { ten_second: { limit: 100 } } });
    await api('GET', `/customers/${fx.customerId}/connections/_provider_user_id`, {
      query: { provider_name: 'intercom' },
      status: 404,
    });
    // A provider that cannot be reached answers 499. The seed documents only a 200 here; the error
    // body is checked by its shape.
    await api('GET', `/customers/${fx.customerId}/connections/apollo/_rate_limit_info`, {
      status: 499,
      unvalidated: 'the seed documents no error responses for getConnectionRateLimitInfo',
    });

    await api('DELETE', `/customers/${fx.customerId}/connections/gong`, { status: 204 });
    await api('GET', `/customers/${fx.customerId}/connections/gong`, { status: 404 });
    await api('DELETE', `/customers/${fx.customerId}/connections/gong`, { status: 404 });
  });

  it('connection sync configs: upsert, get, delete', async () => {
    const headers = connection(fx.customerId, 'salesforce');
    await api('GET', '/connection_sync_configs', { headers, status: 404 });
    const overrides = {
      destination_config: { type: 'postgres', schema: 'customer_a' },
      standard_objects: [{ object: 'Contact' }, { object: 'Account' }],
    };
    const put = await api('PUT', '/connection_sync_configs', { headers, body: overrides, status: 200 });
    expect(put.body).toEqual(overrides);
    expect((await api('GET', '/connection_sync_configs', { headers, status: 200 })).body).toEqual(overrides);
    const conn = await api('GET', `/customers/${fx.customerId}/connections/salesforce`, { status: 200 });
    expect(conn.body.connection_sync_config).toEqual(overrides);

    // Seed defect: connection_sync_config items' oneOf {object} | {object, table} overlap; a table item matches both.
    const tables = { standard_objects: [{ object: 'Contact', table: 'sf_contacts' }, { object: 'Account' }] };
    const defect = 'oneOf {object} | {object, table} overlap in connection_sync_config';
    const withTable = await api('PUT', '/connection_sync_configs', {
      headers,
      body: tables,
      status: 200,
      unvalidated: defect,
    });
    expect(withTable.body).toEqual(tables);
    const got = await api('GET', '/connection_sync_configs', { headers, status: 200, unvalidated: defect });
    expect(got.body).toEqual(tables);

    await api('PUT', '/connection_sync_configs', {
      headers: connection('nobody', 'salesforce'),
      body: overrides,
      status: 404,
    });
    await api('DELETE', '/connection_sync_configs', { headers, status: 204 });
    await api('GET', '/connection_sync_configs', { headers, status: 404 });
    await api('DELETE', '/connection_sync_configs', { headers, status: 404 });
    const after = await api('GET', `/customers/${fx.customerId}/connections/salesforce`, { status: 200 });
    expect(after.body).not.toHaveProperty('connection_sync_config');
  });

  it('field mappings: list, update an object', async () => {
    const headers = connection(fx.customerId, 'hubspot');
    const before = await api('GET', '/field_mappings', { headers, status: 200 });
    expect(before.body).toEqual([
      {
        object_name: 'contacts',
        object_type: 'standard',
        allow_additional_field_mappings: true,
        schema_id: fx.schemaId,
        fields: [
          { name: 'email', is_added_by_customer: false, schema_mapped_name: 'email' },
          { name: 'score', is_added_by_customer: false },
        ],
      },
    ]);
    const input = {
      name: 'contacts',
      type: 'standard',
      field_mappings: [
        { schema_field: 'score', mapped_field: 'hs_lead_score' },
        { schema_field: 'region', mapped_field: 'hs_region' },
      ],
    };
    const updated = await api('PUT', '/field_mappings/_update_object', { headers, body: input, status: 200 });
    const expected = {
      ...before.body[0],
      fields: [
        { name: 'email', is_added_by_customer: false, schema_mapped_name: 'email' },
        { name: 'score', is_added_by_customer: false, customer_mapped_name: 'hs_lead_score' },
        { name: 'region', is_added_by_customer: true, customer_mapped_name: 'hs_region' },
      ],
    };
    expect(updated.body).toEqual(expected);
    expect((await api('GET', '/field_mappings', { headers, status: 200 })).body).toEqual([expected]);
    const conn = await api('GET', `/customers/${fx.customerId}/connections/hubspot`, { status: 200 });
    expect(conn.body.schema_mappings_config).toEqual({
      standard_objects: [{ object: 'contacts', field_mappings: input.field_mappings }],
    });

    await api('PUT', '/field_mappings/_update_object', {
      headers,
      body: { ...input, field_mappings: [{ schema_field: 'region', mapped_field: 'r' }] },
      status: 400,
    });
    await api('PUT', '/field_mappings/_update_object', {
      headers,
      body: { ...input, name: 'deals' },
      status: 400,
    });
    await api('GET', '/field_mappings', { headers: { 'x-customer-id': fx.customerId }, status: 400 });
    await api('GET', '/field_mappings', { headers: connection('nobody', 'hubspot'), status: 404 });
  });

  it('entity mappings: list, upsert, delete', async () => {
    const headers = connection(fx.customerId, 'hubspot');
    const developer = {
      entity_id: fx.entityId,
      entity_name: 'person-a',
      allow_additional_field_mappings: false,
      object: { type: 'standard', name: 'contacts', from: 'developer' },
      field_mappings: [
        { entity_field: 'full_name', is_additional: false },
        { entity_field: 'email', mapped_field: 'email', from: 'developer', is_additional: false },
      ],
    };
    expect((await api('GET', '/entity_mappings', { headers, status: 200 })).body).toEqual([developer]);

    const mapping = {
      entity_id: fx.entityId,
      object: { type: 'custom', name: 'Person__c' },
      field_mappings: [{ entity_field: 'full_name', mapped_field: 'Name__c' }],
    };
    // The seed gives upsertEntityMapping's 200 no schema: the body is asserted here.
    const upserted = await api('PUT', `/entity_mappings/${fx.entityId}`, {
      headers,
      body: mapping,
      status: 200,
    });
    const merged = {
      ...developer,
      object: { ...mapping.object, from: 'customer' },
      field_mappings: [
        { entity_field: 'full_name', mapped_field: 'Name__c', from: 'customer', is_additional: false },
        developer.field_mappings[1],
      ],
    };
    expect(upserted.body).toEqual(merged);
    expect((await api('GET', '/entity_mappings', { headers, status: 200 })).body).toEqual([merged]);
    const conn = await api('GET', `/customers/${fx.customerId}/connections/hubspot`, { status: 200 });
    expect(conn.body.entity_mappings).toEqual([mapping]);

    await api('PUT', `/entity_mappings/${fx.entityId}`, {
      headers,
      body: { ...mapping, field_mappings: [{ entity_field: 'nickname', mapped_field: 'x' }] },
      status: 400,
    });
    await api('PUT', `/entity_mappings/${fx.schemaId}`, { headers, body: mapping, status: 400 });
    const unknown = '00000000-0000-0000-0000-000000000000';
    await api('PUT', `/entity_mappings/${unknown}`, { headers, body: { entity_id: unknown }, status: 404 });

    await api('DELETE', `/entity_mappings/${fx.entityId}`, { headers, status: 204 });
    expect((await api('GET', '/entity_mappings', { headers, status: 200 })).body).toEqual([developer]);
    await api('DELETE', `/entity_mappings/${fx.entityId}`, { headers, status: 404 });
  });

  /** Walks a paginated list forwards with page_size=1, then back with `previous`. */
  async function walk(urlPath: string, query: Record<string, string>, total: number): Promise<string[]> {
    const forward: string[] = [];
    let res = await api('GET', urlPath, { query: { ...query, page_size: '1' }, status: 200 });
    expect(res.body.previous).toBeNull();
    for (;;) {
      expect(res.body.total_count).toBe(total);
      expect(res.body.results).toHaveLength(1);
      forward.push(res.body.results[0].id);
      if (!res.body.next) break;
      res = await api('GET', urlPath, {
        query: { ...query, page_size: '1', cursor: res.body.next },
        status: 200,
      });
    }
    expect(forward).toHaveLength(total);
    const backward = [forward.at(-1)];
    while (res.body.previous) {
      res = await api('GET', urlPath, {
        query: { ...query, page_size: '1', cursor: res.body.previous },
        status: 200,
      });
      backward.unshift(res.body.results[0].id);
    }
    expect(backward).toEqual(forward);
    return forward;
  }

  it('syncs: list with filters and cursors, pause, resume, trigger', async () => {
    const all = await api('GET', '/syncs', { status: 200 });
    const entitySync = { type: 'entity', entity_id: fx.entityId };
    expect(all.body).toMatchObject({ next: null, previous: null, total_count: 6 });
    expect(
      all.body.results.map((s: Body) => [
        s.provider_name,
        s.type === 'entity' ? s.entity_id : `${s.object_type}/${s.object}`,
      ]),
    ).toEqual([
      ['hubspot', 'standard/companies'],
      ['hubspot', 'standard/contacts'],
      ['salesforce', 'common/contact'],
      ['salesforce', fx.entityId],
      ['salesforce', 'standard/Account'],
      ['salesforce', 'standard/Contact'],
    ]);
    expect(await walk('/syncs', {}, 6)).toEqual(all.body.results.map((s: Body) => s.id));

    const sf = await api('GET', '/syncs', {
      query: { customer_id: fx.customerId, provider_name: 'salesforce' },
      status: 200,
    });
    expect(sf.body.total_count).toBe(4);
    for (const s of sf.body.results) expect(s).toMatchObject({ sync_config_id: syncConfigId, paused: false });
    const contact = await api('GET', '/syncs', {
      query: { object_type: 'standard', object: 'Contact' },
      status: 200,
    });
    expect(contact.body.results).toEqual([expect.objectContaining({ type: 'object', object: 'Contact' })]);
    const byEntity = await api('GET', '/syncs', { query: { entity_id: fx.entityId }, status: 200 });
    expect(byEntity.body.results).toEqual([expect.objectContaining(entitySync)]);
    await api('GET', '/syncs', { query: { object_type: 'standard' }, status: 400 });
    await api('GET', '/syncs', { query: { cursor: 'garbage' }, status: 400 });

    const headers = connection(fx.customerId, 'salesforce');
    const contactSync = contact.body.results[0];
    const { provider_name: _p, customer_id: _c, ...syncOf } = contactSync;
    const target = { object_type: 'standard', object: 'Contact' };
    const paused = await api('POST', '/syncs/_pause', { headers, body: target, status: 200 });
    expect(paused.body).toEqual({ ...syncOf, paused: true });
    const listed = await api('GET', '/syncs', {
      query: { object_type: 'standard', object: 'Contact' },
      status: 200,
    });
    expect(listed.body.results[0].paused).toBe(true);
    const resumed = await api('POST', '/syncs/_resume', { headers, body: target, status: 200 });
    expect(resumed.body).toEqual({ ...syncOf, paused: false });
    const triggered = await api('POST', '/syncs/_trigger', {
      headers,
      body: { ...target, perform_full_refresh: true },
      status: 200,
    });
    expect(triggered.body).toEqual({ ...syncOf, paused: false });

    const entityPaused = await api('POST', '/syncs/_pause', {
      headers,
      body: { entity_id: fx.entityId },
      status: 200,
    });
    expect(entityPaused.body).toMatchObject({ ...entitySync, paused: true, sync_config_id: syncConfigId });
    await api('POST', '/syncs/_resume', { headers, body: { entity_id: fx.entityId }, status: 200 });
    await api('POST', '/syncs/_trigger', { headers, body: { entity_id: fx.entityId }, status: 200 });

    // Seed defect: `sync` oneOf branches 1 (common|standard|custom) and 2 (common) overlap for common objects.
    const defect = 'sync oneOf branches overlap for object_type common';
    const common = { object_type: 'common', object: 'contact' };
    const commonPaused = await api('POST', '/syncs/_pause', {
      headers,
      body: common,
      status: 200,
      unvalidated: defect,
    });
    expect(commonPaused.body).toMatchObject({
      type: 'object',
      ...common,
      paused: true,
      sync_config_id: syncConfigId,
    });
    const commonResumed = await api('POST', '/syncs/_resume', {
      headers,
      body: common,
      status: 200,
      unvalidated: defect,
    });
    expect(commonResumed.body).toMatchObject({ ...common, paused: false });
    const commonTriggered = await api('POST', '/syncs/_trigger', {
      headers,
      body: common,
      status: 200,
      unvalidated: defect,
    });
    expect(commonTriggered.body).toEqual(commonResumed.body);

    await api('POST', '/syncs/_pause', {
      headers,
      body: { object_type: 'standard', object: 'Lead' },
      status: 404,
    });
    await api('POST', '/syncs/_resume', {
      headers: connection('nobody', 'salesforce'),
      body: target,
      status: 404,
    });
    await api('POST', '/syncs/_trigger', { headers, body: { object_type: 'standard' }, status: 400 });
  });

  it('sync runs: filters, timestamps and cursors', async () => {
    const syncs = await api('GET', '/syncs', { query: { provider_name: 'salesforce' }, status: 200 });
    const idOf = (key: string) =>
      syncs.body.results.find((s: Body) => (s.type === 'entity' ? s.entity_id : s.object) === key).id;
    // Runs with set times and outcomes are inserted directly (the engine's statuses: running, succeeded, failed).
    const db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    const runs: [string, string, string | null, number | null, string, string | null][] = [
      [idOf('Contact'), 'succeeded', null, 120, '2024-02-01T00:00:00Z', '2024-02-01T00:05:00Z'],
      [idOf('Contact'), 'failed', 'token expired', null, '2024-03-01T00:00:00Z', '2024-03-01T00:01:00Z'],
      [idOf('Account'), 'running', null, null, '2024-04-01T00:00:00Z', null],
      [idOf(fx.entityId), 'succeeded', null, 7, '2023-12-01T00:00:00Z', '2023-12-01T00:02:00Z'],
      [idOf('contact'), 'succeeded', null, 3, '2024-01-15T00:00:00Z', '2024-01-15T00:01:00Z'],
    ];
    try {
      for (const run of runs) {
        await db.query(
          `insert into trellis.sync_runs (project_id, sync_id, status, error_message, num_records_synced, started_at, ended_at)
           values ($1, $2, $3, $4, $5, $6, $7)`,
          [projectId, ...run],
        );
      }
    } finally {
      await db.end();
    }

    const all = await api('GET', '/sync-runs', { status: 200 });
    expect(all.body).toMatchObject({ next: null, previous: null, total_count: 5 });
    expect(all.body.results.map((r: Body) => r.start_timestamp)).toEqual([
      '2024-04-01T00:00:00.000Z',
      '2024-03-01T00:00:00.000Z',
      '2024-02-01T00:00:00.000Z',
      '2024-01-15T00:00:00.000Z',
      '2023-12-01T00:00:00.000Z',
    ]);
    expect(all.body.results[1]).toEqual({
      id: expect.any(String),
      sync_id: idOf('Contact'),
      object_type: 'standard',
      object: 'Contact',
      error_message: 'token expired',
      start_timestamp: '2024-03-01T00:00:00.000Z',
      end_timestamp: '2024-03-01T00:01:00.000Z',
      application_id: projectId,
      customer_id: fx.customerId,
      provider_name: 'salesforce',
      category: 'crm',
      connection_id: expect.any(String),
      status: 'FAILURE',
      num_records_synced: null,
    });
    expect(all.body.results[4]).toMatchObject({
      entity_id: fx.entityId,
      status: 'SUCCESS',
      num_records_synced: 7,
    });
    expect(all.body.results[4]).not.toHaveProperty('object_type');
    expect(await walk('/sync-runs', {}, 5)).toEqual(all.body.results.map((r: Body) => r.id));

    const starts = async (query: Record<string, string>) =>
      (await api('GET', '/sync-runs', { query, status: 200 })).body.results.map((r: Body) =>
        r.start_timestamp.slice(0, 10),
      );
    expect(await starts({ status: 'success' })).toEqual(['2024-02-01', '2024-01-15', '2023-12-01']);
    expect(await starts({ start_timestamp: '>2024-01-01T00:00:00Z' })).toEqual([
      '2024-04-01',
      '2024-03-01',
      '2024-02-01',
      '2024-01-15',
    ]);
    expect(await starts({ end_timestamp: '<2024-01-20T00:00:00Z' })).toEqual(['2024-01-15', '2023-12-01']);
    expect(
      await starts({ start_timestamp: '>2024-01-01T00:00:00Z', end_timestamp: '<2024-02-15T00:00:00Z' }),
    ).toEqual(['2024-02-01', '2024-01-15']);
    expect(await starts({ object_type: 'standard', object: 'Contact' })).toEqual([
      '2024-03-01',
      '2024-02-01',
    ]);
    expect(await starts({ entity_id: fx.entityId })).toEqual(['2023-12-01']);
    expect(
      await starts({ customer_id: fx.customerId, provider_name: 'salesforce', status: 'IN_PROGRESS' }),
    ).toEqual(['2024-04-01']);
    expect(await starts({ provider_name: 'hubspot' })).toEqual([]);
    expect(await walk('/sync-runs', { status: 'SUCCESS' }, 3)).toHaveLength(3);

    await api('GET', '/sync-runs', { query: { status: 'DONE' }, status: 400 });
    await api('GET', '/sync-runs', { query: { start_timestamp: '2024-01-01' }, status: 400 });
    await api('GET', '/sync-runs', { query: { page_size: '0' }, status: 400 });
  });

  it('sync configs: removing syncs needs force_delete_syncs; delete', async () => {
    const config = { ...syncConfig, standard_objects: [{ object: 'Contact' }] };
    await api('PUT', `/sync_configs/${syncConfigId}`, { body: { config }, status: 400 });
    const updated = await api('PUT', `/sync_configs/${syncConfigId}`, {
      body: { config },
      query: { force_delete_syncs: 'true' },
      status: 200,
    });
    expect(updated.body.config).toEqual(config);
    expect((await api('GET', `/sync_configs/${syncConfigId}`, { status: 200 })).body).toEqual(updated.body);
    const left = await api('GET', '/syncs', { query: { provider_name: 'salesforce' }, status: 200 });
    expect(left.body.total_count).toBe(3);

    await api('DELETE', `/sync_configs/${syncConfigId}`, { status: 400 });
    const deleted = await api('DELETE', `/sync_configs/${syncConfigId}`, {
      query: { force_delete_syncs: 'true' },
      status: 200,
    });
    expect(deleted.body).toEqual(updated.body);
    await api('GET', `/sync_configs/${syncConfigId}`, { status: 404 });
    await api('DELETE', `/sync_configs/${syncConfigId}`, { status: 404 });
    expect((await api('GET', '/sync-runs', { status: 200 })).body.total_count).toBe(0);
  });

  it('magic links: create, list, delete', async () => {
    const before = await api('GET', '/magic_links', { status: 200 });
    expect(before.body.map((m: Body) => m.id)).toEqual([fx.magicLinkId]);
    const input = {
      customer_id: fx.customerId,
      provider_name: 'hubspot',
      return_url: 'https://app.contract.test/connected',
      expiration_secs: 600,
    };
    const sent = Date.now();
    const created = await api('POST', '/magic_links', { body: input, status: 201 });
    const answered = Date.now();
    expect(created.body).toEqual({
      id: expect.any(String),
      url: expect.stringContaining(created.body.id),
      return_url: input.return_url,
      application_id: projectId,
      customer_id: fx.customerId,
      provider_id: fx.hubspotProviderId,
      provider_name: 'hubspot',
      expires_at: expect.any(String),
      status: 'new',
    });
    // expiration_secs after the moment the link was made, which lies between sending the request
    // and getting the answer (the database and this process read the same clock), however slow it was.
    const madeAt = Date.parse(created.body.expires_at) - input.expiration_secs * 1000;
    expect(madeAt).toBeGreaterThanOrEqual(sent);
    expect(madeAt).toBeLessThanOrEqual(answered);
    const list = await api('GET', '/magic_links', { status: 200 });
    expect(list.body).toHaveLength(2);
    expect(list.body).toContainEqual(created.body);

    await api('POST', '/magic_links', { body: { ...input, customer_id: 'nobody' }, status: 404 });
    await api('POST', '/magic_links', { body: { ...input, provider_name: 'myspace' }, status: 400 });
    await api('POST', '/magic_links', { body: { ...input, expiration_secs: 0 }, status: 400 });
    await api('DELETE', `/magic_links/${created.body.id}`, { status: 204 });
    await api('DELETE', `/magic_links/${created.body.id}`, { status: 404 });
    expect((await api('GET', '/magic_links', { status: 200 })).body.map((m: Body) => m.id)).toEqual([
      fx.magicLinkId,
    ]);
  });

  it('exercised every operation of the seed', () => {
    const seedIds = schemas.operations.map((o) => o.id).sort();
    expect(seedIds).toHaveLength(new Set(seedIds).size);
    expect(
      seedIds.filter((id) => !exercised.has(id)),
      'seed operations never exercised',
    ).toEqual([]);
    expect([...exercised.keys()].sort()).toEqual(seedIds);
    // Each operation succeeded at least once.
    const neverSucceeded = seedIds.filter((id) => ![...exercised.get(id)!].some((s) => s < 300));
    expect(neverSucceeded).toEqual([]);
  });
});
