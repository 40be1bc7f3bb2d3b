import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CoreDeps } from '../../../core/deps.ts';
import { DomainError, notFound } from '../../../core/errors.ts';
import { startPopupConnect, startPopupRenewal } from '../../../core/managed-auth/popup-flow.ts';
import { findProject } from '../../../core/projects.ts';
import { RequestRefused } from '../../surface/errors.ts';
import type { RouteOptions } from '../route-context.ts';

interface OAuthConnectBody {
  projectIdOrName: string;
  provider: string;
  groupRef: string;
  groupName?: string;
  consumerRef: string;
  consumerName?: string;
  providerAppId?: string;
}

/** An origin as browsers send it: scheme, host and port of an http(s) page, nothing else. */
function isWebOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value;
  } catch {
    return false;
  }
}

/**
 * The page that starts a popup flow, from its `Origin`: one the operator allows to call this API
 * (TRELLIS_CORS_ORIGINS), since the flow's outcome is posted to exactly that origin and no other.
 */
function openerOrigin(deps: CoreDeps, req: FastifyRequest): string {
  const origin = req.headers.origin;
  const allowed = deps.config.corsOrigins;
  if (
    typeof origin === 'string' &&
    isWebOrigin(origin) &&
    (allowed.includes('*') || allowed.includes(origin))
  )
    return origin;
  throw new DomainError(
    'forbidden',
    'an OAuth popup is started by a web page whose origin Trellis allows: the Origin header must be one of TRELLIS_CORS_ORIGINS',
  );
}

/** A reference that names a row: empty ones are refused, as the body's own input. */
function nonEmpty(body: OAuthConnectBody, field: 'groupRef' | 'consumerRef' | 'provider'): string {
  const value = body[field];
  if (value.trim() === '')
    throw new RequestRefused('invalid_input', `body/${field} must not be empty`, {
      issues: [{ in: 'body', name: `/${field}`, detail: 'must not be empty' }],
    });
  return value;
}

const sendUrl = (reply: FastifyReply, url: string) => reply.type('text/plain; charset=utf-8').send(url);

/**
 * OAuth in a popup, as Ampersand's UI library does it: each operation answers the URL the page
 * opens (as text), and the flow ends by posting its outcome to that page (src/api/connect).
 */
export async function oauthRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  app.post<{ Body: OAuthConnectBody }>(
    '/oauth-connect',
    { config: { operationId: 'oauthConnect' } },
    async (req, reply) => {
      const origin = openerOrigin(deps, req);
      const body = req.body;
      // The body names the project; it must be the credentials' own, as a path would have to be.
      const project = await findProject(deps.db, req.projectId);
      const named = body.projectIdOrName;
      if (named !== project.name && named.toLowerCase() !== project.id) throw notFound(`project "${named}"`);
      const url = await startPopupConnect(deps, {
        projectId: project.id,
        providerName: nonEmpty(body, 'provider'),
        ...(body.providerAppId ? { providerAppId: body.providerAppId } : {}),
        // A name replaces the stored one only when given; a new customer is named by its ref.
        customer: { ref: nonEmpty(body, 'groupRef'), ...(body.groupName ? { name: body.groupName } : {}) },
        consumer: {
          ref: nonEmpty(body, 'consumerRef'),
          ...(body.consumerName ? { name: body.consumerName } : {}),
        },
        openerOrigin: origin,
      });
      return sendUrl(reply, url);
    },
  );

  app.patch<{ Params: { projectIdOrName: string; connectionId: string } }>(
    '/projects/:projectIdOrName/connections/:connectionId(^[^:]+)::oauth-update',
    { config: { operationId: 'oauthUpdate' } },
    async (req, reply) => {
      const origin = openerOrigin(deps, req);
      const url = await startPopupRenewal(deps, {
        projectId: req.projectId,
        connectionId: req.params.connectionId,
        openerOrigin: origin,
      });
      return sendUrl(reply, url);
    },
  );
}
