import type { FastifyInstance } from 'fastify';
import { DomainError, notFound } from '../../../core/errors.ts';
import { getInstallation, type Installation } from '../../../core/installations.ts';
import { getWriteOperation, listWriteOperations, type WriteOperation } from '../../../core/operations.ts';
import { listSyncRuns, type SyncRun } from '../../../core/syncs.ts';
import { RequestRefused } from '../../surface/errors.ts';
import type { InstallationSource } from '../integration-translation.ts';
import { type RouteOptions, requestedIntegration } from '../route-context.ts';

/**
 * Operations as Ampersand shows them: an installation's reads (sync runs) and writes (write
 * operations), each with a summary; their logs are the steps Trellis recorded of them (start and
 * end, counts, Trellis's own error summary), not a trace of provider calls.
 */

type Operation = {
  id: string;
  projectId: string;
  integrationId: string;
  installationId: string;
  configId: string;
  actionType: 'read' | 'write';
  status: 'success' | 'failure' | 'in_progress';
  result?: string;
  metadata: Record<string, unknown>;
  createTime: string;
};

const configIdOf = (i: Installation) => (i.source as InstallationSource | null)?.configId ?? i.id;

function readOperation(run: SyncRun, installation: Installation): Operation {
  const status = run.status === 'succeeded' ? 'success' : run.status === 'failed' ? 'failure' : 'in_progress';
  return {
    id: run.id,
    projectId: installation.projectId,
    integrationId: installation.integrationId,
    installationId: installation.id,
    configId: configIdOf(installation),
    actionType: 'read',
    status,
    ...(status === 'in_progress'
      ? {}
      : {
          result:
            status === 'failure'
              ? `[${run.object}] Read failed: ${run.errorMessage ?? 'unknown error'}`
              : `[${run.object}] ${run.recordsSynced ?? 0} record(s) read`,
        }),
    metadata: {
      objects: [run.object],
      progress: {
        installationId: installation.id,
        objectName: run.object,
        operationId: run.id,
        recordsProcessed: run.recordsSynced ?? 0,
      },
    },
    createTime: run.startedAt.toISOString(),
  };
}

function writeOperation(w: WriteOperation, installation: Installation): Operation {
  const status = w.status === 'succeeded' ? 'success' : w.status === 'failed' ? 'failure' : 'in_progress';
  return {
    id: w.id,
    projectId: w.projectId,
    integrationId: installation.integrationId,
    installationId: installation.id,
    configId: configIdOf(installation),
    actionType: 'write',
    status,
    ...(status === 'in_progress'
      ? {}
      : { result: `[${w.object}] ${w.type}: ${w.successCount} succeeded, ${w.failureCount} failed` }),
    metadata: {
      objects: [w.object],
      successfulRecordIds: (w.results ?? []).flatMap((r) => (r.recordId && !r.error ? [r.recordId] : [])),
    },
    createTime: w.createdAt.toISOString(),
  };
}

type Log = {
  timestamp: string;
  severity: 'INFO' | 'ERROR';
  message: { msg: string; operation_id: string; error?: string };
};

function logsOf(op: Operation, started: Date, ended: Date | null, error: string | null): Log[] {
  const what = `${op.actionType} of ${String((op.metadata.objects as string[])[0])}`;
  const logs: Log[] = [
    {
      timestamp: started.toISOString(),
      severity: 'INFO',
      message: { msg: `${what} started`, operation_id: op.id },
    },
  ];
  if (ended) {
    logs.push({
      timestamp: ended.toISOString(),
      severity: op.status === 'failure' ? 'ERROR' : 'INFO',
      message: {
        msg: op.result ?? `${what} ended`,
        operation_id: op.id,
        ...(error ? { error } : {}),
      },
    });
  }
  return logs;
}

/** A page of a list, its token the offset of the next page (opaque to callers). */
function pageOf<T>(items: T[], pageSize: number, pageToken: string | undefined) {
  const offset = pageToken === undefined ? 0 : Number(Buffer.from(pageToken, 'base64url').toString());
  if (!Number.isInteger(offset) || offset < 0)
    throw new RequestRefused('invalid_input', 'pageToken is not one this API gave', {
      issues: [{ in: 'query', name: 'pageToken', detail: 'is not one this API gave' }],
    });
  const next = offset + pageSize;
  return {
    results: items.slice(offset, next),
    pagination:
      next < items.length
        ? { done: false, nextPageToken: Buffer.from(String(next)).toString('base64url') }
        : { done: true },
  };
}

export async function operationRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  /**
   * An operation of the project by id: an installation's write operation, or a read (a run of an
   * installation's sync). A write through a connection the project owns is no installation's
   * operation (this API's operations name their installation and integration): not found here.
   */
  const operationOf = async (projectId: string, id: string) => {
    const write = await getWriteOperation(deps, projectId, id).catch((err: unknown) => {
      if (err instanceof DomainError && err.kind === 'not_found') return undefined;
      throw err;
    });
    if (write?.installationId) {
      const installation = await getInstallation(deps, projectId, write.installationId);
      const op = writeOperation(write, installation);
      return { op, logs: logsOf(op, write.startedAt ?? write.createdAt, write.endedAt, write.errorSummary) };
    }
    const runs = await listSyncRuns(deps, projectId, { runId: id }, { pageSize: 1 });
    const run = runs.results[0];
    if (!run) throw notFound(`operation "${id}"`);
    const installation = await getInstallation(deps, projectId, run.installationId);
    const op = readOperation(run, installation);
    return { op, logs: logsOf(op, run.startedAt, run.endedAt, run.errorMessage) };
  };

  app.get<{
    Params: { projectIdOrName: string; integrationId: string; installationId: string };
    Querystring: { pageSize?: number; pageToken?: string };
  }>(
    '/projects/:projectIdOrName/integrations/:integrationId/installations/:installationId/operations',
    { config: { operationId: 'listOperations' } },
    async (req) => {
      const integration = await requestedIntegration(deps, req.projectId, req.params.integrationId);
      const installation = await getInstallation(deps, req.projectId, req.params.installationId);
      if (installation.integrationId !== integration.id) throw notFound('installation');
      const runs: SyncRun[] = [];
      let cursor: string | undefined;
      do {
        const page = await listSyncRuns(
          deps,
          req.projectId,
          { installationId: installation.id },
          { cursor, pageSize: 1000 },
        );
        runs.push(...page.results);
        cursor = page.next ?? undefined;
      } while (cursor);
      const writes = await listWriteOperations(deps, req.projectId, { installationId: installation.id });
      const all = [
        ...runs.map((r) => readOperation(r, installation)),
        ...writes.map((w) => writeOperation(w, installation)),
      ].sort((a, b) => b.createTime.localeCompare(a.createTime) || a.id.localeCompare(b.id));
      return pageOf(all, req.query.pageSize ?? 200, req.query.pageToken);
    },
  );

  app.get<{ Params: { projectIdOrName: string; operationId: string } }>(
    '/projects/:projectIdOrName/operations/:operationId',
    { config: { operationId: 'getOperation' } },
    async (req) => (await operationOf(req.projectId, req.params.operationId)).op,
  );

  app.get<{ Params: { projectIdOrName: string; operationId: string } }>(
    '/projects/:projectIdOrName/operations/:operationId/logs',
    { config: { operationId: 'listOperationLogs' } },
    async (req) => (await operationOf(req.projectId, req.params.operationId)).logs,
  );
}
