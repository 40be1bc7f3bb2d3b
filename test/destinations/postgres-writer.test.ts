import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresWriter } from '../../src/destinations/postgres.ts';
import type { WriteRecord } from '../../src/destinations/writer.ts';
import { createTestDatabase } from '../helpers/trellis.ts';

const owner = { projectId: 'app', providerName: 'hubspot', customerRef: 'cust\twith\\odd\nchars' };
const target = { schema: 'crm', table: 'hubspot_contacts' };
const record = (id: string, at: string, raw: Record<string, unknown>, isDeleted = false): WriteRecord => ({
  id,
  lastModifiedAt: new Date(at),
  isDeleted,
  raw,
  mapped: {},
  fields: () => raw,
});

describe('Postgres destination writer', () => {
  let pool: pg.Pool;
  let writer: PostgresWriter;
  const rows = async () =>
    (await pool.query(`select * from crm.hubspot_contacts order by _supaglue_id`)).rows as {
      _supaglue_id: string;
      _supaglue_customer_id: string;
      _supaglue_raw_data: Record<string, unknown>;
      _supaglue_is_deleted: boolean;
      _supaglue_last_modified_at: Date;
    }[];

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: await createTestDatabase() });
    writer = new PostgresWriter(pool);
    await writer.prepare(target);
  });
  afterAll(() => pool.end());

  it('stores odd text faithfully and drops NUL, which Postgres cannot hold', async () => {
    const odd = {
      quote: 'say "hi"',
      backslash: 'C:\\path\\to',
      escapes: 'line1\nline2\ttab\rcr',
      literalEscape: 'not a newline: \\n',
      unicode: 'Zoë — 東京 🚀',
      nul: 'a\u0000b',
      nested: { list: [1, null, true, { deep: 'x\\y' }] },
    };
    await writer.write(target, owner, [record('weird\tid\\1', '2024-01-01T00:00:00Z', odd)], new Date());
    const [row] = await rows();
    expect(row!._supaglue_id).toBe('weird\tid\\1');
    expect(row!._supaglue_customer_id).toBe(owner.customerRef);
    expect(row!._supaglue_raw_data).toEqual({ ...odd, nul: 'ab' });
  });

  it('keeps the newest version: within a batch, and against what is stored', async () => {
    await writer.write(
      target,
      owner,
      [
        record('r1', '2024-01-02T00:00:00Z', { v: 2 }),
        record('r1', '2024-01-03T00:00:00Z', { v: 3 }),
        record('r1', '2024-01-01T00:00:00Z', { v: 1 }),
      ],
      new Date(),
    );
    expect((await rows()).find((r) => r._supaglue_id === 'r1')!._supaglue_raw_data).toEqual({ v: 3 });
    // An older version arriving later (a resumed or overlapping read) does not win.
    await writer.write(target, owner, [record('r1', '2024-01-02T12:00:00Z', { v: 2.5 })], new Date());
    expect((await rows()).find((r) => r._supaglue_id === 'r1')!._supaglue_raw_data).toEqual({ v: 3 });
    // A deletion flag from the provider applies when it is newer.
    await writer.write(target, owner, [record('r1', '2024-01-04T00:00:00Z', { v: 3 }, true)], new Date());
    expect((await rows()).find((r) => r._supaglue_id === 'r1')!._supaglue_is_deleted).toBe(true);
  });

  it('a completed full run marks what it did not see as deleted, for that customer only', async () => {
    const other = { ...owner, customerRef: 'someone-else' };
    await writer.write(target, other, [record('x1', '2024-01-01T00:00:00Z', {})], new Date());
    const runStarted = new Date();
    await writer.write(target, owner, [record('r1', '2024-01-05T00:00:00Z', { v: 5 })], new Date());
    expect(await writer.markUnseenDeleted(target, owner, runStarted)).toBe(1);
    const all = await rows();
    expect(all.find((r) => r._supaglue_id === 'weird\tid\\1')!._supaglue_is_deleted).toBe(true);
    expect(all.find((r) => r._supaglue_id === 'r1')!._supaglue_is_deleted).toBe(false);
    expect(all.find((r) => r._supaglue_id === 'x1')!._supaglue_is_deleted).toBe(false);
  });
});
