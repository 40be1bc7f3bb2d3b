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

  it("says whether a customer's records not marked deleted are there, whatever other customers hold", async () => {
    const fresh = { ...owner, customerRef: 'not-yet' };
    await writer.write(
      target,
      { ...owner, customerRef: 'neighbour' },
      [record('n1', '2024-01-01T00:00:00Z', {})],
      new Date(),
    );
    expect(await writer.holdsRecords(target, fresh)).toBe(false);
    await writer.write(target, fresh, [record('f1', '2024-01-01T00:00:00Z', {})], new Date());
    expect(await writer.holdsRecords(target, fresh)).toBe(true);
    await writer.write(target, fresh, [record('f1', '2024-01-02T00:00:00Z', {}, true)], new Date());
    expect(await writer.holdsRecords(target, fresh)).toBe(false);
  });

  it('writes a batch far larger than one COPY message whole, the odd characters of every part intact', async () => {
    const bulk = { ...owner, customerRef: 'bulk' };
    const raw = (i: number) => ({ n: i, text: `${'x'.repeat(200)}\t\\${i}\n` });
    const batch = Array.from({ length: 3000 }, (_, i) => record(`b\t${i}`, '2024-01-01T00:00:00Z', raw(i)));
    await writer.write(target, bulk, batch, new Date());
    const { rows: written } = await pool.query<{ id: string; raw: Record<string, unknown> }>(
      `select _supaglue_id as id, _supaglue_raw_data as raw from crm.hubspot_contacts
        where _supaglue_customer_id = 'bulk'`,
    );
    expect(written).toHaveLength(3000);
    const byId = new Map(written.map((w) => [w.id, w.raw]));
    for (let i = 0; i < 3000; i++) expect(byId.get(`b\t${i}`)).toEqual(raw(i));
  });
});

describe('Postgres destination writer, unified tables', () => {
  const unifiedTarget = {
    schema: 'crm',
    table: 'crm_users',
    unified: {
      columns: [
        { name: 'name', type: 'text', notNull: false },
        { name: 'seats', type: 'integer', notNull: false },
        { name: 'last_login_at', type: 'timestamp(3)', notNull: false },
        { name: 'is_active', type: 'boolean', notNull: false },
        { name: 'tags', type: 'jsonb', notNull: true },
      ],
    },
  } as const;
  const user = (id: string, at: string, fields: Record<string, unknown>, isDeleted = false): WriteRecord => {
    const unified = {
      id,
      created_at: new Date('2023-06-01T08:00:00.123Z'),
      updated_at: null,
      is_deleted: isDeleted,
      last_modified_at: new Date(at),
      ...fields,
    };
    return {
      id,
      lastModifiedAt: new Date(at),
      isDeleted,
      raw: { provider: 'record', id },
      mapped: {},
      fields: () => unified,
      unified,
    };
  };
  let pool: pg.Pool;
  let writer: PostgresWriter;
  const row = async (id: string) =>
    (
      await pool.query(
        `select *, to_char(last_modified_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS') as modified,
                to_char(last_login_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS') as login,
                to_char(created_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS') as created
           from crm.crm_users where id = $1`,
        [id],
      )
    ).rows[0];

  beforeAll(async () => {
    const url = await createTestDatabase();
    // A server far from UTC: unified tables keep UTC times whatever the session's zone.
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`alter database ${new URL(url).pathname.slice(1)} set timezone = 'Pacific/Kiritimati'`);
    await admin.end();
    pool = new pg.Pool({ connectionString: url });
    writer = new PostgresWriter(pool);
    await writer.prepare(unifiedTarget);
  });
  afterAll(() => pool.end());

  it('writes the unified columns, the provider record and the whole unified record, times in UTC', async () => {
    await writer.write(
      unifiedTarget,
      owner,
      [
        user('u1', '2024-01-01T10:00:00.250Z', {
          name: 'Ada\tLovelace\\',
          seats: 3,
          last_login_at: new Date('2024-01-01T23:30:00Z'),
          is_active: true,
          tags: ['a', { b: 'c\nd' }],
        }),
      ],
      new Date(),
    );
    const r = await row('u1');
    expect(r).toMatchObject({
      _supaglue_application_id: 'app',
      _supaglue_customer_id: owner.customerRef,
      name: 'Ada\tLovelace\\',
      seats: 3,
      is_active: true,
      tags: ['a', { b: 'c\nd' }],
      is_deleted: false,
      updated_at: null,
      raw_data: { provider: 'record', id: 'u1' },
      modified: '2024-01-01T10:00:00.250',
      login: '2024-01-01T23:30:00.000',
      created: '2023-06-01T08:00:00.123',
    });
    expect(r._supaglue_unified_data).toMatchObject({
      id: 'u1',
      name: 'Ada\tLovelace\\',
      last_login_at: '2024-01-01T23:30:00.000Z',
    });
  });

  it('a value a column cannot hold is null rather than a failed batch', async () => {
    await writer.write(
      unifiedTarget,
      owner,
      [
        user('u2', '2024-01-01T00:00:00Z', {
          seats: 2.5,
          last_login_at: 'not a time',
          is_active: 'yes',
          tags: [],
        }),
        user('u2b', '2024-01-01T00:00:00Z', { seats: 3_000_000_000, tags: [] }),
      ],
      new Date(),
    );
    expect(await row('u2')).toMatchObject({ seats: null, login: null, is_active: null, tags: [] });
    expect(await row('u2b')).toMatchObject({ seats: null });
  });

  it('keeps the newest version by last_modified_at, and the sweep marks the unified record deleted too', async () => {
    await writer.write(
      unifiedTarget,
      owner,
      [
        user('u3', '2024-01-02T00:00:00Z', { name: 'v2', tags: [] }),
        user('u3', '2024-01-03T00:00:00Z', { name: 'v3', tags: [] }),
        user('u3', '2024-01-01T00:00:00Z', { name: 'v1', tags: [] }),
      ],
      new Date(),
    );
    expect((await row('u3')).name).toBe('v3');
    await writer.write(
      unifiedTarget,
      owner,
      [user('u3', '2024-01-02T12:00:00Z', { name: 'old', tags: [] })],
      new Date(),
    );
    expect((await row('u3')).name).toBe('v3');

    const runStarted = new Date();
    await writer.write(
      unifiedTarget,
      owner,
      [user('u3', '2024-01-04T00:00:00Z', { name: 'v4', tags: [] })],
      new Date(),
    );
    expect(await writer.markUnseenDeleted(unifiedTarget, owner, runStarted)).toBe(3);
    for (const id of ['u1', 'u2', 'u2b']) {
      const r = await row(id);
      expect(r.is_deleted).toBe(true);
      expect(r._supaglue_unified_data.is_deleted).toBe(true);
    }
    expect(await row('u3')).toMatchObject({ name: 'v4', is_deleted: false });
  });
});
