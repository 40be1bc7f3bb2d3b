import type { FastifyReply, FastifyRequest } from 'fastify';
import { countResults, type Plan, type Position, scan } from './engine.ts';
import { SfError } from './errors.ts';
import { MINUTE, type OrgState } from './org.ts';
import { planFor, recordJson } from './records.ts';
import { param, queryParams, type RestRoute } from './rest.ts';
import { sfId } from './schema.ts';
import { parseSoql } from './soql.ts';

/** SOQL query and queryAll, paged with query locators (the cursors a user holds open). */

const QUERY_BATCH = { min: 200, max: 2000, default: 2000 };
const CURSOR_IDLE_MS = 15 * MINUTE;

interface Cursor {
  id: string;
  plan: Plan;
  total: number;
  batch: number;
  positions: Map<number, Position>;
  lastUsed: number;
}

export function registerQueryRoutes(route: RestRoute, { ctx }: OrgState) {
  const cursors = new Map<string, Cursor>();
  let cursorCount = 0;

  const batchSizeOf = (req: FastifyRequest, fallback: number) => {
    const header = req.headers['sforce-query-options'];
    const m = /batchSize\s*=\s*(\d+)/i.exec(String(header ?? ''));
    if (!m) return fallback;
    return Math.min(QUERY_BATCH.max, Math.max(QUERY_BATCH.min, Number(m[1])));
  };

  const sweepCursors = () => {
    const now = ctx.clock.now();
    for (const [id, c] of cursors) if (now - c.lastUsed > CURSOR_IDLE_MS) cursors.delete(id);
    // A user has at most this many open query cursors; opening another releases the oldest.
    while (cursors.size > ctx.limits.open_query_cursors!) cursors.delete(cursors.keys().next().value!);
  };

  const page = (cursor: Cursor, offset: number, batch: number, version: string) => {
    let start = offset === 0 ? undefined : cursor.positions.get(offset);
    let skip = 0;
    if (offset > 0 && !start) {
      let known = 0;
      for (const k of cursor.positions.keys()) if (k < offset && k > known) known = k;
      start = cursor.positions.get(known);
      skip = offset - known;
    }
    const want = Math.max(0, Math.min(batch, cursor.total - offset));
    const object = cursor.plan.query.object;
    const records: Record<string, unknown>[] = [];
    let last: Position | undefined;
    let exhausted = true;
    if (want > 0) {
      for (const [r, pos] of scan(cursor.plan, start)) {
        if (skip > 0) {
          skip--;
          continue;
        }
        records.push(recordJson(ctx, object, r, cursor.plan.query.fields, version));
        last = pos;
        if (records.length === want) {
          exhausted = false;
          break;
        }
      }
    }
    const next = offset + records.length;
    const done = exhausted || next >= cursor.total;
    if (done) cursors.delete(cursor.id);
    else if (last) {
      cursor.positions.set(next, last);
      cursor.lastUsed = ctx.clock.now();
    }
    return {
      totalSize: cursor.total,
      done,
      ...(done ? {} : { nextRecordsUrl: `/services/data/${version}/query/${cursor.id}-${next}` }),
      records,
    };
  };

  const runQuery = (includeDeleted: boolean) => (req: FastifyRequest, _reply: FastifyReply, v: string) => {
    const q = queryParams(req).q;
    if (!q?.trim()) throw new SfError(400, 'MALFORMED_QUERY', 'A query string has to be specified');
    const plan = planFor(ctx, parseSoql(q), includeDeleted);
    if (plan.query.count) return { totalSize: countResults(plan), done: true, records: [] };
    const cursor: Cursor = {
      id: sfId('01g', ++cursorCount),
      plan,
      total: countResults(plan),
      batch: batchSizeOf(req, QUERY_BATCH.default),
      positions: new Map(),
      lastUsed: ctx.clock.now(),
    };
    cursors.set(cursor.id, cursor);
    sweepCursors();
    return page(cursor, 0, cursor.batch, v);
  };
  const queryMore = (req: FastifyRequest, _reply: FastifyReply, v: string) => {
    const m = /^([a-zA-Z0-9]{15,18})-(\d+)$/.exec(param(req, 'locator'));
    sweepCursors();
    const cursor = m ? cursors.get(m[1]!) : undefined;
    const offset = Number(m?.[2]);
    if (!cursor || offset > cursor.total) {
      throw new SfError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
    }
    return page(cursor, offset, batchSizeOf(req, cursor.batch), v);
  };
  route('GET', '/query', runQuery(false));
  route('GET', '/queryAll', runQuery(true));
  route('GET', '/query/:locator', queryMore);
  route('GET', '/queryAll/:locator', queryMore);
}
