import { randomUUID } from 'node:crypto';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { CoreDeps } from '../core/deps.ts';
import { redactUrl } from '../logger.ts';
import { ampersandSurface } from './ampersand/plugin.ts';
import { RESULT_DOWNLOADS_PREFIX, resultDownloads } from './ampersand/result-downloads.ts';
import { UPLOAD_RECEIVER_PREFIX, uploadReceiver } from './ampersand/upload-receiver.ts';
import { ampersandProxySurface } from './ampersand-proxy/plugin.ts';
import { ampersandReadSurface } from './ampersand-read/plugin.ts';
import { ampersandWriteSurface } from './ampersand-write/plugin.ts';
import { messagePage, pagePolicy } from './connect/pages.ts';
import { connectPages } from './connect/plugin.ts';
import { connectorsSurface } from './connectors/plugin.ts';
import { CONSOLE_PREFIX, consolePlugin } from './console/plugin.ts';
import { docsRoutes } from './docs/routes.ts';
import { mgmtV2Surface } from './mgmt-v2/plugin.ts';
import { operationsRoutes } from './ops/plugin.ts';
import { httpStatus, toDomainError } from './surface/errors.ts';
import { type ApiSurface, apiSurface, frameworkErrorsFor } from './surface/plugin.ts';

/**
 * A socket with no traffic either way for this long is closed. It has to outlast the longest
 * silence of a request being worked on (a provider call with its retries), so it is generous;
 * slow senders are cut by the request timeout long before.
 */
const IDLE_SOCKET_MS = 5 * 60_000;
/** Longer than the idle timeout of the proxies usually in front, so that they close first. */
const KEEP_ALIVE_MS = 72_000;
/** Headers are small: a client that has not sent them by now is not going to. */
const MAX_HEADERS_MS = 10_000;

/** The header a request's id comes in and goes back in. */
const REQUEST_ID_HEADER = 'x-request-id';
/** Ids taken from callers: short, and nothing that could forge a log line or a header. */
const WELL_FORMED_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** The request line as it may be logged (see `redactUrl`). */
function requestForLog(req: FastifyRequest) {
  return { method: req.method, url: redactUrl(req.url), remoteAddress: req.ip };
}

/** Fastify's request logging, without the URLs it would write in full. */
class RedactingLogController extends LogController {
  override routeNotFound(req: FastifyRequest): void {
    if (!this.isLogDisabled(req)) req.log.info({ req }, 'route not found');
  }
}

/** The JSON API surfaces this server mounts, each from its folder in src/api; /docs lists them in this order. */
export function apiSurfaces(deps: CoreDeps): ApiSurface[] {
  return [
    mgmtV2Surface(deps),
    ampersandSurface(deps),
    ampersandReadSurface(deps),
    ampersandWriteSurface(deps),
    ampersandProxySurface(deps),
    connectorsSurface(deps),
  ];
}

/**
 * A Fastify instance with the settings every Trellis server shares: logging without secrets,
 * request ids, timeouts, security headers, and the operations endpoints.
 */
async function baseServer(deps: CoreDeps, surfaces: readonly ApiSurface[]): Promise<FastifyInstance> {
  const requestTimeoutMs = deps.config.requestTimeoutSeconds * 1000;
  const app = Fastify({
    // Per-request lines only at debug level; errors are always logged.
    loggerInstance: deps.log.child(
      { component: 'http' },
      {
        level: ['debug', 'trace'].includes(deps.config.logLevel) ? deps.config.logLevel : 'warn',
        serializers: { req: requestForLog },
      },
    ) as FastifyBaseLogger,
    logController: new RedactingLogController(),
    // A caller's own id when it sends a well-formed one (so its logs and ours meet), else one unique
    // across processes and restarts; either way an id an error answer names finds its log lines.
    genReqId: (req) => {
      const given = req.headers[REQUEST_ID_HEADER];
      return typeof given === 'string' && WELL_FORMED_REQUEST_ID.test(given) ? given : randomUUID();
    },

    bodyLimit: 5 * 1024 * 1024,
    // A client that sends its request slowly, or stops halfway, does not hold a socket for long.
    requestTimeout: requestTimeoutMs,
    connectionTimeout: IDLE_SOCKET_MS,
    keepAliveTimeout: KEEP_ALIVE_MS,
    http: {
      headersTimeout: Math.min(MAX_HEADERS_MS, requestTimeoutMs),
      // How often Node looks for requests over their time; its default (30 s) would let them run on.
      connectionsCheckingInterval: Math.min(5_000, requestTimeoutMs / 4),
    },
    // Let in-flight requests finish on shutdown; close idle keep-alive sockets at once.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // Path ids are free-form (customer ids are the caller's own): take any a URL can carry.
    routerOptions: { maxParamLength: 16 * 1024 },
    // URLs the router cannot take apart (bad percent-encoding) still get their surface's shape:
    // the API's JSON errors, or a page for a person's browser.
    frameworkErrors: frameworkErrorsFor(surfaces, (err, _req, reply) => {
      const error = toDomainError(err);
      return reply
        .code(error ? httpStatus(error) : 500)
        .type('text/html; charset=utf-8')
        .header('content-security-policy', pagePolicy([]))
        .send(messagePage('Could not open this page', 'This address is not valid.'));
    }),
  });
  app.addHook('onRequest', async (req, reply) => {
    reply.header(REQUEST_ID_HEADER, req.id);
  });
  app.addHook('onSend', async (_req, reply) => {
    reply.header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
    // Pages set their own policy; everything else (JSON, assets) is never a document.
    if (!reply.hasHeader('content-security-policy'))
      reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
    // Read per request: with PORT=0 the public URL is known only once the server listens.
    if (deps.config.publicUrl.startsWith('https:'))
      reply.header('strict-transport-security', 'max-age=31536000');
  });
  await app.register(operationsRoutes, { deps });
  return app;
}

/** The HTTP server: each API surface is an encapsulated plugin under its own mount. */
export async function buildServer(
  deps: CoreDeps,
  surfaces: readonly ApiSurface[] = apiSurfaces(deps),
): Promise<FastifyInstance> {
  const app = await baseServer(deps, surfaces);
  await app.register(docsRoutes, { surfaces, publicUrl: () => deps.config.publicUrl });
  for (const surface of surfaces) await app.register(apiSurface, surface);
  await app.register(connectPages, { deps });
  await app.register(consolePlugin, { deps });
  // The server's own address leads a person to the console, which signs them in.
  app.get('/', async (_req, reply) => reply.redirect(CONSOLE_PREFIX, 302));
  await app.register(uploadReceiver, { deps, prefix: UPLOAD_RECEIVER_PREFIX });
  await app.register(resultDownloads, { deps, prefix: RESULT_DOWNLOADS_PREFIX });
  return app;
}

/**
 * What a process without the API serves (the `worker` role): /health, /ready and /metrics only, so
 * that its own counters can be scraped and its liveness probed.
 */
export function buildOperationsServer(deps: CoreDeps): Promise<FastifyInstance> {
  return baseServer(deps, []);
}
