import type { SimClock } from './clock.ts';
import { hashUnit } from './random.ts';

/** One record of a simulated provider object. `seq` is its position in creation order (1-based). */
export interface SimRecord {
  seq: number;
  createdAt: number;
  updatedAt: number;
  deleted: boolean;
  deletedAt?: number;
  fields: Record<string, unknown>;
}

export interface ObjectDefinition {
  /** Deterministic fields of seeded record `index` (0-based). */
  generate(seed: number, index: number): Record<string, unknown>;
  /** The fields after the n-th simulated edit of a record. */
  edit(fields: Record<string, unknown>, n: number): Record<string, unknown>;
}

/** Seeded records are spaced this far apart, ending just before the simulator started. */
const STEP_MS = 1000;

/**
 * The records of one object. Seeded records are not stored: record i is generated on demand from
 * the seed, with modification times increasing with i. Only records that were created, changed or
 * deleted since seeding live in memory (`changed`), and each change moves a record to the end of
 * that map, so the map's order is modification order and every change is newer than every seeded
 * record. That keeps a million-record object in a few kilobytes and makes "modified since" scans
 * cheap.
 */
export class ObjectStore {
  #count = 0;
  #t0 = 0;
  #nextSeq = 1;
  #edits = 0;
  readonly #changed = new Map<number, SimRecord>();
  readonly #created: number[] = [];

  constructor(
    readonly name: string,
    private readonly definition: ObjectDefinition,
    private readonly seed: number,
    private readonly clock: SimClock,
  ) {}

  reset(count: number): void {
    this.#count = count;
    this.#t0 = this.clock.now() - count * STEP_MS - STEP_MS;
    this.#nextSeq = count + 1;
    this.#changed.clear();
    this.#created.length = 0;
  }

  get size(): number {
    return this.#count + this.#created.length;
  }

  #seeded(seq: number): SimRecord {
    const at = this.#t0 + seq * STEP_MS;
    return {
      seq,
      createdAt: at,
      updatedAt: at,
      deleted: false,
      fields: this.definition.generate(this.seed, seq - 1),
    };
  }

  get(seq: number): SimRecord | undefined {
    const changed = this.#changed.get(seq);
    if (changed) return changed;
    return seq >= 1 && seq <= this.#count ? this.#seeded(seq) : undefined;
  }

  #touch(record: SimRecord): SimRecord {
    this.#changed.delete(record.seq);
    this.#changed.set(record.seq, record);
    return record;
  }

  create(fields: Record<string, unknown>): SimRecord {
    const now = this.clock.now();
    const seq = this.#nextSeq++;
    this.#created.push(seq);
    return this.#touch({ seq, createdAt: now, updatedAt: now, deleted: false, fields });
  }

  update(seq: number, fields: Record<string, unknown>): SimRecord | undefined {
    const current = this.get(seq);
    if (!current || current.deleted) return undefined;
    return this.#touch({ ...current, updatedAt: this.clock.now(), fields: { ...current.fields, ...fields } });
  }

  /** A simulated edit by someone in the provider's UI. */
  edit(seq: number): SimRecord | undefined {
    const current = this.get(seq);
    return current && this.update(seq, this.definition.edit(current.fields, ++this.#edits));
  }

  delete(seq: number): SimRecord | undefined {
    const current = this.get(seq);
    if (!current || current.deleted) return undefined;
    const now = this.clock.now();
    return this.#touch({ ...current, deleted: true, deletedAt: now, updatedAt: now });
  }

  /** Undeletes (HubSpot restore, Salesforce undelete). */
  restore(seq: number): SimRecord | undefined {
    const current = this.get(seq);
    if (!current?.deleted) return undefined;
    const { deletedAt: _, ...rest } = current;
    return this.#touch({ ...rest, deleted: false, updatedAt: this.clock.now() });
  }

  /** How many records (not deleted, unless asked) have `afterSeq < seq <= upTo`, without generating them. */
  countBySeq(afterSeq: number, upTo: number, includeDeleted = false): number {
    const low = Math.max(afterSeq + 1, 1);
    const high = Math.min(upTo, this.size);
    if (high < low) return 0;
    let n = high - low + 1;
    if (!includeDeleted)
      for (const r of this.#changed.values()) if (r.deleted && r.seq >= low && r.seq <= high) n--;
    return n;
  }

  /** Records in creation order, after `afterSeq`. */
  *bySeq(afterSeq = 0, includeDeleted = false): Generator<SimRecord> {
    for (let seq = Math.max(afterSeq + 1, 1); seq <= this.#count; seq++) {
      const r = this.get(seq)!;
      if (includeDeleted || !r.deleted) yield r;
    }
    for (const seq of this.#created) {
      if (seq <= afterSeq) continue;
      const r = this.#changed.get(seq)!;
      if (includeDeleted || !r.deleted) yield r;
    }
  }

  /**
   * Records in modification order, strictly after the position (updatedAt, seq) when given.
   * Deleted records are included only when asked (deletion is a modification). The first `skip`
   * records are passed over without generating them (page offsets).
   */
  *byModified(
    after?: { updatedAt: number; seq: number },
    includeDeleted = false,
    skip = 0,
  ): Generator<SimRecord> {
    const isAfter = (updatedAt: number, seq: number) =>
      !after || updatedAt > after.updatedAt || (updatedAt === after.updatedAt && seq > after.seq);
    const first = after ? Math.max(1, Math.floor((after.updatedAt - this.#t0) / STEP_MS)) : 1;
    for (let seq = first; seq <= this.#count; seq++) {
      if (this.#changed.has(seq) || !isAfter(this.#t0 + seq * STEP_MS, seq)) continue;
      if (skip > 0) skip--;
      else yield this.#seeded(seq);
    }
    const changed = [...this.#changed.values()].sort((a, b) => a.updatedAt - b.updatedAt || a.seq - b.seq);
    for (const r of changed) {
      if (!isAfter(r.updatedAt, r.seq) || (!includeDeleted && r.deleted)) continue;
      if (skip > 0) skip--;
      else yield r;
    }
  }

  /**
   * Records in reverse modification order (newest first), strictly before the position
   * (updatedAt, seq) when given. Every change is newer than every seeded record, so the changed
   * records come first and the seeded ones follow from the newest down, without generating the
   * seeded records that are newer than the position. The first `skip` records are passed over
   * without generating them (page offsets).
   */
  *byModifiedDesc(
    before?: { updatedAt: number; seq: number },
    includeDeleted = false,
    skip = 0,
  ): Generator<SimRecord> {
    const isBefore = (updatedAt: number, seq: number) =>
      !before || updatedAt < before.updatedAt || (updatedAt === before.updatedAt && seq < before.seq);
    const changed = [...this.#changed.values()].sort((a, b) => b.updatedAt - a.updatedAt || b.seq - a.seq);
    for (const r of changed) {
      if (!isBefore(r.updatedAt, r.seq) || (!includeDeleted && r.deleted)) continue;
      if (skip > 0) skip--;
      else yield r;
    }
    const last = before
      ? Math.min(this.#count, Math.ceil((before.updatedAt - this.#t0) / STEP_MS))
      : this.#count;
    for (let seq = last; seq >= 1; seq--) {
      if (this.#changed.has(seq) || !isBefore(this.#t0 + seq * STEP_MS, seq)) continue;
      if (skip > 0) skip--;
      else yield this.#seeded(seq);
    }
  }

  /**
   * Records modified after `sinceMs` (and before `untilMs`, when given), in creation order, after
   * `afterSeq`: what an id-ordered "modified since" scan reads, without touching the seeded
   * records outside those times.
   */
  *modifiedSinceBySeq(
    sinceMs: number,
    afterSeq = 0,
    includeDeleted = false,
    untilMs = Number.POSITIVE_INFINITY,
  ): Generator<SimRecord> {
    const firstSeeded = Math.max(afterSeq + 1, 1, Math.floor((sinceMs - this.#t0) / STEP_MS));
    const lastSeeded = Math.min(this.#count, Math.ceil((untilMs - this.#t0) / STEP_MS));
    const changed = [...this.#changed.values()]
      .filter(
        (r) =>
          r.seq > afterSeq &&
          r.updatedAt > sinceMs &&
          r.updatedAt < untilMs &&
          (includeDeleted || !r.deleted),
      )
      .sort((a, b) => a.seq - b.seq);
    let c = 0;
    for (let seq = firstSeeded; seq <= lastSeeded; seq++) {
      while (c < changed.length && changed[c]!.seq < seq) yield changed[c++]!;
      if (this.#changed.has(seq)) continue;
      const r = this.#seeded(seq);
      if (r.updatedAt > sinceMs && r.updatedAt < untilMs) yield r;
    }
    while (c < changed.length) yield changed[c++]!;
  }

  /** How many records `byModified(after, includeDeleted)` would yield, without generating them. */
  countModified(after?: { updatedAt: number; seq: number }, includeDeleted = false): number {
    const first = after ? Math.max(1, Math.floor((after.updatedAt - this.#t0) / STEP_MS)) : 1;
    let n = 0;
    for (let seq = first; seq <= Math.min(first + 1, this.#count); seq++) {
      const at = this.#t0 + seq * STEP_MS;
      if (!after || at > after.updatedAt || (at === after.updatedAt && seq > after.seq)) n++;
    }
    n += Math.max(0, this.#count - (first + 1));
    for (const r of this.#changed.values()) {
      if (r.seq <= this.#count && r.seq >= first) {
        const at = this.#t0 + r.seq * STEP_MS;
        if (!after || at > after.updatedAt || (at === after.updatedAt && r.seq > after.seq)) n--;
      }
      const isAfter =
        !after || r.updatedAt > after.updatedAt || (r.updatedAt === after.updatedAt && r.seq > after.seq);
      if (isAfter && (includeDeleted || !r.deleted)) n++;
    }
    return n;
  }

  /** Picks up to `n` distinct live records, deterministically for a given salt, for simulated edits. */
  pickLive(n: number, salt: number, exclude: ReadonlySet<number> = new Set()): number[] {
    const total = this.#nextSeq - 1;
    const picked = new Set<number>();
    for (let k = 0; total > 0 && picked.size < n && k < n * 20 + 100; k++) {
      const seq = 1 + Math.floor(hashUnit(salt, k) * total);
      if (!exclude.has(seq) && !this.get(seq)?.deleted) picked.add(seq);
    }
    return [...picked];
  }
}
