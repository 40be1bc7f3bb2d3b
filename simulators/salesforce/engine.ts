import type { ObjectStore, SimRecord } from '../core/store.ts';
import { type FieldDef, fieldValue, sfDateTime, type Value } from './schema.ts';
import { matches, type Query } from './soql.ts';

/**
 * Runs parsed SOQL against an ObjectStore without materialising the object: a plan picks the
 * store iterator that already yields records in the query's order (id order, modification order,
 * or descending id order) starting as late as the WHERE clause allows, and the remaining conditions
 * filter that stream. Only ORDER BY on other fields sorts in memory.
 */

/** Where a scan stopped: enough to resume it without re-reading what came before. */
export interface Position {
  seq: number;
  updatedAt: number;
  index: number;
}

export interface Plan {
  query: Query;
  store: ObjectStore;
  includeDeleted: boolean;
  order: 'id' | 'id-desc' | 'modified' | 'sorted';
  /** Exclusive lower bound on the (millisecond) modification time, when the WHERE clause gives one. */
  since?: number;
  /** Inclusive upper bound on the modification time. */
  until: number;
  /** Exclusive lower bound on the record number, from Id > / >= / = conditions. */
  idFloor: number;
  /** Inclusive upper bound on the record number, from Id < / <= / = conditions. */
  idCeiling: number;
  /** Whether the WHERE clause is only those Id bounds: its records can be counted without reading them. */
  idBoundsOnly: boolean;
  value(r: SimRecord, field: string): Value;
  pass(r: SimRecord): boolean;
  sorted?: SimRecord[];
}

const MODIFIED = new Set(['SystemModstamp', 'LastModifiedDate']);

export function makePlan(
  query: Query,
  store: ObjectStore,
  includeDeleted: boolean,
  accounts: () => number,
  numberOfId: (id15: string) => number | undefined,
): Plan {
  let since: number | undefined;
  let until = Number.POSITIVE_INFINITY;
  let idFloor = 0;
  let idCeiling = Number.POSITIVE_INFINITY;
  let idBoundsOnly = true;
  for (const c of query.where) {
    let bound = false;
    if (MODIFIED.has(c.field.name) && typeof c.value === 'number') {
      // Stored times have milliseconds, compared values are whole seconds: translate the bounds.
      const x = c.value;
      const floorSecond = Math.floor(x / 1000) * 1000;
      const ceilSecond = Math.ceil(x / 1000) * 1000;
      const lower =
        c.op === '>' ? floorSecond + 999 : c.op === '>=' || c.op === '=' ? ceilSecond - 1 : undefined;
      const upper =
        c.op === '<' ? ceilSecond - 1 : c.op === '<=' || c.op === '=' ? floorSecond + 999 : undefined;
      if (lower !== undefined) since = Math.max(since ?? Number.NEGATIVE_INFINITY, lower);
      if (upper !== undefined) until = Math.min(until, upper);
    }
    if (c.field.name === 'Id' && typeof c.value === 'string') {
      const n = numberOfId(c.value);
      if (n !== undefined) {
        if (c.op === '>' || c.op === '>=' || c.op === '=')
          idFloor = Math.max(idFloor, c.op === '>' ? n : n - 1);
        if (c.op === '<' || c.op === '<=' || c.op === '=')
          idCeiling = Math.min(idCeiling, c.op === '<' ? n - 1 : n);
        bound = c.op !== '!=';
      }
    }
    if (!bound) idBoundsOnly = false;
  }
  const sortField = query.orderBy?.field.name;
  const descending = query.orderBy?.descending ?? false;
  const order: Plan['order'] =
    !sortField || sortField === 'Id' || sortField === 'CreatedDate'
      ? descending
        ? 'id-desc'
        : 'id'
      : MODIFIED.has(sortField) && !descending
        ? 'modified'
        : 'sorted';
  const value = (r: SimRecord, field: string) => fieldValue(query.object, r, field, accounts());
  return {
    query,
    store,
    includeDeleted,
    order,
    since,
    until,
    idFloor,
    idCeiling,
    idBoundsOnly,
    value,
    pass: (r) =>
      (includeDeleted || !r.deleted) && query.where.every((c) => matches(c, value(r, c.field.name))),
  };
}

const position = (r: SimRecord, index: number): Position => ({ seq: r.seq, updatedAt: r.updatedAt, index });

/** The records a query returns, in order, after `after` when resuming. */
export function* scan(plan: Plan, after?: Position): Generator<[SimRecord, Position]> {
  const { store, includeDeleted } = plan;
  let index = after ? after.index + 1 : 0;
  let source: Iterable<SimRecord>;
  switch (plan.order) {
    case 'id': {
      const floor = Math.max(plan.idFloor, after?.seq ?? 0);
      source =
        plan.since === undefined
          ? store.bySeq(floor, includeDeleted)
          : store.modifiedSinceBySeq(plan.since, floor, includeDeleted);
      break;
    }
    case 'id-desc':
      source = (function* () {
        const top = Math.min(store.size, plan.idCeiling, (after?.seq ?? Number.POSITIVE_INFINITY) - 1);
        for (let seq = top; seq > plan.idFloor; seq--) {
          const r = store.get(seq);
          if (r && (includeDeleted || !r.deleted)) yield r;
        }
      })();
      break;
    case 'modified':
      source = store.byModified(
        after
          ? { updatedAt: after.updatedAt, seq: after.seq }
          : plan.since === undefined
            ? undefined
            : { updatedAt: plan.since, seq: Number.MAX_SAFE_INTEGER },
        includeDeleted,
      );
      break;
    default: {
      plan.sorted ??= sortAll(plan);
      const sorted = plan.sorted;
      source = (function* () {
        for (let i = index; i < sorted.length; i++) yield sorted[i]!;
      })();
    }
  }
  for (const r of source) {
    // Id and modification order are the scan's own order: past the upper bound nothing can match.
    if (plan.order === 'id' && r.seq > plan.idCeiling) break;
    if (plan.order === 'modified' && r.updatedAt > plan.until) break;
    if (!plan.pass(r)) continue;
    yield [r, position(r, index)];
    index++;
  }
}

function compareValues(a: Value, b: Value, nullsLast: boolean): number {
  if (a === b) return 0;
  if (a === null) return nullsLast ? 1 : -1;
  if (b === null) return nullsLast ? -1 : 1;
  if (typeof a === 'string' && typeof b === 'string')
    return a.localeCompare(b, 'en', { sensitivity: 'base' });
  return a < b ? -1 : a > b ? 1 : 0;
}

/** ORDER BY on a field no iterator follows: sort the matching records (keeping at most LIMIT of them). */
function sortAll(plan: Plan): SimRecord[] {
  const { field, descending, nullsLast } = plan.query.orderBy!;
  const compare = (a: SimRecord, b: SimRecord) => {
    const c = compareValues(plan.value(a, field.name), plan.value(b, field.name), nullsLast !== descending);
    return (descending ? -c : c) || a.seq - b.seq;
  };
  const limit = plan.query.limit;
  let kept: SimRecord[] = [];
  for (const r of plan.store.bySeq(plan.idFloor, plan.includeDeleted)) {
    if (!plan.pass(r)) continue;
    kept.push(r);
    if (limit !== undefined && kept.length >= Math.max(2 * limit, 10_000))
      kept = kept.sort(compare).slice(0, limit);
  }
  kept.sort(compare);
  return limit === undefined ? kept : kept.slice(0, limit);
}

/** How many records the query returns (totalSize / numberRecordsProcessed). */
export function countResults(plan: Plan): number {
  const limit = plan.query.limit ?? Number.POSITIVE_INFINITY;
  const onlyModifiedSince = plan.query.where.every(
    (c) => MODIFIED.has(c.field.name) && (c.op === '>' || c.op === '>='),
  );
  if (onlyModifiedSince && plan.order !== 'sorted') {
    const n = plan.store.countModified(
      plan.since === undefined ? undefined : { updatedAt: plan.since, seq: Number.MAX_SAFE_INTEGER },
      plan.includeDeleted,
    );
    return Math.min(n, limit);
  }
  if (plan.idBoundsOnly) {
    return Math.min(plan.store.countBySeq(plan.idFloor, plan.idCeiling, plan.includeDeleted), limit);
  }
  let n = 0;
  for (const _ of scan(plan)) if (++n >= limit) break;
  return n;
}

/** A field value in REST JSON: dateTimes as 2024-05-01T12:00:00.000+0000. */
export function jsonValue(f: FieldDef, v: Value): Value {
  return f.type === 'datetime' && typeof v === 'number' ? sfDateTime(v) : v;
}

/** A field value in a Bulk API 2.0 CSV cell: always quoted, nulls empty, dateTimes in ISO-8601 UTC. */
export function csvCell(f: FieldDef, v: Value): string {
  if (v === null) return '""';
  const text = f.type === 'datetime' && typeof v === 'number' ? new Date(v).toISOString() : String(v);
  return `"${text.replace(/"/g, '""')}"`;
}
