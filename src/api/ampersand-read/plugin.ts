import type { CoreDeps } from '../../core/deps.ts';
import { apiKeyProject } from '../ampersand/credentials.ts';
import { ampersandSurface } from '../ampersand/plugin.ts';
import { checkRequestedProject } from '../ampersand/route-context.ts';
import type { ApiSurface } from '../surface/plugin.ts';
import { READ_CONTRACT, READ_PREFIX, READ_TITLE, servedDocument } from './openapi.ts';
import { readRoutes } from './routes/reads.ts';

/**
 * Read API v1 (Ampersand dialect): reads of an installation asked for now, paused and resumed.
 * API keys, project checks and problem+json errors are the Platform API's own. It is called from
 * servers, so it answers no browser (no CORS) and takes no browser token.
 */
export function ampersandReadSurface(deps: CoreDeps): ApiSurface {
  const platform = ampersandSurface(deps);
  return {
    prefix: READ_PREFIX,
    title: READ_TITLE,
    contract: READ_CONTRACT,
    document: servedDocument,
    renderError: platform.renderError,
    authenticate: (req) => apiKeyProject(deps, req),
    routes: async (app) => {
      checkRequestedProject(app, deps);
      await app.register(readRoutes, { deps });
    },
  };
}
