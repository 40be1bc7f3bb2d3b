import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CoreDeps } from '../../core/deps.ts';
import { DomainError, notFound } from '../../core/errors.ts';
import { getInstallation } from '../../core/installations.ts';
import { getProjectConnection } from '../../core/project-connections.ts';
import { type BrowserToken, browserTokenOf } from './credentials.ts';

/**
 * What a browser token (JWT) may do on the Platform API: the operations Ampersand's UI library
 * calls, each confined to the token's group. Everything else — provider apps, destinations,
 * deploying or deleting integrations, JWT keys, operations and logs, and whatever is added later —
 * answers 403 to a token: deny by default, allow by this one table.
 *
 * Within an allowed operation:
 * - a group or consumer the request names (a list's `groupRef` filter; `groupRef` and
 *   `consumerRef` in a body) is the token's when the request names none, and any other is refused
 *   (403): the token says whom it acts for;
 * - a connection or installation named by id that is not the token's group's is not found (404),
 *   exactly as one that does not exist, so a token learns nothing of other groups.
 */

type ScopeCheck = (ctx: { deps: CoreDeps; req: FastifyRequest; token: BrowserToken }) => Promise<void> | void;

type Source = 'query' | 'body' | 'params';

const valuesIn = (req: FastifyRequest, source: Source): Record<string, unknown> | undefined =>
  (source === 'query' ? req.query : source === 'body' ? req.body : req.params) as
    | Record<string, unknown>
    | undefined;

const forbidden = (detail: string) => new DomainError('forbidden', detail);

/** `groupRef` or `consumerRef` of the request: the token's own, filled in when absent. */
const ownRef =
  (source: 'query' | 'body', name: 'groupRef' | 'consumerRef'): ScopeCheck =>
  ({ req, token }) => {
    const values = valuesIn(req, source);
    if (!values) return;
    const given = values[name];
    if (given === undefined || given === '') values[name] = token[name];
    else if (given !== token[name])
      throw forbidden(
        `${source === 'query' ? 'query parameter ' : 'body/'}${name} names another ${name === 'groupRef' ? 'group' : 'consumer'} than the bearer token's: a browser token acts for its own group and consumer only`,
      );
  };

/** The connection `connectionId` names, if any, must be the token's group's. */
const ownConnection =
  (source: Source): ScopeCheck =>
  async ({ deps, req, token }) => {
    const id = valuesIn(req, source)?.connectionId;
    if (typeof id !== 'string') return;
    const connection = await getProjectConnection(deps, req.projectId, id);
    if (connection.customer.ref !== token.groupRef) throw notFound(`connection "${id}"`);
  };

/** The installation of the path must be the token's group's. */
const ownInstallation: ScopeCheck = async ({ deps, req, token }) => {
  const id = (req.params as { installationId: string }).installationId;
  const installation = await getInstallation(deps, req.projectId, id);
  if (installation.customerRef !== token.groupRef) throw notFound('installation');
};

/** The operations open to browser tokens, each with the checks that confine it to the token's group. */
const BROWSER_OPERATIONS: Record<string, ScopeCheck[]> = {
  getProject: [],
  listIntegrations: [],
  getHydratedRevision: [ownConnection('query')],
  listConnections: [ownRef('query', 'groupRef')],
  getConnection: [ownConnection('params')],
  updateConnection: [ownConnection('params')],
  deleteConnection: [ownConnection('params')],
  generateConnection: [ownRef('body', 'groupRef'), ownRef('body', 'consumerRef')],
  oauthConnect: [ownRef('body', 'groupRef'), ownRef('body', 'consumerRef')],
  oauthUpdate: [ownConnection('params')],
  listInstallations: [ownRef('query', 'groupRef')],
  getInstallation: [ownInstallation],
  createInstallation: [ownRef('body', 'groupRef'), ownConnection('body')],
  updateInstallation: [ownInstallation],
  deleteInstallation: [ownInstallation],
};

/**
 * Enforces the table for every request authenticated with a browser token: an operation not in
 * it is refused as soon as the token is verified, before its body is read; the checks of one in
 * it run once the request has passed the contract, before its handler.
 */
export function confineBrowserTokens(app: FastifyInstance, deps: CoreDeps): void {
  const checksOf = (req: FastifyRequest) => BROWSER_OPERATIONS[req.routeOptions.config.operationId ?? ''];
  app.addHook('onRequest', async (req) => {
    if (browserTokenOf(req) && !checksOf(req))
      throw forbidden(
        `${req.routeOptions.config.operationId} is not open to browser tokens (JWT), which may call only what the embedded UI calls, for their own group; call it from a server with an X-Api-Key`,
      );
  });
  app.addHook('preHandler', async (req) => {
    const token = browserTokenOf(req);
    if (!token) return;
    for (const check of checksOf(req) ?? []) await check({ deps, req, token });
  });
}
