import type { CoreDeps } from '../../core/deps.ts';
import { apiKeyProject } from '../ampersand/credentials.ts';
import { ampersandSurface } from '../ampersand/plugin.ts';
import { checkRequestedProject } from '../ampersand/route-context.ts';
import type { ApiSurface } from '../surface/plugin.ts';
import { servedDocument, WRITE_CONTRACT, WRITE_PREFIX, WRITE_TITLE } from './openapi.ts';
import { recordRoutes } from './routes/records.ts';

/**
 * Write API v1 (Ampersand dialect): records written back to the provider through an installation.
 * API keys, project checks and problem+json errors are the Platform API's own. It is called from
 * servers, so it answers no browser (no CORS) and takes no browser token.
 */
export function ampersandWriteSurface(deps: CoreDeps): ApiSurface {
  const platform = ampersandSurface(deps);
  return {
    prefix: WRITE_PREFIX,
    title: WRITE_TITLE,
    contract: WRITE_CONTRACT,
    document: servedDocument,
    renderError: platform.renderError,
    authenticate: (req) => apiKeyProject(deps, req),
    routes: async (app) => {
      checkRequestedProject(app, deps);
      await app.register(recordRoutes, { deps });
    },
  };
}
