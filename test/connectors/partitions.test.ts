import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot as hubspotSimulator } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { salesforce as salesforceSimulator } from '../../simulators/salesforce/index.ts';
import { hubspot } from '../../src/connectors/hubspot/index.ts';
import type { ProviderModule } from '../../src/connectors/provider.ts';
import { salesforce } from '../../src/connectors/salesforce/index.ts';
import type { ConnectorContext, ProviderRecord } from '../../src/connectors/types.ts';
import { collect, expectResumable, simulatorContext } from '../helpers/connector.ts';
import { simControl, simRecords } from '../helpers/simulator.ts';

/**
 * Connectors that split a full read into partitions (HubSpot and Salesforce, by id ranges): the
 * partitions together return exactly what one unpartitioned read returns, each record once, also
 * when records are created, changed and deleted after the split; each partition resumes from its
 * own cursors; a small object is not split.
 */
const CASES = [
  {
    name: 'HubSpot',
    simulator: hubspotSimulator,
    module: hubspot,
    object: 'contacts',
    /** Its own name for the object in the simulator's control API. */
    simObject: 'contacts',
    records: 12_000,
    /** 4,000 records a partition. */
    partitions: 3,
    limits: { ten_second: 500, search_per_second: 1000 },
    /** Limits under which the object is read whole all the same: a list budget far above HubSpot's. */
    readWholeUnder: { ten_second: 100_000 },
  },
  {
    name: 'Salesforce',
    simulator: salesforceSimulator,
    module: salesforce,
    object: 'Contact',
    simObject: 'Contact',
    records: 30_000,
    /** 10,000 rows a partition. */
    partitions: 3,
    limits: { daily_api_requests: 10_000_000 },
  },
] satisfies {
  name: string;
  simulator: typeof hubspotSimulator;
  module: ProviderModule;
  object: string;
  simObject: string;
  records: number;
  partitions: number;
  limits: Record<string, number>;
  readWholeUnder?: Record<string, number>;
}[];

describe.each(CASES)('$name full reads in partitions', (c) => {
  let sim: RunningSimulator;
  let ctx: ConnectorContext;
  const { connector } = c.module;
  const readAll = async (partitions: string[]) => {
    const records: ProviderRecord[] = [];
    for (const partition of partitions)
      records.push(...(await collect(connector.read!(ctx, { object: c.object, partition }))).records);
    return records;
  };
  const byId = (records: ProviderRecord[]) => new Map(records.map((r) => [r.id, r]));
  const split = () => connector.partitions!(ctx, { object: c.object });

  beforeAll(async () => {
    sim = await startSimulator(c.simulator, { records: c.records });
    await simControl(sim.url, 'limits', c.limits);
    ctx = await simulatorContext(c.module, sim.url);
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('together return exactly what one read returns, each record once', async () => {
    const partitions = await split();
    expect(partitions).toHaveLength(c.partitions);
    const parts = await Promise.all(
      partitions!.map(
        async (partition) => (await collect(connector.read!(ctx, { object: c.object, partition }))).records,
      ),
    );
    // Each partition holds a share of the records, none of them empty.
    for (const part of parts) expect(part.length).toBeGreaterThan(c.records / c.partitions / 2);
    const together = parts.flat();
    const whole = (await collect(connector.read!(ctx, { object: c.object }))).records;
    expect(whole).toHaveLength(c.records);
    expect(together).toHaveLength(whole.length);
    const wholeById = byId(whole);
    for (const r of together) expect(r, r.id).toEqual(wholeById.get(r.id));
  });

  it('miss nothing that changes after the split: created records are in the last range', async () => {
    const partitions = (await split())!;
    await simControl(sim.url, 'mutate', { object: c.simObject, create: 25, update: 40, delete: 15 });
    const together = await readAll(partitions);
    const provider = await simRecords(sim.url, c.simObject);
    const readIds = together.filter((r) => !r.isDeleted).map((r) => r.id);
    expect(new Set(readIds).size).toBe(readIds.length);
    expect(readIds.sort()).toEqual(
      provider
        .filter((r) => !r.deleted)
        .map((r) => r.id)
        .sort(),
    );
  });

  it('each resume from their own cursors with nothing lost or repeated', async () => {
    const partitions = (await split())!;
    for (const partition of [partitions[0]!, partitions.at(-1)!]) {
      await expectResumable(
        (req) => connector.read!(ctx, req),
        { object: c.object, partition },
        (pages) => [1, Math.floor(pages / 2), pages - 1].filter((n) => n > 0),
      );
    }
  });

  const { readWholeUnder } = c;
  if (readWholeUnder) {
    it('leave an object whole where the list reads faster', async () => {
      // A context learns the budget once: each reads the limits in force when it starts.
      await simControl(sim.url, 'limits', readWholeUnder);
      const raised = await simulatorContext(c.module, sim.url);
      expect(await connector.partitions!(raised, { object: c.object })).toBeUndefined();
      await simControl(sim.url, 'limits', c.limits);
      const documented = await simulatorContext(c.module, sim.url);
      expect(await connector.partitions!(documented, { object: c.object })).toHaveLength(c.partitions);
    });
  }

  it('leave a small object whole', async () => {
    await simControl(sim.url, 'seed', { object: c.simObject, count: 1500 });
    expect(await split()).toBeUndefined();
  });
});
