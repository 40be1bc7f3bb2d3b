import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fakeAddress, fakeCompany, fakePerson, hashUnit } from '../core/random.ts';
import { RateWindow } from '../core/rate-limit.ts';
import {
  arrivedAt,
  bearer,
  consentPage,
  handleTokenRequest,
  type ProviderSimulator,
  type SimContext,
} from '../core/server.ts';
import type { ObjectStore, SimRecord } from '../core/store.ts';
import type { IssuedTokens } from '../core/tokens.ts';

/**
 * Apollo.io: API keys in the `x-api-key` header (and OAuth 2.0 bearer tokens for partner apps),
 * the page-numbered search endpoints Trellis syncs (contacts, with the sequences each is in,
 * accounts, sequences, users), the team's email accounts, contact create/update, and the
 * per-endpoint minute/hour/day fixed windows with their headers and 429 body.
 */
const OBJECTS = ['contacts', 'accounts', 'emailer_campaigns', 'users', 'email_accounts'] as const;
type ApolloObject = (typeof OBJECTS)[number];

/** Apollo ids are 24-hex-digit ObjectIds; the first 8 digits say which object, the rest is the seq. */
const PREFIX: Record<ApolloObject, string> = {
  contacts: '66c0c0a1',
  accounts: '66c0acc0',
  emailer_campaigns: '66c0e3a1',
  users: '66c0b5e2',
  email_accounts: '66c0e3ac',
};
/** A contact's campaign statuses have ids of their own: this prefix, then the contact's seq and the status's place. */
const STATUS_PREFIX = '66c0c5a7';
const CAMPAIGN_STATUSES = ['active', 'paused', 'finished'];
const TEAM_ID = '5c1004c0ffee00a1b2c3d4e5';
const CONTACT_STAGES = ['6095a710bd01d100a506d4ae', '6095a710bd01d100a506d4af', '6095a710bd01d100a506d4b0'];
const ACCOUNT_STAGE = '6095a710bd01d100a506d4b5';

/** Search pages stop at 500: "a display limit of 50,000 records (100 records per page, up to 500 pages)". */
const MAX_PAGE = 500;
const MAX_PER_PAGE = 100;
const DEFAULT_PER_PAGE = 25;
const UPGRADE_URL = 'https://app.apollo.io/#/settings/plans/upgrade';

const idOf = (object: string, seq: number) =>
  `${PREFIX[object as ApolloObject] ?? '66c00000'}${seq.toString(16).padStart(16, '0')}`;

function seqOf(object: string, id: string): number | undefined {
  const prefix = PREFIX[object as ApolloObject];
  if (!prefix || id.length !== 24 || !id.startsWith(prefix) || !/^[0-9a-f]+$/.test(id)) return undefined;
  const seq = Number.parseInt(id.slice(8), 16);
  return seq >= 1 ? seq : undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * A contact's street and postal code (none for about one contact in five) with its city, which
 * seeded contacts had before the rest of their address was served, kept as it was then.
 */
function apolloAddress(seed: number, i: number) {
  const a = fakeAddress(seed + 20, i);
  return {
    street_address: a.street,
    postal_code: a.postalCode,
    city: ['Berlin', 'Austin', 'Lyon', 'Osaka', 'Toronto', 'Lagos'][Math.floor(hashUnit(seed + 20, i) * 6)],
  };
}

/** The owner of record `seq`: one of the team's users, round robin. */
function ownerOf(ctx: SimContext, seq: number): string | null {
  const users = ctx.store('users').size;
  return users > 0 ? idOf('users', ((seq - 1) % users) + 1) : null;
}

/**
 * The sequences contact `seq` is in (deterministic: two contacts in three are in one or two), as
 * Apollo's contacts list them, each sent from one of the team's email accounts.
 */
function campaignStatuses(ctx: SimContext, r: SimRecord) {
  const campaigns = ctx.store('emailer_campaigns').size;
  const mailboxes = ctx.store('email_accounts').size;
  if (campaigns === 0 || mailboxes === 0 || r.seq % 3 === 0) return [];
  return Array.from({ length: 1 + (r.seq % 2) }, (_, k) => ({
    id: `${STATUS_PREFIX}${(r.seq * 4 + k).toString(16).padStart(16, '0')}`,
    emailer_campaign_id: idOf('emailer_campaigns', ((r.seq + k - 1) % campaigns) + 1),
    current_step_id: null,
    current_step_position: 1 + k,
    status: CAMPAIGN_STATUSES[(r.seq + k) % CAMPAIGN_STATUSES.length],
    added_at: iso(r.createdAt + k * 1000),
    added_by_user_id: ownerOf(ctx, r.seq),
    finished_at: null,
    paused_at: null,
    auto_unpause_at: null,
    send_email_from_email_account_id: idOf('email_accounts', ((r.seq - 1) % mailboxes) + 1),
    send_email_from_email_address: null,
    inactive_reason: null,
    in_response_to_emailer_message_id: null,
  }));
}

function presentContact(ctx: SimContext, r: SimRecord) {
  const f = r.fields as Record<string, string | null | undefined>;
  const accounts = ctx.store('accounts').size;
  const statuses = campaignStatuses(ctx, r);
  const phone = f.direct_phone ?? f.phone ?? null;
  const first = f.first_name ?? null;
  const last = f.last_name ?? null;
  return {
    id: idOf('contacts', r.seq),
    first_name: first,
    last_name: last,
    name: [first, last].filter(Boolean).join(' ') || null,
    linkedin_url: null,
    title: f.title ?? null,
    contact_stage_id: f.contact_stage_id ?? CONTACT_STAGES[r.seq % CONTACT_STAGES.length],
    owner_id: f.owner_id ?? ownerOf(ctx, r.seq),
    creator_id: ownerOf(ctx, r.seq),
    person_id: null,
    email_needs_tickling: null,
    organization_name: f.organization_name ?? null,
    source: f.source ?? 'crm',
    original_source: f.source ?? 'crm',
    organization_id: null,
    headline: null,
    photo_url: null,
    present_raw_address: f.present_raw_address ?? f.city ?? null,
    linkedin_uid: null,
    extrapolated_email_confidence: null,
    salesforce_id: null,
    salesforce_lead_id: null,
    salesforce_contact_id: null,
    salesforce_account_id: null,
    crm_owner_id: null,
    created_at: iso(r.createdAt),
    emailer_campaign_ids: [],
    contact_campaign_statuses: statuses,
    direct_dial_status: null,
    direct_dial_enrichment_failed_at: null,
    email_status: f.email ? 'verified' : null,
    email_source: null,
    account_id: f.account_id ?? (accounts > 0 ? idOf('accounts', ((r.seq - 1) % accounts) + 1) : null),
    last_activity_date: null,
    hubspot_vid: null,
    hubspot_company_id: null,
    crm_id: null,
    sanitized_phone: phone ? phone.replace(/[^\d+]/g, '') : null,
    merged_crm_ids: null,
    updated_at: iso(r.updatedAt),
    queued_for_crm_push: false,
    label_ids: [],
    typed_custom_fields: {},
    existence_level: 'full',
    email: f.email ?? null,
    email_from_customer: true,
    time_zone: null,
    street_address: f.street_address ?? null,
    city: f.city ?? null,
    state: f.state ?? null,
    postal_code: f.postal_code ?? null,
    country: f.country ?? null,
    phone_numbers: phone
      ? [
          {
            raw_number: phone,
            sanitized_number: phone.replace(/[^\d+]/g, ''),
            type: 'work_direct',
            position: 0,
            status: 'no_status',
            dnc_status: null,
            dnc_other_info: null,
          },
        ]
      : [],
  };
}

function presentAccount(ctx: SimContext, r: SimRecord) {
  const f = r.fields as Record<string, string | number | null | undefined>;
  return {
    id: idOf('accounts', r.seq),
    name: f.name ?? null,
    website_url: f.domain ? `http://www.${f.domain}` : null,
    blog_url: null,
    angellist_url: null,
    linkedin_url: null,
    twitter_url: null,
    facebook_url: null,
    languages: [],
    phone: f.phone ?? null,
    linkedin_uid: null,
    publicly_traded_symbol: null,
    publicly_traded_exchange: null,
    logo_url: null,
    primary_domain: f.domain ?? null,
    domain: f.domain ?? null,
    team_id: TEAM_ID,
    organization_id: null,
    account_stage_id: ACCOUNT_STAGE,
    source: 'crm',
    original_source: 'crm',
    owner_id: ownerOf(ctx, r.seq),
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
    industry: f.industry ?? null,
    estimated_num_employees: f.estimated_num_employees ?? null,
    city: f.city ?? null,
    label_ids: [],
    typed_custom_fields: {},
    existence_level: 'full',
    modality: 'account',
  };
}

function presentCampaign(ctx: SimContext, r: SimRecord) {
  const f = r.fields as Record<string, string | number | boolean | null | undefined>;
  return {
    id: idOf('emailer_campaigns', r.seq),
    name: f.name ?? null,
    archived: f.archived ?? false,
    created_at: iso(r.createdAt),
    emailer_schedule_id: '6095a710bd01d100a506d4c0',
    max_emails_per_day: f.max_emails_per_day ?? null,
    user_id: ownerOf(ctx, r.seq),
    same_account_reply_policy_cd: null,
    active: f.active ?? true,
    days_to_wait_before_mark_as_response: 5,
    mark_finished_if_reply: true,
    mark_finished_if_interested: true,
    mark_paused_if_ooo: true,
    permissions: f.permissions ?? 'team_can_use',
    label_ids: f.label_id ? [f.label_id] : [],
    num_steps: f.num_steps ?? 1,
    unique_scheduled: f.unique_scheduled ?? 0,
    unique_delivered: f.unique_delivered ?? 0,
    unique_bounced: 0,
    unique_opened: 0,
    unique_replied: 0,
    unique_demoed: 0,
    unique_clicked: 0,
    unique_unsubscribed: 0,
    is_performing_poorly: false,
  };
}

function presentUser(_ctx: SimContext, r: SimRecord) {
  const f = r.fields as Record<string, string | null | undefined>;
  return {
    id: idOf('users', r.seq),
    team_id: TEAM_ID,
    first_name: f.first_name ?? null,
    last_name: f.last_name ?? null,
    title: f.title ?? null,
    email: f.email ?? null,
    created_at: iso(r.createdAt),
    credit_limit: null,
    deleted: false,
    name: [f.first_name, f.last_name].filter(Boolean).join(' '),
  };
}

/** A team email account (a mailbox sequences send from), dated by its last sync with the mailbox. */
function presentEmailAccount(ctx: SimContext, r: SimRecord) {
  const f = r.fields as Record<string, string | boolean | null | undefined>;
  return {
    id: idOf('email_accounts', r.seq),
    user_id: ownerOf(ctx, r.seq),
    email: f.email ?? null,
    type: 'gmail',
    active: f.active ?? true,
    default: r.seq === 1,
    seconds_delay_between_emails: 60,
    provider_display_name: 'Gmail',
    last_synced_at: iso(r.updatedAt),
    aliases: [],
    email_daily_threshold: 100,
    max_outbound_emails_per_hour: 20,
  };
}

const PRESENTERS: Record<ApolloObject, (ctx: SimContext, r: SimRecord) => unknown> = {
  contacts: presentContact,
  accounts: presentAccount,
  emailer_campaigns: presentCampaign,
  users: presentUser,
  email_accounts: presentEmailAccount,
};

/** Apollo's authentication refusal: a 401 whose body is the sentence (the docs show it as text/plain). */
const invalidCredentials = (reply: FastifyReply) =>
  reply.code(401).type('text/plain; charset=utf-8').send('Invalid access credentials.');

const rateLimitBody = (endpoint: string, limit: number, per: string) => ({
  message: `The maximum number of api calls allowed for ${endpoint} is ${limit} times per ${per}. Please upgrade your plan from ${UPGRADE_URL}.`,
});

type Order = 'created_asc' | 'created_desc' | 'updated_asc' | 'updated_desc';

/** Live records of `store` in `order`, lazily (no array of a million records). */
function* ordered(store: ObjectStore, order: Order, skip = 0): Generator<SimRecord> {
  // The update orders are the ones syncs page deepest: their offsets are skipped without generating.
  if (order === 'updated_desc') {
    yield* store.byModifiedDesc(undefined, false, skip);
    return;
  }
  if (order === 'updated_asc') {
    yield* store.byModified(undefined, false, skip);
    return;
  }
  let i = 0;
  for (const r of orderedFrom(store, order)) if (i++ >= skip) yield r;
}

function* orderedFrom(store: ObjectStore, order: Order): Generator<SimRecord> {
  switch (order) {
    case 'created_asc':
      yield* store.bySeq(0, false);
      return;
    case 'created_desc':
      for (let seq = store.size; seq >= 1; seq--) {
        const r = store.get(seq);
        if (r && !r.deleted) yield r;
      }
      return;
    case 'updated_asc':
      yield* store.byModified(undefined, false);
      return;
    case 'updated_desc':
      yield* store.byModifiedDesc(undefined, false);
      return;
  }
}

interface PageRequest {
  page?: unknown;
  per_page?: unknown;
  sort_by_field?: unknown;
  sort_ascending?: unknown;
}

function pageParams(body: PageRequest) {
  const page = Math.max(1, Math.floor(Number(body.page ?? 1)) || 1);
  const perPage = Math.min(
    MAX_PER_PAGE,
    Math.max(1, Math.floor(Number(body.per_page ?? DEFAULT_PER_PAGE)) || DEFAULT_PER_PAGE),
  );
  const ascending = body.sort_ascending === true || body.sort_ascending === 'true';
  return { page, perPage, ascending };
}

/**
 * One page of a search. Without a keyword filter the total comes from the store's counters; with
 * one, the matching records are counted by a scan. Pages past 500 are empty (the display limit).
 */
function searchPage(
  ctx: SimContext,
  object: ApolloObject,
  order: Order,
  page: number,
  perPage: number,
  match?: (r: SimRecord) => boolean,
) {
  const store = ctx.store(object);
  const offset = (page - 1) * perPage;
  const items: unknown[] = [];
  let total: number;
  if (!match) {
    total = store.countModified(undefined, false);
    if (page <= MAX_PAGE && offset < total) {
      for (const r of ordered(store, order, offset)) {
        items.push(PRESENTERS[object](ctx, r));
        if (items.length === perPage) break;
      }
    }
  } else {
    total = 0;
    for (const r of ordered(store, order)) {
      if (!match(r)) continue;
      if (page <= MAX_PAGE && total >= offset && items.length < perPage)
        items.push(PRESENTERS[object](ctx, r));
      total++;
    }
  }
  return {
    items,
    pagination: { page, per_page: perPage, total_entries: total, total_pages: Math.ceil(total / perPage) },
  };
}

const searchEnvelope = {
  breadcrumbs: [],
  partial_results_only: false,
  has_join: false,
  disable_eu_prospecting: false,
  partial_results_limit: 10000,
};

function keywordMatcher(q: unknown, fields: string[]): ((r: SimRecord) => boolean) | undefined {
  if (typeof q !== 'string' || q.trim() === '') return undefined;
  const words = q
    .toLowerCase()
    .split(/[\s,]+/)
    .filter(Boolean);
  return (r) => {
    const text = fields
      .map((k) => String(r.fields[k] ?? ''))
      .join(' ')
      .toLowerCase();
    return words.every((w) => text.includes(w));
  };
}

const CONTACT_WRITABLE = [
  'first_name',
  'last_name',
  'organization_name',
  'title',
  'account_id',
  'email',
  'website_url',
  'contact_stage_id',
  'owner_id',
  'present_raw_address',
  'direct_phone',
  'corporate_phone',
  'mobile_phone',
  'home_phone',
  'other_phone',
] as const;

/** The API keys `POST /__sim/tokens` issued, per running simulator. */
const apiKeys = new WeakMap<SimContext, Set<string>>();
const keysOf = (ctx: SimContext) => {
  const keys = apiKeys.get(ctx) ?? new Set<string>();
  apiKeys.set(ctx, keys);
  return keys;
};

function registerRoutes(app: FastifyInstance, ctx: SimContext) {
  const windows = {
    minute: new RateWindow(ctx.clock, 60_000),
    hour: new RateWindow(ctx.clock, 3600_000),
    day: new RateWindow(ctx.clock, 24 * 3600_000),
  };
  const team = ctx.provider.account.accountId;

  /**
   * Whether the request carries a key or token Apollo accepts. API keys never expire by age
   * (only `expire_tokens_now` kills them); OAuth access tokens expire with their TTL.
   */
  const authenticate = (req: FastifyRequest, reply: FastifyReply): 'ok' | FastifyReply => {
    const key = req.headers['x-api-key'];
    if (typeof key === 'string' && key !== '') {
      const info = keysOf(ctx).has(key) ? ctx.tokens.infoFor(key) : undefined;
      return info && info.expiresAt > 0 ? 'ok' : invalidCredentials(reply);
    }
    const status = ctx.tokens.check(bearer(req));
    if (status === 'ok') return 'ok';
    if (status === 'expired') {
      return reply
        .code(401)
        .header(
          'www-authenticate',
          'Bearer error="invalid_token", error_description="The access token expired"',
        )
        .send({ error: 'invalid_token', error_description: 'The access token expired' });
    }
    return invalidCredentials(reply);
  };

  /** The per-endpoint fixed windows: every response carries their usage; a spent one answers 429. */
  const guard = (req: FastifyRequest, reply: FastifyReply, endpoint: string): boolean => {
    if (authenticate(req, reply) !== 'ok') return true;
    const key = `${team} ${endpoint}`;
    const spec = [
      { name: 'minute', per: 'minute', window: windows.minute, limit: ctx.limits.per_minute! },
      { name: 'hourly', per: 'hour', window: windows.hour, limit: ctx.limits.per_hour! },
      { name: '24-hour', per: 'day', window: windows.day, limit: ctx.limits.per_day! },
    ];
    const spent = spec.find((s) => s.window.peek(key, s.limit).remaining === 0);
    const at = arrivedAt(ctx, req);
    const states = spec.map((s) => (spent ? s.window.peek(key, s.limit) : s.window.take(key, s.limit, at)));
    spec.forEach((s, i) => {
      const st = states[i]!;
      reply.header(`x-rate-limit-${s.name}`, String(st.limit));
      reply.header(`x-${s.name}-usage`, String(st.limit - st.remaining));
      reply.header(`x-${s.name}-requests-left`, String(st.remaining));
    });
    if (spent) {
      reply.code(429).send(rateLimitBody(endpoint, spent.limit, spent.per));
      return true;
    }
    return false;
  };

  // OAuth 2.0 for partner apps. Apollo's authorize page is app.apollo.io/#/oauth/authorize (a
  // client-side route); the simulator serves it at /oauth/authorize.
  app.get('/oauth/authorize', async (req, reply) => consentPage(ctx, req, reply, 'Apollo'));
  app.post('/api/v1/oauth/token', async (req, reply) =>
    handleTokenRequest(ctx, req, reply, (t) => ({
      access_token: t.accessToken,
      token_type: 'Bearer',
      expires_in: t.expiresIn,
      refresh_token: t.refreshToken,
      scope: t.scopes.join(' '),
      created_at: Math.floor(ctx.clock.now() / 1000),
    })),
  );

  // Answers whether the key is good instead of refusing it: the documented way to test a key.
  app.get('/api/v1/auth/health', async (req, reply) => {
    const key = req.headers['x-api-key'];
    const token = bearer(req);
    const ok =
      typeof key === 'string' && key !== ''
        ? keysOf(ctx).has(key) && (ctx.tokens.infoFor(key)?.expiresAt ?? 0) > 0
        : ctx.tokens.check(token) === 'ok';
    if (ok && guard(req, reply, 'api/v1/auth/health')) return reply;
    return { healthy: true, is_logged_in: ok };
  });

  const contactSort: Record<string, 'created' | 'updated'> = {
    contact_created_at: 'created',
    contact_updated_at: 'updated',
    // Activity and email-engagement dates are not simulated; they order like the update time.
    contact_last_activity_date: 'updated',
    contact_email_last_opened_at: 'updated',
    contact_email_last_clicked_at: 'updated',
  };
  const accountSort: Record<string, 'created' | 'updated'> = {
    account_created_at: 'created',
    account_updated_at: 'updated',
    account_last_activity_date: 'updated',
  };
  const orderOf = (
    table: Record<string, 'created' | 'updated'>,
    field: unknown,
    ascending: boolean,
  ): Order => {
    // Without a known sort field, newest first (Apollo's own default order is unspecified).
    const by = typeof field === 'string' ? (table[field] ?? 'created') : 'created';
    return `${by}_${ascending ? 'asc' : 'desc'}` as Order;
  };

  type SearchBody = PageRequest & { q_keywords?: unknown; q_name?: unknown; q_organization_name?: unknown };

  app.post<{ Body: SearchBody }>('/api/v1/contacts/search', async (req, reply) => {
    if (guard(req, reply, 'api/v1/contacts/search')) return reply;
    const body = { ...(req.query as SearchBody), ...(req.body ?? {}) };
    const { page, perPage, ascending } = pageParams(body);
    const { items, pagination } = searchPage(
      ctx,
      'contacts',
      orderOf(contactSort, body.sort_by_field, ascending),
      page,
      perPage,
      keywordMatcher(body.q_keywords, ['first_name', 'last_name', 'title', 'organization_name', 'email']),
    );
    return { contacts: items, ...searchEnvelope, pagination, num_fetch_result: null };
  });

  app.post<{ Body: SearchBody }>('/api/v1/accounts/search', async (req, reply) => {
    if (guard(req, reply, 'api/v1/accounts/search')) return reply;
    const body = { ...(req.query as SearchBody), ...(req.body ?? {}) };
    const { page, perPage, ascending } = pageParams(body);
    const { items, pagination } = searchPage(
      ctx,
      'accounts',
      orderOf(accountSort, body.sort_by_field, ascending),
      page,
      perPage,
      keywordMatcher(body.q_organization_name, ['name', 'domain']),
    );
    return { ...searchEnvelope, pagination, accounts: items, num_fetch_result: null };
  });

  app.post<{ Body: SearchBody }>('/api/v1/emailer_campaigns/search', async (req, reply) => {
    if (guard(req, reply, 'api/v1/emailer_campaigns/search')) return reply;
    const body = { ...(req.query as SearchBody), ...(req.body ?? {}) };
    const { page, perPage } = pageParams(body);
    const { items, pagination } = searchPage(
      ctx,
      'emailer_campaigns',
      'created_asc',
      page,
      perPage,
      keywordMatcher(body.q_name, ['name']),
    );
    return { ...searchEnvelope, pagination, emailer_campaigns: items, num_fetch_result: null };
  });

  app.get<{ Querystring: PageRequest }>('/api/v1/users/search', async (req, reply) => {
    if (guard(req, reply, 'api/v1/users/search')) return reply;
    const { page, perPage } = pageParams(req.query ?? {});
    const { items, pagination } = searchPage(ctx, 'users', 'created_asc', page, perPage);
    return { pagination, users: items };
  });

  // Not paged: every email account of the team in one answer.
  app.get('/api/v1/email_accounts', async (req, reply) => {
    if (guard(req, reply, 'api/v1/email_accounts')) return reply;
    const email_accounts = [];
    for (const r of ctx.store('email_accounts').bySeq(0, false))
      email_accounts.push(presentEmailAccount(ctx, r));
    return { email_accounts };
  });

  const contactFields = (body: Record<string, unknown>) => {
    const fields: Record<string, unknown> = {};
    for (const k of CONTACT_WRITABLE)
      if (body[k] !== undefined) fields[k] = body[k] === null ? null : String(body[k]);
    return fields;
  };

  app.post<{ Body: Record<string, unknown> }>('/api/v1/contacts', async (req, reply) => {
    if (guard(req, reply, 'api/v1/contacts')) return reply;
    const r = ctx.store('contacts').create({ ...contactFields(req.body ?? {}), source: 'api' });
    return { contact: presentContact(ctx, r), labels: [] };
  });

  const updateContact = async (
    req: FastifyRequest<{ Params: { id: string }; Body: Record<string, unknown> }>,
    reply: FastifyReply,
  ) => {
    if (guard(req, reply, 'api/v1/contacts/{contact_id}')) return reply;
    const store = ctx.store('contacts');
    const seq = seqOf('contacts', req.params.id);
    const current = seq === undefined ? undefined : store.get(seq);
    if (!current) return reply.code(404).send({ error: `Contact ${req.params.id} not found` });
    if (current.deleted) {
      return reply
        .code(422)
        .send({ error: 'Cannot update contact as it is deleted.', deleted_contact_ids: [req.params.id] });
    }
    const r = store.update(current.seq, contactFields(req.body ?? {}))!;
    return { contact: presentContact(ctx, r), labels: [] };
  };
  // The older reference documents PUT, the current one PATCH; both update.
  app.put('/api/v1/contacts/:id', updateContact);
  app.patch('/api/v1/contacts/:id', updateContact);
}

export const apollo: ProviderSimulator = {
  name: 'apollo',
  account: { accountId: TEAM_ID, userId: idOf('users', 1) },
  // "All other APIs" on the Basic and Organization plans: 200 a minute, 400 an hour, 2,000 a day.
  limits: { per_minute: 200, per_hour: 400, per_day: 2000 },
  objects: {
    contacts: {
      generate: (seed, i) => {
        const p = fakePerson(seed, i);
        return {
          first_name: p.firstName,
          last_name: p.lastName,
          email: p.email,
          phone: p.phone,
          organization_name: p.company,
          title: p.title,
          ...apolloAddress(seed, i),
        };
      },
      edit: (fields, n) => ({
        ...fields,
        title: `${String(fields.title ?? 'Title').replace(/ \(v\d+\)$/, '')} (v${n})`,
      }),
    },
    accounts: {
      generate: (seed, i) => {
        const c = fakeCompany(seed, i);
        return {
          name: c.name,
          domain: c.domain,
          industry: c.industry.toLowerCase(),
          estimated_num_employees: c.employees,
          city: c.city,
          phone: `+1 555-01${String(i % 100).padStart(2, '0')}`,
        };
      },
      edit: (fields, n) => ({
        ...fields,
        estimated_num_employees: Number(fields.estimated_num_employees ?? 0) + n,
      }),
    },
    emailer_campaigns: {
      generate: (seed, i) => {
        const c = fakeCompany(seed + 30, i);
        return {
          name: `${c.name.split(' ')[0]} ${['outbound', 'renewal', 'webinar', 'nurture'][i % 4]} sequence ${i + 1}`,
          active: hashUnit(seed + 31, i) > 0.3,
          num_steps: 1 + (i % 6),
          max_emails_per_day: 50 + (i % 5) * 25,
          unique_scheduled: Math.floor(hashUnit(seed + 32, i) * 500),
          unique_delivered: Math.floor(hashUnit(seed + 33, i) * 400),
          permissions: i % 3 === 2 ? 'private' : 'team_can_use',
          archived: i % 7 === 6,
          label_id: i % 2 === 0 ? `6095a710bd01d100a506d5${String(i % 100).padStart(2, '0')}` : null,
        };
      },
      edit: (fields, n) => ({ ...fields, num_steps: Number(fields.num_steps ?? 1) + n }),
    },
    email_accounts: {
      generate: (_seed, i) => ({ email: `outbound.${i + 1}@sim-team.example`, active: i % 6 !== 5 }),
      // A mailbox changes when it syncs again (its last_synced_at) or is switched off.
      edit: (fields, n) => ({ ...fields, active: n % 2 === 0 }),
    },
    users: {
      generate: (seed, i) => {
        const p = fakePerson(seed + 40, i);
        return {
          first_name: p.firstName,
          last_name: p.lastName,
          email: `${p.firstName}.${p.lastName}.${i}@sim-team.example`.toLowerCase(),
          title: p.title,
        };
      },
      edit: (fields, n) => ({
        ...fields,
        title: `${String(fields.title ?? 'Title').replace(/ \(v\d+\)$/, '')} (v${n})`,
      }),
    },
  },
  idOf,
  seqOf,
  present: (ctx, object, r) => PRESENTERS[object as ApolloObject](ctx, r),
  /** `POST /__sim/tokens` issues an API key (an access token the simulator accepts as a key). */
  tokenResponse: (ctx, t: IssuedTokens) => {
    keysOf(ctx).add(t.accessToken);
    return { api_key: t.accessToken };
  },
  rateLimited: (ctx, reply) =>
    reply
      .code(429)
      .send(
        rateLimitBody(reply.request.url.split('?')[0]!.replace(/^\//, ''), ctx.limits.per_minute!, 'minute'),
      ),
  serverError: (_ctx, reply) => reply.code(500).send({ error: 'Internal Server Error' }),
  faultExempt: ['/oauth/', '/api/v1/oauth/'],
  // Apollo's earlier reference has the API at /v1 (https://api.apollo.io/v1/...); clients written to it call it there.
  prefixAliases: { '/v1/': '/api/v1/' },
  routes: registerRoutes,
};
