import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { CoreDeps } from '../core/deps.ts';
import { DomainError } from '../core/errors.ts';
import { connectPages } from './connect/plugin.ts';
import { docsRoutes } from './docs/routes.ts';
import { sendError, toDomainError } from './mgmt-v2/errors.ts';
import { mgmtV2 } from './mgmt-v2/plugin.ts';

/** The HTTP server: each API surface is an encapsulated plugin under its own mount. */
export async function buildServer(deps: CoreDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // Per-request lines only at debug level; errors are always logged.
    loggerInstance: deps.log.child(
      { component: 'http' },
      { level: ['debug', 'trace'].includes(deps.config.logLevel) ? deps.config.logLevel : 'warn' },
    ) as FastifyBaseLogger,
    bodyLimit: 5 * 1024 * 1024,
    // Let in-flight requests finish on shutdown; close idle keep-alive sockets at once.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // Path ids are free-form (customer ids are the caller's own): take any a URL can carry.
    routerOptions: { maxParamLength: 16 * 1024 },
    // URLs the router cannot take apart (bad percent-encoding) still get the API's error shape.
    frameworkErrors: (err, _req, reply) => {
      sendError(reply, toDomainError(err) ?? new DomainError('internal', err.message));
    },
  });
  app.get('/health', async () => ({ status: 'ok' }));
  await app.register(docsRoutes, { publicUrl: () => deps.config.publicUrl });
  await app.register(mgmtV2, { prefix: '/mgmt/v2', deps });
  await app.register(connectPages, { deps });
  return app;
}
