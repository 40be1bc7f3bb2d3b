import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_DESTINATION_NAME, listDestinations } from '../../src/core/destinations.ts';
import {
  deployIntegrations,
  getRevision,
  latestRevisions,
  listIntegrations,
  listRevisions,
} from '../../src/core/integrations.ts';
import type { ReadSpec } from '../../src/core/read-plan.ts';
import { simOAuthProvider } from '../helpers/simulator.ts';
import { client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

/**
 * Deploying integrations by name, as a manifest does: created on first deploy, a new revision on
 * each later one, all of a deploy or none of it. The core's services on a running Trellis.
 */
describe('deploying integrations', () => {
  let t: TestTrellis;
  let db: pg.Client;
  let projectId: string;
  let destinationId: string;

  const read = (...objects: string[]): ReadSpec => ({
    defaults: { schedule: { cron: '*/30 * * * *' }, mode: 'incremental' },
    objects: objects.map((object) => ({ target: { kind: 'standard', object }, destinationId })),
  });
  const deploy = (items: Parameters<typeof deployIntegrations>[2], destructive = false) =>
    deployIntegrations(t.runtime.deps, projectId, items, { destructive });

  beforeAll(async () => {
    t = await startTrellis();
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    projectId = (await db.query(`select id from trellis.projects where name = 'default'`)).rows[0].id;
    const api = client(t.baseUrl, t.apiKey);
    expect((await api('POST', '/providers', { body: simOAuthProvider('hubspot', ['oauth']) })).status).toBe(
      201,
    );
    destinationId = (await listDestinations(t.runtime.deps, projectId)).find(
      (d) => d.name === BUILT_IN_DESTINATION_NAME,
    )!.id;
  });

  afterAll(async () => {
    await db?.end();
    await t?.stop();
  });

  it('creates on first deploy, installed on request, keeping the source document of each revision', async () => {
    const source = {
      name: 'hubspot-contacts',
      provider: 'hubspot',
      read: { objects: [{ objectName: 'contacts' }] },
    };
    const [created] = await deploy([
      {
        name: 'hubspot-contacts',
        providerName: 'hubspot',
        read: read('contacts'),
        writeObjects: ['contacts'],
        source,
      },
    ]);
    expect(created).toMatchObject({
      name: 'hubspot-contacts',
      installs: 'on_request',
      revision: 1,
      proxyEnabled: false,
    });
    const [revision] = await listRevisions(t.runtime.deps, projectId, created!.id);
    expect(revision).toMatchObject({ revision: 1, writeObjects: ['contacts'], source });
    expect(await getRevision(t.runtime.deps, projectId, created!.id, revision!.id)).toEqual(revision);
  });

  it('a later deploy of the same name is a new revision; the latest is known per integration', async () => {
    const [updated] = await deploy([
      {
        name: 'hubspot-contacts',
        providerName: 'hubspot',
        read: read('contacts', 'companies'),
        proxyEnabled: true,
      },
    ]);
    expect(updated).toMatchObject({ revision: 2, proxyEnabled: true, writeObjects: ['contacts'] });
    const latest = (await latestRevisions(t.runtime.deps, projectId)).get(updated!.id);
    expect(latest).toMatchObject({ revision: 2, source: null });
    expect((await listRevisions(t.runtime.deps, projectId, updated!.id)).map((r) => r.revision)).toEqual([
      1, 2,
    ]);
  });

  it('deploys all of a manifest or none of it', async () => {
    const before = await listIntegrations(t.runtime.deps, projectId);
    await expect(
      deploy([
        { name: 'hubspot-deals', providerName: 'hubspot', read: read('deals') },
        { name: 'hubspot-tickets', providerName: 'hubspot', read: read('tickets') },
      ]),
    ).rejects.toThrow('standard object "tickets" cannot be read from hubspot');
    expect(await listIntegrations(t.runtime.deps, projectId)).toEqual(before);
    await expect(
      deploy([
        { name: 'twice', providerName: 'hubspot', read: read('deals') },
        { name: 'twice', providerName: 'hubspot', read: read('deals') },
      ]),
    ).rejects.toThrow('integration "twice" is listed twice');
    await expect(
      deploy([{ name: 'hubspot-contacts', providerName: 'salesforce', read: read('Contact') }]),
    ).rejects.toThrow('integration "hubspot-contacts" is for hubspot, not salesforce');
  });
});
