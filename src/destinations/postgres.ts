import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { transaction } from '../db/pool.ts';
import type { DestinationWriter, RowOwner, TableRef, UnifiedColumn, WriteRecord } from './writer.ts';

export const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;
const qualified = (t: TableRef) => `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;

const COPY_SPECIAL = /[\0\\\n\r\t]/;

/** COPY text format: backslash, newline, carriage return and tab are escaped; NUL cannot be stored. */
function copyText(value: string): string {
  // Most values (ids, names) have none of these: one scan instead of five replacements.
  if (!COPY_SPECIAL.test(value)) return value;
  return value
    .replaceAll('\0', '')
    .replaceAll('\\', '\\\\')
    .replaceAll('\n', '\\n')
    .replaceAll('\r', '\\r')
    .replaceAll('\t', '\\t');
}

/**
 * COPY text escaping for JSON text: JSON.stringify already escapes newlines, tabs, carriage returns
 * and NUL, so only backslashes remain (a single pass, and none at all for most records).
 */
function copyJson(value: unknown): string {
  const json = jsonForPostgres(value);
  return json.includes('\\') ? json.replaceAll('\\', '\\\\') : json;
}

const stripNul = (_key: string, value: unknown) =>
  typeof value === 'string' && value.includes('\0') ? value.replaceAll('\0', '') : value;

/** JSON for a jsonb column: Postgres rejects the \u0000 escape, so NUL characters are dropped. */
export function jsonForPostgres(value: unknown): string {
  const json = JSON.stringify(value);
  return json.includes('\\u0000') ? JSON.stringify(value, stripNul) : json;
}

/** The part of a row's owner its key holds. */
type RowKey = Pick<RowOwner, 'projectId' | 'providerName' | 'customerRef'>;

interface Column {
  name: string;
  type: string;
  notNull?: boolean;
  default?: string;
}

/**
 * How a table's rows hold records: its columns (in order), the key, the columns the writer reads
 * back (the record's id, its last modification and its deletion flag), and how a batch's records
 * become COPY lines. Every table has Supaglue's tenant columns and `_supaglue_emitted_at`; the
 * rest differs between provider object tables and unified (common object) tables.
 */
interface Layout {
  columns: readonly Column[];
  key: readonly string[];
  id: string;
  modified: string;
  deleted: string;
  /** Set besides the deletion flag when a row is marked deleted. */
  alsoOnDelete?: string;
  /** One record as a COPY line, for a batch of `owner`'s records emitted at `emittedAt`. */
  lines(owner: RowKey, emittedAt: string): (r: WriteRecord) => string;
}

const TENANT = [
  { name: '_supaglue_application_id', type: 'text', notNull: true },
  { name: '_supaglue_provider_name', type: 'text', notNull: true },
  { name: '_supaglue_customer_id', type: 'text', notNull: true },
] as const satisfies readonly Column[];

/** An owner's rows, by the primary key's leading columns: parameters $1 to $3 are `ownerValues`. */
const OWNER_ROWS =
  '_supaglue_application_id = $1 and _supaglue_provider_name = $2 and _supaglue_customer_id = $3';
const ownerValues = (owner: RowKey) => [owner.projectId, owner.providerName, owner.customerRef];

/** The tenant columns of every row of a batch, once per batch. */
const tenantValues = (owner: RowKey) =>
  `${copyText(owner.projectId)}\t${copyText(owner.providerName)}\t${copyText(owner.customerRef)}`;

/** Supaglue's layout of a provider object's table: `_supaglue_*` columns only. */
const OBJECT_LAYOUT: Layout = {
  columns: [
    ...TENANT,
    { name: '_supaglue_id', type: 'text', notNull: true },
    { name: '_supaglue_emitted_at', type: 'timestamptz', notNull: true },
    { name: '_supaglue_last_modified_at', type: 'timestamptz', notNull: true },
    { name: '_supaglue_is_deleted', type: 'boolean', notNull: true, default: 'false' },
    { name: '_supaglue_raw_data', type: 'jsonb', notNull: true },
    { name: '_supaglue_mapped_data', type: 'jsonb', notNull: true, default: "'{}'" },
  ],
  key: [...TENANT.map((c) => c.name), '_supaglue_id'],
  id: '_supaglue_id',
  modified: '_supaglue_last_modified_at',
  deleted: '_supaglue_is_deleted',
  lines(owner, emittedAt) {
    const tenant = tenantValues(owner);
    return (r) =>
      `${tenant}\t${copyText(r.id)}\t${emittedAt}\t${r.lastModifiedAt.toISOString()}\t${r.isDeleted ? 't' : 'f'}\t${copyJson(r.raw)}\t${copyJson(r.mapped)}\n`;
  },
};

const NULL = '\\N';
const INT4_MAX = 2_147_483_647;

/** A value as COPY text for a column of `type`; null where the value cannot be one of that type. */
function copyValue(type: UnifiedColumn['type'], value: unknown): string {
  if (value === null || value === undefined) return NULL;
  switch (type) {
    case 'jsonb':
      return copyJson(value);
    case 'timestamp(3)': {
      const d = value instanceof Date ? value : new Date(value as string);
      return Number.isNaN(d.getTime()) ? NULL : d.toISOString();
    }
    case 'boolean':
      return value === true ? 't' : value === false ? 'f' : NULL;
    case 'integer':
      return Number.isInteger(value) && Math.abs(value as number) <= INT4_MAX ? String(value) : NULL;
    case 'float':
      return typeof value === 'number' && Number.isFinite(value) ? String(value) : NULL;
    case 'text':
      return copyText(typeof value === 'object' ? JSON.stringify(value) : String(value));
  }
}

/**
 * Supaglue's layout of a unified table: tenant columns, the unified record's base fields, its
 * model's columns, the provider record (`raw_data`) and the whole unified record
 * (`_supaglue_unified_data`). Times are `timestamp(3)` in UTC, as Supaglue's are.
 */
function unifiedLayout(model: readonly UnifiedColumn[]): Layout {
  const columns: Column[] = [
    ...TENANT,
    { name: '_supaglue_emitted_at', type: 'timestamp(3)', notNull: true },
    { name: 'id', type: 'text', notNull: true },
    { name: 'created_at', type: 'timestamp(3)' },
    { name: 'updated_at', type: 'timestamp(3)' },
    { name: 'is_deleted', type: 'boolean', notNull: true, default: 'false' },
    { name: 'last_modified_at', type: 'timestamp(3)', notNull: true },
    ...model,
    { name: 'raw_data', type: 'jsonb' },
    { name: '_supaglue_unified_data', type: 'jsonb' },
  ];
  return {
    columns,
    key: [...TENANT.map((c) => c.name), 'id'],
    id: 'id',
    modified: 'last_modified_at',
    deleted: 'is_deleted',
    alsoOnDelete: `_supaglue_unified_data = jsonb_set(coalesce(_supaglue_unified_data, '{}'), '{is_deleted}', 'true')`,
    lines(owner, emittedAt) {
      const start = `${tenantValues(owner)}\t${emittedAt}`;
      return (r) => {
        const unified = r.unified ?? {};
        return `${[
          start,
          copyText(r.id),
          copyValue('timestamp(3)', unified.created_at),
          copyValue('timestamp(3)', unified.updated_at),
          r.isDeleted ? 't' : 'f',
          r.lastModifiedAt.toISOString(),
          ...model.map((c) => copyValue(c.type, unified[c.name])),
          copyJson(r.raw),
          copyJson(unified),
        ].join('\t')}\n`;
      };
    },
  };
}

const unifiedLayouts = new WeakMap<object, Layout>();

function layoutOf(target: TableRef): Layout {
  if (!target.unified) return OBJECT_LAYOUT;
  let layout = unifiedLayouts.get(target.unified);
  if (!layout) {
    layout = unifiedLayout(target.unified.columns);
    unifiedLayouts.set(target.unified, layout);
  }
  return layout;
}

const columnDefinition = (c: Column) =>
  `${quoteIdent(c.name)} ${c.type}${c.notNull ? ' not null' : ''}${c.default ? ` default ${c.default}` : ''}`;

/**
 * About how much COPY text goes to the server at once. Each chunk is one CopyData message, sent
 * as two socket writes: a line each would cost two system calls per record.
 */
const COPY_CHUNK_CHARS = 64 * 1024;

/**
 * A batch's COPY text, chunk by chunk. The server's socket takes chunks as fast as they come, so
 * without a pause between them a batch of thousands of records would be one task of tens of
 * milliseconds: timers due meanwhile (requests' turns in a rate budget) would ring late.
 */
async function* copyChunks(records: WriteRecord[], line: (r: WriteRecord) => string): AsyncGenerator<string> {
  let chunk = '';
  for (const r of records) {
    chunk += line(r);
    if (chunk.length >= COPY_CHUNK_CHARS) {
      yield chunk;
      chunk = '';
      await yieldToEventLoop();
    }
  }
  if (chunk) yield chunk;
}

export interface WriterOptions {
  /**
   * Every statement runs as this role (`SET LOCAL ROLE`), whose grants decide where the writer can
   * write: the built-in destination's per-project role. Its schema is provisioned with the role,
   * so the writer does not create schemas.
   */
  role?: string;
}

/**
 * Writes synced records into a Postgres database in Supaglue's layouts: one table per provider
 * object (`_supaglue_*` columns, key (application, provider, customer, `_supaglue_id`)) or per
 * common object (its unified columns, key (application, provider, customer, `id`)). Each batch is
 * COPYed into a session-local staging table and merged with one upsert that keeps, per record,
 * the newest version (also within the batch) and never replaces a newer row with an older one.
 */
export class PostgresWriter implements DestinationWriter {
  readonly #prepared = new Set<string>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: WriterOptions = {},
  ) {}

  /**
   * Runs `work` in one transaction, as the writer's role when it has one, in UTC: unified tables
   * keep times without a zone, and comparisons with them must not take the server's.
   */
  #transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return transaction(this.pool, async (client) => {
      await client.query("set local time zone 'UTC'");
      if (this.options.role) await client.query(`set local role ${quoteIdent(this.options.role)}`);
      return work(client);
    });
  }

  /** Creates the schema (unless provisioned with the role) and the table if needed. */
  async prepare(target: TableRef): Promise<void> {
    const key = `${target.schema}.${target.table}`;
    if (this.#prepared.has(key)) return;
    const layout = layoutOf(target);
    await this.#transaction(async (client) => {
      // Concurrent runs may create the same schema or table: serialize on the schema (Postgres's own
      // IF NOT EXISTS races).
      await client.query('select pg_advisory_xact_lock(hashtext($1))', [`trellis-schema:${target.schema}`]);
      if (!this.options.role) await client.query(`create schema if not exists ${quoteIdent(target.schema)}`);
      await client.query(`create table if not exists ${qualified(target)} (
        ${layout.columns.map(columnDefinition).join(',\n        ')},
        primary key (${layout.key.join(', ')})
      )`);
    });
    this.#prepared.add(key);
  }

  /** Writes one batch in one transaction. */
  async write(target: TableRef, owner: RowKey, records: WriteRecord[], emittedAt: Date): Promise<void> {
    if (records.length === 0) return;
    const layout = layoutOf(target);
    const names = layout.columns.map((c) => quoteIdent(c.name)).join(', ');
    await this.#transaction(async (client) => {
      // Dropped at commit: a pooled session serves several projects' roles, and a staging table
      // left behind by one role could not be written by the next.
      await client.query(`create temp table trellis_stage (
        ${layout.columns.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(', ')}
      ) on commit drop`);
      const copy = client.query(copyStreams.from(`copy trellis_stage (${names}) from stdin`));
      await pipeline(Readable.from(copyChunks(records, layout.lines(owner, emittedAt.toISOString()))), copy);
      const key = new Set(layout.key);
      const versioned = layout.columns
        .map((c) => c.name)
        .filter((name) => !key.has(name) && name !== '_supaglue_emitted_at')
        .map(quoteIdent);
      const newer = `excluded.${layout.modified} >= t.${layout.modified}`;
      await client.query(`
        insert into ${qualified(target)} as t (${names})
        select distinct on (${layout.id}) ${names} from trellis_stage
         order by ${layout.id}, ${layout.modified} desc
        on conflict (${layout.key.join(', ')}) do update set
          ${versioned.map((c) => `${c} = case when ${newer} then excluded.${c} else t.${c} end`).join(',\n          ')},
          _supaglue_emitted_at = excluded._supaglue_emitted_at`);
    });
  }

  /** By the primary key's leading columns, up to the owner's first live row (past its deleted ones). */
  async holdsRecords(target: TableRef, owner: RowKey): Promise<boolean> {
    const { deleted } = layoutOf(target);
    const res = await this.#transaction((client) =>
      client.query(
        `select 1 from ${qualified(target)} where ${OWNER_ROWS} and not ${deleted} limit 1`,
        ownerValues(owner),
      ),
    );
    return (res.rowCount ?? 0) > 0;
  }

  /**
   * After a completed full run: whatever this owner has in the table that the run did not write
   * (emitted before the run started) no longer exists at the provider.
   */
  async markUnseenDeleted(target: TableRef, owner: RowKey, runStartedAt: Date): Promise<number> {
    const { deleted, alsoOnDelete } = layoutOf(target);
    const res = await this.#transaction((client) =>
      client.query(
        `update ${qualified(target)} set ${deleted} = true, _supaglue_emitted_at = now()${alsoOnDelete ? `, ${alsoOnDelete}` : ''}
          where ${OWNER_ROWS} and _supaglue_emitted_at < $4::timestamptz and not ${deleted}`,
        [...ownerValues(owner), runStartedAt.toISOString()],
      ),
    );
    return res.rowCount ?? 0;
  }
}
