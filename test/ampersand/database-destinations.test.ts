import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { BUILT_IN_DESTINATION_NAME } from '../../src/core/destinations.ts';
import { authenticateApiKey } from '../../src/core/projects.ts';
import { builtInSchema } from '../../src/destinations/index.ts';
import { simControl, simOAuthProvider, simRecords } from '../helpers/simulator.ts';
import { connectHubspot, endedRuns, warehouseDestination } from '../helpers/syncs.ts';
import {
  type Client,
  client,
  createTestDatabase,
  startTrellis,
  type TestTrellis,
} from '../helpers/trellis.ts';

/**
 * A manifest's objects may name any destination of the project, not only webhooks: a Postgres
 * database and the built-in destination receive an installation's reads as they receive a sync
 * config's, with the installation's mapped names in each row's mapped data.
 */

describe('a manifest deployed through /v1 syncs into Postgres and the built-in destination', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let mgmt: Client;
  let v1: Client;
  let warehouse: pg.Client;

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: 40 });
    await simControl(sim.url, 'limits', { ten_second: 5000, search_per_second: 100 });
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) } });
    mgmt = client(t.baseUrl, t.apiKey);
    v1 = client(t.baseUrl, t.apiKey, '/v1');
    const databaseUrl = await createTestDatabase();
    const made = await mgmt('POST', '/destinations', { body: warehouseDestination(databaseUrl) });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    expect((await mgmt('POST', '/providers', { body: simOAuthProvider('hubspot', ['oauth']) })).status).toBe(
      201,
    );
    warehouse = new pg.Client({ connectionString: databaseUrl });
    await warehouse.connect();
  });

  afterAll(async () => {
    await warehouse?.end();
    await t?.stop();
    await sim?.close();
  });

  it('delivers contacts to the Postgres database and companies to the built-in destination', async () => {
    const manifest = [
      'specVersion: 1.0.0',
      'integrations:',
      '  - name: hubspot-crm',
      '    provider: hubspot',
      '    read:',
      '      objects:',
      '        - objectName: contacts',
      '          destination: warehouse',
      '          schedule: "*/10 * * * *"',
      '          requiredFields: [{ fieldName: email, mapToName: workEmail }]',
      '          backfill: { defaultPeriod: { fullHistory: true } }',
      '        - objectName: companies',
      `          destination: ${BUILT_IN_DESTINATION_NAME}`,
      '          schedule: "*/10 * * * *"',
      '          requiredFields: [{ fieldName: name }]',
      '          backfill: { defaultPeriod: { fullHistory: true } }',
    ].join('\n');
    const deployed = await v1('PUT', '/projects/default/integrations:batch', {
      body: { sourceYaml: manifest },
    });
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(200);
    await connectHubspot(mgmt, (await simControl(sim.url, 'tokens', {})).refresh_token);
    const objects = (names: string[]) =>
      Object.fromEntries(
        names.map((n) => [n, { objectName: n, selectedFields: {}, selectedFieldMappings: {} }]),
      );
    const installed = await v1('POST', '/projects/default/integrations/hubspot-crm/installations', {
      body: {
        groupRef: 'acme',
        config: { content: { provider: 'hubspot', read: { objects: objects(['contacts', 'companies']) } } },
      },
    });
    expect(installed.status, JSON.stringify(installed.body)).toBe(201);
    const [contactsRun] = await endedRuns(mgmt, 'contacts', 1);
    const [companiesRun] = await endedRuns(mgmt, 'companies', 1);
    expect(contactsRun.status, contactsRun.error_message).toBe('SUCCESS');
    expect(companiesRun.status, companiesRun.error_message).toBe('SUCCESS');

    const live = async (object: string) =>
      (await simRecords(sim.url, object))
        .filter((r) => !r.deleted)
        .map((r) => r.id)
        .sort();
    const contacts = await warehouse.query<{
      id: string;
      raw: { properties: { email: string } };
      mapped: object;
    }>(
      `select _supaglue_id as id, _supaglue_raw_data as raw, _supaglue_mapped_data as mapped
         from crm.hubspot_contacts where _supaglue_customer_id = 'acme'`,
    );
    expect(contacts.rows.map((r) => r.id).sort()).toEqual(await live('contacts'));
    for (const row of contacts.rows) expect(row.mapped).toEqual({ workEmail: row.raw.properties.email });

    const projectId = (await authenticateApiKey(t.runtime.deps.db, t.apiKey))!;
    const companies = await t.runtime.deps.db.query<{ id: string }>(
      `select _supaglue_id as id from ${builtInSchema(projectId)}.hubspot_companies`,
    );
    expect(companies.rows.map((r) => r.id).sort()).toEqual(await live('companies'));
  });
});
