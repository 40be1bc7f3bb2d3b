import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { transaction } from '../db/pool.ts';
import type { DestinationWriter, RowOwner, TableRef, WriteRecord } from './writer.ts';

/** The part of a row's owner its key holds. */
type RowKey = Pick<RowOwner, 'projectId' | 'providerName' | 'customerRef'>;

const COLUMNS = [
  '_supaglue_application_id',
  '_supaglue_provider_name',
  '_supaglue_customer_id',
  '_supaglue_id',
  '_supaglue_emitted_at',
  '_supaglue_last_modified_at',
  '_supaglue_is_deleted',
  '_supaglue_raw_data',
  '_supaglue_mapped_data',
] as const;

const KEY = COLUMNS.slice(0, 4);
const VERSIONED = [
  '_supaglue_last_modified_at',
  '_supaglue_is_deleted',
  '_supaglue_raw_data',
  '_supaglue_mapped_data',
];

export const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;
const qualified = (t: TableRef) => `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;

/** COPY text format: backslash, newline, carriage return and tab are escaped; NUL cannot be stored. */
function copyText(value: string): string {
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

function copyLine(owner: RowKey, emittedAt: string, r: WriteRecord): string {
  return `${[
    copyText(owner.projectId),
    copyText(owner.providerName),
    copyText(owner.customerRef),
    copyText(r.id),
    emittedAt,
    r.lastModifiedAt.toISOString(),
    r.isDeleted ? 't' : 'f',
    copyJson(r.raw),
    copyJson(r.mapped),
  ].join('\t')}\n`;
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
 * Writes synced records into a Postgres database in Supaglue's layout: one table per provider
 * object, `_supaglue_*` columns, primary key (application, provider, customer, id). Each batch is
 * COPYed into a session-local staging table and merged with one upsert that keeps, per record,
 * the newest version (also within the batch) and never replaces a newer row with an older one.
 */
export class PostgresWriter implements DestinationWriter {
  readonly #prepared = new Set<string>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: WriterOptions = {},
  ) {}

  /** Runs `work` in one transaction, as the writer's role when it has one. */
  #transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return transaction(this.pool, async (client) => {
      if (this.options.role) await client.query(`set local role ${quoteIdent(this.options.role)}`);
      return work(client);
    });
  }

  /** Creates the schema (unless provisioned with the role) and the table if needed. */
  async prepare(target: TableRef): Promise<void> {
    const key = `${target.schema}.${target.table}`;
    if (this.#prepared.has(key)) return;
    await this.#transaction(async (client) => {
      // Concurrent runs may create the same schema or table: serialize on the schema (Postgres's own
      // IF NOT EXISTS races).
      await client.query('select pg_advisory_xact_lock(hashtext($1))', [`trellis-schema:${target.schema}`]);
      if (!this.options.role) await client.query(`create schema if not exists ${quoteIdent(target.schema)}`);
      await client.query(`create table if not exists ${qualified(target)} (
        _supaglue_application_id text not null,
        _supaglue_provider_name text not null,
        _supaglue_customer_id text not null,
        _supaglue_id text not null,
        _supaglue_emitted_at timestamptz not null,
        _supaglue_last_modified_at timestamptz not null,
        _supaglue_is_deleted boolean not null default false,
        _supaglue_raw_data jsonb not null,
        _supaglue_mapped_data jsonb not null default '{}',
        primary key (_supaglue_application_id, _supaglue_provider_name, _supaglue_customer_id, _supaglue_id)
      )`);
    });
    this.#prepared.add(key);
  }

  /** Writes one batch in one transaction. */
  async write(target: TableRef, owner: RowKey, records: WriteRecord[], emittedAt: Date): Promise<void> {
    if (records.length === 0) return;
    await this.#transaction(async (client) => {
      // Dropped at commit: a pooled session serves several projects' roles, and a staging table
      // left behind by one role could not be written by the next.
      await client.query(`create temp table trellis_stage (
        ${COLUMNS.map((c) => `${c} ${c.endsWith('_at') ? 'timestamptz' : c === '_supaglue_is_deleted' ? 'boolean' : c.endsWith('_data') ? 'jsonb' : 'text'}`).join(', ')}
      ) on commit drop`);
      const at = emittedAt.toISOString();
      const copy = client.query(copyStreams.from(`copy trellis_stage (${COLUMNS.join(', ')}) from stdin`));
      await pipeline(
        Readable.from(
          (function* () {
            for (const r of records) yield copyLine(owner, at, r);
          })(),
        ),
        copy,
      );
      const newer = 'excluded._supaglue_last_modified_at >= t._supaglue_last_modified_at';
      await client.query(`
        insert into ${qualified(target)} as t (${COLUMNS.join(', ')})
        select distinct on (_supaglue_id) ${COLUMNS.join(', ')} from trellis_stage
         order by _supaglue_id, _supaglue_last_modified_at desc
        on conflict (${KEY.join(', ')}) do update set
          ${VERSIONED.map((c) => `${c} = case when ${newer} then excluded.${c} else t.${c} end`).join(',\n          ')},
          _supaglue_emitted_at = excluded._supaglue_emitted_at`);
    });
  }

  /**
   * After a completed full run: whatever this owner has in the table that the run did not write
   * (emitted before the run started) no longer exists at the provider.
   */
  async markUnseenDeleted(target: TableRef, owner: RowKey, runStartedAt: Date): Promise<number> {
    const res = await this.#transaction((client) =>
      client.query(
        `update ${qualified(target)} set _supaglue_is_deleted = true, _supaglue_emitted_at = now()
          where _supaglue_application_id = $1 and _supaglue_provider_name = $2 and _supaglue_customer_id = $3
            and _supaglue_emitted_at < $4 and not _supaglue_is_deleted`,
        [owner.projectId, owner.providerName, owner.customerRef, runStartedAt],
      ),
    );
    return res.rowCount ?? 0;
  }
}
