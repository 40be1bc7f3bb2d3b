import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { listDestinations } from '../../src/core/destinations.ts';
import {
  createInstallation,
  deleteInstallation,
  listInstallations,
  updateInstallation,
} from '../../src/core/installations.ts';
import { createIntegration, type Integration, updateIntegration } from '../../src/core/integrations.ts';
import type { ReadSpec } from '../../src/core/read-plan.ts';
import { listSyncs } from '../../src/core/syncs.ts';
import { simControl } from '../helpers/simulator.ts';
import { connectHubspot, hourlySyncConfig, setUpHubspotSync } from '../helpers/syncs.ts';
import {
  type Client,
  client,
  createTestDatabase,
  startTrellis,
  type TestTrellis,
} from '../helpers/trellis.ts';
import { until } from '../helpers/wait.ts';

/**
 * Integrations installed on request, beside an automatic one (a Management API sync config) of the
 * same provider app: what each installation syncs, by which revision, on which schedule. No API
 * surface makes these yet, so the test calls the core's services on a running Trellis.
 */

const EVERY_TEN_MINUTES = '*/10 * * * *';

describe('installations made on request', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let db: pg.Client;
  let projectId: string;
  let warehouseId: string;
  let connectionId: string;
  let integration: Integration;

  const readSpec = (...objects: string[]): ReadSpec => ({
    defaults: { schedule: { cron: EVERY_TEN_MINUTES }, mode: 'incremental' },
    objects: objects.map((object) => ({
      target: { kind: 'standard', object },
      destinationId: warehouseId,
    })),
  });

  /** The syncs of one installation, by object, with their stored plans. */
  const syncsOf = async (installationId: string) => {
    const page = await listSyncs(t.runtime.deps, projectId, {}, { pageSize: 100 });
    return page.results.filter((s) => s.installationId === installationId).map((s) => s.object);
  };

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: 20 });
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) } });
    api = client(t.baseUrl, t.apiKey);
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    projectId = (await db.query(`select id from trellis.projects where name = 'default'`)).rows[0].id;
    await setUpHubspotSync(api, await createTestDatabase(), hourlySyncConfig('contacts'));
    const connection = await connectHubspot(api, (await simControl(sim.url, 'tokens', {})).refresh_token);
    connectionId = connection.id;
    warehouseId = (await listDestinations(t.runtime.deps, projectId)).find((d) => d.name === 'warehouse')!.id;
    integration = await createIntegration(t.runtime.deps, projectId, {
      name: 'hubspot-deals',
      installs: 'on_request',
      providerName: 'hubspot',
      read: readSpec('companies', 'deals'),
      writeObjects: ['deals'],
    });
  });

  afterAll(async () => {
    await db?.end();
    await t?.stop();
    await sim?.close();
  });

  it('an integration installed on request is on no connection until asked, beside the automatic one', async () => {
    const installations = await listInstallations(t.runtime.deps, projectId);
    expect(installations.map((i) => [i.revision, i.config])).toEqual([[null, null]]);
    expect(integration).toMatchObject({ installs: 'on_request', revision: 1, writeObjects: ['deals'] });
  });

  it('an installation syncs the objects its configuration selects, by its cron schedule', async () => {
    const installation = await createInstallation(t.runtime.deps, projectId, {
      integrationId: integration.id,
      connectionId,
      config: { read: [{ object: 'deals' }], write: [{ object: 'deals' }] },
    });
    expect(installation).toMatchObject({ revision: 1, customerRef: 'acme', connectionId });
    expect(await syncsOf(installation.id)).toEqual(['deals']);

    // The new sync runs at once; its next run is the schedule's next ten-minute mark.
    const next = await until('the deals sync to finish its first run', async () => {
      const { rows } = await db.query<{ nextRunAt: Date | null; synced: boolean }>(
        `select next_run_at as "nextRunAt", (state->>'synced')::boolean as synced from trellis.syncs
          where installation_id = $1`,
        [installation.id],
      );
      return rows[0]?.synced && rows[0].nextRunAt ? rows[0].nextRunAt : undefined;
    });
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(10 * 60_000);
    expect([next.getUTCMinutes() % 10, next.getUTCSeconds(), next.getUTCMilliseconds()]).toEqual([0, 0, 0]);
  });

  it('keeps the revision it was made from until its configuration is updated', async () => {
    const [installation] = await listInstallations(t.runtime.deps, projectId, {
      integrationId: integration.id,
    });
    // Revision 2 no longer reads deals: the installation pinned to revision 1 keeps its deals sync.
    integration = await updateIntegration(
      t.runtime.deps,
      projectId,
      integration.id,
      { read: readSpec('companies') },
      false,
    );
    expect(integration.revision).toBe(2);
    expect(await syncsOf(installation!.id)).toEqual(['deals']);
    await expect(
      updateInstallation(t.runtime.deps, projectId, installation!.id, {
        read: [{ object: 'deals' }],
        write: [],
      }),
    ).rejects.toThrow('the integration does not read "deals"');
    const moved = await updateInstallation(t.runtime.deps, projectId, installation!.id, {
      read: [{ object: 'companies' }],
      write: [],
    });
    expect(moved.revision).toBe(2);
    expect(await syncsOf(installation!.id)).toEqual(['companies']);
  });

  it('refuses what it cannot install: twice, automatic integrations, foreign objects', async () => {
    const deps = t.runtime.deps;
    const config = { read: [{ object: 'companies' }], write: [] };
    await expect(
      createInstallation(deps, projectId, { integrationId: integration.id, connectionId, config }),
    ).rejects.toThrow('already installed');
    const [automatic] = await listInstallations(deps, projectId, {}).then((all) =>
      all.filter((i) => i.revision === null),
    );
    await expect(
      createInstallation(deps, projectId, { integrationId: automatic!.integrationId, connectionId, config }),
    ).rejects.toThrow('installed automatically');
    await expect(deleteInstallation(deps, projectId, automatic!.id)).rejects.toThrow(
      'automatic installation',
    );
    const other = await createIntegration(deps, projectId, {
      name: 'hubspot-contacts',
      installs: 'on_request',
      providerName: 'hubspot',
      read: readSpec('contacts'),
    });
    await expect(
      createInstallation(deps, projectId, {
        integrationId: other.id,
        connectionId,
        config: { read: [{ object: 'contacts' }], write: [{ object: 'contacts' }] },
      }),
    ).rejects.toThrow('the integration does not write "contacts"');
  });

  it('uninstalling removes the installation and its syncs, and nothing else', async () => {
    const [installation] = await listInstallations(t.runtime.deps, projectId, {
      integrationId: integration.id,
    });
    const before = await listSyncs(t.runtime.deps, projectId, {}, { pageSize: 100 });
    await deleteInstallation(t.runtime.deps, projectId, installation!.id);
    const after = await listSyncs(t.runtime.deps, projectId, {}, { pageSize: 100 });
    expect(after.results.map((s) => s.id)).toEqual(
      before.results.filter((s) => s.installationId !== installation!.id).map((s) => s.id),
    );
    expect(after.results.map((s) => s.object)).toEqual(['contacts']);
  });
});
