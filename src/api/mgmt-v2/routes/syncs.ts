import type { FastifyInstance } from 'fastify';
import { findConnection } from '../../../core/connections.ts';
import { badRequest } from '../../../core/errors.ts';
import { parsePageSize } from '../../../core/pagination.ts';
import { runProgress } from '../../../core/run-progress.ts';
import {
  listSyncRuns,
  listSyncs,
  pauseSync,
  resumeSync,
  type SyncFilter,
  type SyncRunStatus,
  type SyncTarget,
  type TimeBound,
  triggerSync,
} from '../../../core/syncs.ts';
import { connectionHeaders, type RouteOptions } from '../route-context.ts';
import * as to from '../serializers.ts';

type ListQuery = {
  cursor?: string;
  page_size?: string;
  customer_id?: string;
  provider_name?: string;
  object_type?: string;
  object?: string;
  entity_id?: string;
};
type RunQuery = ListQuery & { status?: string; start_timestamp?: string; end_timestamp?: string };
type SyncBody = { object_type?: string; object?: string; entity_id?: string; perform_full_refresh?: boolean };

/** The object or entity a request names: object_type and object together, or entity_id. */
function targetOf(b: { object_type?: string; object?: string; entity_id?: string }): SyncTarget | undefined {
  const byObject = b.object_type !== undefined || b.object !== undefined;
  if (byObject && (b.object_type === undefined || b.object === undefined || b.entity_id !== undefined)) {
    throw badRequest('filter on (object_type and object) together, or on entity_id, or on neither');
  }
  if (b.entity_id !== undefined) return { kind: 'entity', object: b.entity_id };
  return byObject ? { kind: b.object_type!, object: b.object! } : undefined;
}

/** A request's target, which pause, resume and trigger require. */
function requiredTarget(b: SyncBody): SyncTarget {
  const target = targetOf(b);
  if (!target) throw badRequest('name the sync by object_type and object, or by entity_id');
  return target;
}

const syncFilter = (q: ListQuery): SyncFilter => ({
  customerRef: q.customer_id,
  providerName: q.provider_name,
  target: targetOf(q),
});

const RUN_STATUS_OF = Object.fromEntries(
  Object.entries(to.RUN_STATUS).map(([core, wire]) => [wire, core]),
) as Record<string, SyncRunStatus>;

function runStatusOf(raw: string): SyncRunStatus {
  const status = RUN_STATUS_OF[raw.toUpperCase()];
  if (!status) throw badRequest('status must be one of SUCCESS, IN_PROGRESS, FAILURE');
  return status;
}

function timeBoundOf(name: string, raw: string): TimeBound {
  const op = raw[0];
  const at = raw.slice(1);
  if ((op !== '<' && op !== '>') || Number.isNaN(Date.parse(at))) {
    throw badRequest(`${name} must be > or < followed by an ISO 8601 timestamp, e.g. >2024-01-01T00:00:00Z`);
  }
  return { op, at: new Date(at).toISOString() };
}
const paging = (q: ListQuery) => ({ cursor: q.cursor, pageSize: parsePageSize(q.page_size) });

export async function syncRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  app.get<{ Querystring: ListQuery }>('/syncs', { config: { operationId: 'getSyncs' } }, async (req) => {
    const q = req.query;
    const page = await listSyncs(deps, req.projectId, syncFilter(q), paging(q));
    return to.page(page, to.syncWithProviderAndCustomer);
  });

  const connectionOf = async (req: Parameters<typeof connectionHeaders>[0]) => {
    const { customerId, providerName } = connectionHeaders(req);
    return (await findConnection(deps, req.projectId, customerId, providerName)).id;
  };

  app.post<{ Body: SyncBody }>('/syncs/_pause', { config: { operationId: 'pauseSync' } }, async (req) =>
    to.sync(await pauseSync(deps, req.projectId, await connectionOf(req), requiredTarget(req.body))),
  );

  app.post<{ Body: SyncBody }>('/syncs/_resume', { config: { operationId: 'resumeSync' } }, async (req) =>
    to.sync(await resumeSync(deps, req.projectId, await connectionOf(req), requiredTarget(req.body))),
  );

  app.post<{ Body: SyncBody }>('/syncs/_trigger', { config: { operationId: 'triggerSync' } }, async (req) =>
    to.sync(
      await triggerSync(
        deps,
        req.projectId,
        await connectionOf(req),
        requiredTarget(req.body),
        req.body.perform_full_refresh ?? false,
      ),
    ),
  );

  app.get<{ Querystring: RunQuery }>(
    '/sync-runs',
    { config: { operationId: 'getSyncRuns' } },
    async (req) => {
      const q = req.query;
      const page = await listSyncRuns(
        deps,
        req.projectId,
        {
          ...syncFilter(q),
          ...(q.status === undefined ? {} : { status: runStatusOf(q.status) }),
          ...(q.start_timestamp === undefined
            ? {}
            : { started: timeBoundOf('start_timestamp', q.start_timestamp) }),
          ...(q.end_timestamp === undefined ? {} : { ended: timeBoundOf('end_timestamp', q.end_timestamp) }),
        },
        paging(q),
      );
      const running = page.results.filter((r) => r.status === 'running').map((r) => r.id);
      const progress = await runProgress(deps, req.projectId, running);
      return to.page(page, (r) => to.syncRun(r, req.projectId, progress.get(r.id)));
    },
  );
}
