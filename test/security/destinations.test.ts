import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { destinationTarget, listDestinations } from '../../src/core/destinations.ts';
import { createProject } from '../../src/core/projects.ts';
import { builtInSchema, openDestination, type TableRef } from '../../src/destinations/index.ts';
import { simControl, simOAuthProvider } from '../helpers/simulator.ts';
import { connectHubspot, endedRuns, hourlySyncConfig, setUpHubspotSync } from '../helpers/syncs.ts';
import {
  type Client,
  client,
  createTestDatabase,
  startTrellis,
  type TestTrellis,
} from '../helpers/trellis.ts';

const RECORDS = 40;
const MANAGED = 'Supaglue Managed Destination';
const acme = { 'x-customer-id': 'acme', 'x-provider-name': 'hubspot' };
/** Schemas no project may write into, whatever it asks for. */
const SHARED_SCHEMAS = ['trellis', 'pgboss', 'public'];

const record = (id: string) => ({
  id,
  lastModifiedAt: new Date(),
  isDeleted: false,
  raw: { id },
  mapped: {},
  fields: () => ({ id }),
});

describe('destinations write only where they may', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let db: pg.Client;
  let a: Client;
  let aId: string;
  let b: Client;
  let bId: string;

  /** Every table in `schemas`, as `schema.table`, sorted. */
  const tablesIn = async (schemas: string[]) =>
    (
      await db.query<{ name: string }>(
        `select schemaname || '.' || tablename as name from pg_tables where schemaname = any($1) order by 1`,
        [schemas],
      )
    ).rows.map((r) => r.name);

  const refreshToken = async () => (await simControl(sim.url, 'tokens', {})).refresh_token as string;

  /** The project's HubSpot provider, a sync config of `objects` into its managed destination, and acme's connection. */
  const syncIntoManaged = async (api: Client, ...objects: string[]) => {
    expect((await api('POST', '/providers', { body: simOAuthProvider('hubspot', ['oauth']) })).status).toBe(
      201,
    );
    const syncConfig = await api('POST', '/sync_configs', {
      body: { destination_name: MANAGED, provider_name: 'hubspot', config: hourlySyncConfig(...objects) },
    });
    expect(syncConfig.status, JSON.stringify(syncConfig.body)).toBe(201);
    await connectHubspot(api, await refreshToken());
  };

  /** Triggers acme's contacts and waits for the run; returns it. */
  const runContacts = async (api: Client) => {
    const before = (await api('GET', '/sync-runs', { query: { customer_id: 'acme' } })).body.results.filter(
      (r: { object: string }) => r.object === 'contacts',
    ).length;
    const trigger = await api('POST', '/syncs/_trigger', {
      headers: acme,
      body: { object_type: 'standard', object: 'contacts' },
    });
    expect(trigger.status, JSON.stringify(trigger.body)).toBe(200);
    const [latest] = await endedRuns(api, 'contacts', before + 1);
    return latest;
  };

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: RECORDS });
    await simControl(sim.url, 'limits', { ten_second: 5000, search_per_second: 100 });
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) } });
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    a = client(t.baseUrl, t.apiKey);
    aId = (await db.query(`select id from trellis.projects where name = 'default'`)).rows[0].id;
    const projectB = await createProject(t.runtime.deps.db, 'project-b');
    bId = projectB.project.id;
    b = client(t.baseUrl, projectB.apiKey);
    // Project B's managed schema holds B's contacts; its name follows from B's id.
    await syncIntoManaged(b, 'contacts');
    expect((await endedRuns(b, 'contacts', 1))[0]).toMatchObject({ status: 'SUCCESS' });
    await syncIntoManaged(a, 'contacts', 'companies');
    expect((await endedRuns(a, 'contacts', 1))[0]).toMatchObject({ status: 'SUCCESS' });
    await endedRuns(a, 'companies', 1);
  });
  afterAll(async () => {
    await db?.end();
    await t?.stop();
    await sim?.close();
  });

  it('refuses schema and table overrides for the built-in destination; records land in the own schema only', async () => {
    const aSchema = builtInSchema(aId);
    const bSchema = builtInSchema(bId);
    const elsewhere = [...SHARED_SCHEMAS, bSchema];
    const tablesBefore = await tablesIn(elsewhere);
    expect(tablesBefore).toContain(`${bSchema}.hubspot_contacts`);

    const attempts = [
      ...[...SHARED_SCHEMAS, bSchema].map((schema) => ({ destination_config: { type: 'postgres', schema } })),
      // Into B's very table, where no new table would show.
      {
        destination_config: { type: 'postgres', schema: bSchema },
        standard_objects: [{ object: 'contacts', table: 'hubspot_contacts' }],
      },
      { standard_objects: [{ object: 'contacts', table: 'Weird "Table"; drop table x' }] },
      {
        destination_config: { type: 'postgres', schema: aSchema },
        standard_objects: [{ object: 'contacts', table: 'mine' }],
      },
    ];
    const answers: { status: number; body: any }[] = [];
    for (const overrides of attempts) {
      const res = await a('PUT', '/connection_sync_configs', { headers: acme, body: overrides });
      answers.push(res);
      // Accepted overrides get their run: whatever they would do happens before the checks below.
      if (res.status === 200) await runContacts(a);
    }

    expect(await tablesIn(elsewhere)).toEqual(tablesBefore);
    const inB = await db.query(
      `select distinct _supaglue_application_id as app from ${bSchema}.hubspot_contacts`,
    );
    expect(inB.rows).toEqual([{ app: bId }]);
    expect(await tablesIn([aSchema])).toEqual([
      `${aSchema}.hubspot_companies`,
      `${aSchema}.hubspot_contacts`,
    ]);
    const inA = await db.query(
      `select count(*)::int as n from ${aSchema}.hubspot_contacts where not _supaglue_is_deleted`,
    );
    expect(inA.rows[0].n).toBe(RECORDS);

    for (const [i, res] of answers.entries()) {
      expect(res.status, JSON.stringify(attempts[i])).toBe(400);
      expect(res.body.errors[0]).toMatchObject({ code: 'BAD_REQUEST', status: '400' });
    }
    expect(answers[0]!.body.errors[0].detail).toMatch(/apply to postgres destinations only/);
    expect(answers[5]!.body.errors[0].detail).toMatch(/standard_objects\[0\]\.table must be/);
    expect((await a('GET', '/connection_sync_configs', { headers: acme })).status).toBe(404);
  });

  it('ignores overrides saved before the connection synced into the built-in destination', async () => {
    const projectC = await createProject(t.runtime.deps.db, 'project-c');
    const c = client(t.baseUrl, projectC.apiKey);
    const cSchema = builtInSchema(projectC.project.id);
    const tablesBefore = await tablesIn([...SHARED_SCHEMAS, builtInSchema(aId), builtInSchema(bId)]);
    expect((await c('POST', '/providers', { body: simOAuthProvider('hubspot', ['oauth']) })).status).toBe(
      201,
    );
    await connectHubspot(c, await refreshToken());
    // No sync config yet, so no destination to judge by: valid names are accepted...
    const overrides = {
      destination_config: { type: 'postgres', schema: 'trellis' },
      standard_objects: [{ object: 'contacts', table: 'planted' }],
    };
    const put = await c('PUT', '/connection_sync_configs', { headers: acme, body: overrides });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    // ...and then the sync config sends the connection's records to the built-in destination.
    const syncConfig = await c('POST', '/sync_configs', {
      body: { destination_name: MANAGED, provider_name: 'hubspot', config: hourlySyncConfig('contacts') },
    });
    expect(syncConfig.status).toBe(201);
    const [run] = await endedRuns(c, 'contacts', 1);
    expect(run).toMatchObject({ status: 'SUCCESS', num_records_synced: RECORDS });

    expect(await tablesIn([...SHARED_SCHEMAS, builtInSchema(aId), builtInSchema(bId)])).toEqual(tablesBefore);
    expect(await tablesIn([cSchema])).toEqual([`${cSchema}.hubspot_contacts`]);
    expect(t.logs.some((l) => /names a schema or table; ignored/.test(String(l.msg)))).toBe(true);
  });

  it("a project's built-in writer cannot write outside its schema even when handed another", async () => {
    const deps = t.runtime.deps;
    // Trellis connects as a superuser here: only the writer's role can be what refuses.
    const { rows } = await deps.db.query('select rolsuper from pg_roles where rolname = current_user');
    expect(rows[0].rolsuper).toBe(true);
    const managed = (await listDestinations(deps, aId)).find((d) => d.type === 'supaglue')!;
    const { writer } = await openDestination(deps, destinationTarget(deps, managed));
    const bSchema = builtInSchema(bId);
    const owner = {
      projectId: aId,
      providerName: 'hubspot',
      customerRef: 'acme',
      customerName: 'Acme',
      installationId: 'probe',
      objectName: 'contacts',
    };
    const tablesBefore = await tablesIn([...SHARED_SCHEMAS, bSchema]);
    const bRowsBefore = (await db.query(`select * from ${bSchema}.hubspot_contacts order by _supaglue_id`))
      .rows;

    const denied = { code: '42501' };
    for (const schema of [...SHARED_SCHEMAS, bSchema]) {
      await expect(writer.prepare({ schema, table: 'planted' }), schema).rejects.toMatchObject(denied);
    }
    const foreign: TableRef[] = [
      { schema: bSchema, table: 'hubspot_contacts' },
      { schema: 'trellis', table: 'api_keys' },
      { schema: 'pgboss', table: 'job' },
    ];
    for (const target of foreign) {
      const where = `${target.schema}.${target.table}`;
      await expect(writer.write(target, owner, [record('x')], new Date()), where).rejects.toMatchObject(
        denied,
      );
      await expect(writer.markUnseenDeleted(target, owner, new Date()), where).rejects.toMatchObject(denied);
      await expect(writer.holdsRecords(target, owner), where).rejects.toMatchObject(denied);
    }
    expect(await tablesIn([...SHARED_SCHEMAS, bSchema])).toEqual(tablesBefore);
    expect((await db.query(`select * from ${bSchema}.hubspot_contacts order by _supaglue_id`)).rows).toEqual(
      bRowsBefore,
    );

    // Its own schema it can write.
    const own = { schema: builtInSchema(aId), table: 'probe' };
    await writer.prepare(own);
    await writer.write(own, owner, [record('p1')], new Date());
    expect((await db.query(`select _supaglue_id from ${own.schema}.probe`)).rows).toEqual([
      { _supaglue_id: 'p1' },
    ]);
    await db.query(`drop table ${own.schema}.probe`);
  });

  describe('postgres destinations', () => {
    let p: Client;
    let warehouse: pg.Client;
    let warehouseUrl: URL;

    const destination = async () => {
      const list = await p('GET', '/destinations');
      return list.body.find((d: { name: string }) => d.name === 'warehouse');
    };
    const update = async (config: Record<string, unknown>) => {
      const current = await destination();
      return p('PUT', `/destinations/${current.id}`, {
        body: {
          name: 'warehouse',
          type: 'postgres',
          version: current.version,
          config: { ...current.config, ...config },
        },
      });
    };

    beforeAll(async () => {
      p = client(t.baseUrl, (await createProject(t.runtime.deps.db, 'project-p')).apiKey);
      const warehouseDb = await createTestDatabase();
      warehouseUrl = new URL(warehouseDb);
      await setUpHubspotSync(p, warehouseDb, hourlySyncConfig('contacts'));
      await connectHubspot(p, await refreshToken());
      expect((await endedRuns(p, 'contacts', 1))[0]).toMatchObject({ status: 'SUCCESS' });
      warehouse = new pg.Client({ connectionString: warehouseDb });
      await warehouse.connect();
    });
    afterAll(() => warehouse?.end());

    it('refuse schema and table names outside the identifier rule, with a 400', async () => {
      const bad = [
        'Contacts',
        'a-b',
        '1abc',
        'x'.repeat(64),
        '',
        'pg_catalog',
        'information_schema',
        'a"b',
        'é',
      ];
      for (const name of bad) {
        for (const overrides of [
          { destination_config: { type: 'postgres', schema: name } },
          { custom_objects: [{ object: 'contacts', table: name }] },
        ]) {
          const res = await p('PUT', '/connection_sync_configs', { headers: acme, body: overrides });
          expect(res.status, JSON.stringify(overrides)).toBe(400);
          expect(res.body.errors[0].detail).toMatch(/must be|reserved by Postgres/);
        }
        const created = await p('POST', '/destinations', {
          body: {
            name: `w-${randomBytes(3).toString('hex')}`,
            type: 'postgres',
            config: { host: '127.0.0.1', port: 5432, database: 'd', schema: name, user: 'u', password: 'p' },
          },
        });
        expect(created.status, name).toBe(400);
        expect(created.body.errors[0].detail).toMatch(/^config\.schema /);
        expect((await update({ schema: name })).status, name).toBe(400);
      }
      expect((await destination()).config.schema).toBe('crm');
    });

    it('refuse hosts the outbound policy denies, at create and update', async () => {
      for (const host of ['169.254.169.254', '0.0.0.0', '::ffff:169.254.169.254', '224.0.0.1']) {
        const created = await p('POST', '/destinations', {
          body: {
            name: `w-${randomBytes(3).toString('hex')}`,
            type: 'postgres',
            config: { host, port: 5432, database: 'd', schema: 'crm', user: 'u', password: 'p' },
          },
        });
        expect(created.status, host).toBe(400);
        expect(created.body.errors[0].detail).toMatch(/not reachable for destinations/);
        const updated = await update({ host });
        expect(updated.status, host).toBe(400);
        expect(updated.body.errors[0].detail).toMatch(/not reachable for destinations/);
      }
      expect((await destination()).config.host).toBe(warehouseUrl.hostname);
    });

    it('check the host on every connection: a stored host the policy denies fails the run, named', async () => {
      const current = await destination();
      await db.query(
        `update trellis.destinations set config = jsonb_set(config, '{host}', '"169.254.169.254"'), version = version + 1
          where id = $1`,
        [current.id],
      );
      try {
        const run = await runContacts(p);
        expect(run.status).toBe('FAILURE');
        expect(run.error_message).toBe(
          'writing to destination "warehouse" failed: the outbound network policy refused 169.254.169.254 ' +
            '(a link-local, multicast or reserved address); see TRELLIS_ALLOWED_OUTBOUND',
        );
      } finally {
        await db.query(
          `update trellis.destinations set config = jsonb_set(config, '{host}', to_jsonb($2::text)), version = version + 1
            where id = $1`,
          [current.id, warehouseUrl.hostname],
        );
      }
    });

    it("report a driver's failure as Trellis's summary, the driver's text only in the logs", async () => {
      expect((await update({ password: 'not-the-password' })).status).toBe(200);
      try {
        const run = await runContacts(p);
        expect(run.status).toBe('FAILURE');
        expect(run.error_message).toBe('writing to destination "warehouse" failed: authentication failed');
        const failure = t.logs.filter((l) => l.msg === 'sync run failed').at(-1);
        expect(JSON.stringify(failure)).toMatch(/password authentication failed for user/);
      } finally {
        expect((await update({ password: decodeURIComponent(warehouseUrl.password) })).status).toBe(200);
      }
    });

    it("fail a run over a table name saved before the identifier rule, in Trellis's own words", async () => {
      const contacts = `select s.id from trellis.syncs s join trellis.installations ins on ins.id = s.installation_id
        join trellis.integrations i on i.id = ins.integration_id
        join trellis.destinations d on d.id = i.destination_id where d.name = 'warehouse' and s.object = 'contacts'`;
      await db.query(
        `update trellis.syncs set plan = plan || '{"table": "Contacts-2"}' where id in (${contacts})`,
      );
      try {
        const run = await runContacts(p);
        expect(run.status).toBe('FAILURE');
        expect(run.error_message).toBe(
          'writing to destination "warehouse" failed: the table name "Contacts-2" must be 1 to 63 lower-case ' +
            'letters, digits or underscores, not starting with a digit',
        );
      } finally {
        await db.query(`update trellis.syncs set plan = plan - 'table' where id in (${contacts})`);
      }
    });

    it('still honor schema and table overrides', async () => {
      const overrides = {
        destination_config: { type: 'postgres', schema: 'customer_a' },
        standard_objects: [{ object: 'contacts', table: 'my_contacts' }],
      };
      const runs = (await p('GET', '/sync-runs', { query: { customer_id: 'acme' } })).body.results.filter(
        (r: { object: string }) => r.object === 'contacts',
      ).length;
      const put = await p('PUT', '/connection_sync_configs', { headers: acme, body: overrides });
      expect(put.status, JSON.stringify(put.body)).toBe(200);
      // Records that go to another table are read whole into it, at once.
      const [moved] = await endedRuns(p, 'contacts', runs + 1);
      expect(moved).toMatchObject({ status: 'SUCCESS', num_records_synced: RECORDS });
      const { rows } = await warehouse.query('select count(*)::int as n from customer_a.my_contacts');
      expect(rows[0].n).toBe(RECORDS);
    });
  });
});

describe('the built-in destination with a database user that is not a superuser', () => {
  const admin = () => {
    const c = new pg.Client({ connectionString: inject('pgAdminUrl') });
    return c.connect().then(() => c);
  };

  /** A database owned by a new login role with `attributes`; its URL as that role. */
  const databaseOwnedBy = async (attributes: string) => {
    const name = `t_${randomBytes(6).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    const c = await admin();
    try {
      await c.query(`create role ${name} login ${attributes} password '${password}'`);
      await c.query(`create database ${name} owner ${name}`);
    } finally {
      await c.end();
    }
    const url = new URL(inject('pgAdminUrl'));
    url.username = name;
    url.password = password;
    url.pathname = `/${name}`;
    return url.toString();
  };

  let sim: RunningSimulator;
  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: RECORDS });
  });
  afterAll(() => sim?.close());

  for (const { attributes, confined } of [
    { attributes: 'createrole', confined: true },
    { attributes: 'nocreaterole', confined: false },
  ]) {
    it(`syncs into the project's schema as ${attributes}${confined ? ', through the per-project role' : ', warning that it cannot confine by role'}`, async () => {
      const t = await startTrellis({
        databaseUrl: await databaseOwnedBy(attributes),
        env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) },
      });
      try {
        const api = client(t.baseUrl, t.apiKey);
        expect(
          (await api('POST', '/providers', { body: simOAuthProvider('hubspot', ['oauth']) })).status,
        ).toBe(201);
        await api('POST', '/sync_configs', {
          body: { destination_name: MANAGED, provider_name: 'hubspot', config: hourlySyncConfig('contacts') },
        });
        await connectHubspot(api, (await simControl(sim.url, 'tokens', {})).refresh_token);
        const [run] = await endedRuns(api, 'contacts', 1);
        expect(run).toMatchObject({ status: 'SUCCESS', num_records_synced: RECORDS });
        const { rows } = await t.runtime.deps.db.query<{ schema: string; owner: string }>(
          `select schemaname as schema, tableowner as owner from pg_tables where tablename = 'hubspot_contacts'`,
        );
        const projectId = (await t.runtime.deps.db.query(`select id from projects`)).rows[0].id;
        expect(rows.map((r) => r.schema)).toEqual([builtInSchema(projectId)]);
        const warned = t.logs.some((l) => /may not create roles/.test(String(l.msg)));
        expect(warned).toBe(!confined);
        expect(rows[0]!.owner.startsWith('trellis_writer_')).toBe(confined);
      } finally {
        await t.stop();
      }
    });
  }
});
