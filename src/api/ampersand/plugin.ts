import type { FastifyRequest } from 'fastify';
import type { CoreDeps } from '../../core/deps.ts';
import { DomainError } from '../../core/errors.ts';
import { authenticateApiKey } from '../../core/projects.ts';
import type { ApiSurface } from '../surface/plugin.ts';
import { renderProblem } from './errors.ts';
import { AMPERSAND_CONTRACT, AMPERSAND_PREFIX, AMPERSAND_TITLE, servedDocument } from './openapi.ts';
import { checkRequestedProject } from './route-context.ts';
import { connectionRoutes } from './routes/connections.ts';
import { destinationRoutes } from './routes/destinations.ts';
import { installationRoutes } from './routes/installations.ts';
import { integrationRoutes } from './routes/integrations.ts';
import { oauthRoutes } from './routes/oauth.ts';
import { operationRoutes } from './routes/operations.ts';
import { projectRoutes } from './routes/projects.ts';
import { providerAppRoutes } from './routes/provider-apps.ts';
import { providerRoutes } from './routes/providers.ts';
import { unservedRoutes } from './routes/unserved.ts';
import { uploadRoutes } from './routes/uploads.ts';

/** What the embedded UI library sends on every call, besides the credentials and JSON bodies. */
const CLIENT_HEADERS = ['x-amp-client', 'x-amp-client-version'];

/**
 * The project of the request's credentials: its `X-Api-Key`. Browsers will authenticate with
 * JWTs (`Authorization: Bearer`, verified with the project's JWT keys); they are checked here when
 * they are supported.
 */
async function authenticate(deps: CoreDeps, req: FastifyRequest): Promise<string> {
  const key = req.headers['x-api-key'];
  if (typeof key === 'string' && key !== '') {
    const projectId = await authenticateApiKey(deps.db, key);
    if (projectId) return projectId;
    throw new DomainError('unauthorized', 'the X-Api-Key header is not a valid API key');
  }
  if (req.headers.authorization?.toLowerCase().startsWith('bearer '))
    throw new DomainError('unauthorized', 'bearer tokens (JWT) are not accepted yet; send an X-Api-Key');
  throw new DomainError('unauthorized', 'the X-Api-Key header is required');
}

/**
 * Platform API v1 (Ampersand dialect): its document, its problem+json errors, its API keys, CORS
 * for the browsers that call it, and its routes; every operation of the document that Trellis
 * does not serve answers 501.
 */
export function ampersandSurface(deps: CoreDeps): ApiSurface {
  return {
    prefix: AMPERSAND_PREFIX,
    title: AMPERSAND_TITLE,
    contract: AMPERSAND_CONTRACT,
    document: servedDocument,
    renderError: renderProblem,
    authenticate: (req) => authenticate(deps, req),
    cors: {
      origins: deps.config.corsOrigins,
      headers: [...CLIENT_HEADERS, 'x-api-key', 'content-type', 'authorization'],
    },
    routes: async (app) => {
      checkRequestedProject(app, deps);
      const served = new Set<string>();
      app.addHook('onRoute', (route) => {
        if (route.config?.operationId) served.add(route.config.operationId);
      });
      for (const routes of [
        projectRoutes,
        providerRoutes,
        connectionRoutes,
        integrationRoutes,
        installationRoutes,
        oauthRoutes,
        providerAppRoutes,
        destinationRoutes,
        operationRoutes,
        uploadRoutes,
      ]) {
        await app.register(routes, { deps });
      }
      await app.register(unservedRoutes(served));
    },
  };
}
