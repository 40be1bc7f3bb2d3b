import type { ProviderRecord } from '../types.ts';

/**
 * Supaglue's common objects ("unified models") as data: per category and model, the table its
 * records go to and the SQL type of each column, and the unified record type the providers'
 * mappers produce. Below both the connectors (which map into the models) and the engine (which
 * hands each table's columns to the writer), so neither imports the other's layer.
 */

/** A unified table column's SQL type, as Supaglue's tables have it. */
export type SqlType = 'text' | 'timestamp(3)' | 'boolean' | 'integer' | 'float' | 'jsonb';

/**
 * A model field's column: its SQL type (`not null` where Supaglue's table says so), or null for a
 * field kept only in the record's `_supaglue_unified_data` (Supaglue added no column for it).
 */
export type ColumnDeclaration = SqlType | `${SqlType} not null` | null;

/** What every unified record has, whatever its model (the columns after the tenant ones). */
export interface UnifiedBase {
  id: string;
  created_at: Date | null;
  updated_at: Date | null;
  is_deleted: boolean;
  last_modified_at: Date;
}

type ModelField<T> = Exclude<keyof T, keyof UnifiedBase> & string;

export type ModelCategory = 'crm' | 'engagement';

export interface CommonModel<T extends UnifiedBase = UnifiedBase> {
  category: ModelCategory;
  /** Supaglue's name for it in a sync config's `common_objects` (`contact`, `sequence_state`…). */
  name: string;
  table: string;
  /** Every model field, in the table's column order. */
  columns: { readonly [K in ModelField<T>]: ColumnDeclaration };
}

/** A unified table's own columns (model fields that have one), in order, as a writer takes them. */
export interface ModelColumn {
  name: string;
  type: SqlType;
  notNull: boolean;
}

export function modelColumns(model: CommonModel): ModelColumn[] {
  const columns: ModelColumn[] = [];
  for (const [name, declared] of Object.entries(model.columns) as [string, ColumnDeclaration][]) {
    if (declared === null) continue;
    const notNull = declared.endsWith(' not null');
    columns.push({
      name,
      type: (notNull ? declared.slice(0, -' not null'.length) : declared) as SqlType,
      notNull,
    });
  }
  return columns;
}

/**
 * What a mapper gives for one provider record: the unified fields beyond its identity and last
 * change, and its deletion flag where the model's idea of deleted is not the provider's.
 */
export type MappedFields<T extends UnifiedBase> = Omit<T, 'id' | 'is_deleted' | 'last_modified_at'> & {
  is_deleted?: boolean;
};

/**
 * How one provider maps its records into one common model. The unified record's id, deletion
 * flag and last modification are the provider record's as its connector read them (so that a
 * unified row changes exactly when its provider record does); `map` gives the rest.
 */
export interface ModelMapping<T extends UnifiedBase = UnifiedBase> {
  /**
   * The records one provider record holds, when they are the model's records rather than the
   * provider record itself (Apollo's sequence states, kept in its contacts); each is mapped, with
   * the record that holds it.
   */
  split?(record: ProviderRecord): ProviderRecord[];
  map(record: ProviderRecord, holder: ProviderRecord): MappedFields<T>;
}

/**
 * A provider record mapped, whole: what `_supaglue_unified_data` holds (with dates as ISO text).
 * `holder` is the record read, `record` itself unless the mapping splits it.
 */
export function unifiedRecord(mapping: ModelMapping, record: ProviderRecord, holder = record): UnifiedBase {
  return {
    id: record.id,
    is_deleted: record.isDeleted,
    last_modified_at: record.lastModifiedAt,
    ...mapping.map(record, holder),
  };
}

// ---- helpers for mappers: provider values are loosely typed; a model's are not ----------------

/** A non-empty string, or null (numbers are written out: provider ids are often numbers). */
export function text(value: unknown): string | null {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return typeof value === 'string' && value !== '' ? value : null;
}

/** A time, or null when the value is none or not a time. */
export function timeOf(value: unknown): Date | null {
  if (value === null || value === undefined || value === '') return null;
  const d = value instanceof Date ? value : new Date(value as string | number);
  return Number.isNaN(d.getTime()) ? null : d;
}

const INT4_MAX = 2_147_483_647;

/** A whole number an `integer` column can hold, or null (Supaglue dropped larger ones too). */
export function int4(value: unknown): number | null {
  const n = typeof value === 'string' ? Number.parseInt(value, 10) : value;
  return typeof n === 'number' && Number.isInteger(n) && Math.abs(n) <= INT4_MAX ? n : null;
}

/** A finite number, or null. */
export function float(value: unknown): number | null {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
}

/** true/false, also as the strings providers send them in; null otherwise. */
export function bool(value: unknown): boolean | null {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  return null;
}

/** The record's object-valued field, or an empty one. */
export function objectField(raw: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = raw[key];
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
