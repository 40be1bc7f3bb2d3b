import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../simulators/index.ts';
import { PROPERTY_LIST_MAX_AGE_MS } from '../../src/connectors/hubspot/connector.ts';
import { simControl } from '../helpers/simulator.ts';
import { editSyncState, hubspotContactsSynced, triggerHubspotRun } from '../helpers/syncs.ts';
import type { Client, TestTrellis } from '../helpers/trellis.ts';

/**
 * HubSpot's property list, kept in the sync's state between runs (decision 0026): an incremental
 * run that finds nothing asks for the search and the archived list only, and a property created
 * at HubSpot reaches the records changed after it once the kept list is older than its age.
 */
const PROPERTY_LIST = 'GET /crm/v3/properties/:type';
const SEARCH = 'POST /crm/v3/objects/:type/search';
const LIST = 'GET /crm/v3/objects/:type';

interface Row {
  _supaglue_raw_data: { properties: Record<string, string | null> };
}

describe('HubSpot incremental runs with the property list kept between runs', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let warehouse: pg.Client;
  let runs = 0;
  const control = (path: string, body?: unknown) => simControl(sim.url, path, body);

  /** Triggers a run of the contacts sync and waits for it; answers the requests it made, by route. */
  const run = () => triggerHubspotRun(api, sim.url, 'contacts', ++runs);

  /** A call to the simulated HubSpot API with a token of its own. */
  const hubspotApi = async (method: string, path: string, body: unknown) => {
    const { access_token } = await control('tokens', {});
    const res = await fetch(`${sim.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status, await res.clone().text()).toBeLessThan(300);
  };

  const rowOf = async (id: string) => {
    const { rows } = await warehouse.query<Row>(
      'select _supaglue_raw_data from crm.hubspot_contacts where _supaglue_id = $1',
      [id],
    );
    return rows[0]!._supaglue_raw_data.properties;
  };

  /** When the row of record `id` was last written. */
  const writtenAt = async (id: string) => {
    const { rows } = await warehouse.query<{ at: Date }>(
      'select _supaglue_emitted_at as at from crm.hubspot_contacts where _supaglue_id = $1',
      [id],
    );
    return rows[0]!.at;
  };

  beforeAll(async () => {
    ({ sim, t, api, warehouse } = await hubspotContactsSynced(300));
    runs = 1;
  });
  afterAll(async () => {
    await warehouse?.end();
    await t?.stop();
    await sim?.close();
  });

  it('an incremental run that finds nothing costs the search and the archived list: 2 requests', async () => {
    // The full run's property list serves the incremental runs after it.
    expect(await run()).toEqual({ [SEARCH]: 1, [LIST]: 1 });
    expect(await run()).toEqual({ [SEARCH]: 1, [LIST]: 1 });
  });

  it("the connection's budget still adopts the limit HubSpot states, from the archived list's answer", async () => {
    // Search answers carry no rate-limit headers; the list's do.
    await control('limits', { ten_second: 4321 });
    expect(await run()).toEqual({ [SEARCH]: 1, [LIST]: 1 });
    const { rows } = await t.runtime.deps.db.query<{ max_requests: number; from_provider: boolean }>(
      `select max_requests, from_provider from trellis.rate_budgets where key like '%/default'`,
    );
    expect(rows).toEqual([{ max_requests: 4321, from_provider: true }]);
    await control('limits', { ten_second: 5000 });
  });

  /** Creates a text property of contacts at HubSpot. */
  const createProperty = (name: string) =>
    hubspotApi('POST', '/crm/v3/properties/contacts', {
      name,
      label: name,
      type: 'string',
      fieldType: 'text',
      groupName: 'contactinformation',
    });

  /**
   * Moves the sync's state on as time passing would: the kept property list becomes older than its
   * age (its read time goes back by the age); `lastRunLater` also makes the last run's watermark a
   * minute later (as if that run had started a minute after it did, and had overlapped nothing).
   */
  const agePropertyList = (lastRunLater = false) =>
    editSyncState(t, 'contacts', (state, kept) => {
      const { overlap: _overlap, ...rest } = state;
      return {
        ...(lastRunLater
          ? { ...rest, watermark: new Date(Date.parse(state.watermark) + 60_000).toISOString() }
          : state),
        connectorState: { ...kept, readAt: kept.readAt - PROPERTY_LIST_MAX_AGE_MS },
      };
    });

  it('a property created at HubSpot reaches the records changed after it once the kept list is older than its age', async () => {
    await createProperty('favourite_colour');
    await hubspotApi('PATCH', '/crm/v3/objects/contacts/7', { properties: { favourite_colour: 'teal' } });

    // The kept list is young: the changed record comes without the property it does not know yet.
    expect(await run()).toEqual({ [SEARCH]: 1, [LIST]: 1 });
    expect(await rowOf('7')).not.toHaveProperty('favourite_colour');

    // An hour on, with record 7 changed before the last run's watermark: only a reread from when
    // the kept list was read brings it again. The list is read again and has a new property, so
    // the records changed while the kept list was stale come again, now with it.
    await agePropertyList(true);
    expect((await run())[PROPERTY_LIST]).toBe(1);
    expect(await rowOf('7')).toMatchObject({ favourite_colour: 'teal' });

    // The new list is kept: the next empty run costs 2 requests again.
    expect(await run()).toEqual({ [SEARCH]: 1, [LIST]: 1 });
  });

  it('records the last run wrote just before it started come again with a new property', async () => {
    // Record 8 changes within the watermark margin before the next run: the run after it would
    // skip it as already written, unless the property list it reads with has changed.
    await createProperty('favourite_season');
    await hubspotApi('PATCH', '/crm/v3/objects/contacts/8', { properties: { favourite_season: 'spring' } });
    expect(await run()).toEqual({ [SEARCH]: 1, [LIST]: 1 });
    expect(await rowOf('8')).not.toHaveProperty('favourite_season');

    await agePropertyList();
    expect((await run())[PROPERTY_LIST]).toBe(1);
    expect(await rowOf('8')).toMatchObject({ favourite_season: 'spring' });
  });

  it("a property list read again unchanged does not write the last run's records again", async () => {
    // Record 9 changes within the watermark margin before the next run, which reads it again.
    await hubspotApi('PATCH', '/crm/v3/objects/contacts/9', { properties: { firstname: 'Ninth' } });
    expect(await run()).toEqual({ [SEARCH]: 1, [LIST]: 1 });
    const written = await writtenAt('9');
    // An hour on the list is read again and has the same properties: record 9, at the version the
    // last run wrote, is skipped (the connector's state changed, its records did not).
    await agePropertyList();
    const requests = await run();
    expect(requests[PROPERTY_LIST]).toBe(1);
    expect(requests[SEARCH]).toBe(1);
    expect(await writtenAt('9')).toEqual(written);
    expect(await rowOf('9')).toMatchObject({ firstname: 'Ninth' });
  });
});
