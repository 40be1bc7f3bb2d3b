import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CoreDeps } from '../../../core/deps.ts';
import { DomainError, notFound } from '../../../core/errors.ts';
import { findProject } from '../../../core/projects.ts';
import {
  MAX_PROXY_REQUEST_BYTES,
  type ProxyTarget,
  proxiedInstallation,
  proxyRequest,
} from '../../../core/provider-proxy.ts';
import { CONNECTION_HEADER } from '../../ampersand/connection-header.ts';
import { PROXIED_METHODS, PROXY_PREFIX, proxyOperationId } from '../openapi.ts';

/** Headers of this dialect and its credentials: they address Trellis, never the provider. */
const ownHeader = (name: string) =>
  name.startsWith('x-amp-') || name === 'x-api-key' || name === CONNECTION_HEADER;

const single = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join(', ') : value);

/** A header of this dialect, if sent (an empty one is not sent). */
const ampHeader = (req: FastifyRequest, name: string) => single(req.headers[name]) || undefined;

/** Whether the request says it carries a body, read or not (Fastify reads none of a GET). */
const declaresBody = (req: FastifyRequest) =>
  req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';

/** The caller's headers for the provider: every one but this dialect's. */
function callerHeaders(req: FastifyRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    const text = single(value);
    if (text !== undefined && !ownHeader(name)) headers[name] = text;
  }
  return headers;
}

/**
 * What the request goes out on: the installation its headers name, or the connection of the
 * project's own that `x-trellis-connection-id` names (a Trellis extension), never both.
 */
async function targetOf(deps: CoreDeps, req: FastifyRequest): Promise<ProxyTarget> {
  const connectionId = ampHeader(req, CONNECTION_HEADER);
  const named = {
    installationId: ampHeader(req, 'x-amp-installation-id'),
    integrationIdOrName: ampHeader(req, 'x-amp-integration-name'),
    customerRef: ampHeader(req, 'x-amp-group-ref'),
  };
  if (connectionId === undefined)
    return { installation: await proxiedInstallation(deps, req.projectId, named) };
  if (Object.values(named).some((value) => value !== undefined))
    throw new DomainError(
      'bad_request',
      `name an installation or a connection (${CONNECTION_HEADER}), not both`,
    );
  return { projectOwnedConnectionId: connectionId };
}

export async function proxyRoutes(app: FastifyInstance, { deps }: { deps: CoreDeps }) {
  // Bodies pass through as bytes, whatever their type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    '*',
    { parseAs: 'buffer', bodyLimit: MAX_PROXY_REQUEST_BYTES },
    (_req, body, done) => done(null, body),
  );

  for (const method of PROXIED_METHODS) {
    app.route({
      method,
      url: '/*',
      config: { operationId: proxyOperationId(method) },
      handler: async (req, reply) => {
        // The provider path is the request line's below /proxy. A request line in absolute form
        // (with a host, as clients write it to forward proxies) is refused rather than taken apart.
        if (!req.url.startsWith('/'))
          throw new DomainError('bad_request', 'the request line must name a path, not a host');
        // Refused rather than dropped unread: the caller meant to send it.
        if (method === 'GET' && declaresBody(req))
          throw new DomainError('bad_request', 'a GET request carries no body');
        // The project header names the API key's own project, or nothing that exists.
        const named = ampHeader(req, 'x-amp-project-id')!;
        const project = await findProject(deps.db, req.projectId);
        if (named !== project.id && named !== project.name) throw notFound(`project "${named}"`);
        const answer = await proxyRequest(deps, req.projectId, await targetOf(deps, req), {
          method,
          pathAndQuery: req.url.slice(PROXY_PREFIX.length) || '/',
          headers: callerHeaders(req),
          body: Buffer.isBuffer(req.body) ? req.body : undefined,
        });
        return reply.code(answer.status).headers(answer.headers).send(answer.body);
      },
    });
  }
}
