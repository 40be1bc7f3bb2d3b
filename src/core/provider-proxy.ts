import type { CoreDeps } from './deps.ts';
import { DomainError, notFound } from './errors.ts';
import { getInstallation, type Installation } from './installations.ts';
import { getIntegration } from './integrations.ts';
import { installationFor } from './operations.ts';
import { getProjectOwnedConnection } from './project-owned-connections.ts';
import { callProvider, openConnector } from './provider-access.ts';

/**
 * The provider proxy: a caller's request passed through to the provider's API on an
 * installation's connection (or a connection the project owns), with the connection's credentials, and the provider's answer passed
 * back. Trellis adds the credentials and removes anything that would let a caller's own
 * credentials, cookies or addressing through; the provider's status and body come back as they are.
 */

/** The largest request body passed on. */
export const MAX_PROXY_REQUEST_BYTES = 5 * 1024 * 1024;
/** The largest answer passed back; a larger one is refused (502) rather than held in memory. */
export const MAX_PROXY_RESPONSE_BYTES = 20 * 1024 * 1024;

/** Headers that describe one connection (RFC 9110 §7.6.1), never forwarded either way. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Request headers the provider never sees: credentials and cookies (Trellis sends the
 * connection's own), the caller's host and addressing, and framing the HTTP client sets itself.
 */
const NOT_FORWARDED = new Set([
  ...HOP_BY_HOP,
  'authorization',
  'cookie',
  'host',
  'content-length',
  'accept-encoding',
  'expect',
  'forwarded',
  'via',
  'x-real-ip',
]);

/**
 * Answer headers not passed back: framing (the body is passed back decoded, whole) and cookies,
 * which the provider sets for the connection's session, not for the caller.
 */
const NOT_RETURNED = new Set([
  ...HOP_BY_HOP,
  'content-length',
  'content-encoding',
  'set-cookie',
  'set-cookie2',
]);

const forwardable = (name: string) => !NOT_FORWARDED.has(name) && !name.startsWith('x-forwarded-');

/**
 * What keeps a provider path from being passed on, if anything. It must stay below the provider's
 * base URL: no `.` or `..` segment, raw or percent-encoded (URLs resolve them), no empty segment
 * (`//host/…` names another host to servers and proxies that resolve paths as references) and no
 * backslash (URLs read it as a slash).
 */
function providerPathProblem(pathAndQuery: string): string | undefined {
  const path = pathAndQuery.split('?')[0]!;
  if (path.includes('\\')) return 'must not contain a backslash';
  const segments = path.split('/').slice(1);
  if (segments.some((segment) => /^(\.|%2e){1,2}$/i.test(segment)))
    return 'must not contain . or .. segments';
  if (segments.slice(0, -1).includes('')) return 'must not contain an empty segment (//)';
  return undefined;
}

export interface ProxyRequest {
  method: string;
  /** The provider path, below the provider's base URL, with its query string. */
  pathAndQuery: string;
  /** The caller's headers, lower-case names; the surface has removed its own. */
  headers: Record<string, string>;
  body?: Buffer;
}

export interface ProxyAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * The installation a proxied request names: by its id, else by its integration (id or name) and
 * its customer. Whatever else names it must agree: an installation of another customer or
 * another integration than the one named is not found.
 */
export async function proxiedInstallation(
  deps: CoreDeps,
  projectId: string,
  named: { installationId?: string; integrationIdOrName?: string; customerRef?: string },
): Promise<Installation> {
  if (named.installationId === undefined) {
    if (named.integrationIdOrName === undefined || named.customerRef === undefined)
      throw new DomainError('bad_request', 'name the installation, or its integration and its customer');
    return (await installationFor(deps, projectId, named.integrationIdOrName, named.customerRef))
      .installation;
  }
  const installation = await getInstallation(deps, projectId, named.installationId);
  if (named.customerRef !== undefined && named.customerRef !== installation.customerRef)
    throw notFound('installation');
  if (named.integrationIdOrName !== undefined) {
    const integration = await getIntegration(deps, projectId, installation.integrationId);
    if (![integration.id, integration.name].includes(named.integrationIdOrName))
      throw notFound('installation');
  }
  return installation;
}

/**
 * What a proxied request goes out on: an installation's connection, when its integration enables
 * the proxy, or a connection the project owns itself, which no integration governs. A customer's
 * connection is reached through its installations only.
 */
export type ProxyTarget = { installation: Installation } | { projectOwnedConnectionId: string };

async function proxiedConnectionId(deps: CoreDeps, projectId: string, target: ProxyTarget): Promise<string> {
  if ('projectOwnedConnectionId' in target)
    return (await getProjectOwnedConnection(deps, projectId, target.projectOwnedConnectionId)).id;
  const integration = await getIntegration(deps, projectId, target.installation.integrationId);
  if (!integration.proxyEnabled)
    throw new DomainError('forbidden', `integration "${integration.name}" does not enable the proxy`);
  return target.installation.connectionId;
}

/**
 * Passes a request to the provider on the target's connection. The call goes through the
 * connection's provider client: its credentials (renewed if the provider says they expired), its
 * pace, and the outbound policy.
 */
export async function proxyRequest(
  deps: CoreDeps,
  projectId: string,
  target: ProxyTarget,
  req: ProxyRequest,
): Promise<ProxyAnswer> {
  const pathProblem = providerPathProblem(req.pathAndQuery);
  if (pathProblem) throw new DomainError('bad_request', `the provider path ${pathProblem}`);
  const hasBody = req.body !== undefined && req.body.length > 0;
  const connectionId = await proxiedConnectionId(deps, projectId, target);
  const { ctx } = await openConnector(deps, connectionId, { interactive: true });
  const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => forwardable(name)));
  const res = await callProvider(() =>
    ctx.http.forward({
      method: req.method,
      pathAndQuery: req.pathAndQuery,
      headers,
      body: hasBody ? req.body : undefined,
      maxResponseBytes: MAX_PROXY_RESPONSE_BYTES,
    }),
  );
  const answerHeaders: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (!NOT_RETURNED.has(name)) answerHeaders[name] = value;
  });
  return { status: res.status, headers: answerHeaders, body: res.body };
}
