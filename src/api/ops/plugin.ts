import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Gauge, Registry } from 'prom-client';
import type { CoreDeps } from '../../core/deps.ts';
import { platformGauges, readiness } from '../../core/platform-status.ts';
import { registry } from '../../metrics.ts';
import { isLoopbackHost } from '../../net/outbound.ts';

/**
 * Endpoints for whoever runs Trellis: /health (the process answers), /ready (it can serve: its
 * database answers and is migrated) and /metrics (Prometheus text format). Who may read /metrics:
 * docs/decisions/0020-operations.md.
 */

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** Whether the request may read /metrics: the configured bearer token, else a loopback caller. */
function mayReadMetrics(deps: CoreDeps, req: FastifyRequest): boolean {
  const token = deps.config.metricsToken;
  if (token === undefined) return isLoopbackHost(req.socket.remoteAddress ?? '');
  const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  // Digests are compared so that the comparison takes the same time whatever the lengths.
  return given !== undefined && timingSafeEqual(sha256(given), sha256(token));
}

/** This scrape's readings of the database, beside the process's own counters. */
async function databaseReadings(deps: CoreDeps): Promise<Registry> {
  const readings = new Registry();
  const gauges = await platformGauges(deps);
  new Gauge({
    name: 'trellis_sync_runs_in_progress',
    help: 'Sync runs in flight across every worker',
    registers: [readings],
  }).set(gauges.runsInProgress);
  new Gauge({
    name: 'trellis_schedule_lag_seconds',
    help: 'How long the most overdue sync has waited past its scheduled time (0: none is due)',
    registers: [readings],
  }).set(gauges.scheduleLagSeconds);
  const depth = new Gauge({
    name: 'trellis_queue_depth',
    help: 'Jobs waiting to be worked on, by queue',
    labelNames: ['queue'] as const,
    registers: [readings],
  });
  for (const [queue, jobs] of Object.entries(gauges.queueDepths)) depth.set({ queue }, jobs);
  return readings;
}

export async function operationsRoutes(app: FastifyInstance, { deps }: { deps: CoreDeps }) {
  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/ready', async (_req, reply) => {
    const ready = await readiness(deps);
    if (!ready.ready) return reply.code(503).send({ status: 'unavailable', reason: ready.reason });
    return { status: 'ready' };
  });

  app.get('/metrics', async (req, reply) => {
    if (!mayReadMetrics(deps, req)) {
      const problem = deps.config.metricsToken
        ? { status: 401, message: 'send the metrics token as Authorization: Bearer <TRELLIS_METRICS_TOKEN>' }
        : {
            status: 403,
            message:
              'metrics are served to loopback callers only; set TRELLIS_METRICS_TOKEN to read them from elsewhere',
          };
      return reply.code(problem.status).send({ error: problem.message });
    }
    const merged = Registry.merge([registry, await databaseReadings(deps)]);
    return reply.type(merged.contentType).send(await merged.metrics());
  });
}
