import type { FastifyRequest } from 'fastify';
import type { CoreDeps } from '../../core/deps.ts';
import { DomainError } from '../../core/errors.ts';
import { authenticateApiKey } from '../../core/projects.ts';
import type { ApiSurface } from '../surface/plugin.ts';
import { renderSupaglueError } from './errors.ts';
import { MGMT_V2_CONTRACT, MGMT_V2_PREFIX, MGMT_V2_TITLE, servedDocument } from './openapi.ts';
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

/** The project of the request's `x-api-key`. */
async function projectOfApiKey(deps: CoreDeps, req: FastifyRequest): Promise<string> {
  const key = req.headers['x-api-key'];
  const projectId =
    typeof key === 'string' && key !== '' ? await authenticateApiKey(deps.db, key) : undefined;
  if (!projectId) {
    throw new DomainError(
      'unauthorized',
      key ? 'the x-api-key header is not a valid API key' : 'the x-api-key header is required',
    );
  }
  return projectId;
}

/** Management API v2 (Supaglue dialect): its spec, its error shape, its API keys and its routes. */
export function mgmtV2Surface(deps: CoreDeps): ApiSurface {
  return {
    prefix: MGMT_V2_PREFIX,
    title: MGMT_V2_TITLE,
    contract: MGMT_V2_CONTRACT,
    document: servedDocument,
    renderError: renderSupaglueError,
    authenticate: (req) => projectOfApiKey(deps, req),
    routes: async (app) => {
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
    },
  };
}
