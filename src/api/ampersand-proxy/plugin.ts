import type { CoreDeps } from '../../core/deps.ts';
import { apiKeyProject } from '../ampersand/credentials.ts';
import { ampersandSurface } from '../ampersand/plugin.ts';
import type { ApiSurface } from '../surface/plugin.ts';
import { PROXY_CONTRACT, PROXY_PREFIX, PROXY_TITLE, servedDocument } from './openapi.ts';
import { proxyRoutes } from './routes/proxy.ts';

/**
 * The proxy (Ampersand dialect): any provider path under /proxy, on an installation's connection.
 * API keys and problem+json errors are the Platform API's own; it is called from servers, so it
 * answers no browser (no CORS) and takes no browser token.
 */
export function ampersandProxySurface(deps: CoreDeps): ApiSurface {
  const platform = ampersandSurface(deps);
  return {
    prefix: PROXY_PREFIX,
    title: PROXY_TITLE,
    contract: PROXY_CONTRACT,
    document: servedDocument,
    renderError: platform.renderError,
    authenticate: (req) => apiKeyProject(deps, req),
    routes: async (app) => {
      await app.register(proxyRoutes, { deps });
    },
  };
}
