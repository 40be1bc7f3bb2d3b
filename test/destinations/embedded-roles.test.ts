import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../src/db/embedded-postgres.ts';
import { builtInSchema } from '../../src/destinations/index.ts';
import { createLogger } from '../../src/logger.ts';
import { simControl, simOAuthProvider } from '../helpers/simulator.ts';
import { connectHubspot, endedRuns, hourlySyncConfig } from '../helpers/syncs.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

const RECORDS = 25;
const log = createLogger('warn');

/** What a role may do on the server, and whom the `trellis` database belongs to. */
async function describeRole(url: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query(
      `select r.rolsuper as superuser, r.rolcreaterole as "createRole", pg_get_userbyid(d.datdba) as "databaseOwner"
         from pg_roles r, pg_database d where r.rolname = current_user and d.datname = 'trellis'`,
    );
    return rows[0];
  } finally {
    await c.end();
  }
}

/** Everything outside Postgres's own schemas in the `trellis` database that `role` owns. */
async function ownedBy(adminUrl: string, role: string) {
  const c = new pg.Client({ connectionString: adminUrl.replace(/\/postgres$/, '/trellis') });
  await c.connect();
  try {
    const { rows } = await c.query<{ name: string }>(
      `with user_schemas as (
         select oid, nspname, nspowner from pg_namespace where not starts_with(nspname, 'pg_') and nspname <> 'information_schema')
       select 'schema ' || nspname as name from user_schemas n where nspowner = to_regrole($1)
       union all select 'relation ' || n.nspname || '.' || c.relname from pg_class c join user_schemas n on n.oid = c.relnamespace
        where c.relowner = to_regrole($1)
       union all select 'function ' || p.oid::regprocedure from pg_proc p join user_schemas n on n.oid = p.pronamespace
        where p.proowner = to_regrole($1)
       union all select 'type ' || t.oid::regtype from pg_type t join user_schemas n on n.oid = t.typnamespace
        where t.typowner = to_regrole($1) and t.typtype in ('e', 'd', 'r')`,
      [role],
    );
    return rows.map((r) => r.name);
  } finally {
    await c.end();
  }
}

describe(
  'the embedded PostgreSQL runs Trellis as a role that is not a superuser',
  { timeout: 180_000 },
  () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-roles-'));
    const env = {
      TRELLIS_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      TRELLIS_API_KEY: `trls_${randomBytes(18).toString('base64url')}`,
    };
    let sim: RunningSimulator;
    let server: EmbeddedPostgres | undefined;
    let t: TestTrellis | undefined;

    const start = async (databaseUrl: string) => {
      t = await startTrellis({
        databaseUrl,
        env: { ...env, TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) },
      });
      return client(t.baseUrl, env.TRELLIS_API_KEY);
    };
    const stop = async () => {
      await t?.stop();
      t = undefined;
    };
    const runContacts = async (api: Client, count: number) => {
      const [run] = await endedRuns(api, 'contacts', count);
      expect(run).toMatchObject({ status: 'SUCCESS', num_records_synced: RECORDS });
    };

    beforeAll(async () => {
      sim = await startSimulator(hubspot, { records: RECORDS });
    });
    afterAll(async () => {
      await stop();
      await server?.stop();
      await sim?.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it('a data directory Trellis used as the superuser is handed to the app role, and keeps syncing', async () => {
      server = await startEmbeddedPostgres({ dataDir, port: 0, log });
      expect(await describeRole(server.url)).toEqual({
        superuser: false,
        createRole: true,
        databaseOwner: 'trellis_app',
      });
      expect(await describeRole(server.adminUrl)).toMatchObject({ superuser: true });

      // As installations did before the app role existed: Trellis on the `trellis` database as the superuser.
      let api = await start(server.adminUrl.replace(/\/postgres$/, '/trellis'));
      expect((await api('POST', '/providers', { body: simOAuthProvider('hubspot', ['oauth']) })).status).toBe(
        201,
      );
      const syncConfig = await api('POST', '/sync_configs', {
        body: {
          destination_name: 'Supaglue Managed Destination',
          provider_name: 'hubspot',
          config: hourlySyncConfig('contacts'),
        },
      });
      expect(syncConfig.status).toBe(201);
      await connectHubspot(api, (await simControl(sim.url, 'tokens', {})).refresh_token);
      await runContacts(api, 1);
      const projectId = (await t!.runtime.deps.db.query('select id from projects')).rows[0].id;
      await stop();
      // Before per-project writer roles, the superuser created the built-in destination's tables too.
      const admin = new pg.Client({ connectionString: server.adminUrl.replace(/\/postgres$/, '/trellis') });
      await admin.connect();
      await admin.query(`alter table ${builtInSchema(projectId)}.hubspot_contacts owner to trellis`);
      await admin.end();
      expect(await ownedBy(server.adminUrl, 'trellis')).toContain('schema trellis');

      // The next start of the server hands everything over; Trellis then runs as the app role.
      await server.stop();
      server = await startEmbeddedPostgres({ dataDir, port: 0, log });
      expect(await ownedBy(server.adminUrl, 'trellis')).toEqual([]);
      expect(await ownedBy(server.adminUrl, 'trellis_app')).toEqual(
        expect.arrayContaining([
          'schema trellis',
          'schema pgboss',
          'relation trellis.projects',
          'relation pgboss.job',
          'relation public.trellis_migrations',
        ]),
      );
      api = await start(server.url);
      const { rows } = await t!.runtime.deps.db.query(`select current_setting('is_superuser') as superuser`);
      expect(rows[0].superuser).toBe('off');
      const trigger = await api('POST', '/syncs/_trigger', {
        headers: { 'x-customer-id': 'acme', 'x-provider-name': 'hubspot' },
        body: { object_type: 'standard', object: 'contacts', perform_full_refresh: true },
      });
      expect(trigger.status).toBe(200);
      await runContacts(api, 2);
      const tables = await t!.runtime.deps.db.query(
        `select tableowner as owner, count(*)::int as n from pg_tables where schemaname = $1 group by 1`,
        [builtInSchema(projectId)],
      );
      expect(tables.rows).toEqual([{ owner: expect.stringMatching(/^trellis_writer_/), n: 1 }]);
    });
  },
);
