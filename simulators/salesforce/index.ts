import { createHmac, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ProviderSimulator, SimContext } from '../core/server.ts';
import { registerBulkQueryRoutes } from './bulk.ts';
import { registerCollectionRoutes } from './collections.ts';
import { sendError } from './errors.ts';
import { registerLimitsRoutes } from './limits.ts';
import { registerOAuthRoutes } from './oauth.ts';
import { createOrgState, idUrl, limitInfo } from './org.ts';
import { registerQueryRoutes } from './query.ts';
import { recordJson } from './records.ts';
import { registerReplicationRoutes } from './replication.ts';
import { registerRestApi } from './rest.ts';
import { DEFINITIONS, numberOf, ORG_ID, type SalesforceObject, SCHEMAS, sfId, USER_ID } from './schema.ts';
import { registerSObjectRoutes } from './sobjects.ts';

/**
 * Salesforce: OAuth 2.0 web server flow (login.salesforce.com and test.salesforce.com share the
 * simulator's origin), identity and userinfo, REST API (query/queryAll with SOQL and query
 * locators, sObject describe, rows, updated/deleted replication, limits, sObject Collections),
 * Bulk API 2.0 query jobs with CSV results, and the org's daily API request limit with the
 * Sforce-Limit-Info header. Each API area registers its own routes; this file composes them.
 */

const API_VERSION = 'v59.0';

function registerRoutes(app: FastifyInstance, ctx: SimContext) {
  const state = createOrgState(ctx);

  app.setNotFoundHandler((req, reply) => {
    if (req.url.startsWith('/services/')) {
      return sendError(reply, 404, 'NOT_FOUND', 'The requested resource does not exist');
    }
    return reply.code(404).send({ error: `no route for ${req.method} ${req.url.split('?')[0]}` });
  });

  registerOAuthRoutes(app, state);
  registerRestApi(app, state, [
    registerLimitsRoutes,
    registerSObjectRoutes,
    registerReplicationRoutes,
    registerQueryRoutes,
    registerCollectionRoutes,
    registerBulkQueryRoutes,
  ]);
}

const DEFAULT_LIMITS = {
  /** DailyApiRequests: Developer Edition's 15,000 per rolling 24 hours. */
  daily_api_requests: 15_000,
  /** DailyBulkV2QueryJobs. */
  daily_bulk_v2_query_jobs: 10_000,
  /** Open query cursors per user; opening one more releases the oldest. */
  open_query_cursors: 10,
};

export const salesforce: ProviderSimulator = {
  name: 'salesforce',
  account: { accountId: ORG_ID, userId: USER_ID },
  limits: DEFAULT_LIMITS,
  objects: DEFINITIONS,
  idOf: (object, seq) => sfId(SCHEMAS.get(object as SalesforceObject)?.keyPrefix ?? '000', seq),
  seqOf: (object, id) => {
    const s = SCHEMAS.get(object as SalesforceObject);
    return s ? numberOf(s.keyPrefix, id) : undefined;
  },
  present: (ctx, object, r) =>
    recordJson(
      ctx,
      object as SalesforceObject,
      r,
      SCHEMAS.get(object as SalesforceObject)!.fields,
      API_VERSION,
    ),
  tokenResponse: (ctx, t) => {
    const issuedAt = String(ctx.clock.now());
    const id = idUrl(ctx);
    const clientId = ctx.tokens.infoFor(t.accessToken)?.clientId;
    const secret = (clientId && ctx.tokens.clients.get(clientId)) || '';
    return {
      access_token: t.accessToken,
      refresh_token: t.refreshToken,
      signature: createHmac('sha256', secret)
        .update(id + issuedAt)
        .digest('base64'),
      scope: t.scopes.length > 0 ? t.scopes.join(' ') : 'api refresh_token',
      instance_url: ctx.url,
      id,
      token_type: 'Bearer',
      issued_at: issuedAt,
    };
  },
  rateLimited: (ctx, reply) =>
    sendError(
      reply.header('Sforce-Limit-Info', limitInfo(ctx)),
      403,
      'REQUEST_LIMIT_EXCEEDED',
      'TotalRequests Limit exceeded.',
    ),
  serverError: (_ctx, reply) =>
    sendError(
      reply,
      500,
      'UNKNOWN_EXCEPTION',
      `An unexpected error occurred. Please include this ErrorId if you contact support: ${randomBytes(5).toString('hex')}-${Math.floor(Math.random() * 90_000) + 10_000} (${-Math.floor(Math.random() * 2 ** 31)})`,
    ),
  faultExempt: ['/services/oauth2/', '/id/'],
  routes: registerRoutes,
};
