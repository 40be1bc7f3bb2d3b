import type { CoreDeps } from '../../core/deps.ts';
import type { ApiSurface } from '../surface/plugin.ts';
import { confineBrowserTokens } from './browser-scope.ts';
import { platformProject } from './credentials.ts';
import { renderProblem } from './errors.ts';
import { AMPERSAND_CONTRACT, AMPERSAND_PREFIX, AMPERSAND_TITLE, servedDocument } from './openapi.ts';
import { checkRequestedProject } from './route-context.ts';
import { connectionRoutes } from './routes/connections.ts';
import { destinationRoutes } from './routes/destinations.ts';
import { installationRoutes } from './routes/installations.ts';
import { integrationRoutes } from './routes/integrations.ts';
import { jwtKeyRoutes } from './routes/jwt-keys.ts';
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
 * Platform API v1 (Ampersand dialect): its document, its problem+json errors, its credentials (API
 * keys, and browser tokens confined to their group), CORS for the browsers that call it, and its
 * routes; every operation of the document that Trellis does not serve answers 501.
 */
export function ampersandSurface(deps: CoreDeps): ApiSurface {
  return {
    prefix: AMPERSAND_PREFIX,
    title: AMPERSAND_TITLE,
    contract: AMPERSAND_CONTRACT,
    document: servedDocument,
    renderError: renderProblem,
    authenticate: (req) => platformProject(deps, req),
    cors: {
      origins: deps.config.corsOrigins,
      headers: [...CLIENT_HEADERS, 'x-api-key', 'content-type', 'authorization'],
    },
    routes: async (app) => {
      checkRequestedProject(app, deps);
      confineBrowserTokens(app, deps);
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
        jwtKeyRoutes,
        uploadRoutes,
      ]) {
        await app.register(routes, { deps });
      }
      await app.register(unservedRoutes(served));
    },
  };
}
