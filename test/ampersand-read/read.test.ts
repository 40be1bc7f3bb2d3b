import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listSyncRuns, listSyncs, type SyncRun } from '../../src/core/syncs.ts';
import {
  type AmpersandData,
  expectAnswer,
  INTEGRATION,
  readSchemas,
  startAmpersandData,
} from '../helpers/ampersand-data.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { simControl } from '../helpers/simulator.ts';
import { type Client, client } from '../helpers/trellis.ts';
import { until } from '../helpers/wait.ts';

/**
 * The Read API (Ampersand dialect) at /read/v1 over real HTTP: a read asked for is served by a
 * run of the installation's sync whose id is the answer's operation, and pausing and resuming
 * flip the installation's syncs. Records go to a local webhook receiver.
 */

/** Seeded a second apart: most are older than an incremental read's safety margin (a minute). */
const RECORDS = 200;

describe('the Read API', () => {
  let data: AmpersandData;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let read: Client;

  const objectPath = (object = 'contacts', integration = INTEGRATION) =>
    `/projects/default/integrations/${integration}/objects/${object}`;
  const installationPath = (verb: string, installationId = data.installation.id, integration = INTEGRATION) =>
    `/projects/default/integrations/${integration}/installations/${installationId}:${verb}`;
  const call = async (path: string, body: unknown, status: number) =>
    expectAnswer(readSchemas, 'POST', path, await read('POST', path, { body }), status) as Record<
      string,
      any
    >;

  /** Acme's runs of contacts, newest first. */
  const runs = async () =>
    (await listSyncRuns(data.t.runtime.deps, data.projectId, { customerRef: 'acme' }, { pageSize: 100 }))
      .results;
  /** The run with this id, once it has ended. */
  const endedRun = (id: string) =>
    until(`run ${id} to end`, async () => {
      const run = (await runs()).find((r) => r.id === id);
      return run && run.status !== 'running' ? run : undefined;
    });
  const acmeSync = async () =>
    (
      await listSyncs(data.t.runtime.deps, data.projectId, { customerRef: 'acme' }, { pageSize: 10 })
    ).results.find((s) => s.installationId === data.installation.id)!;

  beforeAll(async () => {
    receiver = await startReceiver();
    data = await startAmpersandData({ records: RECORDS, hookUrl: receiver.url });
    read = client(data.t.baseUrl, data.t.apiKey, '/read/v1');
    // The installation's first read starts on its own; the tests ask for the next ones.
    await until('the first read to end', async () =>
      (await runs()).some((r: SyncRun) => r.status === 'succeeded'),
    );
  });
  afterAll(async () => {
    await data?.stop();
    await receiver?.close();
  });

  it('reads now: the answer names the run that serves it, a full read', async () => {
    const before = receiver.received.length;
    const { operationId } = await call(objectPath(), { groupRef: 'acme', mode: 'async' }, 201);
    const run = await endedRun(operationId);
    expect(run).toMatchObject({ status: 'succeeded', object: 'contacts', recordsSynced: RECORDS });
    expect(receiver.received.length).toBeGreaterThan(before);
  });

  it('reads from an instant: the changes since, or everything when the sync has not read that far back', async () => {
    const since = new Date();
    await simControl(data.sim.url, 'mutate', { object: 'contacts', update: 3 });
    const changes = await call(
      objectPath(),
      { groupRef: 'acme', mode: 'async', sinceTimestamp: since.toISOString().replace('Z', '000000Z') },
      201,
    );
    const incremental = await endedRun(changes.operationId);
    expect(incremental.status).toBe('succeeded');
    expect(incremental.recordsSynced).toBeGreaterThanOrEqual(3);
    expect(incremental.recordsSynced).toBeLessThan(RECORDS);

    const all = await call(
      objectPath(),
      { groupRef: 'acme', mode: 'async', sinceTimestamp: '2001-01-01T00:00:00+02:00' },
      201,
    );
    expect((await endedRun(all.operationId)).recordsSynced).toBe(RECORDS);
  });

  it('pauses and resumes the installation’s reads; a paused read cannot be asked for', async () => {
    await call(installationPath('pause'), { objects: ['contacts'], note: 'quiet please' }, 204);
    expect((await acmeSync()).paused).toBe(true);
    const refused = await read('POST', objectPath(), { body: { groupRef: 'acme', mode: 'async' } });
    expect(expectAnswer(readSchemas, 'POST', objectPath(), refused, 409).detail).toMatch(/paused/);
    // Pausing again changes nothing; without a body every object is resumed.
    await call(installationPath('pause'), {}, 204);
    const resumed = await read('POST', installationPath('unpause'));
    expectAnswer(readSchemas, 'POST', installationPath('unpause'), resumed, 204);
    expect((await acmeSync()).paused).toBe(false);
    // Globex's installation was never touched.
    const globex = (
      await listSyncs(data.t.runtime.deps, data.projectId, { customerRef: 'globex' }, { pageSize: 10 })
    ).results;
    expect(globex.map((s) => s.paused)).toEqual([false]);
  });

  it('refuses what it cannot read, with problem+json and never a 5xx', async () => {
    const refusals: [string, string, unknown, number, RegExp][] = [
      [
        'until',
        objectPath(),
        { groupRef: 'acme', mode: 'async', untilTimestamp: '2030-01-01T00:00:00Z' },
        400,
        /untilTimestamp is not supported/,
      ],
      [
        'bad since',
        objectPath(),
        { groupRef: 'acme', mode: 'async', sinceTimestamp: 'yesterday' },
        400,
        /sinceTimestamp/,
      ],
      ['sync mode', objectPath(), { groupRef: 'acme', mode: 'sync' }, 400, /mode/],
      ['no group', objectPath(), { mode: 'async' }, 400, /groupRef/],
      ['unknown group', objectPath(), { groupRef: 'nobody', mode: 'async' }, 404, /not found/],
      ['unread object', objectPath('deals'), { groupRef: 'acme', mode: 'async' }, 404, /"deals"/],
      [
        'unknown integration',
        objectPath('contacts', 'nope'),
        { groupRef: 'acme', mode: 'async' },
        404,
        /nope/,
      ],
      [
        'unknown object to pause',
        installationPath('pause'),
        { objects: ['deals'] },
        400,
        /does not read "deals"/,
      ],
      ['another installation', installationPath('pause', crypto.randomUUID()), {}, 404, /installation/],
      ['bad objects', installationPath('unpause'), { objects: 'contacts' }, 400, /objects/],
      ['deprecated', `${objectPath()}:deliverResults`, { groupRef: 'acme', pages: 1 }, 501, /not offered/],
    ];
    for (const [what, path, body, status, detail] of refusals) {
      const res = await read('POST', path, { body });
      expect(expectAnswer(readSchemas, 'POST', path, res, status).detail, what).toMatch(detail);
    }
    const noKey = await client(data.t.baseUrl, '', '/read/v1')('POST', objectPath(), {
      body: { groupRef: 'acme', mode: 'async' },
    });
    expectAnswer(readSchemas, 'POST', objectPath(), noKey, 401);
  });
});
