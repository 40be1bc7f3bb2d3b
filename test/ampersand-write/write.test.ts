import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getWriteOperation, listWriteOperations } from '../../src/core/operations.ts';
import { createProject } from '../../src/core/projects.ts';
import {
  type AmpersandData,
  expectAnswer,
  INTEGRATION,
  startAmpersandData,
  writeSchemas,
} from '../helpers/ampersand-data.ts';
import { simRecords } from '../helpers/simulator.ts';
import { type Client, client } from '../helpers/trellis.ts';
import { until } from '../helpers/wait.ts';

/**
 * The Write API (Ampersand dialect) at /write/v1 over real HTTP, writing to the HubSpot simulator
 * through acme's installation: every answer is checked against Ampersand's Write API document.
 */

interface HubSpotContact {
  properties: Record<string, string | null>;
}

describe('the Write API', () => {
  let data: AmpersandData;
  let write: Client;

  const path = (object: string, integration = INTEGRATION, project = 'default') =>
    `/projects/${project}/integrations/${integration}/objects/${object}`;
  /** Posts a write and checks its answer against the document; returns the body. */
  const post = async (object: string, body: unknown, status: number, integration = INTEGRATION) => {
    const res = await write('POST', path(object, integration), { body });
    return expectAnswer(writeSchemas, 'POST', path(object, integration), res, status) as Record<string, any>;
  };
  const contact = async (id: string) => {
    const record = (await simRecords<HubSpotContact>(data.sim.url, 'contacts')).find((r) => r.id === id);
    expect(record, `contact ${id} at the simulator`).toBeDefined();
    return record!;
  };

  beforeAll(async () => {
    data = await startAmpersandData();
    write = client(data.t.baseUrl, data.t.apiKey, '/write/v1');
  });
  afterAll(async () => {
    await data?.stop();
  });

  it('creates, updates and deletes a record at the provider, each an operation', async () => {
    const created = await post(
      'contacts',
      {
        groupRef: 'acme',
        type: 'create',
        mode: 'synchronous',
        record: { email: 'ada@example.test', firstname: 'Ada' },
      },
      200,
    );
    expect(created.result).toMatchObject({ success: true, recordId: expect.any(String) });
    const id = created.result.recordId as string;
    expect((await contact(id)).record.properties).toMatchObject({
      email: 'ada@example.test',
      firstname: 'Ada',
    });
    expect(created.result.data).toMatchObject({ id, properties: { email: 'ada@example.test' } });

    // By the integration's id too; the id names the record and is not written as a field.
    const updated = await post(
      'contacts',
      { groupRef: 'acme', type: 'update', record: { id, firstname: 'Augusta' } },
      200,
      data.integration.id,
    );
    expect(updated.result).toMatchObject({ success: true, recordId: id });
    expect((await contact(id)).record.properties).toMatchObject({ firstname: 'Augusta' });

    const deleted = await post('contacts', { groupRef: 'acme', type: 'delete', record: { id } }, 200);
    expect(deleted.result).toEqual({ success: true, recordId: id });
    expect((await contact(id)).deleted).toBe(true);

    const operations = await listWriteOperations(data.t.runtime.deps, data.projectId, {
      installationId: data.installation.id,
    });
    expect(operations.map((o) => [o.id, o.type, o.status, o.successCount, o.failureCount])).toEqual([
      [deleted.operationId, 'delete', 'succeeded', 1, 0],
      [updated.operationId, 'update', 'succeeded', 1, 0],
      [created.operationId, 'create', 'succeeded', 1, 0],
    ]);
  });

  it('writes a batch of 100 records, each at the provider', async () => {
    const batch = Array.from({ length: 100 }, (_, i) => ({
      record: { email: `batch.${i}@example.test`, firstname: `Batch ${i}` },
    }));
    const answer = await post('contacts', { groupRef: 'acme', type: 'create', batch }, 200);
    expect(answer).toMatchObject({ successCount: 100, failureCount: 0 });
    expect(answer.errors).toBeUndefined();
    const ids = (answer.results as { success: boolean; recordId: string }[]).map((r) => r.recordId);
    expect(new Set(ids).size).toBe(100);
    const atSimulator = new Map(
      (await simRecords<HubSpotContact>(data.sim.url, 'contacts')).map((r) => [r.id, r]),
    );
    ids.forEach((id, i) => {
      expect(atSimulator.get(id)?.record.properties.email).toBe(`batch.${i}@example.test`);
    });
    const operation = await getWriteOperation(data.t.runtime.deps, data.projectId, answer.operationId);
    expect(operation).toMatchObject({ recordCount: 100, successCount: 100, status: 'succeeded' });
  });

  it("waits out a full window of the account's budget rather than failing the write", async () => {
    // Another process (a sync) has just taken all 100 turns of HubSpot's 10-second window.
    await data.t.runtime.deps.db.query(
      `select * from trellis.reserve_rate_budget(trellis.account_rate_budget($1, 'default'), 100, 10000,
         array_fill(60000::bigint, array[100]))`,
      [data.installation.connectionId],
    );
    const startedAt = performance.now();
    const answer = await post(
      'contacts',
      { groupRef: 'acme', type: 'create', record: { email: 'patient@example.test' } },
      200,
    );
    expect(answer.result).toMatchObject({ success: true });
    // The write's turn came only once the window had passed (and its margin).
    expect(performance.now() - startedAt).toBeGreaterThan(10_000);
    expect((await contact(answer.result.recordId)).record.properties.email).toBe('patient@example.test');
  });

  it("answers a provider's refusal in the document's 422 shape, in Trellis's words", async () => {
    const refused = await post(
      'contacts',
      { groupRef: 'acme', type: 'create', record: { email: 'not an address' } },
      422,
    );
    expect(refused).toEqual({
      operationId: expect.any(String),
      errors: [{ message: expect.stringContaining('HubSpot refused the record as invalid') }],
      result: { success: false },
    });
    // The provider's own answer is not passed on.
    expect(JSON.stringify(refused)).not.toMatch(/INVALID_EMAIL|Property values|correlationId/);
    const missing = await post(
      'contacts',
      { groupRef: 'acme', type: 'update', record: { id: '999999', firstname: 'Nobody' } },
      422,
    );
    expect(missing.errors[0].message).toContain('HubSpot has no such record');
    const operation = await getWriteOperation(data.t.runtime.deps, data.projectId, refused.operationId);
    expect(operation).toMatchObject({ status: 'failed', failureCount: 1, successCount: 0 });
    expect(operation.errorSummary).toContain('refused the record as invalid');

    // In a batch, the records written stay written; each failure names its record.
    const partial = await post(
      'contacts',
      {
        groupRef: 'acme',
        type: 'create',
        batch: [{ record: { email: 'grace@example.test' } }, { record: { email: 'broken' } }],
      },
      200,
    );
    expect(partial).toMatchObject({ successCount: 1, failureCount: 1 });
    expect(partial.results[1]).toEqual({ success: false });
    expect(partial.errors).toEqual([{ message: expect.stringMatching(/^record 2: HubSpot refused/) }]);
    const none = await post(
      'contacts',
      { groupRef: 'acme', type: 'create', batch: [{ record: { email: 'broken' } }] },
      422,
    );
    expect(none).toMatchObject({ successCount: 0, failureCount: 1 });
  });

  it('writes asynchronously: answers the operation at once, which records the outcome', async () => {
    const accepted = await post(
      'contacts',
      {
        groupRef: 'acme',
        type: 'create',
        mode: 'asynchronous',
        record: { email: 'async@example.test', firstname: 'Later' },
      },
      200,
    );
    expect(Object.keys(accepted)).toEqual(['operationId']);
    const done = await until('the asynchronous write to end', async () => {
      const operation = await getWriteOperation(data.t.runtime.deps, data.projectId, accepted.operationId);
      return operation.endedAt ? operation : undefined;
    });
    expect(done).toMatchObject({ asynchronous: true, status: 'succeeded', successCount: 1 });
    const recordId = done.results?.[0]?.recordId ?? 'none';
    expect((await contact(recordId)).record.properties).toMatchObject({ email: 'async@example.test' });
    // The records waited in the operation until it ran, and no longer.
    const { rows } = await data.t.runtime.deps.db.query(
      'select pending_records from write_operations where id = $1',
      [done.id],
    );
    expect(rows[0].pending_records).toBeNull();
  });

  it('writes only objects the installation chose and its integration writes', async () => {
    // The integration writes deals; acme's installation did not choose them.
    const body = { groupRef: 'acme', type: 'create', record: { dealname: 'Big one' } };
    const deals = await write('POST', path('deals'), { body });
    expect(expectAnswer(writeSchemas, 'POST', path('deals'), deals, 400).detail).toBe(
      'the installation does not write "deals" (it writes contacts)',
    );
    const companies = await write('POST', path('companies'), { body });
    expectAnswer(writeSchemas, 'POST', path('companies'), companies, 400);
    expect(
      (await simRecords(data.sim.url, 'deals')).some((r) => r.record.properties?.dealname === 'Big one'),
    ).toBe(false);
  });

  it('refuses what it cannot write, with problem+json and never a 5xx', async () => {
    const record = { email: 'x@example.test' };
    const refusals: [string, unknown, number, RegExp][] = [
      ['unknown group', { groupRef: 'nobody', type: 'create', record }, 404, /installation .* not found/],
      ['no record', { groupRef: 'acme', type: 'create' }, 400, /record or a batch/],
      ['both', { groupRef: 'acme', type: 'create', record, batch: [{ record }] }, 400, /not both/],
      ['update without id', { groupRef: 'acme', type: 'update', record }, 400, /record\/id is required/],
      [
        'delete without id',
        { groupRef: 'acme', type: 'delete', batch: [{ record }] },
        400,
        /batch\/0\/record\/id/,
      ],
      ['bad type', { groupRef: 'acme', type: 'upsert', record }, 400, /must be one of/],
      ['no group', { type: 'create', record }, 400, /groupRef/],
      ['too many', { groupRef: 'acme', type: 'create', batch: Array(101).fill({ record }) }, 400, /100/],
      ['empty batch', { groupRef: 'acme', type: 'create', batch: [] }, 400, /batch/],
      [
        'associations',
        { groupRef: 'acme', type: 'create', record, associations: [{ to: {} }] },
        400,
        /associations/,
      ],
      [
        'all or none',
        { groupRef: 'acme', type: 'create', batch: [{ record }], batchPolicy: { allOrNone: true } },
        400,
        /allOrNone/,
      ],
      ['not json', '{"groupRef":', 400, /JSON|json/],
    ];
    for (const [what, body, status, detail] of refusals) {
      const res = await write('POST', path('contacts'), { body });
      const problem = expectAnswer(writeSchemas, 'POST', path('contacts'), res, status);
      expect(problem.detail, what).toMatch(detail);
    }
    const unknownIntegration = await write('POST', path('contacts', 'no-such-integration'), {
      body: { groupRef: 'acme', type: 'create', record },
    });
    expectAnswer(writeSchemas, 'POST', path('contacts', 'no-such-integration'), unknownIntegration, 404);
    const noKey = await client(data.t.baseUrl, '', '/write/v1')('POST', path('contacts'), {
      body: { groupRef: 'acme', type: 'create', record },
    });
    expectAnswer(writeSchemas, 'POST', path('contacts'), noKey, 401);
  });

  it("another project's key finds neither the project nor its integration", async () => {
    const other = await createProject(data.t.runtime.deps.db, 'other');
    const otherWrite = client(data.t.baseUrl, other.apiKey, '/write/v1');
    const body = { groupRef: 'acme', type: 'create', record: { email: 'intruder@example.test' } };
    for (const project of ['default', data.projectId]) {
      const res = await otherWrite('POST', path('contacts', INTEGRATION, project), { body });
      expectAnswer(writeSchemas, 'POST', path('contacts'), res, 404);
    }
    const own = await otherWrite('POST', path('contacts', INTEGRATION, 'other'), { body });
    expectAnswer(writeSchemas, 'POST', path('contacts'), own, 404);
    const emails = (await simRecords<HubSpotContact>(data.sim.url, 'contacts')).map(
      (r) => r.record.properties.email,
    );
    expect(emails).not.toContain('intruder@example.test');
  });
});
