import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { CoreDeps } from '../core/deps.ts';
import { docsRoutes } from './docs/routes.ts';
import { mgmtV2 } from './mgmt-v2/plugin.ts';

/** The HTTP server: each API surface is an encapsulated plugin under its own mount. */
export async function buildServer(deps: CoreDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'http' }) as FastifyBaseLogger,
    disableRequestLogging: deps.config.logLevel !== 'debug' && deps.config.logLevel !== 'trace',
    bodyLimit: 5 * 1024 * 1024,
    // Let in-flight requests finish on shutdown; close idle keep-alive sockets at once.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });
  app.get('/health', async () => ({ status: 'ok' }));
  await app.register(docsRoutes, { publicUrl: deps.config.publicUrl });
  await app.register(mgmtV2, { prefix: '/mgmt/v2', deps });
  return app;
}
