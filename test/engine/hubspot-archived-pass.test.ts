import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../simulators/index.ts';
import { ARCHIVED_PAGE_SPACING_MS } from '../../src/connectors/hubspot/connector.ts';
import { simControl } from '../helpers/simulator.ts';
import { editSyncState, hubspotContactsSynced, triggerHubspotRun } from '../helpers/syncs.ts';
import type { Client, TestTrellis } from '../helpers/trellis.ts';

/**
 * HubSpot's archived pass, paced by its length: HubSpot lists every archived record of the last
 * 90 days, so incremental runs list them only once a minute per page of the last pass has passed,
 * and the pass that does reports every deletion since the one before began.
 */
const SEARCH = 'POST /crm/v3/objects/:type/search';
const LIST = 'GET /crm/v3/objects/:type';

describe('HubSpot incremental runs with a long archived list', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let warehouse: pg.Client;
  let runs = 1;
  const run = () => triggerHubspotRun(api, sim.url, 'contacts', ++runs);
  const deleteContacts = async (count: number): Promise<string[]> =>
    (await simControl(sim.url, 'mutate', { object: 'contacts', delete: count })).deleted;
  const flaggedDeleted = async (ids: string[]) => {
    const { rows } = await warehouse.query<{ n: number }>(
      'select count(*)::int as n from crm.hubspot_contacts where _supaglue_id = any($1) and _supaglue_is_deleted',
      [ids],
    );
    return rows[0]!.n;
  };

  beforeAll(async () => {
    ({ sim, t, api, warehouse } = await hubspotContactsSynced(400));
  });
  afterAll(async () => {
    await warehouse?.end();
    await t?.stop();
    await sim?.close();
  });

  it('lists a long archived list only once its pass is due, and then reports every deletion since the last pass', async () => {
    // 250 archived contacts are 3 pages of the archived list; the first incremental run lists them.
    const first = await deleteContacts(250);
    expect(await run()).toEqual({ [SEARCH]: 1, [LIST]: 3 });
    expect(await flaggedDeleted(first)).toBe(250);

    // Right after, the pass is not due: a run that finds no change costs the search alone, and a
    // contact deleted meanwhile is still there.
    const later = await deleteContacts(5);
    expect(await run()).toEqual({ [SEARCH]: 1 });
    expect(await flaggedDeleted(later)).toBe(0);

    // Two minutes on (a minute for each page after the first), as if the last run had also
    // started then: its watermark is past the deletions, and only a pass from when the last one
    // began finds them.
    await editSyncState(t, 'contacts', (state, kept) => {
      const { overlap: _overlap, ...rest } = state;
      const shift = 2 * ARCHIVED_PAGE_SPACING_MS;
      return {
        ...rest,
        watermark: new Date(Date.parse(state.watermark) + shift).toISOString(),
        connectorState: {
          ...kept,
          archivedPass: { ...kept.archivedPass, startedAt: kept.archivedPass.startedAt - shift },
        },
      };
    });
    expect(await run()).toEqual({ [SEARCH]: 1, [LIST]: 3 });
    expect(await flaggedDeleted(later)).toBe(5);

    // A full run's sweep stands for a pass: the incremental run after it lists the archived records
    // from its watermark, though the last pass was two minutes ago (none deleted since, none found).
    const full = await triggerHubspotRun(api, sim.url, 'contacts', ++runs, true);
    expect(full[SEARCH] ?? 0).toBe(0);
    expect(await run()).toEqual({ [SEARCH]: 1, [LIST]: 3 });
    expect(await run()).toEqual({ [SEARCH]: 1 });
  });
});
