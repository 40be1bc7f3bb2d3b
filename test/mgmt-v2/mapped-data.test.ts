import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { simControl, simOAuthProvider, simRecords } from '../helpers/simulator.ts';
import { connectHubspot, endedRuns, setUpHubspotSync } from '../helpers/syncs.ts';
import {
  type Client,
  client,
  createTestDatabase,
  startTrellis,
  type TestTrellis,
} from '../helpers/trellis.ts';

/**
 * Mappings carried out, not only stored: an object with a schema attached syncs each schema
 * field's value into `_supaglue_mapped_data` (as the schema and the customer mapped it), and an
 * entity syncs the provider object its mapping names into `entity_<name>`. A changed mapping
 * shows after the next full run.
 */

describe('schemas and entities map the records a sync writes', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let warehouse: pg.Client;
  let entityId: string;
  const customer = { 'x-customer-id': 'acme', 'x-provider-name': 'hubspot' };

  const ok = async (method: string, path: string, body?: object, headers?: Record<string, string>) => {
    const res = await api(method, path, { ...(body ? { body } : {}), ...(headers ? { headers } : {}) });
    expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
    return res.body;
  };
  const liveContacts = async () =>
    new Map(
      (await simRecords(sim.url, 'contacts'))
        .filter((r) => !r.deleted)
        .map((r) => [r.id, r.record.properties as Record<string, string>]),
    );
  const rows = async (table: string) =>
    (
      await warehouse.query<{ id: string; mapped: Record<string, unknown> }>(
        `select _supaglue_id as id, _supaglue_mapped_data as mapped from crm.${table} order by 1`,
      )
    ).rows;
  const fullRefresh = async (body: object) => {
    await ok('POST', '/syncs/_trigger', { ...body, perform_full_refresh: true }, customer);
  };

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: 30 });
    await simControl(sim.url, 'limits', { ten_second: 5000, search_per_second: 100 });
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) } });
    api = client(t.baseUrl, t.apiKey);
    const schema = await ok('POST', '/schemas', {
      name: 'contact-card',
      config: {
        fields: [{ name: 'work_email', mapped_name: 'email' }, { name: 'given_name' }],
        allow_additional_field_mappings: false,
      },
    });
    const entity = await ok('POST', '/entities', {
      name: 'person',
      config: { fields: [{ name: 'email' }, { name: 'surname' }], allow_additional_field_mappings: false },
    });
    entityId = entity.id;
    const databaseUrl = await createTestDatabase();
    const config = {
      // Paused until the customer's mappings are saved, so that the first runs already map.
      default_config: {
        period_ms: 3_600_000,
        strategy: 'full then incremental',
        auto_start_on_connection: false,
      },
      standard_objects: [{ object: 'contacts' }],
      entities: [{ entity_id: entityId }],
    };
    await setUpHubspotSync(api, databaseUrl, config);
    const [provider] = (await ok('GET', '/providers')) as { id: string }[];
    await ok('PUT', `/providers/${provider!.id}`, {
      ...simOAuthProvider('hubspot', ['oauth']),
      objects: { standard: [{ name: 'contacts', schema_id: schema.id }] },
      entity_mappings: [
        {
          entity_id: entityId,
          object: { type: 'standard', name: 'contacts' },
          field_mappings: [{ entity_field: 'email', mapped_field: 'email' }],
        },
      ],
    });
    warehouse = new pg.Client({ connectionString: databaseUrl });
    await warehouse.connect();
  });

  afterAll(async () => {
    await warehouse?.end();
    await t?.stop();
    await sim?.close();
  });

  it('writes the schema’s and the customer’s mapped fields, and the entity into entity_person', async () => {
    await connectHubspot(api, (await simControl(sim.url, 'tokens', {})).refresh_token);
    await ok(
      'PUT',
      '/field_mappings/_update_object',
      {
        name: 'contacts',
        type: 'standard',
        field_mappings: [{ schema_field: 'given_name', mapped_field: 'firstname' }],
      },
      customer,
    );
    await ok(
      'PUT',
      `/entity_mappings/${entityId}`,
      { entity_id: entityId, field_mappings: [{ entity_field: 'surname', mapped_field: 'lastname' }] },
      customer,
    );
    expect((await ok('GET', '/sync-runs', undefined, undefined)).results).toEqual([]);
    await ok('POST', '/syncs/_resume', { object_type: 'standard', object: 'contacts' }, customer);
    await ok('POST', '/syncs/_resume', { entity_id: entityId }, customer);
    const [contactsRun] = await endedRuns(api, 'contacts', 1);
    expect(contactsRun.status, contactsRun.error_message).toBe('SUCCESS');
    const entityRuns = await waitForEntityRun(api, entityId, 1);
    expect(entityRuns[0].status, entityRuns[0].error_message).toBe('SUCCESS');

    const live = await liveContacts();
    const contacts = await rows('hubspot_contacts');
    expect(contacts.map((r) => r.id).sort()).toEqual([...live.keys()].sort());
    for (const r of contacts) {
      const p = live.get(r.id)!;
      expect(r.mapped).toEqual({ work_email: p.email, given_name: p.firstname });
    }
    const people = await rows('entity_person');
    expect(people.map((r) => r.id).sort()).toEqual([...live.keys()].sort());
    for (const r of people) {
      const p = live.get(r.id)!;
      expect(r.mapped).toEqual({ email: p.email, surname: p.lastname });
    }
  });

  it('a changed mapping shows after the next full run', async () => {
    await ok(
      'PUT',
      '/field_mappings/_update_object',
      {
        name: 'contacts',
        type: 'standard',
        field_mappings: [{ schema_field: 'given_name', mapped_field: 'jobtitle' }],
      },
      customer,
    );
    await fullRefresh({ object_type: 'standard', object: 'contacts' });
    const [latest] = await endedRuns(api, 'contacts', 2);
    expect(latest.status, latest.error_message).toBe('SUCCESS');
    const live = await liveContacts();
    for (const r of await rows('hubspot_contacts')) {
      const p = live.get(r.id)!;
      expect(r.mapped).toEqual({ work_email: p.email, given_name: p.jobtitle });
    }
  });
});

/** Waits until `count` runs of an entity's sync have ended; newest first. */
async function waitForEntityRun(api: Client, entityId: string, count: number): Promise<any[]> {
  for (let i = 0; i < 300; i++) {
    const runs = await api('GET', '/sync-runs', { query: { customer_id: 'acme', entity_id: entityId } });
    const ended = (runs.body.results ?? []).filter((r: { status: string }) => r.status !== 'IN_PROGRESS');
    if (ended.length >= count) return ended;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`fewer than ${count} runs of entity ${entityId} ended`);
}
