import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fakeCompany, fakePerson, hashUnit } from '../core/random.ts';
import { RateWindow } from '../core/rate-limit.ts';
import {
  arrivedAt,
  bearer,
  consentPage,
  handleTokenRequest,
  type ProviderSimulator,
  type SimContext,
} from '../core/server.ts';
import type { SimRecord } from '../core/store.ts';

/**
 * Gong: access key + secret as HTTP Basic auth (and OAuth bearer tokens), cursor-paged users and
 * calls (GET /v2/calls and POST /v2/calls/extensive, 100 records a page), workspaces, and the
 * company-wide 3-per-second / 10,000-per-day limits answered with 429 and Retry-After.
 */
const PAGE_SIZE = 100;
const COMPANY_ID = '6843152929075440037';
const WORKSPACES = [
  { id: '3813947207271230001', name: 'Sales', description: 'Sales team workspace' },
  { id: '3813947207271230002', name: 'Customer Success', description: 'Customer success workspace' },
];
const NO_CALLS = 'No calls found corresponding to the provided filters';

/** Gong ids are numeric strings of up to 20 digits: a digit per object, then the seq. */
const PREFIX: Record<string, string> = { users: '7', calls: '5' };
const idOf = (object: string, seq: number) => `${PREFIX[object] ?? '9'}${String(seq).padStart(18, '0')}`;
function seqOf(object: string, id: string): number | undefined {
  const prefix = PREFIX[object];
  if (!prefix || !/^\d{19}$/.test(id) || !id.startsWith(prefix)) return undefined;
  const seq = Number(id.slice(1));
  return seq >= 1 ? seq : undefined;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const requestId = () =>
  randomBytes(10)
    .toString('base64url')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .slice(0, 18);
const gongError = (reply: FastifyReply, status: number, ...errors: string[]) =>
  reply.code(status).send({ requestId: requestId(), errors });

/** The secret that goes with an access key `POST /__sim/tokens` issued: derived, so never stored. */
const secretOf = (ctx: SimContext, accessKey: string) =>
  createHash('sha256').update(`gong-sim:${ctx.seed}:${accessKey}`).digest('base64url');

function presentUser(_ctx: SimContext, r: SimRecord) {
  const f = r.fields as Record<string, string | null | undefined>;
  return {
    id: idOf('users', r.seq),
    emailAddress: f.emailAddress ?? null,
    created: iso(r.createdAt),
    active: !r.deleted,
    emailAliases: [],
    trustedEmailAddress: null,
    firstName: f.firstName ?? null,
    lastName: f.lastName ?? null,
    title: f.title ?? null,
    phoneNumber: f.phoneNumber ?? null,
    extension: null,
    personalMeetingUrls: [],
    settings: {
      webConferencesRecorded: true,
      preventWebConferenceRecording: false,
      telephonyCallsImported: false,
      emailsImported: true,
      preventEmailImport: false,
      nonRecordedMeetingsImported: true,
      gongConnectEnabled: true,
    },
    managerId: r.seq === 1 ? null : idOf('users', 1),
    meetingConsentPageUrl: null,
    spokenLanguages: [{ language: 'en-US', primary: true }],
  };
}

const hostOf = (ctx: SimContext, r: SimRecord) => {
  const users = ctx.store('users').size;
  return users > 0 ? (((Number(r.fields.host ?? r.seq) % users) + users) % users) + 1 : undefined;
};

/**
 * A call's basic data. `started` is the store's modification time (its creation time until the
 * call is edited), which is also what fromDateTime/toDateTime filter on.
 */
function presentCall(ctx: SimContext, r: SimRecord) {
  const f = r.fields as Record<string, string | number | null | undefined>;
  const id = idOf('calls', r.seq);
  const host = hostOf(ctx, r);
  return {
    id,
    url: `${ctx.url}/call?id=${id}`,
    title: f.title ?? null,
    scheduled: iso(r.createdAt - 5 * 60_000),
    started: iso(r.updatedAt),
    duration: Number(f.duration ?? 0),
    primaryUserId: host === undefined ? null : idOf('users', host),
    direction: f.direction ?? 'Conference',
    system: f.system ?? 'Zoom',
    scope: f.scope ?? 'External',
    media: f.media ?? 'Video',
    language: 'eng',
    workspaceId: WORKSPACES[Number(f.workspace ?? 0) % WORKSPACES.length]!.id,
    sdrDisposition: null,
    clientUniqueId: f.clientUniqueId ?? null,
    customData: null,
    purpose: null,
    meetingUrl: f.system === 'Zoom' ? `https://zoom.us/j/${8_000_000_000 + r.seq}` : null,
    isPrivate: false,
    calendarEventId: null,
  };
}

interface ContentSelector {
  context?: string;
  exposedFields?: {
    parties?: boolean;
    media?: boolean;
    content?: Record<string, boolean>;
    interaction?: Record<string, boolean>;
    collaboration?: Record<string, boolean>;
  };
}

/** A call as /v2/calls/extensive shows it: metaData plus the sections the contentSelector asks for. */
function presentExtensive(ctx: SimContext, r: SimRecord, selector: ContentSelector = {}) {
  const metaData = presentCall(ctx, r);
  const exposed = selector.exposedFields ?? {};
  const out: Record<string, unknown> = { metaData };
  if (selector.context === 'Basic' || selector.context === 'Extended') {
    out.context = [
      {
        system: 'Salesforce',
        objects: [
          {
            objectType: 'Account',
            objectId: `0015e00000${String(r.seq % 100000).padStart(5, '0')}AAT`,
            ...(selector.context === 'Extended'
              ? { fields: [{ name: 'Name', value: String(r.fields.company ?? '') }] }
              : {}),
          },
        ],
      },
    ];
  }
  if (exposed.parties) {
    const host = hostOf(ctx, r);
    const user = host === undefined ? undefined : ctx.store('users').get(host);
    out.parties = [
      ...(user
        ? [
            {
              id: `${metaData.id}01`,
              emailAddress: user.fields.emailAddress,
              name: `${user.fields.firstName} ${user.fields.lastName}`,
              title: user.fields.title,
              userId: idOf('users', user.seq),
              speakerId: `${metaData.id}1`,
              context: [],
              affiliation: 'Internal',
              methods: ['Invitee'],
            },
          ]
        : []),
      {
        id: `${metaData.id}02`,
        emailAddress: r.fields.guestEmail ?? null,
        name: r.fields.guestName ?? null,
        title: null,
        speakerId: `${metaData.id}2`,
        context: [],
        affiliation: 'External',
        methods: ['Invitee'],
      },
    ];
  }
  if (exposed.content) {
    const content: Record<string, unknown> = {};
    if (exposed.content.structure) content.structure = [{ name: 'Introduction', duration: 60 }];
    if (exposed.content.topics)
      content.topics = [{ name: 'Pricing', duration: Math.floor(metaData.duration / 5) }];
    if (exposed.content.trackers)
      content.trackers = [{ id: '1001', name: 'Competitors', count: r.seq % 4, type: 'KEYWORD' }];
    if (exposed.content.pointsOfInterest) content.pointsOfInterest = { actionItems: [] };
    out.content = content;
  }
  if (exposed.interaction) {
    const interaction: Record<string, unknown> = {};
    if (exposed.interaction.speakers) {
      interaction.speakers = [
        {
          id: `${metaData.id}1`,
          userId: metaData.primaryUserId,
          talkTime: Math.floor(metaData.duration * 0.45),
        },
        { id: `${metaData.id}2`, talkTime: Math.floor(metaData.duration * 0.4) },
      ];
    }
    if (exposed.interaction.personInteractionStats) {
      interaction.interactionStats = [{ name: 'Interactivity', value: 5.2 }];
    }
    if (exposed.interaction.questions) interaction.questions = { companyCount: 4, nonCompanyCount: 2 };
    if (exposed.interaction.video) interaction.video = [];
    out.interaction = interaction;
  }
  if (exposed.collaboration) out.collaboration = { publicComments: [] };
  if (exposed.media) {
    out.media = {
      audioUrl: `${ctx.url}/media/${metaData.id}.mp3`,
      videoUrl: `${ctx.url}/media/${metaData.id}.mp4`,
    };
  }
  return out;
}

interface CallFilter {
  from?: number;
  to?: number;
  workspaceId?: string;
  callIds?: string[];
  primaryUserIds?: string[];
}

interface Position {
  updatedAt: number;
  seq: number;
}

/**
 * Cursors look like Gong's (a signed JWT-ish token) and carry the position, the page number and a
 * fingerprint of the filter, so that a cursor cannot be replayed against another query.
 */
function cursorCodec(ctx: SimContext) {
  const key = `gong-cursor:${ctx.seed}`;
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return {
    encode(payload: Record<string, unknown>): string {
      const body = `${b64({ alg: 'HS256' })}.${b64(payload)}`;
      return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
    },
    decode(cursor: string): Record<string, unknown> | undefined {
      const [h, p, sig] = cursor.split('.');
      if (!h || !p || !sig) return undefined;
      if (createHmac('sha256', key).update(`${h}.${p}`).digest('base64url') !== sig) return undefined;
      try {
        return JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      } catch {
        return undefined;
      }
    },
  };
}

function registerRoutes(app: FastifyInstance, ctx: SimContext) {
  const perSecond = new RateWindow(ctx.clock, 1000);
  const daily = new RateWindow(ctx.clock, 24 * 3600_000);
  const company = ctx.provider.account.accountId;
  const cursors = cursorCodec(ctx);

  /** Authenticates (Basic access key pair or OAuth bearer) and applies the company's limits. */
  const guard = (req: FastifyRequest, reply: FastifyReply): boolean => {
    const auth = req.headers.authorization ?? '';
    if (auth.startsWith('Basic ')) {
      const decoded = Buffer.from(auth.slice(6), 'base64').toString();
      const colon = decoded.indexOf(':');
      const accessKey = colon < 0 ? decoded : decoded.slice(0, colon);
      const secret = colon < 0 ? '' : decoded.slice(colon + 1);
      const info = ctx.tokens.infoFor(accessKey);
      // Access keys do not age out; only `expire_tokens_now` (or an unknown key) stops them.
      if (!info || info.expiresAt <= 0 || secret !== secretOf(ctx, accessKey)) {
        gongError(reply, 401, 'Invalid access key or access key secret');
        return true;
      }
    } else {
      const status = ctx.tokens.check(bearer(req));
      if (status === 'expired') {
        gongError(reply, 401, 'The access token has expired');
        return true;
      }
      if (status !== 'ok') {
        gongError(reply, 401, 'Unauthorized: missing or invalid credentials');
        return true;
      }
    }
    const day = daily.peek(company, ctx.limits.daily!);
    const second = perSecond.peek(company, ctx.limits.per_second!);
    const spent = day.remaining === 0 ? day : second.remaining === 0 ? second : undefined;
    if (spent) {
      reply.header('retry-after', String(Math.max(1, Math.ceil(spent.resetInMs / 1000))));
      gongError(reply, 429, 'Too many requests: API rate limit exceeded');
      return true;
    }
    const at = arrivedAt(ctx, req);
    daily.take(company, ctx.limits.daily!, at);
    perSecond.take(company, ctx.limits.per_second!, at);
    return false;
  };

  const parseDate = (value: unknown, name: string): number | undefined => {
    if (value === undefined || value === null || value === '') return undefined;
    const ms =
      typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
    if (Number.isNaN(ms)) throw new GongBadRequest(`${name}: invalid date-time format, expected ISO-8601`);
    return ms;
  };

  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof GongBadRequest) return gongError(reply, 400, err.message);
    const e = err as { statusCode?: number; message?: string };
    return gongError(reply, e.statusCode ?? 500, e.message ?? 'Internal error');
  });

  // OAuth: Gong's authorize page (app.gong.io/oauth2/authorize) and token endpoint, whose
  // parameters Gong documents in the query string (a form body works too).
  app.get('/oauth2/authorize', async (req, reply) => consentPage(ctx, req, reply, 'Gong'));
  app.post('/oauth2/generate-customer-token', async (req, reply) => {
    const body =
      typeof req.body === 'string'
        ? Object.fromEntries(new URLSearchParams(req.body))
        : ((req.body as Record<string, string> | undefined) ?? {});
    req.body = { ...(req.query as Record<string, string>), ...body };
    return handleTokenRequest(ctx, req, reply, (t) => ({
      access_token: t.accessToken,
      refresh_token: t.refreshToken,
      scope: t.scopes.join(' '),
      token_type: 'bearer',
      expires_in: t.expiresIn,
      api_base_url_for_customer: ctx.url,
    }));
  });

  app.get('/v2/workspaces', async (req, reply) => {
    if (guard(req, reply)) return reply;
    return { requestId: requestId(), workspaces: WORKSPACES };
  });

  app.get<{ Querystring: { cursor?: string } }>('/v2/users', async (req, reply) => {
    if (guard(req, reply)) return reply;
    const store = ctx.store('users');
    let after = 0;
    let pageNumber = 0;
    if (req.query.cursor) {
      const c = cursors.decode(req.query.cursor);
      if (!c || c.k !== 'users') return gongError(reply, 400, 'cursor is invalid');
      after = Number(c.s);
      pageNumber = Number(c.n);
    }
    const users = [];
    let last = 0;
    let more = false;
    // Removed users stay listed, deactivated (active: false), as Gong keeps former users.
    for (const r of store.bySeq(after, true)) {
      if (users.length === PAGE_SIZE) {
        more = true;
        break;
      }
      users.push(presentUser(ctx, r));
      last = r.seq;
    }
    return {
      requestId: requestId(),
      records: {
        totalRecords: store.size,
        currentPageSize: users.length,
        currentPageNumber: pageNumber,
        ...(more ? { cursor: cursors.encode({ k: 'users', s: last, n: pageNumber + 1 }) } : {}),
      },
      users,
    };
  });

  app.get<{ Params: { id: string } }>('/v2/users/:id', async (req, reply) => {
    if (guard(req, reply)) return reply;
    const seq = seqOf('users', req.params.id);
    const r = seq === undefined ? undefined : ctx.store('users').get(seq);
    if (!r) return gongError(reply, 404, `User ${req.params.id} not found`);
    return { requestId: requestId(), user: presentUser(ctx, r) };
  });

  const fingerprint = (f: CallFilter) =>
    createHash('sha1')
      .update(JSON.stringify([f.from, f.to, f.workspaceId, f.callIds, f.primaryUserIds]))
      .digest('base64url')
      .slice(0, 12);

  /** One page of calls in start order, for a filter, from a cursor; undefined when nothing matches. */
  const callsPage = (filter: CallFilter, cursor: string | undefined) => {
    const store = ctx.store('calls');
    const fp = fingerprint(filter);
    let position: Position | undefined =
      filter.from === undefined ? undefined : { updatedAt: filter.from - 1, seq: Number.MAX_SAFE_INTEGER };
    let pageNumber = 0;
    if (cursor) {
      const c = cursors.decode(cursor);
      if (!c || c.k !== 'calls' || c.f !== fp) throw new GongBadRequest('cursor is invalid');
      position = { updatedAt: Number(c.u), seq: Number(c.s) };
      pageNumber = Number(c.n);
    }
    const hosts = filter.primaryUserIds ? new Set(filter.primaryUserIds) : undefined;
    const inWindow = (r: SimRecord) =>
      (filter.from === undefined || r.updatedAt >= filter.from) &&
      (filter.to === undefined || r.updatedAt < filter.to);
    const matches = (r: SimRecord) => {
      if (!inWindow(r) || r.deleted) return false;
      if (filter.workspaceId && presentCall(ctx, r).workspaceId !== filter.workspaceId) return false;
      if (hosts && !hosts.has(presentCall(ctx, r).primaryUserId ?? '')) return false;
      return true;
    };
    const isAfter = (r: SimRecord, p: Position | undefined) =>
      !p || r.updatedAt > p.updatedAt || (r.updatedAt === p.updatedAt && r.seq > p.seq);

    // The source in start order: the listed ids, or the store's modification order from the window.
    let source: Iterable<SimRecord>;
    let total: number;
    if (filter.callIds) {
      const listed = [...new Set(filter.callIds)]
        .map((id) => {
          const seq = seqOf('calls', id);
          return seq === undefined ? undefined : store.get(seq);
        })
        .filter((r): r is SimRecord => !!r && matches(r))
        .sort((a, b) => a.updatedAt - b.updatedAt || a.seq - b.seq);
      total = listed.length;
      source = listed.filter((r) => isAfter(r, position));
    } else {
      const from =
        filter.from === undefined ? undefined : { updatedAt: filter.from - 1, seq: Number.MAX_SAFE_INTEGER };
      if (!filter.workspaceId && !hosts) {
        const to =
          filter.to === undefined ? undefined : { updatedAt: filter.to - 1, seq: Number.MAX_SAFE_INTEGER };
        total = store.countModified(from, false) - (to ? store.countModified(to, false) : 0);
      } else {
        total = 0;
        for (const r of store.byModified(from, false)) {
          if (filter.to !== undefined && r.updatedAt >= filter.to) continue;
          if (matches(r)) total++;
        }
      }
      source = store.byModified(position, false);
    }
    if (total <= 0) return undefined;

    const page: SimRecord[] = [];
    let more = false;
    for (const r of source) {
      if (!matches(r)) continue;
      if (page.length === PAGE_SIZE) {
        more = true;
        break;
      }
      page.push(r);
    }
    const last = page.at(-1);
    return {
      page,
      records: {
        totalRecords: total,
        currentPageSize: page.length,
        currentPageNumber: pageNumber,
        ...(more && last
          ? {
              cursor: cursors.encode({
                k: 'calls',
                u: last.updatedAt,
                s: last.seq,
                n: pageNumber + 1,
                f: fp,
              }),
            }
          : {}),
      },
    };
  };

  app.get<{
    Querystring: { fromDateTime?: string; toDateTime?: string; workspaceId?: string; cursor?: string };
  }>('/v2/calls', async (req, reply) => {
    if (guard(req, reply)) return reply;
    const q = req.query;
    const result = callsPage(
      {
        from: parseDate(q.fromDateTime, 'fromDateTime'),
        to: parseDate(q.toDateTime, 'toDateTime'),
        ...(q.workspaceId ? { workspaceId: q.workspaceId } : {}),
      },
      q.cursor,
    );
    if (!result) return gongError(reply, 404, NO_CALLS);
    return {
      requestId: requestId(),
      records: result.records,
      calls: result.page.map((r) => presentCall(ctx, r)),
    };
  });

  app.get<{ Params: { id: string } }>('/v2/calls/:id', async (req, reply) => {
    if (guard(req, reply)) return reply;
    const seq = seqOf('calls', req.params.id);
    const r = seq === undefined ? undefined : ctx.store('calls').get(seq);
    if (!r || r.deleted) return gongError(reply, 404, `Call ${req.params.id} not found`);
    return { requestId: requestId(), call: presentCall(ctx, r) };
  });

  type ExtensiveBody = {
    filter?: {
      fromDateTime?: string;
      toDateTime?: string;
      workspaceId?: string;
      callIds?: unknown;
      primaryUserIds?: unknown;
    };
    contentSelector?: ContentSelector;
    cursor?: string;
  };

  app.post<{ Body: ExtensiveBody }>('/v2/calls/extensive', async (req, reply) => {
    if (guard(req, reply)) return reply;
    const body = req.body ?? {};
    const f = body.filter ?? {};
    const list = (v: unknown, name: string) => {
      if (v === undefined || v === null) return undefined;
      if (!Array.isArray(v)) throw new GongBadRequest(`filter.${name} must be an array`);
      return v.map(String);
    };
    const callIds = list(f.callIds, 'callIds');
    const primaryUserIds = list(f.primaryUserIds, 'primaryUserIds');
    const result = callsPage(
      {
        from: parseDate(f.fromDateTime, 'fromDateTime'),
        to: parseDate(f.toDateTime, 'toDateTime'),
        ...(f.workspaceId ? { workspaceId: String(f.workspaceId) } : {}),
        ...(callIds ? { callIds } : {}),
        ...(primaryUserIds ? { primaryUserIds } : {}),
      },
      body.cursor ?? (req.query as { cursor?: string }).cursor,
    );
    if (!result) return gongError(reply, 404, NO_CALLS);
    return {
      requestId: requestId(),
      records: result.records,
      calls: result.page.map((r) => presentExtensive(ctx, r, body.contentSelector)),
    };
  });
}

class GongBadRequest extends Error {}

const DIRECTIONS = ['Conference', 'Outbound', 'Inbound'];
const SYSTEMS = ['Zoom', 'Outreach', 'Google Meet'];

export const gong: ProviderSimulator = {
  name: 'gong',
  account: { accountId: COMPANY_ID, userId: idOf('users', 1) },
  // "By default Gong limits your company's access to the service to 3 API calls per second, and
  // 10,000 API calls per day."
  limits: { per_second: 3, daily: 10_000 },
  objects: {
    users: {
      generate: (seed, i) => {
        const p = fakePerson(seed + 50, i);
        return {
          firstName: p.firstName,
          lastName: p.lastName,
          emailAddress: `${p.firstName}.${p.lastName}.${i}@sim-company.example`.toLowerCase(),
          title: p.title,
          phoneNumber: p.phone,
        };
      },
      edit: (fields, n) => ({
        ...fields,
        title: `${String(fields.title ?? 'Title').replace(/ \(v\d+\)$/, '')} (v${n})`,
      }),
    },
    calls: {
      generate: (seed, i) => {
        const c = fakeCompany(seed + 60, i);
        const guest = fakePerson(seed + 61, i);
        const company = c.name.split(' ')[0]!;
        return {
          title: `${company} <> Sim: ${['discovery', 'demo', 'negotiation', 'check-in'][i % 4]} call`,
          company,
          duration: 300 + Math.floor(hashUnit(seed + 62, i) * 3300),
          direction: DIRECTIONS[i % DIRECTIONS.length],
          system: SYSTEMS[i % SYSTEMS.length],
          scope: 'External',
          media: i % 3 === 1 ? 'Audio' : 'Video',
          workspace: i % WORKSPACES.length,
          host: i,
          guestName: `${guest.firstName} ${guest.lastName}`,
          guestEmail: guest.email,
        };
      },
      edit: (fields, n) => ({
        ...fields,
        title: `${String(fields.title ?? 'Call').replace(/ \(v\d+\)$/, '')} (v${n})`,
      }),
    },
  },
  idOf,
  seqOf,
  present: (ctx, object, r) => (object === 'users' ? presentUser(ctx, r) : presentCall(ctx, r)),
  /** `POST /__sim/tokens` issues an access key pair: the key is a token, the secret derived from it. */
  tokenResponse: (ctx, t) => ({ access_key: t.accessToken, access_key_secret: secretOf(ctx, t.accessToken) }),
  rateLimited: (_ctx, reply, retryAfterSeconds) =>
    gongError(
      reply.header('retry-after', String(retryAfterSeconds)),
      429,
      'Too many requests: API rate limit exceeded',
    ),
  serverError: (_ctx, reply) => gongError(reply, 500, 'Internal server error'),
  faultExempt: ['/oauth2/'],
  // In a plugin scope of their own, so that Gong's error handler does not answer the control API.
  routes: async (app, ctx) => {
    await app.register(async (scope) => registerRoutes(scope, ctx));
  },
};
