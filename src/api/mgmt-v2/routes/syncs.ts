import type { FastifyInstance } from 'fastify';
import { findConnection } from '../../../core/connections.ts';
import { parsePageSize } from '../../../core/pagination.ts';
import { listSyncRuns, listSyncs, pauseSync, resumeSync, triggerSync } from '../../../core/syncs.ts';
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

const target = (b: SyncBody) => ({ objectType: b.object_type, object: b.object, entityId: b.entity_id });
const syncFilter = (q: ListQuery) => ({
  customerId: q.customer_id,
  providerName: q.provider_name,
  objectType: q.object_type,
  object: q.object,
  entityId: q.entity_id,
});
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
    to.sync(await pauseSync(deps, req.projectId, await connectionOf(req), target(req.body))),
  );

  app.post<{ Body: SyncBody }>('/syncs/_resume', { config: { operationId: 'resumeSync' } }, async (req) =>
    to.sync(await resumeSync(deps, req.projectId, await connectionOf(req), target(req.body))),
  );

  app.post<{ Body: SyncBody }>('/syncs/_trigger', { config: { operationId: 'triggerSync' } }, async (req) =>
    to.sync(
      await triggerSync(
        deps,
        req.projectId,
        await connectionOf(req),
        target(req.body),
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
          status: q.status,
          startTimestamp: q.start_timestamp,
          endTimestamp: q.end_timestamp,
        },
        paging(q),
      );
      return to.page(page, (r) => to.syncRun(r, req.projectId));
    },
  );
}
