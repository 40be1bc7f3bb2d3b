import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apollo as apolloSimulator } from '../../simulators/apollo/index.ts';
import type { ProviderSimulator } from '../../simulators/core/server.ts';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { pipedrive } from '../../simulators/pipedrive/index.ts';
import { salesforce } from '../../simulators/salesforce/index.ts';
import { planUnplannedSyncs } from '../../src/core/syncs.ts';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { warehouseAt } from '../helpers/mgmt-fixtures.ts';
import { consentFields, simConsent, simControl, simOAuthProvider, simRecords } from '../helpers/simulator.ts';
import { connectHubspot, setUpHubspotSync } from '../helpers/syncs.ts';
import {
  type Client,
  client,
  createTestDatabase,
  startTrellis,
  type TestTrellis,
} from '../helpers/trellis.ts';

/**
 * Common objects end to end: a sync config's `common_objects` land in Supaglue's unified tables
 * (crm_contacts, …) with its columns, each row's fields compared with the provider record it came
 * from (as the provider's simulator holds it); then changes and deletions at the provider reach
 * the tables through incremental runs.
 */

type Row = Record<string, any>;

/** Supaglue's unified tables keep times without a zone, in UTC. */
const utcTimestamps: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.TIMESTAMP
      ? (v: string) => new Date(`${v.replace(' ', 'T')}Z`)
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

async function warehouseClient(databaseUrl: string): Promise<pg.Client> {
  const warehouse = new pg.Client({ connectionString: databaseUrl, types: utcTimestamps });
  await warehouse.connect();
  return warehouse;
}

/** The columns of a table, in order, with their SQL types. */
async function columnsOf(db: pg.Client, schema: string, table: string): Promise<string[]> {
  const { rows } = await db.query<{ name: string; type: string; nullable: string }>(
    `select column_name as name, data_type as type, is_nullable as nullable from information_schema.columns
      where table_schema = $1 and table_name = $2 order by ordinal_position`,
    [schema, table],
  );
  return rows.map((c) => `${c.name} ${c.type}${c.nullable === 'NO' ? ' not null' : ''}`);
}

const TENANT = [
  '_supaglue_application_id text not null',
  '_supaglue_provider_name text not null',
  '_supaglue_customer_id text not null',
  '_supaglue_emitted_at timestamp without time zone not null',
  'id text not null',
  'created_at timestamp without time zone',
  'updated_at timestamp without time zone',
  'is_deleted boolean not null',
  'last_modified_at timestamp without time zone not null',
];
const TAIL = ['raw_data jsonb', '_supaglue_unified_data jsonb'];

/** Supaglue's unified tables, column by column (its postgres destination's DDL). */
const SUPAGLUE_COLUMNS: Record<string, string[]> = {
  crm_contacts: [
    ...TENANT,
    'first_name text',
    'last_name text',
    'addresses jsonb not null',
    'email_addresses jsonb not null',
    'phone_numbers jsonb not null',
    'lifecycle_stage text',
    'account_id text',
    'owner_id text',
    'last_activity_at timestamp without time zone',
    ...TAIL,
  ],
  crm_accounts: [
    ...TENANT,
    'name text',
    'description text',
    'industry text',
    'website text',
    'number_of_employees integer',
    'addresses jsonb',
    'phone_numbers jsonb',
    'last_activity_at timestamp without time zone',
    'lifecycle_stage text',
    'owner_id text',
    ...TAIL,
  ],
  crm_opportunities: [
    ...TENANT,
    'name text',
    'description text',
    'amount double precision',
    'stage text',
    'status text',
    'close_date timestamp without time zone',
    'pipeline text',
    'account_id text',
    'owner_id text',
    'last_activity_at timestamp without time zone',
    ...TAIL,
  ],
  crm_leads: [
    ...TENANT,
    'lead_source text',
    'title text',
    'company text',
    'first_name text',
    'last_name text',
    'addresses jsonb',
    'email_addresses jsonb',
    'phone_numbers jsonb',
    'converted_date timestamp without time zone',
    'converted_contact_id text',
    'converted_account_id text',
    'owner_id text',
    ...TAIL,
  ],
  crm_users: [...TENANT, 'name text', 'email text', 'is_active boolean', ...TAIL],
};

const ENGAGEMENT_COLUMNS: Record<string, string[]> = {
  engagement_contacts: [
    ...TENANT,
    'first_name text',
    'last_name text',
    'job_title text',
    'address jsonb',
    'email_addresses jsonb not null',
    'phone_numbers jsonb not null',
    'owner_id text',
    'account_id text',
    'open_count integer not null',
    'click_count integer not null',
    'reply_count integer not null',
    'bounced_count integer not null',
    ...TAIL,
  ],
  engagement_accounts: [...TENANT, 'name text', 'domain text', 'owner_id text', ...TAIL],
  engagement_sequences: [
    ...TENANT,
    'owner_id text',
    'name text',
    'tags jsonb',
    'num_steps integer not null',
    'metrics jsonb',
    'is_enabled boolean not null',
    ...TAIL,
  ],
  engagement_mailboxes: [...TENANT, 'email text', 'user_id text', ...TAIL],
  engagement_users: [...TENANT, 'first_name text', 'last_name text', 'email text', ...TAIL],
  engagement_sequence_states: [
    ...TENANT,
    'sequence_id text',
    'contact_id text',
    'mailbox_id text',
    'user_id text',
    'state text',
    ...TAIL,
  ],
};

const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string).toISOString());
const isoOrNull = (d: Date | null) => (d === null ? null : d.toISOString());

async function ok(
  api: Client,
  method: string,
  path: string,
  body?: object,
  headers?: Record<string, string>,
) {
  const res = await api(method, path, { ...(body ? { body } : {}), ...(headers ? { headers } : {}) });
  expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
  return res.body;
}

/** Waits for `count` ended runs of common object `object` of customer acme; checks the newest succeeded. */
async function commonRuns(api: Client, object: string, count: number) {
  for (let i = 0; i < 600; i++) {
    const res = await api('GET', '/sync-runs', {
      query: { customer_id: 'acme', object_type: 'common', object },
    });
    const ended = res.body.results.filter((r: { status: string }) => r.status !== 'IN_PROGRESS');
    if (ended.length >= count) {
      expect(ended[0].status, `${object}: ${ended[0].error_message}`).toBe('SUCCESS');
      return ended;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`fewer than ${count} runs of common object ${object} ended`);
}

/** A provider's simulator, Trellis, and a customer's connection syncing `commonObjects` into schema `crm`. */
interface Setup {
  sim: RunningSimulator;
  t: TestTrellis;
  api: Client;
  warehouse: pg.Client;
  /** An access token of the connection's account, for calls on the simulator. */
  token: string;
  close(): Promise<void>;
}

async function startSyncing(opts: {
  simulator: ProviderSimulator;
  provider: string;
  category: 'crm' | 'engagement';
  /**
   * How the customer connects: a refresh token given to the Management API, the OAuth flow of a
   * magic link (the API takes refresh tokens for HubSpot and Salesforce only), or an API key. The
   * provider itself is registered with an OAuth client either way.
   */
  authType: 'oauth2' | 'oauth-flow' | 'api_key';
  scopes?: string[];
  limits?: Record<string, number>;
  commonObjects: string[];
  /** More of the sync config (its common objects are `commonObjects`). */
  config?: Record<string, unknown>;
}): Promise<Setup> {
  const sim = await startSimulator(opts.simulator, { records: 40 });
  if (opts.limits) await simControl(sim.url, 'limits', opts.limits);
  const t = await startTrellis({
    env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ [opts.provider]: sim.url }) },
  });
  const api = client(t.baseUrl, t.apiKey);
  const databaseUrl = await createTestDatabase();
  await ok(api, 'POST', '/destinations', {
    name: 'warehouse',
    type: 'postgres',
    config: warehouseAt(databaseUrl, 'crm'),
  });
  await ok(api, 'POST', '/providers', {
    ...simOAuthProvider(opts.provider, opts.scopes ?? []),
    category: opts.category,
  });
  await ok(api, 'POST', '/sync_configs', {
    destination_name: 'warehouse',
    provider_name: opts.provider,
    config: {
      default_config: { period_ms: 3_600_000, strategy: 'full then incremental' },
      common_objects: opts.commonObjects.map((object) => ({ object })),
      ...opts.config,
    },
  });
  await ok(api, 'PUT', '/customers', { customer_id: 'acme', name: 'Acme', email: 'it@acme.test' });
  const tokens = await simControl(sim.url, 'tokens', {});
  if (opts.authType === 'oauth-flow') await connectThroughMagicLink(api, t.baseUrl, sim.url, opts.provider);
  else
    await ok(
      api,
      'POST',
      '/customers/acme/connections',
      opts.authType === 'oauth2'
        ? {
            provider_name: opts.provider,
            type: 'oauth2',
            refresh_token: tokens.refresh_token,
            ...(opts.provider === 'salesforce' ? { instance_url: sim.url } : {}),
          }
        : { provider_name: opts.provider, type: 'api_key', api_key: tokens.api_key },
    );
  const warehouse = await warehouseClient(databaseUrl);
  return {
    sim,
    t,
    api,
    warehouse,
    token: tokens.access_token ?? tokens.api_key,
    async close() {
      await warehouse.end();
      await t.stop();
      await sim.close();
    },
  };
}

/** Customer acme connects through a magic link's OAuth flow, as a person in a browser does. */
async function connectThroughMagicLink(api: Client, trellisUrl: string, simUrl: string, provider: string) {
  const link = await ok(api, 'POST', '/magic_links', {
    customer_id: 'acme',
    provider_name: provider,
    return_url: 'http://127.0.0.1:9/app/connected',
    expiration_secs: 600,
  });
  const browser = new CookieJar();
  const started = await browser.fetch(`${trellisUrl}/links/${link.id}/oauth`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'sec-fetch-site': 'same-origin' },
    body: new URLSearchParams(),
  });
  expect(started.status).toBe(303);
  const authorize = new URL(started.headers.get('location')!);
  const back = await simConsent(simUrl, { ...consentFields(authorize), decision: 'allow' });
  const done = await browser.fetch(back, { redirect: 'manual' });
  expect(new URL(done.headers.get('location')!).searchParams.get('result')).toBe('success');
}

/** The customer's rows of a unified table, by id. */
async function unifiedRows(s: Setup, table: string): Promise<Map<string, Row>> {
  const { rows } = await s.warehouse.query<Row>(
    `select * from crm.${table} where _supaglue_customer_id = 'acme'`,
  );
  return new Map(rows.map((r) => [r.id as string, r]));
}

/** Calls the provider's API on the simulator as the connection's account. */
async function providerCall(s: Setup, method: string, path: string, body?: object, header = 'authorization') {
  const res = await fetch(`${s.sim.url}${path}`, {
    method,
    headers: {
      ...(header === 'authorization' ? { authorization: `Bearer ${s.token}` } : { [header]: s.token }),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  expect(res.status, `${method} ${path}`).toBeLessThan(300);
  return res.status === 204 ? undefined : ((await res.json()) as any);
}

/** Triggers an incremental run of a common object and waits for it. */
async function incrementalRun(s: Setup, provider: string, object: string, runsBefore: number) {
  await ok(
    s.api,
    'POST',
    '/syncs/_trigger',
    { object_type: 'common', object },
    { 'x-customer-id': 'acme', 'x-provider-name': provider },
  );
  await commonRuns(s.api, object, runsBefore + 1);
}

/** Live simulator records of `object` by id (the provider's record as its API shows it). */
async function liveRecords(s: Setup, object: string): Promise<Map<string, Record<string, any>>> {
  return new Map(
    (await simRecords(s.sim.url, object)).filter((r) => !r.deleted).map((r) => [r.id, r.record]),
  );
}

describe('HubSpot common objects: contact, account, opportunity and user in crm_* tables', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let warehouse: pg.Client;
  let token: string;
  const customer = { 'x-customer-id': 'acme', 'x-provider-name': 'hubspot' };

  /** A HubSpot API call on the simulator, as the connection's token. */
  const hs = async (method: string, path: string, body?: object) => {
    const res = await fetch(`${sim.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    expect(res.status, `${method} ${path}`).toBeLessThan(300);
    return res.status === 204 ? undefined : ((await res.json()) as any);
  };
  /** Every live record of `object` as HubSpot lists it, with its company associations. */
  const listed = async (object: string) => {
    const records: any[] = [];
    let after: string | undefined;
    do {
      const page = await hs(
        'GET',
        `/crm/v3/objects/${object}?limit=100&associations=companies&properties=${encodeURIComponent(
          (await hs('GET', `/crm/v3/properties/${object}`)).results
            .map((p: { name: string }) => p.name)
            .join(','),
        )}${after ? `&after=${after}` : ''}`,
      );
      records.push(...page.results);
      after = page.paging?.next?.after;
    } while (after);
    return new Map(records.map((r) => [r.id as string, r]));
  };
  const rows = async (table: string) =>
    new Map(
      (
        await warehouse.query<Row>(`select * from crm.${table} where _supaglue_customer_id = 'acme'`)
      ).rows.map((r) => [r.id as string, r]),
    );
  const primaryCompany = (r: any, type: string) => {
    const links: { id: string; type: string }[] = r.associations?.companies?.results ?? [];
    return (links.find((l) => l.type === type) ?? links[0])?.id ?? null;
  };

  /** What HubSpot's contact is as Supaglue's unified contact, written out field by field. */
  const expectContact = (row: Row, c: any) => {
    const p = c.properties;
    expect(row.first_name).toBe(p.firstname);
    expect(row.last_name).toBe(p.lastname);
    expect(row.email_addresses).toEqual([
      { email_address: p.email, email_address_type: 'primary' },
      ...(p.work_email ? [{ email_address: p.work_email, email_address_type: 'work' }] : []),
    ]);
    expect(row.phone_numbers).toEqual([
      { phone_number: p.phone, phone_number_type: 'primary' },
      ...(p.mobilephone ? [{ phone_number: p.mobilephone, phone_number_type: 'mobile' }] : []),
      ...(p.fax ? [{ phone_number: p.fax, phone_number_type: 'fax' }] : []),
    ]);
    expect(row.addresses).toEqual(
      p.address || p.city
        ? [
            {
              street_1: p.address,
              street_2: null,
              city: p.city,
              state: p.state,
              postal_code: p.zip,
              country: p.country,
              address_type: 'primary',
            },
          ]
        : [],
    );
    expect(row.lifecycle_stage).toBe(p.lifecyclestage);
    expect(row.owner_id).toBe(p.hubspot_owner_id);
    expect(row.account_id).toBe(primaryCompany(c, 'contact_to_company'));
    expect(isoOrNull(row.last_activity_at)).toBe(iso(p.notes_last_updated));
    expect(isoOrNull(row.created_at)).toBe(c.createdAt);
    expect(isoOrNull(row.updated_at)).toBe(c.updatedAt);
    expect(row.last_modified_at.toISOString()).toBe(p.lastmodifieddate);
    expect(row.is_deleted).toBe(false);
    // The provider record whole, associations as HubSpot lists them; the unified record beside it.
    expect(row.raw_data.properties).toEqual(p);
    expect(row.raw_data.associations.companies.results).toEqual(c.associations.companies.results);
    expect(row._supaglue_unified_data).toMatchObject({
      id: c.id,
      first_name: p.firstname,
      account_id: row.account_id,
      is_deleted: false,
    });
  };

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: 40 });
    await simControl(sim.url, 'limits', { ten_second: 5000, search_per_second: 100 });
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) } });
    api = client(t.baseUrl, t.apiKey);
    const databaseUrl = await createTestDatabase();
    await setUpHubspotSync(api, databaseUrl, {
      default_config: { period_ms: 3_600_000, strategy: 'full then incremental' },
      common_objects: [
        { object: 'contact' },
        { object: 'account' },
        { object: 'opportunity' },
        { object: 'user' },
      ],
    });
    warehouse = await warehouseClient(databaseUrl);
    const tokens = await simControl(sim.url, 'tokens', {});
    token = tokens.access_token;
    await connectHubspot(api, tokens.refresh_token);
  });

  afterAll(async () => {
    await warehouse?.end();
    await t?.stop();
    await sim?.close();
  });

  it('a common object HubSpot does not map is refused when the config is saved', async () => {
    const [config] = (await ok(api, 'GET', '/sync_configs')) as { id: string; config: object }[];
    const refused = await api('PUT', `/sync_configs/${config!.id}`, {
      body: { config: { ...config!.config, common_objects: [{ object: 'lead' }] } },
    });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain(
      'common object \\"lead\\" is not one Trellis syncs from hubspot',
    );
  });

  it('lands contacts, companies, deals and owners in the unified tables, field by field', async () => {
    for (const object of ['contact', 'account', 'opportunity', 'user']) await commonRuns(api, object, 1);
    for (const table of ['crm_contacts', 'crm_accounts', 'crm_opportunities', 'crm_users']) {
      expect(await columnsOf(warehouse, 'crm', table), table).toEqual(SUPAGLUE_COLUMNS[table]);
    }

    const contacts = await listed('contacts');
    const contactRows = await rows('crm_contacts');
    expect([...contactRows.keys()].sort()).toEqual([...contacts.keys()].sort());
    for (const [id, c] of contacts) expectContact(contactRows.get(id)!, c);
    // Every lifecycle stage and an address-less contact are among them.
    expect(new Set([...contactRows.values()].map((r) => r.lifecycle_stage)).size).toBeGreaterThan(4);
    expect([...contactRows.values()].some((r) => r.addresses.length === 0)).toBe(true);

    const companies = await listed('companies');
    const accountRows = await rows('crm_accounts');
    expect([...accountRows.keys()].sort()).toEqual([...companies.keys()].sort());
    for (const [id, c] of companies) {
      const row = accountRows.get(id)!;
      const p = c.properties;
      expect(row).toMatchObject({
        name: p.name,
        description: p.description,
        industry: p.industry,
        website: p.website,
        number_of_employees: Number(p.numberofemployees),
        phone_numbers: [{ phone_number: p.phone, phone_number_type: 'primary' }],
        lifecycle_stage: p.lifecyclestage,
        owner_id: p.hubspot_owner_id,
        last_activity_at: null,
        is_deleted: false,
      });
      expect(row.addresses).toEqual([
        {
          street_1: p.address,
          street_2: p.address2,
          city: p.city,
          state: p.state,
          postal_code: p.zip,
          country: p.country,
          address_type: 'primary',
        },
      ]);
    }

    const deals = await listed('deals');
    const opportunityRows = await rows('crm_opportunities');
    expect([...opportunityRows.keys()].sort()).toEqual([...deals.keys()].sort());
    for (const [id, d] of deals) {
      const row = opportunityRows.get(id)!;
      const p = d.properties;
      expect(row).toMatchObject({
        name: p.dealname,
        description: p.description,
        amount: Number(p.amount),
        stage: p.dealstage,
        pipeline: p.pipeline,
        status: p.dealstage === 'closedwon' ? 'WON' : p.dealstage === 'closedlost' ? 'LOST' : 'OPEN',
        owner_id: p.hubspot_owner_id,
        account_id: primaryCompany(d, 'deal_to_company'),
      });
      expect(row.account_id).not.toBeNull();
      expect(isoOrNull(row.close_date)).toBe(iso(p.closedate));
      expect(isoOrNull(row.last_activity_at)).toBe(iso(p.notes_last_updated));
    }
    expect(new Set([...opportunityRows.values()].map((r) => r.status))).toEqual(
      new Set(['OPEN', 'WON', 'LOST']),
    );

    const owners = (await hs('GET', '/crm/v3/owners?limit=100')).results as any[];
    const userRows = await rows('crm_users');
    expect([...userRows.keys()].sort()).toEqual(owners.map((o) => o.id).sort());
    for (const o of owners) {
      expect(userRows.get(o.id)).toMatchObject({
        name: `${o.firstName} ${o.lastName}`,
        email: o.email,
        is_active: true,
        is_deleted: false,
      });
    }
    // Owner and account links point at rows of the unified tables.
    for (const r of contactRows.values()) {
      expect(userRows.has(r.owner_id)).toBe(true);
      expect(accountRows.has(r.account_id)).toBe(true);
    }
  });

  it('an incremental run carries exactly the changes, and deletions are marked', async () => {
    const before = await rows('crm_contacts');
    const mutated = await simControl(sim.url, 'mutate', {
      object: 'contacts',
      update: 3,
      delete: 2,
      create: 2,
    });
    const [changed = ''] = [...before.keys()].filter(
      (id) => !mutated.updated.includes(id) && !mutated.deleted.includes(id),
    );
    await hs('PATCH', `/crm/v3/objects/contacts/${changed}`, {
      properties: {
        lifecyclestage: 'customer',
        email: 'moved@new.example',
        mobilephone: '+1-555-0000',
        city: 'Lagos',
      },
    });
    await ok(api, 'POST', '/syncs/_trigger', { object_type: 'common', object: 'contact' }, customer);
    await commonRuns(api, 'contact', 2);

    const after = await rows('crm_contacts');
    const contacts = await listed('contacts');
    const touched = new Set([...mutated.updated, ...mutated.created, changed]);
    for (const [id, row] of after) {
      if (mutated.deleted.includes(id)) {
        expect(row.is_deleted).toBe(true);
        expect(row._supaglue_unified_data.is_deleted).toBe(true);
        continue;
      }
      expectContact(row, contacts.get(id));
      // Only what changed was written again.
      const written = before.get(id)?._supaglue_emitted_at.getTime() !== row._supaglue_emitted_at.getTime();
      expect(written, id).toBe(touched.has(id));
    }
    expect(after.size).toBe(before.size + 2);
    expect(after.get(changed)).toMatchObject({ lifecycle_stage: 'customer' });
    expect(after.get(changed)!.email_addresses[0].email_address).toBe('moved@new.example');
  });

  it('common syncs planned before common objects were mapped are planned again as Trellis starts', async () => {
    const { db } = t.runtime.deps;
    await db.query(
      `update syncs set plan = plan - 'reads' - 'defaultTable' - 'associations' where object_type = 'common'`,
    );
    await planUnplannedSyncs(db);
    const { rows: plans } = await db.query<{ object: string; plan: any }>(
      `select object, plan from syncs where object_type = 'common' order by object`,
    );
    expect(
      plans.map((p) => [p.object, p.plan.reads.object, p.plan.defaultTable, p.plan.associations]),
    ).toEqual([
      ['account', 'companies', 'crm_accounts', undefined],
      ['contact', 'contacts', 'crm_contacts', ['companies']],
      ['opportunity', 'deals', 'crm_opportunities', ['companies']],
      ['user', 'owners', 'crm_users', undefined],
    ]);
  });
});

describe('Salesforce common objects: contact, account, lead, opportunity and user in crm_* tables', () => {
  let s: Setup;
  const objects = ['contact', 'account', 'lead', 'opportunity', 'user'];

  /** A Salesforce address as Supaglue's, when any part of it is set. */
  const address = (r: any, prefix: string, type: string) =>
    [
      r[`${prefix}Street`],
      r[`${prefix}City`],
      r[`${prefix}State`],
      r[`${prefix}PostalCode`],
      r[`${prefix}Country`],
    ].some((v) => v !== null)
      ? [
          {
            street_1: r[`${prefix}Street`],
            street_2: null,
            city: r[`${prefix}City`],
            state: r[`${prefix}State`],
            postal_code: r[`${prefix}PostalCode`],
            country: r[`${prefix}Country`],
            address_type: type,
          },
        ]
      : [];
  const phones = (r: any, kinds: [string, string][]) =>
    kinds.flatMap(([field, type]) => (r[field] ? [{ phone_number: r[field], phone_number_type: type }] : []));
  const day = (v: string | null) => (v === null ? null : `${v}T00:00:00.000Z`);

  const expectContact = (row: Row, c: any) => {
    expect(row).toMatchObject({
      first_name: c.FirstName,
      last_name: c.LastName,
      email_addresses: [{ email_address: c.Email, email_address_type: 'primary' }],
      phone_numbers: phones(c, [
        ['Phone', 'primary'],
        ['MobilePhone', 'mobile'],
        ['Fax', 'fax'],
      ]),
      addresses: [...address(c, 'Mailing', 'mailing'), ...address(c, 'Other', 'other')],
      lifecycle_stage: null,
      account_id: c.AccountId,
      owner_id: c.OwnerId,
      is_deleted: false,
    });
    expect(isoOrNull(row.last_activity_at)).toBe(day(c.LastActivityDate));
    expect(isoOrNull(row.created_at)).toBe(iso(c.CreatedDate));
    expect(row.last_modified_at.toISOString()).toBe(iso(c.SystemModstamp));
    const { attributes: _, ...raw } = c;
    expect(row.raw_data).toEqual(raw);
  };

  beforeAll(async () => {
    s = await startSyncing({
      simulator: salesforce,
      provider: 'salesforce',
      category: 'crm',
      authType: 'oauth2',
      scopes: ['api', 'refresh_token'],
      limits: { daily_api_requests: 1_000_000 },
      commonObjects: objects,
    });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('lands contacts, accounts, leads, opportunities and users in the unified tables, field by field', async () => {
    for (const object of objects) await commonRuns(s.api, object, 1);
    for (const table of ['crm_contacts', 'crm_accounts', 'crm_leads', 'crm_opportunities', 'crm_users']) {
      expect(await columnsOf(s.warehouse, 'crm', table), table).toEqual(SUPAGLUE_COLUMNS[table]);
    }

    const contacts = await liveRecords(s, 'Contact');
    const contactRows = await unifiedRows(s, 'crm_contacts');
    expect([...contactRows.keys()].sort()).toEqual([...contacts.keys()].sort());
    for (const [id, c] of contacts) expectContact(contactRows.get(id)!, c);
    expect([...contactRows.values()].some((r) => r.addresses.length === 2)).toBe(true);

    const accounts = await liveRecords(s, 'Account');
    const accountRows = await unifiedRows(s, 'crm_accounts');
    expect([...accountRows.keys()].sort()).toEqual([...accounts.keys()].sort());
    for (const [id, a] of accounts) {
      const row = accountRows.get(id)!;
      expect(row).toMatchObject({
        name: a.Name,
        description: a.Description,
        industry: a.Industry,
        website: a.Website,
        number_of_employees: a.NumberOfEmployees,
        addresses: [...address(a, 'Billing', 'billing'), ...address(a, 'Shipping', 'shipping')],
        phone_numbers: phones(a, [
          ['Phone', 'primary'],
          ['Fax', 'fax'],
        ]),
        lifecycle_stage: null,
        owner_id: a.OwnerId,
      });
      expect(isoOrNull(row.last_activity_at)).toBe(day(a.LastActivityDate));
    }

    const leads = await liveRecords(s, 'Lead');
    const leadRows = await unifiedRows(s, 'crm_leads');
    expect([...leadRows.keys()].sort()).toEqual([...leads.keys()].sort());
    for (const [id, l] of leads) {
      const row = leadRows.get(id)!;
      expect(row).toMatchObject({
        lead_source: l.LeadSource,
        title: l.Title,
        company: l.Company,
        first_name: l.FirstName,
        last_name: l.LastName,
        addresses: address(l, '', 'primary'),
        email_addresses: [{ email_address: l.Email, email_address_type: 'primary' }],
        phone_numbers: phones(l, [['Phone', 'primary']]),
        converted_contact_id: l.ConvertedContactId,
        converted_account_id: l.ConvertedAccountId,
        owner_id: l.OwnerId,
      });
      expect(isoOrNull(row.converted_date)).toBe(day(l.ConvertedDate));
    }
    // Converted leads name the contact and account they became, both synced.
    const converted = [...leadRows.values()].filter((r) => r.converted_date !== null);
    expect(converted.length).toBeGreaterThan(0);
    for (const r of converted) {
      expect(contactRows.has(r.converted_contact_id)).toBe(true);
      expect(accountRows.has(r.converted_account_id)).toBe(true);
    }

    const opportunities = await liveRecords(s, 'Opportunity');
    const opportunityRows = await unifiedRows(s, 'crm_opportunities');
    expect([...opportunityRows.keys()].sort()).toEqual([...opportunities.keys()].sort());
    for (const [id, o] of opportunities) {
      const row = opportunityRows.get(id)!;
      expect(row).toMatchObject({
        name: o.Name,
        description: o.Description,
        amount: o.Amount,
        stage: o.StageName,
        status: o.IsWon ? 'WON' : o.IsClosed ? 'LOST' : 'OPEN',
        pipeline: null,
        account_id: o.AccountId,
        owner_id: o.OwnerId,
      });
      expect(isoOrNull(row.close_date)).toBe(day(o.CloseDate));
    }
    expect(new Set([...opportunityRows.values()].map((r) => r.status))).toEqual(
      new Set(['OPEN', 'WON', 'LOST']),
    );

    const users = await liveRecords(s, 'User');
    const userRows = await unifiedRows(s, 'crm_users');
    expect([...userRows.keys()].sort()).toEqual([...users.keys()].sort());
    for (const [id, u] of users) {
      expect(userRows.get(id)).toMatchObject({ name: u.Name, email: u.Email, is_active: u.IsActive });
    }
    expect(new Set([...userRows.values()].map((r) => r.is_active))).toEqual(new Set([true, false]));
    // Owner and account links point at rows of the unified tables.
    for (const r of [...contactRows.values(), ...opportunityRows.values()]) {
      expect(userRows.has(r.owner_id)).toBe(true);
      expect(accountRows.has(r.account_id)).toBe(true);
    }
  });

  it('an incremental run carries exactly the changes, and deletions are marked', async () => {
    const before = await unifiedRows(s, 'crm_contacts');
    const mutated = await simControl(s.sim.url, 'mutate', {
      object: 'Contact',
      update: 3,
      delete: 2,
      create: 2,
    });
    const [changed = ''] = [...before.keys()].filter(
      (id) => !mutated.updated.includes(id) && !mutated.deleted.includes(id),
    );
    await providerCall(s, 'PATCH', `/services/data/v59.0/sobjects/Contact/${changed}`, {
      MailingCity: 'Lagos',
      MailingCountry: 'Nigeria',
      MobilePhone: '+234-555-0100',
      Email: 'moved@new.example',
    });
    await incrementalRun(s, 'salesforce', 'contact', 1);

    const after = await unifiedRows(s, 'crm_contacts');
    const contacts = await liveRecords(s, 'Contact');
    const touched = new Set([...mutated.updated, ...mutated.created, changed]);
    for (const [id, row] of after) {
      if (mutated.deleted.includes(id)) {
        expect(row.is_deleted).toBe(true);
        continue;
      }
      expectContact(row, contacts.get(id));
      const written = before.get(id)?._supaglue_emitted_at.getTime() !== row._supaglue_emitted_at.getTime();
      expect(written, id).toBe(touched.has(id));
    }
    expect(after.size).toBe(before.size + 2);
    expect(after.get(changed)!.addresses[0]).toMatchObject({ city: 'Lagos', country: 'Nigeria' });
    expect(after.get(changed)!.phone_numbers).toContainEqual({
      phone_number: '+234-555-0100',
      phone_number_type: 'mobile',
    });
  });
});

describe('Apollo common objects: contacts, accounts, sequences, mailboxes, users and sequence states', () => {
  let s: Setup;
  const objects = ['contact', 'account', 'sequence', 'mailbox', 'user', 'sequence_state'];
  const apollo = (method: string, path: string, body?: object) =>
    providerCall(s, method, path, body, 'x-api-key');

  const expectContact = (row: Row, c: any) => {
    expect(row).toMatchObject({
      first_name: c.first_name,
      last_name: c.last_name,
      job_title: c.title,
      address: {
        street_1: c.street_address,
        street_2: null,
        city: c.city,
        state: c.state,
        postal_code: c.postal_code,
        country: c.country,
      },
      email_addresses: [{ email_address: c.email, email_address_type: 'primary' }],
      phone_numbers: c.phone_numbers.map((p: any) => ({
        phone_number: p.sanitized_number,
        phone_number_type: 'work',
      })),
      owner_id: c.owner_id,
      account_id: c.account_id,
      open_count: 0,
      click_count: 0,
      reply_count: 0,
      bounced_count: 0,
      is_deleted: false,
    });
    expect(isoOrNull(row.created_at)).toBe(c.created_at);
    expect(isoOrNull(row.updated_at)).toBe(c.updated_at);
    expect(row.raw_data).toEqual(c);
  };

  beforeAll(async () => {
    s = await startSyncing({
      simulator: apolloSimulator,
      provider: 'apollo',
      category: 'engagement',
      authType: 'api_key',
      limits: { per_minute: 100_000, per_hour: 100_000, per_day: 100_000 },
      commonObjects: objects,
    });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('lands every object in the engagement tables, field by field', async () => {
    for (const object of objects) await commonRuns(s.api, object, 1);
    for (const [table, columns] of Object.entries(ENGAGEMENT_COLUMNS)) {
      expect(await columnsOf(s.warehouse, 'crm', table), table).toEqual(columns);
    }

    const contacts = await liveRecords(s, 'contacts');
    const contactRows = await unifiedRows(s, 'engagement_contacts');
    expect([...contactRows.keys()].sort()).toEqual([...contacts.keys()].sort());
    for (const [id, c] of contacts) expectContact(contactRows.get(id)!, c);

    const accounts = await liveRecords(s, 'accounts');
    const accountRows = await unifiedRows(s, 'engagement_accounts');
    expect([...accountRows.keys()].sort()).toEqual([...accounts.keys()].sort());
    for (const [id, a] of accounts) {
      expect(accountRows.get(id)).toMatchObject({ name: a.name, domain: a.domain, owner_id: a.owner_id });
    }

    const campaigns = await liveRecords(s, 'emailer_campaigns');
    const sequenceRows = await unifiedRows(s, 'engagement_sequences');
    expect([...sequenceRows.keys()].sort()).toEqual([...campaigns.keys()].sort());
    for (const [id, c] of campaigns) {
      const row = sequenceRows.get(id)!;
      expect(row).toMatchObject({
        name: c.name,
        owner_id: c.user_id,
        num_steps: c.num_steps,
        is_enabled: c.active,
        tags: c.label_ids,
        // An archived sequence is a deleted one, as Supaglue had it.
        is_deleted: c.archived,
        metrics: {
          uniqueScheduled: c.unique_scheduled,
          uniqueDelivered: c.unique_delivered,
          uniqueBounced: 0,
          uniqueOpened: 0,
          uniqueReplied: 0,
          uniqueDemoed: 0,
          uniqueClicked: 0,
          uniqueUnsubscribed: 0,
        },
      });
      expect(row._supaglue_unified_data).toMatchObject({
        share_type: c.permissions === 'private' ? 'private' : 'team',
        is_archived: c.archived,
      });
    }
    expect(new Set([...sequenceRows.values()].map((r) => r._supaglue_unified_data.share_type))).toEqual(
      new Set(['team', 'private']),
    );

    const { email_accounts: mailboxes } = await apollo('GET', '/api/v1/email_accounts');
    const mailboxRows = await unifiedRows(s, 'engagement_mailboxes');
    expect([...mailboxRows.keys()].sort()).toEqual(mailboxes.map((m: any) => m.id).sort());
    for (const m of mailboxes) {
      const row = mailboxRows.get(m.id)!;
      expect(row).toMatchObject({ email: m.email, user_id: m.user_id, created_at: null });
      expect(row.updated_at.toISOString()).toBe(m.last_synced_at);
      expect(row._supaglue_unified_data.is_disabled).toBe(!m.active);
    }

    const users = await liveRecords(s, 'users');
    const userRows = await unifiedRows(s, 'engagement_users');
    expect([...userRows.keys()].sort()).toEqual([...users.keys()].sort());
    for (const [id, u] of users) {
      expect(userRows.get(id)).toMatchObject({
        first_name: u.first_name,
        last_name: u.last_name,
        email: u.email,
      });
      expect(userRows.get(id)!._supaglue_unified_data.is_locked).toBeNull();
    }

    // Each contact's campaign statuses are sequence states of their own.
    const statuses = [...contacts.values()].flatMap((c) =>
      c.contact_campaign_statuses.map((st: any) => ({ ...st, contact_id: c.id })),
    );
    const stateRows = await unifiedRows(s, 'engagement_sequence_states');
    expect(statuses.length).toBeGreaterThan(contacts.size / 2);
    expect([...stateRows.keys()].sort()).toEqual(statuses.map((st) => st.id).sort());
    for (const st of statuses) {
      const row = stateRows.get(st.id)!;
      expect(row).toMatchObject({
        sequence_id: st.emailer_campaign_id,
        contact_id: st.contact_id,
        mailbox_id: st.send_email_from_email_account_id,
        user_id: st.added_by_user_id,
        state: st.status,
      });
      const { contact_id: _, ...raw } = st;
      expect(row.raw_data).toEqual(raw);
      expect(isoOrNull(row.created_at)).toBe(st.added_at);
      // The links point at rows of the other tables.
      expect(sequenceRows.has(row.sequence_id)).toBe(true);
      expect(mailboxRows.has(row.mailbox_id)).toBe(true);
      expect(contactRows.has(row.contact_id)).toBe(true);
    }
    for (const r of contactRows.values()) {
      expect(userRows.has(r.owner_id)).toBe(true);
      expect(accountRows.has(r.account_id)).toBe(true);
    }
  });

  it('an incremental run carries exactly the changes; the next full run marks deletions', async () => {
    const before = await unifiedRows(s, 'engagement_contacts');
    const mutated = await simControl(s.sim.url, 'mutate', {
      object: 'contacts',
      update: 3,
      delete: 2,
      create: 2,
    });
    const [changed = ''] = [...before.keys()].filter(
      (id) => !mutated.updated.includes(id) && !mutated.deleted.includes(id),
    );
    await apollo('PATCH', `/api/v1/contacts/${changed}`, {
      title: 'Chief Sequencer',
      email: 'moved@new.example',
    });
    await incrementalRun(s, 'apollo', 'contact', 1);

    const after = await unifiedRows(s, 'engagement_contacts');
    const contacts = await liveRecords(s, 'contacts');
    const touched = new Set([...mutated.updated, ...mutated.created, changed]);
    for (const [id, row] of after) {
      // Apollo lists no deletions: an incremental run cannot see them.
      if (mutated.deleted.includes(id)) continue;
      expectContact(row, contacts.get(id));
      const written = before.get(id)?._supaglue_emitted_at.getTime() !== row._supaglue_emitted_at.getTime();
      expect(written, id).toBe(touched.has(id));
    }
    expect(after.size).toBe(before.size + 2);
    expect(after.get(changed)).toMatchObject({ job_title: 'Chief Sequencer' });

    await ok(
      s.api,
      'POST',
      '/syncs/_trigger',
      { object_type: 'common', object: 'contact', perform_full_refresh: true },
      { 'x-customer-id': 'acme', 'x-provider-name': 'apollo' },
    );
    await commonRuns(s.api, 'contact', 3);
    const swept = await unifiedRows(s, 'engagement_contacts');
    for (const id of mutated.deleted) {
      expect(swept.get(id)).toMatchObject({ is_deleted: true });
      expect(swept.get(id)!._supaglue_unified_data.is_deleted).toBe(true);
    }
    expect([...swept.values()].filter((r) => r.is_deleted).length).toBe(mutated.deleted.length);
  });
});

describe('Pipedrive common objects: persons, organizations, leads, deals and users in crm_* tables', () => {
  let s: Setup;
  const objects = ['contact', 'account', 'lead', 'opportunity', 'user'];
  const id = (v: unknown) => (v === null || v === undefined ? null : String(v));

  const expectContact = (row: Row, p: any) => {
    expect(row).toMatchObject({
      first_name: p.first_name,
      last_name: p.last_name,
      addresses: [],
      email_addresses: p.emails.map((e: any) => ({
        email_address: e.value,
        email_address_type: e.primary ? 'primary' : e.label === 'work' ? 'work' : 'other',
      })),
      phone_numbers: p.phones.map((ph: any) => ({
        phone_number: ph.value,
        phone_number_type: ph.primary ? 'primary' : ph.label === 'mobile' ? 'mobile' : 'other',
      })),
      lifecycle_stage: null,
      account_id: id(p.org_id),
      owner_id: id(p.owner_id),
      is_deleted: false,
    });
    expect(isoOrNull(row.created_at)).toBe(iso(p.add_time));
    expect(row.last_modified_at.toISOString()).toBe(iso(p.update_time));
    expect(row.raw_data).toEqual(p);
  };

  beforeAll(async () => {
    s = await startSyncing({
      simulator: pipedrive,
      provider: 'pipedrive',
      category: 'crm',
      authType: 'oauth-flow',
      scopes: ['base', 'contacts:full', 'deals:full', 'leads:read', 'users:read'],
      limits: { burst_per_2s: 10_000, daily_tokens: 10_000_000 },
      commonObjects: objects,
    });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('lands persons, organizations, leads, deals and users in the unified tables, field by field', async () => {
    for (const object of objects) await commonRuns(s.api, object, 1);
    for (const table of ['crm_contacts', 'crm_accounts', 'crm_leads', 'crm_opportunities', 'crm_users']) {
      expect(await columnsOf(s.warehouse, 'crm', table), table).toEqual(SUPAGLUE_COLUMNS[table]);
    }

    const persons = await liveRecords(s, 'persons');
    const contactRows = await unifiedRows(s, 'crm_contacts');
    expect([...contactRows.keys()].sort()).toEqual([...persons.keys()].sort());
    for (const [personId, p] of persons) expectContact(contactRows.get(personId)!, p);
    expect([...contactRows.values()].some((r) => r.email_addresses.length === 2)).toBe(true);

    const organizations = await liveRecords(s, 'organizations');
    const accountRows = await unifiedRows(s, 'crm_accounts');
    expect([...accountRows.keys()].sort()).toEqual([...organizations.keys()].sort());
    for (const [orgId, o] of organizations) {
      const a = o.address;
      expect(accountRows.get(orgId)).toMatchObject({
        name: o.name,
        website: o.website,
        number_of_employees: o.employee_count,
        owner_id: id(o.owner_id),
        addresses: a
          ? [
              {
                street_1: `${a.street_number} ${a.route}`,
                street_2: a.subpremise,
                city: a.locality,
                state: a.admin_area_level_1,
                postal_code: a.postal_code,
                country: a.country,
                address_type: 'primary',
              },
            ]
          : [],
      });
    }

    const leads = await liveRecords(s, 'leads');
    const leadRows = await unifiedRows(s, 'crm_leads');
    expect([...leadRows.keys()].sort()).toEqual([...leads.keys()].sort());
    for (const [leadId, l] of leads) {
      expect(leadRows.get(leadId)).toMatchObject({
        title: l.title,
        lead_source: l.source_name,
        converted_contact_id: id(l.person_id),
        converted_account_id: id(l.organization_id),
        owner_id: id(l.owner_id),
        // An archived lead is a deleted one, as Supaglue had it.
        is_deleted: l.is_archived,
      });
    }
    expect(new Set([...leadRows.values()].map((r) => r.is_deleted))).toEqual(new Set([true, false]));

    const deals = await liveRecords(s, 'deals');
    const opportunityRows = await unifiedRows(s, 'crm_opportunities');
    expect([...opportunityRows.keys()].sort()).toEqual([...deals.keys()].sort());
    for (const [dealId, d] of deals) {
      const row = opportunityRows.get(dealId)!;
      expect(row).toMatchObject({
        name: d.title,
        amount: d.value,
        stage: id(d.stage_id),
        pipeline: id(d.pipeline_id),
        status: d.status.toUpperCase(),
        account_id: id(d.org_id),
        owner_id: id(d.owner_id),
      });
      expect(isoOrNull(row.close_date)).toBe(iso(d.close_time));
    }

    const { data: users } = await providerCall(s, 'GET', '/api/v1/users');
    const userRows = await unifiedRows(s, 'crm_users');
    expect([...userRows.keys()].sort()).toEqual(users.map((u: any) => String(u.id)).sort());
    for (const u of users) {
      expect(userRows.get(String(u.id))).toMatchObject({
        name: u.name,
        email: u.email,
        is_active: u.active_flag,
      });
    }
    for (const r of [...contactRows.values(), ...opportunityRows.values()]) {
      expect(userRows.has(r.owner_id)).toBe(true);
      expect(accountRows.has(r.account_id)).toBe(true);
    }
  });

  it('incremental runs carry exactly the changes (deleted deals included); a full run marks deleted persons', async () => {
    const before = await unifiedRows(s, 'crm_contacts');
    const mutated = await simControl(s.sim.url, 'mutate', {
      object: 'persons',
      update: 3,
      delete: 2,
      create: 2,
    });
    const [changed = ''] = [...before.keys()].filter(
      (key) => !mutated.updated.includes(key) && !mutated.deleted.includes(key),
    );
    await providerCall(s, 'PATCH', `/api/v2/persons/${changed}`, {
      emails: [
        { value: 'moved@new.example', primary: true, label: 'work' },
        { value: 'me@home.example', primary: false, label: 'home' },
      ],
    });
    await incrementalRun(s, 'pipedrive', 'contact', 1);
    const after = await unifiedRows(s, 'crm_contacts');
    const persons = await liveRecords(s, 'persons');
    const touched = new Set([...mutated.updated, ...mutated.created, changed]);
    for (const [key, row] of after) {
      if (mutated.deleted.includes(key)) continue;
      expectContact(row, persons.get(key));
      const written = before.get(key)?._supaglue_emitted_at.getTime() !== row._supaglue_emitted_at.getTime();
      expect(written, key).toBe(touched.has(key));
    }
    expect(after.get(changed)!.email_addresses).toEqual([
      { email_address: 'moved@new.example', email_address_type: 'primary' },
      { email_address: 'me@home.example', email_address_type: 'other' },
    ]);

    // Deleted deals are listed by incremental reads.
    const dealsMutated = await simControl(s.sim.url, 'mutate', { object: 'deals', delete: 2 });
    await incrementalRun(s, 'pipedrive', 'opportunity', 1);
    const opportunities = await unifiedRows(s, 'crm_opportunities');
    for (const key of dealsMutated.deleted)
      expect(opportunities.get(key)).toMatchObject({ is_deleted: true });
    expect([...opportunities.values()].filter((r) => r.is_deleted).length).toBe(2);

    await ok(
      s.api,
      'POST',
      '/syncs/_trigger',
      { object_type: 'common', object: 'contact', perform_full_refresh: true },
      { 'x-customer-id': 'acme', 'x-provider-name': 'pipedrive' },
    );
    await commonRuns(s.api, 'contact', 3);
    const swept = await unifiedRows(s, 'crm_contacts');
    for (const key of mutated.deleted) expect(swept.get(key)).toMatchObject({ is_deleted: true });
    expect([...swept.values()].filter((r) => r.is_deleted).length).toBe(mutated.deleted.length);
  });
});

describe('HubSpot associations_to_fetch: associated ids kept as HubSpot lists them', () => {
  let s: Setup;

  /** Live contacts as HubSpot's list endpoint answers with `associations`. */
  const listedWith = async (associations: string) => {
    const records: any[] = [];
    let after: string | undefined;
    do {
      const page = await providerCall(
        s,
        'GET',
        `/crm/v3/objects/contacts?limit=100&associations=${associations}${after ? `&after=${after}` : ''}`,
      );
      records.push(...page.results);
      after = page.paging?.next?.after;
    } while (after);
    return new Map(records.map((r) => [r.id as string, r.associations]));
  };
  const standardRows = async () =>
    new Map(
      (
        await s.warehouse.query<Row>(
          `select _supaglue_id as id, _supaglue_raw_data as raw, _supaglue_emitted_at as emitted
             from crm.hubspot_contacts where _supaglue_customer_id = 'acme'`,
        )
      ).rows.map((r) => [r.id as string, r]),
    );

  beforeAll(async () => {
    s = await startSyncing({
      simulator: hubspot,
      provider: 'hubspot',
      category: 'crm',
      authType: 'oauth2',
      scopes: ['oauth'],
      limits: { ten_second: 5000, search_per_second: 100 },
      commonObjects: [],
      config: {
        common_objects: [{ object: 'contact', associations_to_fetch: ['opportunity'] }],
        standard_objects: [{ object: 'contacts', associations_to_fetch: ['deal', 'account'] }],
      },
    });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('full reads keep the associations asked for; the common contact also its companies', async () => {
    await commonRuns(s.api, 'contact', 1);
    await waitForStandardRun(s.api, 'contacts', 1);
    const expected = await listedWith('deals,companies');
    const standard = await standardRows();
    expect([...standard.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [id, associations] of expected) {
      expect(associations.deals.results.length).toBeGreaterThan(0);
      expect(standard.get(id)!.raw.associations, id).toEqual(associations);
    }
    // The common contact asked for its opportunities; its mapping needs the companies.
    for (const [id, r] of await unifiedRows(s, 'crm_contacts')) {
      expect(r.raw_data.associations, id).toEqual(expected.get(id));
      expect(r.account_id).toBe(expected.get(id).companies.results[0].id);
    }
  });

  it('incremental reads, through search, keep them the same way', async () => {
    const mutated = await simControl(s.sim.url, 'mutate', { object: 'contacts', update: 4, create: 1 });
    await ok(
      s.api,
      'POST',
      '/syncs/_trigger',
      { object_type: 'standard', object: 'contacts' },
      { 'x-customer-id': 'acme', 'x-provider-name': 'hubspot' },
    );
    await incrementalRun(s, 'hubspot', 'contact', 1);
    await waitForStandardRun(s.api, 'contacts', 2);
    const expected = await listedWith('deals,companies');
    const standard = await standardRows();
    const unified = await unifiedRows(s, 'crm_contacts');
    for (const id of [...mutated.updated, ...mutated.created]) {
      expect(standard.get(id)!.raw.associations, id).toEqual(expected.get(id));
      expect(unified.get(id)!.raw_data.associations, id).toEqual(expected.get(id));
    }
    // The searched records really came through search: HubSpot's search answers carry no associations.
    const served = (await simControl(s.sim.url, 'stats')).requests as Record<string, number>;
    expect(served['POST /crm/v3/associations/:from/:to/batch/read']).toBeGreaterThan(0);
  });

  it('an association to nothing the portal has fails the run, saying so', async () => {
    const [config] = (await ok(s.api, 'GET', '/sync_configs')) as { id: string; config: any }[];
    await ok(s.api, 'PUT', `/sync_configs/${config!.id}`, {
      config: {
        ...config!.config,
        standard_objects: [{ object: 'contacts', associations_to_fetch: ['tickets'] }],
      },
    });
    await ok(
      s.api,
      'POST',
      '/syncs/_trigger',
      { object_type: 'standard', object: 'contacts' },
      { 'x-customer-id': 'acme', 'x-provider-name': 'hubspot' },
    );
    const [run] = await waitForStandardRun(s.api, 'contacts', 3, false);
    expect(run.status).toBe('FAILURE');
    expect(run.error_message).toContain('HubSpot records cannot be associated with "tickets"');
  });
});

/** Waits for `count` ended runs of standard object `object` of customer acme; checks the newest succeeded unless told. */
async function waitForStandardRun(api: Client, object: string, count: number, succeeded = true) {
  for (let i = 0; i < 600; i++) {
    const res = await api('GET', '/sync-runs', {
      query: { customer_id: 'acme', object_type: 'standard', object },
    });
    const ended = res.body.results.filter((r: { status: string }) => r.status !== 'IN_PROGRESS');
    if (ended.length >= count) {
      if (succeeded) expect(ended[0].status, `${object}: ${ended[0].error_message}`).toBe('SUCCESS');
      return ended;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`fewer than ${count} runs of ${object} ended`);
}
