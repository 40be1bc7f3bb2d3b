import { QUEUES } from '../db/queue.ts';
import type { CoreDeps } from './deps.ts';
import { notFound } from './errors.ts';
import type { DeliveryJob } from './events.ts';
import { isUuid } from './ids.ts';
import { type RunProgress, runProgress } from './run-progress.ts';
import type { SyncTarget } from './syncs.ts';

/**
 * What the admin console shows of a project, read in few queries: the overview's counts, syncs
 * with their last run and progress, runs with their logs. Every query is scoped by the project.
 */

export interface Overview {
  connectionsByStatus: Record<string, number>;
  /** running, paused, failing (its last run failed), idle. */
  syncsByState: Record<string, number>;
  /** The last 24 hours, hour by hour, oldest first: records written, runs that succeeded and failed. */
  runsByHour: { hour: Date; records: number; succeeded: number; failed: number }[];
  webhooks: { endpoints: number; delivered24h: number; failed24h: number };
}

export async function consoleOverview(deps: CoreDeps, projectId: string): Promise<Overview> {
  const [connections, syncs, runs, webhooks] = await Promise.all([
    deps.db.query<{ status: string; n: number }>(
      'select status, count(*)::int as n from connections where project_id = $1 and customer_id is not null group by status',
      [projectId],
    ),
    deps.db.query<{ state: string; n: number }>(
      `select case when s.state ? 'checkpoint' then 'running' when s.paused then 'paused'
                   when last.status = 'failed' then 'failing' else 'idle' end as state, count(*)::int as n
         from syncs s left join lateral (select status from sync_runs r where r.sync_id = s.id and r.ended_at is not null
                                          order by r.started_at desc limit 1) last on true
        where s.project_id = $1 group by 1`,
      [projectId],
    ),
    deps.db.query<{ hour: Date; records: number; succeeded: number; failed: number }>(
      `select h.hour, coalesce(sum(r.num_records_synced), 0)::bigint as records,
              count(*) filter (where r.status = 'succeeded')::int as succeeded,
              count(*) filter (where r.status = 'failed')::int as failed
         from generate_series(date_trunc('hour', now()) - interval '23 hours', date_trunc('hour', now()), interval '1 hour') h (hour)
         left join sync_runs r on r.project_id = $1 and r.ended_at >= h.hour and r.ended_at < h.hour + interval '1 hour'
        group by h.hour order by h.hour`,
      [projectId],
    ),
    deps.db.query<{ endpoints: number; delivered: number; failed: number }>(
      `select (select count(*) from webhook_endpoints where project_id = $1)::int as endpoints,
              count(*) filter (where succeeded)::int as delivered, count(*) filter (where not succeeded)::int as failed
         from webhook_deliveries where project_id = $1 and created_at > now() - interval '24 hours'`,
      [projectId],
    ),
  ]);
  return {
    connectionsByStatus: Object.fromEntries(connections.rows.map((r) => [r.status, r.n])),
    syncsByState: Object.fromEntries(syncs.rows.map((r) => [r.state, r.n])),
    runsByHour: runs.rows,
    webhooks: {
      endpoints: webhooks.rows[0]?.endpoints ?? 0,
      delivered24h: webhooks.rows[0]?.delivered ?? 0,
      failed24h: webhooks.rows[0]?.failed ?? 0,
    },
  };
}

export interface CustomerConnection {
  id: string;
  providerName: string;
  status: string;
  authType: string;
  createdAt: Date;
  /** When the connection last changed: a token refresh, a re-authorization. */
  updatedAt: Date;
  tokenExpiresAt: Date | null;
}

export interface CustomerWithConnections {
  ref: string;
  name: string;
  email: string;
  connections: CustomerConnection[];
}

export async function customersWithConnections(
  deps: CoreDeps,
  projectId: string,
): Promise<CustomerWithConnections[]> {
  const { rows } = await deps.db.query<CustomerWithConnections>(
    `select cu.external_id as ref, cu.name, cu.email,
            coalesce(json_agg(json_build_object('id', c.id, 'providerName', c.provider_name, 'status', c.status,
                       'authType', c.auth_type, 'createdAt', c.created_at, 'updatedAt', c.updated_at,
                       'tokenExpiresAt', c.token_expires_at) order by c.provider_name)
                     filter (where c.id is not null), '[]') as connections
       from customers cu left join connections c on c.customer_id = cu.id
      where cu.project_id = $1 group by cu.id order by cu.external_id limit 1000`,
    [projectId],
  );
  return rows;
}

export interface LastRun {
  id: string;
  status: string;
  startedAt: string;
  endedAt: string | null;
  records: number | null;
  error: string | null;
}

export interface ConsoleSync {
  id: string;
  connectionId: string;
  customerRef: string;
  providerName: string;
  kind: string;
  object: string;
  paused: boolean;
  pauseReason: string | null;
  nextRunAt: Date | null;
  running: boolean;
  lastRun: LastRun | null;
  /** The run in flight, when one is. */
  progress: (RunProgress & { runId: string }) | null;
}

const lastRunOf = `(select json_build_object('id', r.id, 'status', r.status, 'startedAt', r.started_at,
    'endedAt', r.ended_at, 'records', r.num_records_synced, 'error', r.error_message)
   from sync_runs r where r.sync_id = s.id order by r.started_at desc, r.id limit 1)`;

export async function consoleSyncs(deps: CoreDeps, projectId: string): Promise<ConsoleSync[]> {
  const { rows } = await deps.db.query<Omit<ConsoleSync, 'progress'> & { runId: string | null }>(
    `select s.id, s.connection_id as "connectionId", cu.external_id as "customerRef", c.provider_name as "providerName",
            s.object_type as kind, s.object, s.paused, s.pause_reason as "pauseReason", s.next_run_at as "nextRunAt",
            s.state ? 'checkpoint' as running, s.state->'checkpoint'->>'runId' as "runId", ${lastRunOf} as "lastRun"
       from syncs s join connections c on c.id = s.connection_id join customers cu on cu.id = c.customer_id
      where s.project_id = $1 order by cu.external_id, c.provider_name, s.object_type, s.object limit 2000`,
    [projectId],
  );
  const running = rows.flatMap((r) => (r.runId ? [r.runId] : []));
  const progress = await runProgress(deps, projectId, running);
  return rows.map(({ runId, ...sync }) => {
    const p = runId ? progress.get(runId) : undefined;
    return { ...sync, progress: p && runId ? { ...p, runId } : null };
  });
}

/** A sync of the project by id, as the core's pause, resume and trigger name it. */
export async function syncTargetById(
  deps: CoreDeps,
  projectId: string,
  syncId: string,
): Promise<{ connectionId: string; target: SyncTarget }> {
  if (!isUuid(syncId)) throw notFound('sync');
  const { rows } = await deps.db.query<{
    connectionId: string;
    kind: string;
    object: string;
    installationId: string;
  }>(
    `select connection_id as "connectionId", object_type as kind, object, installation_id as "installationId"
       from syncs where project_id = $1 and id = $2`,
    [projectId, syncId],
  );
  const row = rows[0];
  if (!row) throw notFound('sync');
  return {
    connectionId: row.connectionId,
    target: { kind: row.kind, object: row.object, installationId: row.installationId },
  };
}

export interface ConsoleRun {
  id: string;
  syncId: string;
  customerRef: string;
  providerName: string;
  kind: string;
  object: string;
  status: string;
  startedAt: Date;
  endedAt: Date | null;
  records: number | null;
  error: string | null;
  progress: RunProgress | null;
}

const runSelect = `select r.id, r.sync_id as "syncId", cu.external_id as "customerRef", c.provider_name as "providerName",
    s.object_type as kind, s.object, r.status, r.started_at as "startedAt", r.ended_at as "endedAt",
    r.num_records_synced as records, r.error_message as error
  from sync_runs r join syncs s on s.id = r.sync_id join connections c on c.id = s.connection_id
  join customers cu on cu.id = c.customer_id`;

/** The project's latest runs, newest first; of one sync when `syncId` is given. */
export async function consoleRuns(deps: CoreDeps, projectId: string, syncId?: string): Promise<ConsoleRun[]> {
  if (syncId !== undefined && !isUuid(syncId)) throw notFound('sync');
  const { rows } = await deps.db.query<Omit<ConsoleRun, 'progress'>>(
    `${runSelect} where r.project_id = $1 and ($2::uuid is null or r.sync_id = $2)
      order by r.started_at desc, r.id limit 200`,
    [projectId, syncId ?? null],
  );
  const progress = await runProgress(
    deps,
    projectId,
    rows.filter((r) => r.status === 'running').map((r) => r.id),
  );
  return rows.map((r) => ({ ...r, progress: progress.get(r.id) ?? null }));
}

export interface RunLogLine {
  at: Date;
  level: 'info' | 'error';
  message: string;
}

/** One run with the steps Trellis recorded of it: start, progress so far, end with its error. */
export async function consoleRun(
  deps: CoreDeps,
  projectId: string,
  runId: string,
): Promise<ConsoleRun & { log: RunLogLine[] }> {
  if (!isUuid(runId)) throw notFound('run');
  const { rows } = await deps.db.query<Omit<ConsoleRun, 'progress'>>(
    `${runSelect} where r.project_id = $1 and r.id = $2`,
    [projectId, runId],
  );
  const run = rows[0];
  if (!run) throw notFound('run');
  const progress = (await runProgress(deps, projectId, [run.id])).get(run.id) ?? null;
  const what = `${run.providerName} ${run.object} for ${run.customerRef}`;
  const log: RunLogLine[] = [{ at: run.startedAt, level: 'info', message: `run of ${what} started` }];
  if (progress)
    log.push({
      at: progress.reportedAt,
      level: 'info',
      message: `${progress.records} records written so far`,
    });
  if (run.endedAt)
    log.push(
      run.status === 'failed'
        ? { at: run.endedAt, level: 'error', message: `run failed: ${run.error ?? 'no reason was recorded'}` }
        : { at: run.endedAt, level: 'info', message: `run succeeded: ${run.records ?? 0} records written` },
    );
  return { ...run, progress, log };
}

/**
 * Sends an event to an endpoint again, at once: a new delivery, whose attempts are numbered from 1
 * again and retried as any other's.
 */
export async function resendWebhookEvent(
  deps: CoreDeps,
  projectId: string,
  endpointId: string,
  eventId: string,
): Promise<void> {
  if (!isUuid(endpointId) || !isUuid(eventId)) throw notFound('webhook event');
  const { rowCount } = await deps.db.query(
    `select 1 from webhook_events e join webhook_endpoints w on w.project_id = e.project_id
      where e.project_id = $1 and w.id = $2 and e.id = $3`,
    [projectId, endpointId, eventId],
  );
  if (!rowCount) throw notFound('webhook event');
  const job: DeliveryJob = { eventId, endpointId };
  await deps.queue.send(QUEUES.webhookDelivery, job, {
    retryLimit: deps.config.webhookMaxAttempts - 1,
    retryDelay: deps.config.webhookRetryDelaySeconds,
    retryBackoff: true,
  });
}
