import { Ajv } from 'ajv';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  consoleOverview,
  consoleRun,
  consoleRuns,
  consoleSyncs,
  customersWithConnections,
  resendWebhookEvent,
  syncTargetById,
} from '../../core/console-reads.ts';
import {
  type ConsoleSession,
  closeConsoleSession,
  consoleSession,
  csrfTokenOf,
  isCsrfTokenOf,
  openConsoleSession,
  SESSION_SECONDS,
} from '../../core/console-sessions.ts';
import type { CoreDeps } from '../../core/deps.ts';
import { listDestinations } from '../../core/destinations.ts';
import { DomainError } from '../../core/errors.ts';
import { listIntegrations } from '../../core/integrations.ts';
import { createMagicLink, magicLinkUrl } from '../../core/magic-links.ts';
import { createApiKey, listApiKeys, revokeApiKey } from '../../core/projects.ts';
import { listProviderApps } from '../../core/provider-apps.ts';
import { targetName } from '../../core/read-plan.ts';
import { pauseSync, resumeSync, triggerSync } from '../../core/syncs.ts';
import { listWebhookDeliveries, listWebhookEndpoints } from '../../core/webhooks.ts';
import { requestCookies } from '../connect/plugin.ts';
import { httpStatus, toDomainError } from '../surface/errors.ts';

/**
 * The console's own JSON API (under /console/api), for the console's pages only: built on the
 * core, authenticated by the session cookie, every change confirmed by the session's CSRF token.
 * Errors are `{error: {code, message}}` with a 4xx status. Decision 0021.
 */

export const SESSION_COOKIE = 'trellis_console';
/** The cookie goes only to the console's own paths. */
const COOKIE_PATH = '/console';
const CSRF_HEADER = 'x-csrf-token';
/** How long a re-authorization link made in the console lasts. */
const LINK_SECONDS = 7 * 24 * 3600;

declare module 'fastify' {
  interface FastifyRequest {
    consoleSession?: ConsoleSession & { token: string };
  }
}

const session = (req: FastifyRequest) => {
  if (!req.consoleSession) throw new DomainError('unauthorized', 'sign in first');
  return req.consoleSession;
};

const ID = { type: 'string', minLength: 1, maxLength: 200 } as const;
const params = (...names: string[]) => ({
  type: 'object',
  properties: Object.fromEntries(names.map((n) => [n, ID])),
  required: names,
});
const body = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});

/** Whether a browser says the request comes from a page of this same server (absent for other clients). */
function fromThisSite(req: FastifyRequest): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  return URL.canParse(origin) && new URL(origin).host === req.headers.host;
}

export async function consoleApi(app: FastifyInstance, { deps }: { deps: CoreDeps }) {
  const secure = () => deps.config.publicUrl.startsWith('https:');
  const cookie = (value: string, maxAge: number) =>
    `${SESSION_COOKIE}=${value}; Path=${COOKIE_PATH}; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure() ? '; Secure' : ''}`;

  // Values are taken as sent: a number is no name, and a field the API does not know is refused.
  const ajv = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false });
  app.setValidatorCompiler(({ schema }) => ajv.compile(schema));

  app.setErrorHandler((err, req, reply) => {
    const error = toDomainError(err);
    if (!error) {
      req.log.error({ err }, 'console request failed');
      return reply
        .code(500)
        .send({ error: { code: 'internal', message: 'something went wrong; it was logged' } });
    }
    const status = httpStatus(error);
    return reply.code(status).send({ error: { code: error.kind, message: error.message } });
  });
  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).send({ error: { code: 'not_found', message: 'no such console endpoint' } }),
  );
  app.addHook('onSend', async (_req, reply) => {
    reply.header('cache-control', 'no-store');
  });

  app.addHook('onRequest', async (req) => {
    const token = requestCookies(req.headers.cookie).get(SESSION_COOKIE);
    const found = token ? await consoleSession(deps, token) : undefined;
    if (found && token) req.consoleSession = { ...found, token };
    if (req.method === 'GET' || req.method === 'HEAD') return;
    if (!fromThisSite(req))
      throw new DomainError('forbidden', 'changes come from the console’s own pages only');
    const signingIn = req.method === 'POST' && req.routeOptions.url === '/console/api/session';
    if (signingIn) return;
    const given = req.headers[CSRF_HEADER];
    if (!req.consoleSession) throw new DomainError('unauthorized', 'sign in first');
    if (typeof given !== 'string' || !isCsrfTokenOf(deps, req.consoleSession.token, given))
      throw new DomainError('forbidden', `send the session's CSRF token in ${CSRF_HEADER}`);
  });

  const sessionView = (s: ConsoleSession, token: string) => ({
    project: { id: s.projectId, name: s.projectName },
    apiKeyId: s.apiKeyId,
    csrfToken: csrfTokenOf(deps, token),
  });

  app.post<{ Body: { apiKey: string } }>(
    '/session',
    { schema: { body: body({ apiKey: { type: 'string', minLength: 1, maxLength: 512 } }, ['apiKey']) } },
    async (req, reply) => {
      const { token, session: opened } = await openConsoleSession(deps, req.body.apiKey.trim());
      reply.header('set-cookie', cookie(token, SESSION_SECONDS));
      return sessionView(opened, token);
    },
  );
  app.get('/session', async (req) => {
    const s = session(req);
    return sessionView(s, s.token);
  });
  app.delete('/session', async (req, reply) => {
    await closeConsoleSession(deps, session(req).token);
    return reply.header('set-cookie', cookie('', 0)).code(204).send();
  });

  app.get('/overview', async (req) => consoleOverview(deps, session(req).projectId));
  app.get('/customers', async (req) => customersWithConnections(deps, session(req).projectId));
  app.post<{ Params: { customerRef: string }; Body: { providerName: string } }>(
    '/customers/:customerRef/magic-links',
    {
      schema: {
        params: params('customerRef'),
        body: body({ providerName: { type: 'string', minLength: 1, maxLength: 100 } }, ['providerName']),
      },
    },
    async (req, reply) => {
      const link = await createMagicLink(deps, session(req).projectId, {
        customerRef: req.params.customerRef,
        providerName: req.body.providerName,
        returnUrl: `${deps.config.publicUrl}${COOKIE_PATH}`,
        expirationSecs: LINK_SECONDS,
      });
      return reply.code(201).send({ url: magicLinkUrl(deps, link.id), expiresAt: link.expiresAt });
    },
  );

  app.get('/syncs', async (req) => consoleSyncs(deps, session(req).projectId));
  const syncAction =
    (
      action: (
        projectId: string,
        connectionId: string,
        target: Awaited<ReturnType<typeof syncTargetById>>['target'],
        req: FastifyRequest,
      ) => Promise<unknown>,
    ) =>
    async (req: FastifyRequest<{ Params: { syncId: string } }>, reply: FastifyReply) => {
      const { projectId } = session(req);
      const { connectionId, target } = await syncTargetById(deps, projectId, req.params.syncId);
      await action(projectId, connectionId, target, req);
      return reply.code(204).send();
    };
  const noBody = { params: params('syncId'), body: { anyOf: [{ type: 'null' }, body({})] } };
  app.post(
    '/syncs/:syncId/pause',
    { schema: noBody },
    syncAction((p, c, t) => pauseSync(deps, p, c, t)),
  );
  app.post(
    '/syncs/:syncId/resume',
    { schema: noBody },
    syncAction((p, c, t) => resumeSync(deps, p, c, t)),
  );
  app.post(
    '/syncs/:syncId/trigger',
    {
      schema: { params: params('syncId'), body: body({ fullRefresh: { type: 'boolean' } }, ['fullRefresh']) },
    },
    syncAction((p, c, t, req) =>
      triggerSync(deps, p, c, t, (req.body as { fullRefresh: boolean }).fullRefresh),
    ),
  );

  app.get<{ Querystring: { syncId?: string } }>(
    '/runs',
    { schema: { querystring: body({ syncId: ID }) } },
    async (req) => consoleRuns(deps, session(req).projectId, req.query.syncId),
  );
  app.get<{ Params: { runId: string } }>(
    '/runs/:runId',
    { schema: { params: params('runId') } },
    async (req) => consoleRun(deps, session(req).projectId, req.params.runId),
  );

  app.get('/webhooks', async (req) => {
    const { projectId } = session(req);
    const endpoints = await listWebhookEndpoints(deps, projectId);
    return Promise.all(
      endpoints.map(async (endpoint) => ({
        ...endpoint,
        deliveries: (await listWebhookDeliveries(deps, projectId, endpoint.id)).slice(0, 50),
      })),
    );
  });
  app.post<{ Params: { endpointId: string; eventId: string } }>(
    '/webhooks/:endpointId/events/:eventId/resend',
    { schema: { params: params('endpointId', 'eventId'), body: { anyOf: [{ type: 'null' }, body({})] } } },
    async (req, reply) => {
      await resendWebhookEvent(deps, session(req).projectId, req.params.endpointId, req.params.eventId);
      return reply.code(202).send({ resent: true });
    },
  );

  app.get('/provider-apps', async (req) =>
    (await listProviderApps(deps, session(req).projectId)).map((a) => ({
      id: a.id,
      providerName: a.providerName,
      category: a.category,
      authType: a.authType,
      clientId: a.clientId,
      hasClientSecret: a.hasClientSecret,
      scopes: a.scopes,
      isDefault: a.isDefault,
      createdAt: a.createdAt,
    })),
  );
  // A destination's config is its non-secret part only (passwords and keys are sealed apart).
  app.get('/destinations', async (req) =>
    (await listDestinations(deps, session(req).projectId)).map((d) => ({
      id: d.id,
      name: d.name,
      type: d.type,
      config: d.config,
      createdAt: d.createdAt,
    })),
  );
  app.get('/integrations', async (req) =>
    (await listIntegrations(deps, session(req).projectId)).map((i) => ({
      id: i.id,
      name: i.name,
      providerName: i.providerName,
      revision: i.revision,
      installs: i.installs,
      destinationName: i.destinationName,
      objects: i.read.objects.map((o) => targetName(o.target)),
      writeObjects: i.writeObjects,
      proxyEnabled: i.proxyEnabled,
      updatedAt: i.updatedAt,
    })),
  );

  app.get('/api-keys', async (req) => listApiKeys(deps.db, session(req).projectId));
  app.post<{ Body: { name: string } }>(
    '/api-keys',
    { schema: { body: body({ name: { type: 'string', minLength: 1, maxLength: 100 } }, ['name']) } },
    async (req, reply) => {
      const made = await createApiKey(deps.db, session(req).projectId, req.body.name);
      // The key itself is answered this once, as the command line shows it.
      return reply.code(201).send({ id: made.id, apiKey: made.key });
    },
  );
  app.delete<{ Params: { keyId: string } }>(
    '/api-keys/:keyId',
    { schema: { params: params('keyId') } },
    async (req, reply) => {
      const s = session(req);
      await revokeApiKey(deps.db, req.params.keyId, s.projectId);
      // Revoking the key this session signed in with ends the session too.
      if (req.params.keyId === s.apiKeyId) reply.header('set-cookie', cookie('', 0));
      return reply.code(204).send();
    },
  );
}
