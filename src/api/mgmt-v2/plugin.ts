import type { FastifyInstance } from 'fastify';
import { badRequest, DomainError } from '../../core/errors.ts';
import { authenticateApiKey } from '../../core/projects.ts';
import { sendError, toDomainError } from './errors.ts';
import { jsonTextProblem, REQUEST_LIMITS, validateRequest } from './openapi.ts';
import type { RouteOptions } from './route-context.ts';
import { connectionRoutes } from './routes/connections.ts';
import { customerRoutes } from './routes/customers.ts';
import { dataModelRoutes } from './routes/data-models.ts';
import { destinationRoutes } from './routes/destinations.ts';
import { magicLinkRoutes } from './routes/magic-links.ts';
import { mappingRoutes } from './routes/mappings.ts';
import { providerRoutes } from './routes/providers.ts';
import { syncConfigRoutes } from './routes/sync-configs.ts';
import { syncRoutes } from './routes/syncs.ts';
import { webhookRoutes } from './routes/webhooks.ts';

declare module 'fastify' {
  interface FastifyRequest {
    projectId: string;
  }
  interface FastifyContextConfig {
    /** The spec operation a route implements; its request is validated against it. */
    operationId?: string;
  }
}

/** Management API v2 (Supaglue dialect): authentication, validation against the spec, error shape. */
export async function mgmtV2(app: FastifyInstance, opts: RouteOptions) {
  const { deps } = opts;
  app.decorateRequest('projectId', '');

  // JSON bodies within the size and nesting limits and without lone surrogates, checked on the text.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: REQUEST_LIMITS.maxBodyBytes },
    (req, body, done) => {
      const problem = jsonTextProblem(body as string);
      if (problem) return done(badRequest(problem, 'VALIDATION_ERROR'), undefined);
      parseJson(req, body as string, done);
    },
  );

  app.addHook('onRequest', async (req, reply) => {
    const key = req.headers['x-api-key'];
    const projectId =
      typeof key === 'string' && key !== '' ? await authenticateApiKey(deps.db, key) : undefined;
    if (!projectId) {
      return sendError(
        reply,
        new DomainError(
          'unauthorized',
          key ? 'the x-api-key header is not a valid API key' : 'the x-api-key header is required',
        ),
      );
    }
    req.projectId = projectId;
  });

  app.addHook('preHandler', async (req) => {
    const operationId = req.routeOptions.config.operationId;
    if (operationId) {
      validateRequest(operationId, {
        body: req.body,
        headers: req.headers,
        query: req.query as Record<string, unknown>,
      });
    }
  });

  app.setErrorHandler((err, req, reply) => {
    const domain = toDomainError(err);
    if (domain) return sendError(reply, domain);
    req.log.error({ err }, 'unhandled error');
    return sendError(reply, new DomainError('internal', 'an unexpected error occurred; it has been logged'));
  });

  app.setNotFoundHandler((req, reply) =>
    sendError(reply, new DomainError('not_found', `no operation ${req.method} ${req.url.split('?')[0]}`)),
  );

  for (const routes of [
    customerRoutes,
    destinationRoutes,
    providerRoutes,
    dataModelRoutes,
    syncConfigRoutes,
    connectionRoutes,
    mappingRoutes,
    magicLinkRoutes,
    syncRoutes,
    webhookRoutes,
  ]) {
    await app.register(routes, { deps });
  }
}
