import { createHmac, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RateWindow } from '../core/rate-limit.ts';
import {
  bearer,
  consentPage,
  type ProviderSimulator,
  type SimContext,
  SimHttpError,
  tokenRequest,
} from '../core/server.ts';
import type { SimRecord } from '../core/store.ts';
import { type IssuedTokens, OAuthError } from '../core/tokens.ts';
import { countResults, csvCell, jsonValue, makePlan, type Plan, type Position, scan } from './engine.ts';
import {
  createDefaults,
  DEFINITIONS,
  type FieldDef,
  fieldValue,
  id15Of,
  numberOf,
  OBJECTS,
  ORG_ID,
  objectNamed,
  objectOfId,
  type SalesforceObject,
  SCHEMAS,
  sfDateTime,
  sfId,
  soapType,
  to18,
  toSecond,
  USER,
  USER_ID,
} from './schema.ts';
import { parseDateTime, parseSoql, type Query, SoqlError } from './soql.ts';

/**
 * Salesforce: OAuth 2.0 web server flow (login.salesforce.com and test.salesforce.com share the
 * simulator's origin), identity and userinfo, REST API (query/queryAll with SOQL and query
 * locators, sObject describe, rows, updated/deleted replication, limits, sObject Collections),
 * Bulk API 2.0 query jobs with CSV results, and the org's daily API request limit with the
 * Sforce-Limit-Info header.
 */

const API_VERSION = 'v59.0';
const MINUTE = 60_000;
const DAY = 86_400_000;
const QUERY_BATCH = { min: 200, max: 2000, default: 2000 };
const CURSOR_IDLE_MS = 15 * MINUTE;
const BULK_DEFAULT_MAX_RECORDS = 50_000;
const COLLECTION_MAX = 200;
const DELIMITERS: Record<string, string> = {
  COMMA: ',',
  TAB: '\t',
  PIPE: '|',
  SEMICOLON: ';',
  CARET: '^',
  BACKQUOTE: '`',
};

/** A REST API error answered as Salesforce does: an array of {message, errorCode[, fields]}. */
class SfError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly fields?: string[],
  ) {
    super(message);
  }
}

/** One failure of one record in a write, later shaped as {message, errorCode} or {statusCode, message}. */
interface RecordError {
  code: string;
  message: string;
  fields: string[];
}

const notFound = () => new SfError(404, 'NOT_FOUND', 'The requested resource does not exist');

function sendError(
  reply: FastifyReply,
  status: number,
  errorCode: string,
  message: string,
  fields?: string[],
) {
  return reply.code(status).send([{ message, errorCode, ...(fields ? { fields } : {}) }]);
}

const usage = new WeakMap<SimContext, RateWindow>();

function limitInfo(ctx: SimContext): string {
  const max = ctx.limits.daily_api_requests!;
  const state = usage.get(ctx)?.peek(ctx.provider.account.accountId, max);
  return `api-usage=${state ? max - state.remaining : 0}/${max}`;
}

const idUrl = (ctx: SimContext) => `${ctx.url}/id/${ORG_ID}/${USER_ID}`;

/** Labels of API versions: 59.0 is Winter '24, and each year has three releases. */
function versionLabel(major: number): string {
  const k = major - 59;
  const season = ['Winter', 'Spring', 'Summer'][((k % 3) + 3) % 3]!;
  return `${season} '${24 + Math.floor(k / 3)}`;
}

const schemaOf = (object: SalesforceObject) => SCHEMAS.get(object)!;
const recordUrl = (version: string, object: string, id: string) =>
  `/services/data/${version}/sobjects/${object}/${id}`;

function recordJson(
  ctx: SimContext,
  object: SalesforceObject,
  r: SimRecord,
  fields: FieldDef[],
  version: string,
): Record<string, unknown> {
  const accounts = ctx.store('Account').size;
  const id = fieldValue(object, r, 'Id', accounts) as string;
  const out: Record<string, unknown> = { attributes: { type: object, url: recordUrl(version, object, id) } };
  for (const f of fields) out[f.name] = jsonValue(f, fieldValue(object, r, f.name, accounts));
  return out;
}

function sobjectSummary(object: SalesforceObject, version: string) {
  const s = schemaOf(object);
  const base = `/services/data/${version}/sobjects/${object}`;
  return {
    activateable: false,
    createable: true,
    custom: false,
    customSetting: false,
    deletable: true,
    deprecatedAndHidden: false,
    feedEnabled: true,
    hasSubtypes: false,
    isSubtype: false,
    keyPrefix: s.keyPrefix,
    label: s.label,
    labelPlural: s.labelPlural,
    layoutable: true,
    mergeable: object !== 'Opportunity',
    mruEnabled: true,
    name: object,
    queryable: true,
    replicateable: true,
    retrieveable: true,
    searchable: true,
    triggerable: true,
    undeletable: true,
    updateable: true,
    urls: {
      compactLayouts: `${base}/describe/compactLayouts`,
      rowTemplate: `${base}/{ID}`,
      approvalLayouts: `${base}/describe/approvalLayouts`,
      describe: `${base}/describe`,
      quickActions: `${base}/quickActions`,
      layouts: `${base}/describe/layouts`,
      sobject: base,
    },
  };
}

function fieldDescribe(f: FieldDef) {
  const length = f.type === 'id' || f.type === 'reference' ? 18 : (f.length ?? 0);
  const numeric = ['int', 'double', 'currency', 'percent'].includes(f.type);
  return {
    aggregatable: f.type !== 'textarea',
    autoNumber: false,
    byteLength: numeric || ['boolean', 'date', 'datetime'].includes(f.type) ? 0 : length * 3,
    calculated: Boolean(f.calculated),
    caseSensitive: false,
    createable: f.createable,
    custom: false,
    defaultValue: f.type === 'boolean' ? false : null,
    defaultedOnCreate: Boolean(f.defaultedOnCreate),
    dependentPicklist: false,
    digits: f.type === 'int' ? (f.precision ?? 0) : 0,
    externalId: false,
    filterable: true,
    groupable: !['double', 'currency', 'percent', 'datetime', 'textarea'].includes(f.type),
    idLookup: Boolean(f.idLookup),
    label: f.label,
    length: numeric || ['boolean', 'date', 'datetime'].includes(f.type) ? 0 : length,
    name: f.name,
    nameField: f.name === 'Name',
    nillable: f.nillable,
    permissionable: f.nillable && (f.createable || f.updateable),
    picklistValues: (f.picklist ?? []).map((value, i) => ({
      active: true,
      defaultValue: f.defaultedOnCreate === true && i === 0,
      label: value,
      validFor: null,
      value,
    })),
    precision: f.type === 'int' ? 0 : (f.precision ?? 0),
    referenceTo: f.referenceTo ?? [],
    relationshipName: f.relationshipName ?? null,
    restrictedPicklist: false,
    scale: f.scale ?? 0,
    soapType: soapType(f.type),
    sortable: f.type !== 'textarea',
    type: f.type,
    unique: false,
    updateable: f.updateable,
  };
}

/**
 * Validates the fields of a create or update body against the object's describe, converting them
 * to stored values; returns the errors Salesforce would report instead when there are any.
 */
function writeFields(
  object: SalesforceObject,
  body: unknown,
  mode: 'create' | 'update',
  ignore: string[] = [],
): { fields: Record<string, unknown> } | { errors: RecordError[] } {
  const s = schemaOf(object);
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return {
      errors: [
        {
          code: 'JSON_PARSER_ERROR',
          message: 'The request body is either invalid or incomplete.',
          fields: [],
        },
      ],
    };
  }
  const fields: Record<string, unknown> = {};
  const errors: RecordError[] = [];
  const readOnly: string[] = [];
  for (const [key, raw] of Object.entries(body as Record<string, unknown>)) {
    if (key === 'attributes' || ignore.includes(key)) continue;
    const f = s.byLowerName.get(key.toLowerCase());
    if (!f) {
      errors.push({
        code: 'INVALID_FIELD',
        message: `No such column '${key}' on sobject of type ${object}`,
        fields: [],
      });
      continue;
    }
    if (!(mode === 'create' ? f.createable : f.updateable)) {
      readOnly.push(f.name);
      continue;
    }
    const wrong = () =>
      errors.push({
        code: 'INVALID_TYPE_ON_FIELD_IN_RECORD',
        message: `${f.label}: value not of required type: ${typeof raw === 'object' ? JSON.stringify(raw) : String(raw)}`,
        fields: [f.name],
      });
    if (raw === null || raw === '') {
      fields[f.name] = null;
      continue;
    }
    switch (f.type) {
      case 'boolean':
        if (typeof raw === 'boolean') fields[f.name] = raw;
        else if (raw === 'true' || raw === 'false') fields[f.name] = raw === 'true';
        else wrong();
        break;
      case 'int':
      case 'double':
      case 'currency':
      case 'percent': {
        const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : Number.NaN;
        if (!Number.isFinite(n) || (f.type === 'int' && !Number.isInteger(n))) wrong();
        else fields[f.name] = n;
        break;
      }
      case 'date':
        if (typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(raw) && !Number.isNaN(Date.parse(raw))) {
          fields[f.name] = raw;
        } else wrong();
        break;
      case 'reference': {
        const target =
          f.referenceTo?.[0] === 'User' ? '005' : schemaOf(f.referenceTo![0] as SalesforceObject).keyPrefix;
        const id = typeof raw === 'string' ? id15Of(raw) : undefined;
        if (!id || !id.startsWith(target)) {
          errors.push({
            code: 'MALFORMED_ID',
            message: `${f.label}: id value of incorrect type: ${String(raw)}`,
            fields: [f.name],
          });
        } else fields[f.name] = to18(id);
        break;
      }
      default: {
        if (typeof raw === 'object') {
          wrong();
          break;
        }
        const text = String(raw);
        if (f.length && text.length > f.length) {
          errors.push({
            code: 'STRING_TOO_LONG',
            message: `${f.label}: data value too large: ${text.slice(0, 40)} (max length=${f.length})`,
            fields: [f.name],
          });
        } else if (f.type === 'email' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(text)) {
          errors.push({
            code: 'INVALID_EMAIL_ADDRESS',
            message: `${f.label}: invalid email address: ${text}`,
            fields: [f.name],
          });
        } else fields[f.name] = text;
      }
    }
  }
  if (readOnly.length > 0) {
    errors.push({
      code: 'INVALID_FIELD_FOR_INSERT_UPDATE',
      message: `Unable to create/update fields: ${readOnly.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
      fields: readOnly,
    });
  }
  const missing = s.required.filter((name) =>
    mode === 'create'
      ? fields[name] === undefined || fields[name] === null
      : name in fields && fields[name] === null,
  );
  if (missing.length > 0) {
    errors.push({
      code: 'REQUIRED_FIELD_MISSING',
      message: `Required fields are missing: [${missing.join(', ')}]`,
      fields: missing,
    });
  }
  return errors.length > 0 ? { errors } : { fields };
}

interface Cursor {
  id: string;
  plan: Plan;
  total: number;
  batch: number;
  positions: Map<number, Position>;
  lastUsed: number;
}

type JobState = 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Aborted';

interface BulkJob {
  id: string;
  operation: 'query' | 'queryAll';
  object: SalesforceObject;
  apiVersion: number;
  createdAt: number;
  processingMs: number;
  abortedAt?: number;
  plan: Plan;
  total: number;
  lineEnding: 'LF' | 'CRLF';
  columnDelimiter: string;
  positions: Map<number, Position>;
}

function registerRoutes(app: FastifyInstance, ctx: SimContext) {
  const org = ctx.provider.account.accountId;
  const daily = new RateWindow(ctx.clock, DAY);
  const bulkJobsToday = new RateWindow(ctx.clock, DAY);
  usage.set(ctx, daily);
  const startedAt = ctx.clock.now();
  const cursors = new Map<string, Cursor>();
  const jobs = new Map<string, BulkJob>();
  let cursorCount = 0;
  let jobCount = 0;

  const accounts = () => ctx.store('Account').size;
  const planFor = (query: Query, includeDeleted: boolean) =>
    makePlan(query, ctx.store(query.object), includeDeleted, accounts, (id15) =>
      numberOf(schemaOf(query.object).keyPrefix, id15),
    );

  /** Authenticates an API request and counts it against the daily limit; answers and returns true when refused. */
  const refuse = (req: FastifyRequest, reply: FastifyReply): boolean => {
    const auth = req.headers.authorization;
    const token = bearer(req) ?? (auth?.startsWith('OAuth ') ? auth.slice(6) : undefined);
    if (ctx.tokens.check(token) !== 'ok') {
      sendError(reply, 401, 'INVALID_SESSION_ID', 'Session expired or invalid');
      return true;
    }
    const day = daily.take(org, ctx.limits.daily_api_requests!);
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

  type Handler = (req: FastifyRequest, reply: FastifyReply, version: string) => unknown;

  app.setNotFoundHandler((req, reply) => {
    if (req.url.startsWith('/services/')) {
      return sendError(reply, 404, 'NOT_FOUND', 'The requested resource does not exist');
    }
    return reply.code(404).send({ error: `no route for ${req.method} ${req.url.split('?')[0]}` });
  });

  // ---- OAuth 2.0, identity ----------------------------------------------------------------

  app.get('/services/oauth2/authorize', async (req, reply) => consentPage(ctx, req, reply, 'Salesforce'));

  app.post('/services/oauth2/token', async (req, reply) => {
    const f = tokenRequest(req);
    const fail = (error: string, description: string) =>
      reply.code(400).send({ error, error_description: description });
    if (f.grant_type !== 'authorization_code' && f.grant_type !== 'refresh_token') {
      return fail('unsupported_grant_type', 'grant type not supported');
    }
    if (!f.client_id || !ctx.tokens.clients.has(f.client_id)) {
      return fail('invalid_client_id', 'client identifier invalid');
    }
    if (ctx.tokens.clients.get(f.client_id) !== f.client_secret) {
      return fail('invalid_client', 'invalid client credentials');
    }
    let tokens: IssuedTokens;
    try {
      if (f.grant_type === 'authorization_code') {
        if (!f.code) return fail('invalid_grant', 'authentication failure');
        tokens = ctx.tokens.exchangeCode({
          code: f.code,
          clientId: f.client_id,
          redirectUri: f.redirect_uri,
          codeVerifier: f.code_verifier,
        });
      } else {
        if (!f.refresh_token) return fail('invalid_grant', 'expired access/refresh token');
        tokens = ctx.tokens.refresh({ refreshToken: f.refresh_token, clientId: f.client_id });
      }
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      if (err.description.startsWith('redirect_uri')) {
        return fail('redirect_uri_mismatch', 'redirect_uri must match configuration');
      }
      if (err.description.includes('code_verifier')) return fail('invalid_grant', 'invalid code verifier');
      if (f.grant_type === 'refresh_token') return fail('invalid_grant', 'expired access/refresh token');
      return fail('invalid_grant', 'authentication failure');
    }
    const body = ctx.provider.tokenResponse(ctx, tokens);
    // A refresh answers only an access token, unless the connected app rotates refresh tokens.
    if (f.grant_type === 'refresh_token' && !ctx.faults.current.rotate_refresh_tokens)
      delete body.refresh_token;
    return reply.header('cache-control', 'no-cache, no-store').send(body);
  });

  const revoke = async (req: FastifyRequest, reply: FastifyReply) => {
    const token = tokenRequest(req).token ?? (req.query as Record<string, string | undefined>).token ?? '';
    if (ctx.tokens.revokeRefreshToken(token) || ctx.tokens.infoFor(token)) return reply.code(200).send();
    return reply
      .code(400)
      .send({ error: 'unsupported_token_type', error_description: 'this token type is not supported' });
  };
  app.post('/services/oauth2/revoke', revoke);
  app.get('/services/oauth2/revoke', revoke);

  const identity = () => {
    const base = ctx.url;
    const org15 = ORG_ID.slice(0, 15);
    const urls = {
      enterprise: `${base}/services/Soap/c/{version}/${org15}`,
      metadata: `${base}/services/Soap/m/{version}/${org15}`,
      partner: `${base}/services/Soap/u/{version}/${org15}`,
      rest: `${base}/services/data/v{version}/`,
      sobjects: `${base}/services/data/v{version}/sobjects/`,
      search: `${base}/services/data/v{version}/search/`,
      query: `${base}/services/data/v{version}/query/`,
      recent: `${base}/services/data/v{version}/recent/`,
      tooling_soap: `${base}/services/Soap/T/{version}/${org15}`,
      tooling_rest: `${base}/services/data/v{version}/tooling/`,
      profile: `${base}/${USER_ID}`,
      feeds: `${base}/services/data/v{version}/chatter/feeds`,
      groups: `${base}/services/data/v{version}/chatter/groups`,
      users: `${base}/services/data/v{version}/chatter/users`,
      feed_items: `${base}/services/data/v{version}/chatter/feed-items`,
      custom_domain: base,
    };
    return { urls, updated: sfDateTime(startedAt - 30 * DAY) };
  };
  const identityToken = (req: FastifyRequest) =>
    bearer(req) ?? (req.query as Record<string, string | undefined>).oauth_token;

  app.get<{ Params: { orgId: string; userId: string } }>('/id/:orgId/:userId', async (req, reply) => {
    if (ctx.tokens.check(identityToken(req)) !== 'ok') {
      return reply.code(403).type('text/plain').send('Bad_OAuth_Token');
    }
    if (
      id15Of(req.params.orgId) !== ORG_ID.slice(0, 15) ||
      id15Of(req.params.userId) !== USER_ID.slice(0, 15)
    ) {
      return reply.code(403).type('text/plain').send('Bad_Id');
    }
    const { urls, updated } = identity();
    return {
      id: idUrl(ctx),
      asserted_user: true,
      user_id: USER_ID,
      organization_id: ORG_ID,
      username: USER.username,
      nick_name: 'sim.admin',
      display_name: `${USER.firstName} ${USER.lastName}`,
      email: USER.email,
      email_verified: true,
      first_name: USER.firstName,
      last_name: USER.lastName,
      timezone: 'America/Los_Angeles',
      photos: { picture: `${ctx.url}/profilephoto/005/F`, thumbnail: `${ctx.url}/profilephoto/005/T` },
      addr_street: null,
      addr_city: null,
      addr_state: null,
      addr_country: 'US',
      addr_zip: null,
      mobile_phone: null,
      mobile_phone_verified: false,
      is_lightning_login_user: false,
      status: { created_date: null, body: null },
      urls,
      active: true,
      user_type: 'STANDARD',
      language: 'en_US',
      locale: 'en_US',
      utcOffset: -28_800_000,
      last_modified_date: updated,
      is_app_installed: true,
    };
  });

  const userinfo = async (req: FastifyRequest, reply: FastifyReply) => {
    if (ctx.tokens.check(identityToken(req)) !== 'ok') {
      return reply.code(403).type('text/plain').send('Bad_OAuth_Token');
    }
    const { urls, updated } = identity();
    return {
      sub: idUrl(ctx),
      user_id: USER_ID,
      organization_id: ORG_ID,
      preferred_username: USER.username,
      nickname: 'sim.admin',
      name: `${USER.firstName} ${USER.lastName}`,
      email: USER.email,
      email_verified: true,
      given_name: USER.firstName,
      family_name: USER.lastName,
      zoneinfo: 'America/Los_Angeles',
      photos: { picture: `${ctx.url}/profilephoto/005/F`, thumbnail: `${ctx.url}/profilephoto/005/T` },
      profile: `${ctx.url}/${USER_ID}`,
      picture: `${ctx.url}/profilephoto/005/F`,
      address: { country: 'US' },
      is_salesforce_integration_user: false,
      urls,
      active: true,
      user_type: 'STANDARD',
      language: 'en_US',
      locale: 'en_US',
      utcOffset: -28_800_000,
      updated_at: updated.replace('.000+0000', 'Z'),
      is_app_installed: true,
    };
  };
  app.get('/services/oauth2/userinfo', userinfo);
  app.post('/services/oauth2/userinfo', userinfo);

  // ---- REST API ----------------------------------------------------------------------------

  const versions = async () =>
    Array.from({ length: 62 - 31 + 1 }, (_, k) => {
      const version = `${31 + k}.0`;
      return { label: versionLabel(31 + k), url: `/services/data/v${version}`, version };
    });
  app.get('/services/data', versions);
  app.get('/services/data/', versions);

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

    /** Registers an authenticated API route under /services/data/vXX.X, with and without a trailing slash. */
    const route = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, handler: Handler) => {
      for (const url of [`/services/data/:version${path}`, `/services/data/:version${path}/`]) {
        api.route({
          method,
          url,
          handler: async (req, reply) => {
            if (refuse(req, reply)) return reply;
            return handler(req, reply, (req.params as { version: string }).version);
          },
        });
      }
    };
    const query = (req: FastifyRequest) => req.query as Record<string, string | undefined>;
    const param = (req: FastifyRequest, name: string) => (req.params as Record<string, string>)[name]!;
    const objectParam = (req: FastifyRequest): SalesforceObject => {
      const object = objectNamed(param(req, 'object'));
      if (!object) throw notFound();
      return object;
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

    route('GET', '/limits', () => {
      const api = daily.peek(org, ctx.limits.daily_api_requests!);
      const bulk = bulkJobsToday.peek(org, ctx.limits.daily_bulk_v2_query_jobs!);
      return {
        ConcurrentAsyncGetReportInstances: { Max: 200, Remaining: 200 },
        ConcurrentSyncReportRuns: { Max: 20, Remaining: 20 },
        DailyApiRequests: { Max: api.limit, Remaining: api.remaining },
        DailyAsyncApexExecutions: { Max: 250_000, Remaining: 250_000 },
        DailyBulkApiBatches: { Max: 15_000, Remaining: 15_000 },
        DailyBulkV2QueryFileStorageMB: { Max: 976_562, Remaining: 976_562 },
        DailyBulkV2QueryJobs: { Max: bulk.limit, Remaining: bulk.remaining },
        DataStorageMB: { Max: 5, Remaining: 5 },
        FileStorageMB: { Max: 20, Remaining: 20 },
        HourlyTimeBasedWorkflow: { Max: 50, Remaining: 50 },
        SingleEmail: { Max: 15, Remaining: 15 },
      };
    });

    route('GET', '/sobjects', (_req, _reply, v) => ({
      encoding: 'UTF-8',
      maxBatchSize: 200,
      sobjects: OBJECTS.map((o) => sobjectSummary(o, v)),
    }));

    route('GET', '/sobjects/:object', (req, _reply, v) => {
      const object = objectParam(req);
      return { objectDescribe: sobjectSummary(object, v), recentItems: [] };
    });

    route('GET', '/sobjects/:object/describe', (req, _reply, v) => {
      const object = objectParam(req);
      const s = schemaOf(object);
      const children =
        object === 'Account'
          ? [
              { childSObject: 'Contact', field: 'AccountId', relationshipName: 'Contacts' },
              { childSObject: 'Opportunity', field: 'AccountId', relationshipName: 'Opportunities' },
            ]
          : [];
      return {
        ...sobjectSummary(object, v),
        actionOverrides: [],
        childRelationships: children.map((c) => ({
          cascadeDelete: false,
          deprecatedAndHidden: false,
          junctionIdListNames: [],
          junctionReferenceTo: [],
          restrictedDelete: false,
          ...c,
        })),
        compactLayoutable: true,
        fields: s.fields.map(fieldDescribe),
        listviewable: null,
        lookupLayoutable: null,
        namedLayoutInfos: [],
        networkScopeFieldName: null,
        recordTypeInfos: [
          {
            active: true,
            available: true,
            defaultRecordTypeMapping: true,
            developerName: 'Master',
            master: true,
            name: 'Master',
            recordTypeId: '012000000000000AAA',
            urls: { layout: `/services/data/${v}/sobjects/${object}/describe/layouts/012000000000000AAA` },
          },
        ],
        searchLayoutable: true,
        supportedScopes: [
          { label: 'All', name: 'everything' },
          { label: `My ${s.labelPlural.toLowerCase()}`, name: 'mine' },
        ],
      };
    });

    /** Replication windows: whole minutes, start within `days` days, end not after now. */
    const replicationWindow = (req: FastifyRequest, days: number) => {
      const q = query(req);
      if (!q.start || !q.end) throw new SfError(400, 'MISSING_ARGUMENT', 'start and end are required');
      const parse = (s: string) => parseDateTime(s.replace(/ (\d{2}:?\d{2})$/, '+$1')) ?? Date.parse(s);
      const start = parse(q.start);
      const end = parse(q.end);
      if (Number.isNaN(start) || Number.isNaN(end)) {
        throw new SfError(400, 'INVALID_REPLICATION_DATE', 'start and end must be ISO-8601 dateTimes');
      }
      const now = ctx.clock.now();
      const from = Math.floor(start / MINUTE) * MINUTE;
      const to = Math.floor(end / MINUTE) * MINUTE;
      if (to < from) throw new SfError(400, 'INVALID_REPLICATION_DATE', 'EndDate before StartDate');
      if (from < now - days * DAY) {
        throw new SfError(400, 'INVALID_REPLICATION_DATE', `startDate cannot be more than ${days} days ago`);
      }
      return { from, covered: Math.min(to, Math.floor(now / MINUTE) * MINUTE) };
    };

    route('GET', '/sobjects/:object/updated', (req) => {
      const object = objectParam(req);
      const { from, covered } = replicationWindow(req, 30);
      const ids: string[] = [];
      for (const r of ctx.store(object).byModified({ updatedAt: from - 1, seq: Number.MAX_SAFE_INTEGER })) {
        if (r.updatedAt < from || r.updatedAt >= covered || r.deleted) continue;
        if (ids.length === 600_000) {
          throw new SfError(
            400,
            'EXCEEDED_ID_LIMIT',
            'too many ids: choose start and end dates closer together',
          );
        }
        ids.push(sfId(schemaOf(object).keyPrefix, r.seq));
      }
      return { ids, latestDateCovered: sfDateTime(covered) };
    });

    route('GET', '/sobjects/:object/deleted', (req) => {
      const object = objectParam(req);
      const { from, covered } = replicationWindow(req, 15);
      const deletedRecords: { id: string; deletedDate: string }[] = [];
      for (const r of ctx
        .store(object)
        .byModified({ updatedAt: from - 1, seq: Number.MAX_SAFE_INTEGER }, true)) {
        if (!r.deleted || r.deletedAt === undefined || r.deletedAt < from || r.deletedAt >= covered) continue;
        if (deletedRecords.length === 600_000) {
          throw new SfError(
            400,
            'EXCEEDED_ID_LIMIT',
            'too many ids: choose start and end dates closer together',
          );
        }
        deletedRecords.push({
          id: sfId(schemaOf(object).keyPrefix, r.seq),
          deletedDate: sfDateTime(toSecond(r.deletedAt)),
        });
      }
      return {
        deletedRecords,
        earliestDateAvailable: sfDateTime(Math.floor(startedAt / MINUTE) * MINUTE),
        latestDateCovered: sfDateTime(covered),
      };
    });

    /** The live record an id names: 404 NOT_FOUND or ENTITY_IS_DELETED otherwise. */
    const liveRecord = (object: SalesforceObject, id: string): SimRecord => {
      const n = numberOf(schemaOf(object).keyPrefix, id);
      if (n === undefined) {
        throw new SfError(
          404,
          'NOT_FOUND',
          `Provided external ID field does not exist or is not accessible: ${id}`,
        );
      }
      const r = ctx.store(object).get(n);
      if (!r) throw notFound();
      if (r.deleted) throw new SfError(404, 'ENTITY_IS_DELETED', 'entity is deleted', []);
      return r;
    };
    const selectFields = (object: SalesforceObject, list: string | undefined): FieldDef[] => {
      const s = schemaOf(object);
      if (!list) return s.fields;
      return list
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean)
        .map((name) => {
          const f = s.byLowerName.get(name.toLowerCase());
          if (!f)
            throw new SfError(400, 'INVALID_FIELD', `No such column '${name}' on sobject of type ${object}`);
          return f;
        });
    };
    route('POST', '/sobjects/:object', (req, reply) => {
      const object = objectParam(req);
      const body = req.body as Record<string, unknown> | undefined;
      if (body && typeof body === 'object' && ('Id' in body || 'id' in body)) {
        throw new SfError(400, 'INVALID_FIELD_FOR_INSERT_UPDATE', 'cannot specify Id in an insert call', [
          'Id',
        ]);
      }
      const w = writeFields(object, body, 'create');
      if ('errors' in w) {
        return reply
          .code(400)
          .send(w.errors.map((e) => ({ message: e.message, errorCode: e.code, fields: e.fields })));
      }
      const r = ctx.store(object).create(createDefaults(object, w.fields));
      return reply.code(201).send({ id: sfId(schemaOf(object).keyPrefix, r.seq), success: true, errors: [] });
    });

    route('GET', '/sobjects/:object/:id', (req, _reply, v) => {
      const object = objectParam(req);
      const r = liveRecord(object, param(req, 'id'));
      return recordJson(ctx, object, r, selectFields(object, query(req).fields), v);
    });

    route('PATCH', '/sobjects/:object/:id', (req, reply) => {
      const object = objectParam(req);
      const r = liveRecord(object, param(req, 'id'));
      const w = writeFields(object, req.body, 'update', ['Id', 'id']);
      if ('errors' in w) {
        return reply
          .code(400)
          .send(w.errors.map((e) => ({ message: e.message, errorCode: e.code, fields: e.fields })));
      }
      ctx.store(object).update(r.seq, w.fields);
      return reply.code(204).send();
    });

    route('DELETE', '/sobjects/:object/:id', (req, reply) => {
      const object = objectParam(req);
      const r = liveRecord(object, param(req, 'id'));
      ctx.store(object).delete(r.seq);
      return reply.code(204).send();
    });

    // ---- SOQL query / queryAll with query locators ----

    const batchSizeOf = (req: FastifyRequest, fallback: number) => {
      const header = req.headers['sforce-query-options'];
      const m = /batchSize\s*=\s*(\d+)/i.exec(String(header ?? ''));
      if (!m) return fallback;
      return Math.min(QUERY_BATCH.max, Math.max(QUERY_BATCH.min, Number(m[1])));
    };

    const sweepCursors = () => {
      const now = ctx.clock.now();
      for (const [id, c] of cursors) if (now - c.lastUsed > CURSOR_IDLE_MS) cursors.delete(id);
      // A user has at most this many open query cursors; opening another releases the oldest.
      while (cursors.size > ctx.limits.open_query_cursors!) cursors.delete(cursors.keys().next().value!);
    };

    const page = (cursor: Cursor, offset: number, batch: number, version: string) => {
      let start = offset === 0 ? undefined : cursor.positions.get(offset);
      let skip = 0;
      if (offset > 0 && !start) {
        let known = 0;
        for (const k of cursor.positions.keys()) if (k < offset && k > known) known = k;
        start = cursor.positions.get(known);
        skip = offset - known;
      }
      const want = Math.max(0, Math.min(batch, cursor.total - offset));
      const object = cursor.plan.query.object;
      const records: Record<string, unknown>[] = [];
      let last: Position | undefined;
      let exhausted = true;
      if (want > 0) {
        for (const [r, pos] of scan(cursor.plan, start)) {
          if (skip > 0) {
            skip--;
            continue;
          }
          records.push(recordJson(ctx, object, r, cursor.plan.query.fields, version));
          last = pos;
          if (records.length === want) {
            exhausted = false;
            break;
          }
        }
      }
      const next = offset + records.length;
      const done = exhausted || next >= cursor.total;
      if (done) cursors.delete(cursor.id);
      else if (last) {
        cursor.positions.set(next, last);
        cursor.lastUsed = ctx.clock.now();
      }
      return {
        totalSize: cursor.total,
        done,
        ...(done ? {} : { nextRecordsUrl: `/services/data/${version}/query/${cursor.id}-${next}` }),
        records,
      };
    };

    const runQuery = (includeDeleted: boolean) => (req: FastifyRequest, _reply: FastifyReply, v: string) => {
      const q = query(req).q;
      if (!q?.trim()) throw new SfError(400, 'MALFORMED_QUERY', 'A query string has to be specified');
      const plan = planFor(parseSoql(q), includeDeleted);
      if (plan.query.count) return { totalSize: countResults(plan), done: true, records: [] };
      const cursor: Cursor = {
        id: sfId('01g', ++cursorCount),
        plan,
        total: countResults(plan),
        batch: batchSizeOf(req, QUERY_BATCH.default),
        positions: new Map(),
        lastUsed: ctx.clock.now(),
      };
      cursors.set(cursor.id, cursor);
      sweepCursors();
      return page(cursor, 0, cursor.batch, v);
    };
    const queryMore = (req: FastifyRequest, _reply: FastifyReply, v: string) => {
      const m = /^([a-zA-Z0-9]{15,18})-(\d+)$/.exec(param(req, 'locator'));
      sweepCursors();
      const cursor = m ? cursors.get(m[1]!) : undefined;
      const offset = Number(m?.[2]);
      if (!cursor || offset > cursor.total) {
        throw new SfError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
      }
      return page(cursor, offset, batchSizeOf(req, cursor.batch), v);
    };
    route('GET', '/query', runQuery(false));
    route('GET', '/queryAll', runQuery(true));
    route('GET', '/query/:locator', queryMore);
    route('GET', '/queryAll/:locator', queryMore);

    // ---- sObject Collections ----

    type Result = {
      id?: string;
      success: boolean;
      errors: { statusCode: string; message: string; fields: string[] }[];
    };
    const failure = (errors: RecordError[]): Result => ({
      success: false,
      errors: errors.map((e) => ({ statusCode: e.code, message: e.message, fields: e.fields })),
    });
    const rolledBack = failure([
      {
        code: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
        message:
          'Record rolled back because not all records were valid and the request was using AllOrNone header',
        fields: [],
      },
    ]);
    const collection = (body: unknown) => {
      const b = (body ?? {}) as { allOrNone?: unknown; records?: unknown };
      if (!Array.isArray(b.records)) throw new SfError(400, 'JSON_PARSER_ERROR', 'records is required');
      if (b.records.length > COLLECTION_MAX) {
        throw new SfError(
          400,
          'EXCEEDED_ID_LIMIT',
          `record limit reached. cannot submit more than ${COLLECTION_MAX} records into this call`,
        );
      }
      return {
        allOrNone: b.allOrNone === true || b.allOrNone === 'true',
        records: b.records as Record<string, unknown>[],
      };
    };
    /** Runs validated operations all or none: `prepared` holds either errors or the write to apply. */
    const finish = (
      allOrNone: boolean,
      prepared: ({ errors: RecordError[] } | { apply: () => string })[],
    ) => {
      const failed = prepared.some((p) => 'errors' in p);
      return prepared.map((p): Result => {
        if ('errors' in p) return failure(p.errors);
        if (allOrNone && failed) return rolledBack;
        return { id: p.apply(), success: true, errors: [] };
      });
    };
    type Failed = { errors: RecordError[] };
    const typeOf = (rec: Record<string, unknown>): { object: SalesforceObject } | Failed => {
      const type = (rec?.attributes as { type?: unknown } | undefined)?.type;
      const object = typeof type === 'string' ? objectNamed(type) : undefined;
      return object
        ? { object }
        : {
            errors: [
              {
                code: 'INVALID_TYPE',
                message: type
                  ? `sObject type '${String(type)}' is not supported.`
                  : 'Must send a concrete entity type.',
                fields: [],
              },
            ],
          };
    };
    /** A record an id names for an update or delete, or why there is none. */
    const target = (
      id: unknown,
      expected?: SalesforceObject,
    ): { object: SalesforceObject; r: SimRecord } | Failed => {
      const text = typeof id === 'string' ? id : '';
      const object = objectOfId(text);
      if (!text)
        return {
          errors: [
            { code: 'MISSING_ARGUMENT', message: 'Id not specified in an update call', fields: ['Id'] },
          ],
        };
      if (!object || (expected && object !== expected)) {
        return { errors: [{ code: 'MALFORMED_ID', message: `malformed id ${text}`, fields: ['Id'] }] };
      }
      const r = ctx.store(object).get(numberOf(schemaOf(object).keyPrefix, text)!);
      if (!r)
        return {
          errors: [
            { code: 'INVALID_CROSS_REFERENCE_KEY', message: 'invalid cross reference id', fields: [] },
          ],
        };
      if (r.deleted)
        return { errors: [{ code: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }] };
      return { object, r };
    };

    route('POST', '/composite/sobjects', (req) => {
      const { allOrNone, records } = collection(req.body);
      return finish(
        allOrNone,
        records.map((rec) => {
          const t = typeOf(rec);
          if ('errors' in t) return t;
          if (rec && ('Id' in rec || 'id' in rec)) {
            return {
              errors: [
                {
                  code: 'INVALID_FIELD_FOR_INSERT_UPDATE',
                  message: 'cannot specify Id in an insert call',
                  fields: ['Id'],
                },
              ],
            };
          }
          const w = writeFields(t.object, rec, 'create');
          if ('errors' in w) return w;
          return {
            apply: () =>
              sfId(
                schemaOf(t.object).keyPrefix,
                ctx.store(t.object).create(createDefaults(t.object, w.fields)).seq,
              ),
          };
        }),
      );
    });

    route('PATCH', '/composite/sobjects', (req) => {
      const { allOrNone, records } = collection(req.body);
      return finish(
        allOrNone,
        records.map((rec) => {
          const t = typeOf(rec);
          if ('errors' in t) return t;
          const found = target(rec.id ?? rec.Id, t.object);
          if ('errors' in found) return found;
          const w = writeFields(t.object, rec, 'update', ['Id', 'id']);
          if ('errors' in w) return w;
          return {
            apply: () => {
              ctx.store(t.object).update(found.r.seq, w.fields);
              return sfId(schemaOf(t.object).keyPrefix, found.r.seq);
            },
          };
        }),
      );
    });

    route('DELETE', '/composite/sobjects', (req) => {
      const q = query(req);
      const ids = (q.ids ?? '').split(',').filter(Boolean);
      if (ids.length === 0) throw new SfError(400, 'MISSING_ARGUMENT', 'ids is required');
      if (ids.length > COLLECTION_MAX) {
        throw new SfError(
          400,
          'EXCEEDED_ID_LIMIT',
          `record limit reached. cannot submit more than ${COLLECTION_MAX} records into this call`,
        );
      }
      return finish(
        q.allOrNone === 'true',
        ids.map((id) => {
          const found = target(id);
          if ('errors' in found) return found;
          return {
            apply: () => {
              ctx.store(found.object).delete(found.r.seq);
              return sfId(schemaOf(found.object).keyPrefix, found.r.seq);
            },
          };
        }),
      );
    });

    const retrieveMany = (object: SalesforceObject, ids: unknown, fields: unknown, v: string) => {
      const idList = Array.isArray(ids)
        ? ids.map(String)
        : String(ids ?? '')
            .split(',')
            .filter(Boolean);
      const fieldList = Array.isArray(fields) ? fields.join(',') : fields ? String(fields) : '';
      if (idList.length === 0 || !fieldList)
        throw new SfError(400, 'MISSING_ARGUMENT', 'ids and fields are required');
      if (idList.length > 2000)
        throw new SfError(400, 'EXCEEDED_ID_LIMIT', 'cannot retrieve more than 2000 records');
      const selected = selectFields(object, fieldList);
      return idList.map((id) => {
        const n = numberOf(schemaOf(object).keyPrefix, id);
        const r = n === undefined ? undefined : ctx.store(object).get(n);
        return r && !r.deleted ? recordJson(ctx, object, r, selected, v) : null;
      });
    };
    route('GET', '/composite/sobjects/:object', (req, _reply, v) =>
      retrieveMany(objectParam(req), query(req).ids, query(req).fields, v),
    );
    route('POST', '/composite/sobjects/:object', (req, _reply, v) => {
      const body = (req.body ?? {}) as { ids?: unknown; fields?: unknown };
      return retrieveMany(objectParam(req), body.ids, body.fields, v);
    });

    // ---- Bulk API 2.0 query jobs ----

    const stateOf = (job: BulkJob): { state: JobState; since: number } => {
      if (job.abortedAt !== undefined) return { state: 'Aborted', since: job.abortedAt };
      const elapsed = ctx.clock.now() - job.createdAt;
      if (elapsed < 100) return { state: 'UploadComplete', since: job.createdAt };
      if (elapsed < 100 + job.processingMs) return { state: 'InProgress', since: job.createdAt + 100 };
      return { state: 'JobComplete', since: job.createdAt + 100 + job.processingMs };
    };
    const jobInfo = (job: BulkJob, full = true) => {
      const { state, since } = stateOf(job);
      const info: Record<string, unknown> = {
        id: job.id,
        operation: job.operation,
        object: job.object,
        createdById: USER_ID,
        createdDate: sfDateTime(job.createdAt),
        systemModstamp: sfDateTime(since),
        state,
        concurrencyMode: 'Parallel',
        contentType: 'CSV',
        apiVersion: job.apiVersion,
      };
      if (full) info.jobType = 'V2Query';
      info.lineEnding = job.lineEnding;
      info.columnDelimiter = job.columnDelimiter;
      if (full) {
        const complete = state === 'JobComplete';
        info.numberRecordsProcessed = complete ? job.total : 0;
        info.retries = 0;
        info.totalProcessingTime = complete ? job.processingMs : 0;
        info.isPkChunkingSupported = true;
      }
      return info;
    };
    const jobParam = (req: FastifyRequest) => {
      const job = jobs.get(param(req, 'id')) ?? jobs.get(to18(param(req, 'id').slice(0, 15)));
      if (!job) throw notFound();
      return job;
    };

    route('POST', '/jobs/query', (req, _reply, v) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (body.operation !== 'query' && body.operation !== 'queryAll') {
        throw new SfError(
          400,
          'INVALIDJOB',
          `InvalidJob : Invalid operation: ${String(body.operation ?? '')}`,
        );
      }
      if (typeof body.query !== 'string' || !body.query.trim()) {
        throw new SfError(400, 'INVALIDJOB', 'InvalidJob : query is required');
      }
      const columnDelimiter = String(body.columnDelimiter ?? 'COMMA');
      const lineEnding = String(body.lineEnding ?? 'LF');
      if (!(columnDelimiter in DELIMITERS) || (lineEnding !== 'LF' && lineEnding !== 'CRLF')) {
        throw new SfError(400, 'INVALIDJOB', 'InvalidJob : invalid columnDelimiter or lineEnding');
      }
      const parsed = parseSoql(body.query);
      if (parsed.count)
        throw new SfError(
          400,
          'INVALIDJOB',
          'InvalidJob : Aggregate functions such as COUNT() are not supported',
        );
      const allowed = bulkJobsToday.take(org, ctx.limits.daily_bulk_v2_query_jobs!);
      if (!allowed.allowed) {
        throw new SfError(400, 'LIMIT_EXCEEDED', 'Max bulk v2 query jobs per 24 hrs exceeded');
      }
      const plan = planFor(parsed, body.operation === 'queryAll');
      const total = countResults(plan);
      const job: BulkJob = {
        id: sfId('750', ++jobCount),
        operation: body.operation,
        object: parsed.object,
        apiVersion: Number(v.slice(1)),
        createdAt: ctx.clock.now(),
        processingMs: 200 + Math.min(2000, Math.floor(total / 2000)),
        plan,
        total,
        lineEnding,
        columnDelimiter,
        positions: new Map(),
      };
      jobs.set(job.id, job);
      return jobInfo(job, false);
    });

    route('GET', '/jobs/query', () => ({
      done: true,
      records: [...jobs.values()].map((j) => jobInfo(j)),
      nextRecordsUrl: null,
    }));

    route('GET', '/jobs/query/:id', (req) => jobInfo(jobParam(req)));

    route('PATCH', '/jobs/query/:id', (req) => {
      const job = jobParam(req);
      if ((req.body as { state?: unknown } | undefined)?.state !== 'Aborted') {
        throw new SfError(400, 'INVALIDJOBSTATE', 'A query job can only be changed to the Aborted state');
      }
      const { state } = stateOf(job);
      if (state === 'JobComplete' || state === 'Aborted') {
        throw new SfError(400, 'INVALIDJOBSTATE', `Job is already in the ${state} state`);
      }
      job.abortedAt = ctx.clock.now();
      return jobInfo(job);
    });

    route('DELETE', '/jobs/query/:id', (req, reply) => {
      const job = jobParam(req);
      const { state } = stateOf(job);
      if (state === 'UploadComplete' || state === 'InProgress') {
        throw new SfError(400, 'INVALIDJOBSTATE', 'Only a completed or aborted job can be deleted');
      }
      jobs.delete(job.id);
      return reply.code(204).send();
    });

    route('GET', '/jobs/query/:id/results', (req, reply, v) => {
      const job = jobParam(req);
      const { state } = stateOf(job);
      if (state !== 'JobComplete') {
        throw new SfError(
          412,
          'JOB_NOT_COMPLETE',
          `can only download query results of successfully completed bulk job with status: JOB_COMPLETE. Current status: ${state === 'Aborted' ? 'ABORTED' : 'IN_PROGRESS'}`,
        );
      }
      if (Number(v.slice(1)) !== job.apiVersion) {
        throw new SfError(
          409,
          'API_ERROR',
          'Use the API version the query job was created with to get its results',
        );
      }
      const q = query(req);
      let offset = 0;
      if (q.locator) {
        const decoded = Buffer.from(q.locator, 'base64url').toString();
        offset = /^\d+$/.test(decoded) ? Number(decoded) : -1;
        if (offset < 0 || offset > job.total)
          throw new SfError(400, 'INVALIDLOCATOR', `Invalid locator: ${q.locator}`);
      }
      const max = q.maxRecords === undefined ? BULK_DEFAULT_MAX_RECORDS : Number(q.maxRecords);
      if (!Number.isInteger(max) || max < 1)
        throw new SfError(400, 'API_ERROR', `Invalid maxRecords: ${q.maxRecords}`);
      const n = Math.min(max, job.total - offset);
      const next = offset + n;
      reply.headers({
        'content-type': 'text/csv; charset=UTF-8',
        'sforce-locator': next < job.total ? Buffer.from(String(next)).toString('base64url') : 'null',
        'sforce-numberofrecords': String(n),
      });
      return reply.send(Readable.from(csvRows(job, offset, n)));
    });

    /** One set of results, streamed in chunks so that a large set is never one string. */
    function* csvRows(job: BulkJob, offset: number, n: number): Generator<string> {
      const eol = job.lineEnding === 'CRLF' ? '\r\n' : '\n';
      const delimiter = DELIMITERS[job.columnDelimiter]!;
      const fields = job.plan.query.fields;
      yield fields.map((f) => `"${f.name}"`).join(delimiter) + eol;
      let start = offset === 0 ? undefined : job.positions.get(offset);
      let skip = 0;
      if (offset > 0 && !start) {
        let known = 0;
        for (const k of job.positions.keys()) if (k < offset && k > known) known = k;
        start = job.positions.get(known);
        skip = offset - known;
      }
      let chunk: string[] = [];
      let written = 0;
      let last: Position | undefined;
      if (n > 0) {
        for (const [r, pos] of scan(job.plan, start)) {
          if (skip > 0) {
            skip--;
            continue;
          }
          chunk.push(fields.map((f) => csvCell(f, job.plan.value(r, f.name))).join(delimiter));
          last = pos;
          if (chunk.length === 1000) {
            yield chunk.join(eol) + eol;
            chunk = [];
          }
          if (++written === n) break;
        }
      }
      if (chunk.length > 0) yield chunk.join(eol) + eol;
      if (last) job.positions.set(offset + written, last);
    }
  });
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
