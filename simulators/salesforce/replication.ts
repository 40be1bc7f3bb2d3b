import type { FastifyRequest } from 'fastify';
import { SfError } from './errors.ts';
import { DAY, MINUTE, type OrgState } from './org.ts';
import { schemaOf } from './records.ts';
import { objectParam, queryParams, type RestRoute } from './rest.ts';
import { sfDateTime, sfId, toSecond } from './schema.ts';
import { parseDateTime } from './soql.ts';

/** Replication: the ids of records updated, and of records deleted, in a window of whole minutes. */
export function registerReplicationRoutes(route: RestRoute, { ctx, startedAt }: OrgState) {
  /** Replication windows: whole minutes, start within `days` days, end not after now. */
  const replicationWindow = (req: FastifyRequest, days: number) => {
    const q = queryParams(req);
    if (!q.start || !q.end) throw new SfError(400, 'MISSING_ARGUMENT', 'start and end are required');
    const parse = (s: string) => parseDateTime(s.replace(/ (\d{2}:?\d{2})$/, '+$1')) ?? Date.parse(s);
    const start = parse(q.start);
    const end = parse(q.end);
    if (Number.isNaN(start) || Number.isNaN(end)) {
      throw new SfError(400, 'INVALID_REPLICATION_DATE', 'start and end must be ISO-8601 dateTimes');
    }
    const now = ctx.clock.now();
    const from = Math.floor(start / MINUTE) * MINUTE;
    const to = Math.floor(end / MINUTE) * MINUTE;
    if (to < from) throw new SfError(400, 'INVALID_REPLICATION_DATE', 'EndDate before StartDate');
    if (from < now - days * DAY) {
      throw new SfError(400, 'INVALID_REPLICATION_DATE', `startDate cannot be more than ${days} days ago`);
    }
    return { from, covered: Math.min(to, Math.floor(now / MINUTE) * MINUTE) };
  };

  route('GET', '/sobjects/:object/updated', (req) => {
    const object = objectParam(req);
    const { from, covered } = replicationWindow(req, 30);
    const ids: string[] = [];
    for (const r of ctx.store(object).byModified({ updatedAt: from - 1, seq: Number.MAX_SAFE_INTEGER })) {
      if (r.updatedAt < from || r.updatedAt >= covered || r.deleted) continue;
      if (ids.length === 600_000) {
        throw new SfError(
          400,
          'EXCEEDED_ID_LIMIT',
          'too many ids: choose start and end dates closer together',
        );
      }
      ids.push(sfId(schemaOf(object).keyPrefix, r.seq));
    }
    return { ids, latestDateCovered: sfDateTime(covered) };
  });

  route('GET', '/sobjects/:object/deleted', (req) => {
    const object = objectParam(req);
    const { from, covered } = replicationWindow(req, 15);
    const deletedRecords: { id: string; deletedDate: string }[] = [];
    for (const r of ctx
      .store(object)
      .byModified({ updatedAt: from - 1, seq: Number.MAX_SAFE_INTEGER }, true)) {
      if (!r.deleted || r.deletedAt === undefined || r.deletedAt < from || r.deletedAt >= covered) continue;
      if (deletedRecords.length === 600_000) {
        throw new SfError(
          400,
          'EXCEEDED_ID_LIMIT',
          'too many ids: choose start and end dates closer together',
        );
      }
      deletedRecords.push({
        id: sfId(schemaOf(object).keyPrefix, r.seq),
        deletedDate: sfDateTime(toSecond(r.deletedAt)),
      });
    }
    return {
      deletedRecords,
      earliestDateAvailable: sfDateTime(Math.floor(startedAt / MINUTE) * MINUTE),
      latestDateCovered: sfDateTime(covered),
    };
  });
}
