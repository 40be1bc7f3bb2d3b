import type {
  FastifyError,
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
} from 'fastify';
import type { Contract, OpenApiDocument } from './contract.ts';
import { applyCors, type CorsPolicy } from './cors.ts';
import { type RenderError, RequestRefused, renderFailure } from './errors.ts';
import { jsonTextProblem } from './json-text.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The project whose credentials the request carries, set by its surface's `authenticate`. */
    projectId: string;
  }
  interface FastifyContextConfig {
    /** The contract operation a route implements; its request is validated against it. */
    operationId?: string;
  }
}

/**
 * A JSON API surface: one dialect under its own mount, over the shared core. Adding one is a
 * folder in src/api: its OpenAPI document compiled with `compileContract`, a `RenderError` for its
 * error shape, its routes (each naming its operation), and an entry in `apiSurfaces` (server.ts).
 */
export interface ApiSurface {
  /** Where it is mounted, e.g. `/mgmt/v2`. */
  prefix: string;
  /** Its name in the API reference's list of documents. */
  title: string;
  contract: Contract;
  /** The OpenAPI document served at `${prefix}/openapi.json`, for the server's public URL. */
  document(publicUrl: string): OpenApiDocument;
  /** Renders every error under the prefix, from a handler's or the framework's. */
  renderError: RenderError;
  /** The project the request's credentials belong to; throws a DomainError (`unauthorized`) otherwise. */
  authenticate(req: FastifyRequest): Promise<string>;
  /** The surface's routes; each names its contract operation in `config.operationId`. */
  routes: FastifyPluginAsync;
  /** Web pages that may call it from a browser; without one (or with no origins), none may. */
  cors?: CorsPolicy;
}

/**
 * Mounts a surface as an encapsulated plugin (register it with the surface as options, so that
 * Fastify applies its prefix): JSON bodies within the contract's limits, authentication,
 * validation of every request against its operation, and every error in the surface's shape.
 */
export async function apiSurface(app: FastifyInstance, surface: ApiSurface): Promise<void> {
  const { contract, renderError } = surface;
  app.decorateRequest('projectId', '');

  // A route that names no operation would go unvalidated, and one whose parameters are not its
  // operation's would have its path checked wrongly: refuse either when the server is built.
  const routeParameterNames = new Map<string, string[]>();
  app.addHook('onRoute', (route) => {
    const operationId = route.config?.operationId;
    const operation = operationId ? contract.operation(operationId) : undefined;
    if (!operation)
      throw new Error(`${route.method} ${route.url} names no operation of the ${surface.title} contract`);
    const names = routeParametersOf(route.url);
    if (!sameParameters(names, operation.pathParameters))
      throw new Error(
        `${route.method} ${route.url} does not take the path parameters of ${operationId} (${operation.path})`,
      );
    routeParameterNames.set(route.url, names);
  });

  // JSON bodies within the size and nesting limits and without lone surrogates, checked on the text.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: contract.limits.maxBodyBytes },
    (req, body, done) => {
      // No body at all, whatever its content-type says: the contract decides whether one is needed.
      if (body === '') return done(null, undefined);
      const problem = jsonTextProblem(body as string, contract.limits.maxDepth);
      if (problem)
        return done(
          new RequestRefused('invalid_input', `body ${problem}`, {
            issues: [{ in: 'body', name: '', detail: problem }],
          }),
          undefined,
        );
      parseJson(req, body as string, done);
    },
  );

  // CORS first: a preflight carries no credentials, and an error answer must be readable too.
  const cors = surface.cors?.origins.length ? surface.cors : undefined;
  const methods = [...new Set(contract.operationIds.map((id) => contract.operation(id)!.method))];
  app.addHook('onRequest', async (req, reply) => {
    if (cors && applyCors(cors, methods, req, reply)) return reply;
    const operationId = req.routeOptions.config.operationId;
    // Operations the document opens to everyone (`security: []`) take no credentials.
    if (operationId && contract.operation(operationId)?.public) return;
    req.projectId = await surface.authenticate(req);
  });

  app.addHook('preHandler', async (req) => {
    const operationId = req.routeOptions.config.operationId;
    if (operationId) {
      const params = req.params as Record<string, unknown>;
      const names = routeParameterNames.get(req.routeOptions.url ?? '') ?? [];
      const documentNames = contract.operation(operationId)?.pathParameters ?? [];
      contract.validateRequest(operationId, {
        body: req.body,
        headers: req.headers,
        query: req.query as Record<string, unknown>,
        path: Object.fromEntries(documentNames.map((name, i) => [name, params[names[i] ?? name]])),
      });
    }
  });

  app.setErrorHandler((err, req, reply) => renderFailure(renderError, err, req, reply));

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    const detail = `no operation ${req.method} ${path}`;
    const allowedMethods = contract.methodsAt(path.slice(app.prefix.length));
    const refusal =
      allowedMethods.length > 0 && !allowedMethods.includes(req.method)
        ? new RequestRefused('method_not_allowed', detail, { allowedMethods })
        : new RequestRefused('unknown_operation', detail);
    return renderError(refusal, reply, req);
  });

  await app.register(surface.routes);
}

/**
 * A route URL's parameter names in order: `:name` (its pattern left out, and `::`, a literal
 * colon, set apart), or `*` for the wildcard.
 */
function routeParametersOf(url: string): string[] {
  const bare = url.replace(/\([^)]*\)/g, '').replaceAll('::', ' ');
  return [...bare.matchAll(/:(\w+)|\*/g)].map((m) => m[1] ?? '*');
}

/** Route parameters are the document's in order, a wildcard standing for the one it takes. */
const sameParameters = (route: string[], document: readonly string[]) =>
  route.length === document.length && route.every((name, i) => name === '*' || name === document[i]);

/** The surface whose prefix a URL is under, if any. */
export function surfaceAt<S extends Pick<ApiSurface, 'prefix'>>(
  surfaces: readonly S[],
  url: string,
): S | undefined {
  return surfaces.find(
    (s) => url === s.prefix || url.startsWith(`${s.prefix}/`) || url.startsWith(`${s.prefix}?`),
  );
}

/**
 * The server's `frameworkErrors`: a URL the router cannot take apart reaches no plugin, so it is
 * answered here, in the shape of the surface whose prefix it is under, else by `otherwise`.
 */
export function frameworkErrorsFor(
  surfaces: readonly ApiSurface[],
  otherwise: (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => FastifyReply,
) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const surface = surfaceAt(surfaces, req.url);
    return surface ? renderFailure(surface.renderError, err, req, reply) : otherwise(err, req, reply);
  };
}
