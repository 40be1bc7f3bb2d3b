import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { arrivedAt, bearer, SimHttpError } from '../core/server.ts';
import { notFound, SfError, sendError } from './errors.ts';
import { idUrl, type OrgState } from './org.ts';
import { objectNamed, type SalesforceObject } from './schema.ts';
import { SoqlError } from './soql.ts';

/**
 * The frame of the REST API under /services/data: the version list, authentication and the daily
 * API request limit on every call, errors in Salesforce's shape, and the resource directory of a
 * version. Each API area registers its routes through `route`.
 */

export type Handler = (req: FastifyRequest, reply: FastifyReply, version: string) => unknown;
export type RestRoute = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, handler: Handler) => void;
/** One API area: registers its routes under /services/data/vXX.X. */
export type RestArea = (route: RestRoute, state: OrgState) => void;

export const queryParams = (req: FastifyRequest) => req.query as Record<string, string | undefined>;
export const param = (req: FastifyRequest, name: string) => (req.params as Record<string, string>)[name]!;
export const objectParam = (req: FastifyRequest): SalesforceObject => {
  const object = objectNamed(param(req, 'object'));
  if (!object) throw notFound();
  return object;
};

/** Labels of API versions: 59.0 is Winter '24, and each year has three releases. */
function versionLabel(major: number): string {
  const k = major - 59;
  const season = ['Winter', 'Spring', 'Summer'][((k % 3) + 3) % 3]!;
  return `${season} '${24 + Math.floor(k / 3)}`;
}

export function registerRestApi(app: FastifyInstance, state: OrgState, areas: RestArea[]) {
  const { ctx, org, daily } = state;

  /** Authenticates an API request and counts it against the daily limit; answers and returns true when refused. */
  const refuse = (req: FastifyRequest, reply: FastifyReply): boolean => {
    const auth = req.headers.authorization;
    const token = bearer(req) ?? (auth?.startsWith('OAuth ') ? auth.slice(6) : undefined);
    if (ctx.tokens.check(token) !== 'ok') {
      sendError(reply, 401, 'INVALID_SESSION_ID', 'Session expired or invalid');
      return true;
    }
    const day = daily.take(org, ctx.limits.daily_api_requests!, arrivedAt(ctx, req));
    reply.header('Sforce-Limit-Info', `api-usage=${day.limit - day.remaining}/${day.limit}`);
    if (!day.allowed) {
      sendError(reply, 403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.');
      return true;
    }
    const version = (req.params as { version?: string }).version;
    if (version !== undefined && !/^v\d{2,3}\.\d$/.test(version)) {
      sendError(reply, 404, 'NOT_FOUND', 'The requested resource does not exist');
      return true;
    }
    return false;
  };

  const versions = async () =>
    Array.from({ length: 62 - 31 + 1 }, (_, k) => {
      const version = `${31 + k}.0`;
      return { label: versionLabel(31 + k), url: `/services/data/v${version}`, version };
    });
  app.get('/services/data', versions);

  app.register(async (api) => {
    api.setErrorHandler((err, _req, reply) => {
      if (err instanceof SfError) return sendError(reply, err.status, err.errorCode, err.message, err.fields);
      if (err instanceof SoqlError) return sendError(reply, 400, err.errorCode, err.message);
      const e = err as { statusCode?: number; code?: string; message?: string };
      if (e.code?.startsWith('FST_ERR_CTP') && e.statusCode === 415) {
        return sendError(reply, 415, 'UNSUPPORTED_MEDIA_TYPE', e.message ?? 'Unsupported media type');
      }
      if (e.code?.startsWith('FST_ERR_CTP') || e.statusCode === 400) {
        return sendError(
          reply,
          400,
          'JSON_PARSER_ERROR',
          'The request body is either invalid or incomplete.',
        );
      }
      if (err instanceof SimHttpError) return sendError(reply, err.statusCode, 'NOT_FOUND', err.message);
      return sendError(
        reply,
        500,
        'UNKNOWN_EXCEPTION',
        `An unexpected error occurred. Please include this ErrorId if you contact support: ${randomBytes(6).toString('hex')} (${e.message ?? 'error'})`,
      );
    });

    /** Registers an authenticated API route under /services/data/vXX.X (a trailing slash is the server's). */
    const route: RestRoute = (method, path, handler) => {
      api.route({
        method,
        url: `/services/data/:version${path}`,
        handler: async (req, reply) => {
          if (refuse(req, reply)) return reply;
          return handler(req, reply, (req.params as { version: string }).version);
        },
      });
    };

    route('GET', '', (_req, _reply, v) => {
      const base = `/services/data/${v}`;
      return {
        tooling: `${base}/tooling`,
        metadata: `${base}/metadata`,
        composite: `${base}/composite`,
        'jobs/query': `${base}/jobs/query`,
        query: `${base}/query`,
        queryAll: `${base}/queryAll`,
        search: `${base}/search`,
        recent: `${base}/recent`,
        sobjects: `${base}/sobjects`,
        limits: `${base}/limits`,
        identity: idUrl(ctx),
      };
    });

    for (const registerArea of areas) registerArea(route, state);
  });
}
