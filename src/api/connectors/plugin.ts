import type { FastifyRequest } from 'fastify';
import type { CoreDeps } from '../../core/deps.ts';
import { DomainError } from '../../core/errors.ts';
import { authenticateApiKey } from '../../core/projects.ts';
import type { ApiSurface } from '../surface/plugin.ts';
import { renderConnectorsError } from './errors.ts';
import { CONNECTORS_CONTRACT, CONNECTORS_PREFIX, CONNECTORS_TITLE, servedDocument } from './openapi.ts';
import { connectorRoutes } from './routes/connectors.ts';
import { logoRoutes } from './routes/logos.ts';

/** The project of the request's `Authorization`: one of its API keys, bare or as a bearer token. */
async function projectOfAuthorization(deps: CoreDeps, req: FastifyRequest): Promise<string> {
  const header = req.headers.authorization?.trim() ?? '';
  const key = header.replace(/^bearer\s+/i, '');
  const projectId = key === '' ? undefined : await authenticateApiKey(deps.db, key);
  if (!projectId) {
    throw new DomainError(
      'unauthorized',
      header === ''
        ? 'Unauthenticated: send an API key in the Authorization header'
        : 'Unauthenticated: the Authorization header holds no valid API key',
    );
  }
  return projectId;
}

/**
 * The Connectors API (Patchworks Core API dialect): connectors the project owns, with their
 * systems, authentication implementations and endpoints from the provider catalog; Laravel's
 * shapes for lists and errors; the project's API keys in `Authorization`. Called from servers:
 * no CORS.
 */
export function connectorsSurface(deps: CoreDeps): ApiSurface {
  return {
    prefix: CONNECTORS_PREFIX,
    title: CONNECTORS_TITLE,
    contract: CONNECTORS_CONTRACT,
    document: servedDocument,
    renderError: renderConnectorsError,
    authenticate: (req) => projectOfAuthorization(deps, req),
    routes: async (app) => {
      await app.register(connectorRoutes, { deps });
      await app.register(logoRoutes);
    },
  };
}
