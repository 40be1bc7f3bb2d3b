import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fakeAddress, fakeCompany, fakeDeal, fakePerson } from '../core/random.ts';
import { RateWindow } from '../core/rate-limit.ts';
import { arrivedAt, consentPage, type ProviderSimulator, type SimContext } from '../core/server.ts';
import type { ObjectStore, SimRecord } from '../core/store.ts';
import { type IssuedTokens, OAuthError } from '../core/tokens.ts';

/**
 * Pipedrive: OAuth (oauth.pipedrive.com/oauth/authorize and /oauth/token with HTTP Basic client
 * credentials), API v2 persons, organizations and deals (cursor lists with update_time filters,
 * read, create, patch, delete), API v1 users and leads, and the token-based limits: a burst window of two
 * seconds per access token and a daily token budget per company, with Pipedrive's headers and
 * 429 bodies. All hosts (oauth.pipedrive.com, api.pipedrive.com, <company>.pipedrive.com) are
 * this one origin; `api_domain` in token responses points back at it.
 */
const OBJECTS = ['persons', 'organizations', 'deals'] as const;
type PipedriveObject = (typeof OBJECTS)[number];

const SINGULAR: Record<PipedriveObject, string> = {
  persons: 'Person',
  organizations: 'Organization',
  deals: 'Deal',
};
/** The OAuth scope family that guards each object (`<family>:read`, `<family>:full`). */
const SCOPE: Record<PipedriveObject, string> = {
  persons: 'contacts',
  organizations: 'contacts',
  deals: 'deals',
};
/** Scopes a token has when the authorization request named none (the app's configured scopes). */
const APP_SCOPES = ['base', 'contacts:full', 'deals:full', 'leads:full', 'users:read'];

const ERROR_INFO = 'Please check developers.pipedrive.com for more information about Pipedrive API.';
const COMPANY = { id: 7654321, name: 'Sim Industries', domain: 'simindustries', country: 'US' };
const USERS = [
  { id: 13370001, name: 'Priya Pipeline', email: 'priya.pipeline@sim.example', admin: true },
  { id: 13370002, name: 'Diego Deals', email: 'diego.deals@sim.example', admin: false },
  { id: 13370003, name: 'Olga Owner', email: 'olga.owner@sim.example', admin: false },
];
const STAGES = ['appointmentscheduled', 'qualifiedtobuy', 'presentationscheduled', 'closedwon', 'closedlost'];
const DAY_MS = 86_400_000;
/** Deleted deals stay listable with status=deleted this long. */
const DELETED_DEALS_KEPT_MS = 30 * DAY_MS;
const MAX_LIMIT = 500;
const DEFAULT_LIMIT = 100;

/**
 * Token costs per request kind. Pipedrive prices every endpoint in tokens taken from the daily
 * budget; API v2 endpoints cost half of their v1 counterparts (v1: 2 for one record, 20 for a
 * list, 10 for a write).
 */
const COST = { v2Get: 1, v2List: 10, v2Write: 5, v2Delete: 3, v1Get: 2, v1List: 20 } as const;

function pipedriveError(
  reply: FastifyReply,
  status: number,
  error: string,
  extra: Record<string, unknown> = {},
) {
  return reply
    .code(status)
    .send({ success: false, error, error_info: ERROR_INFO, data: null, additional_data: null, ...extra });
}

class ValidationError extends Error {}

/** RFC 3339 at whole seconds, as API v2 shows times. */
const rfc3339 = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
/** v1's "YYYY-MM-DD HH:MM:SS" (UTC). */
const v1Time = (ms: number) => rfc3339(ms).replace('T', ' ').replace('Z', '');

/** An organization's address as API v2 shows it: its parts and the whole (none for about one in five). */
function pipedriveAddress(seed: number, i: number) {
  const a = fakeAddress(seed + 60, i);
  if (a.street === null) return null;
  const [number, ...route] = a.street.split(' ');
  return {
    value: `${a.street}, ${a.city}, ${a.country}`,
    street_number: number,
    route: route.join(' '),
    subpremise: i % 2 === 0 ? `Floor ${1 + (i % 9)}` : null,
    sublocality: null,
    locality: a.city,
    admin_area_level_1: a.state,
    admin_area_level_2: null,
    country: a.country,
    postal_code: a.postalCode,
    formatted_address: `${a.street}, ${a.postalCode} ${a.city}, ${a.country}`,
  };
}

/** Deterministic links: person n, deal n and lead n belong to organization ((n-1) mod organizations)+1. */
function linked(ctx: SimContext, to: 'organizations' | 'persons', seq: number): number | null {
  const size = ctx.store(to).size;
  return size === 0 ? null : ((seq - 1) % size) + 1;
}

const has = (fields: Record<string, unknown>, key: string) => Object.hasOwn(fields, key);

function present(ctx: SimContext, object: PipedriveObject, r: SimRecord): Record<string, unknown> {
  const f = r.fields;
  const common = {
    id: r.seq,
    owner_id: f.owner_id ?? USERS[0]!.id,
    add_time: rfc3339(r.createdAt),
    update_time: rfc3339(r.updatedAt),
    is_deleted: r.deleted,
    visible_to: f.visible_to ?? 3,
    label_ids: f.label_ids ?? [],
    custom_fields: f.custom_fields ?? {},
  };
  if (object === 'persons') {
    return {
      id: common.id,
      name: f.name,
      first_name: f.first_name ?? null,
      last_name: f.last_name ?? null,
      owner_id: common.owner_id,
      org_id: has(f, 'org_id') ? f.org_id : linked(ctx, 'organizations', r.seq),
      add_time: common.add_time,
      update_time: common.update_time,
      emails: f.emails ?? [],
      phones: f.phones ?? [],
      is_deleted: common.is_deleted,
      visible_to: common.visible_to,
      label_ids: common.label_ids,
      picture_id: null,
      custom_fields: common.custom_fields,
    };
  }
  if (object === 'organizations') {
    return {
      id: common.id,
      name: f.name,
      owner_id: common.owner_id,
      add_time: common.add_time,
      update_time: common.update_time,
      is_deleted: common.is_deleted,
      visible_to: common.visible_to,
      address: f.address ?? null,
      label_ids: common.label_ids,
      website: f.website ?? null,
      linkedin: null,
      industry: null,
      annual_revenue: null,
      employee_count: f.employee_count ?? null,
      custom_fields: common.custom_fields,
    };
  }
  const status = r.deleted ? 'deleted' : String(f.status ?? 'open');
  const closedAt = (kind: 'won' | 'lost') =>
    f.status !== kind ? null : typeof f[`${kind}_time`] === 'string' ? f[`${kind}_time`] : common.update_time;
  const wonTime = closedAt('won');
  const lostTime = closedAt('lost');
  return {
    id: common.id,
    title: f.title,
    owner_id: common.owner_id,
    person_id: has(f, 'person_id') ? f.person_id : linked(ctx, 'persons', r.seq),
    org_id: has(f, 'org_id') ? f.org_id : linked(ctx, 'organizations', r.seq),
    pipeline_id: f.pipeline_id ?? 1,
    stage_id: f.stage_id ?? 1,
    value: f.value ?? 0,
    currency: f.currency ?? 'USD',
    add_time: common.add_time,
    update_time: common.update_time,
    stage_change_time: null,
    is_deleted: common.is_deleted,
    is_archived: false,
    status,
    probability: f.probability ?? null,
    lost_reason: f.lost_reason ?? null,
    visible_to: common.visible_to,
    close_time: wonTime ?? lostTime,
    won_time: wonTime,
    lost_time: lostTime,
    expected_close_date: f.expected_close_date ?? null,
    label_ids: common.label_ids,
    origin: f.origin ?? 'ManuallyCreated',
    origin_id: null,
    channel: null,
    channel_id: null,
    arr: null,
    mrr: null,
    acv: null,
    custom_fields: common.custom_fields,
  };
}

/**
 * Leads have UUIDs: the simulator's end in the lead's number, so that ids sort in creation order.
 */
const LEAD_ID_PREFIX = 'adf21080-0e10-11eb-879b-';
const leadIdOf = (seq: number) => `${LEAD_ID_PREFIX}${seq.toString(16).padStart(12, '0')}`;
function leadSeqOf(id: string): number | undefined {
  if (!id.startsWith(LEAD_ID_PREFIX) || !/^[0-9a-f]{12}$/.test(id.slice(LEAD_ID_PREFIX.length)))
    return undefined;
  const seq = Number.parseInt(id.slice(LEAD_ID_PREFIX.length), 16);
  return seq >= 1 ? seq : undefined;
}
const LEAD_SOURCES = ['Leads Inbox', 'Web forms', 'Prospector', 'API'];

/** The lead fields `sort` takes here, as values to compare (ids as Pipedrive shows them). */
const LEAD_SORT_KEYS: Record<string, (r: SimRecord) => number | string> = {
  id: (r) => leadIdOf(r.seq),
  add_time: (r) => r.createdAt,
  update_time: (r) => r.updatedAt,
};

/**
 * The leads list's `sort` (`field_name ASC, other DESC`, Pipedrive's form): the keys in order, none
 * when absent, undefined when a field or mode is not one it takes.
 */
function leadOrder(
  sort: string | undefined,
): { key: (r: SimRecord) => number | string; sign: number }[] | undefined {
  if (sort === undefined || sort.trim() === '') return [];
  const order = [];
  for (const part of sort.split(',')) {
    const [field, mode = 'ASC', ...rest] = part.trim().split(/\s+/);
    const key =
      field !== undefined && Object.hasOwn(LEAD_SORT_KEYS, field) ? LEAD_SORT_KEYS[field] : undefined;
    if (!key || rest.length > 0 || !/^(ASC|DESC)$/i.test(mode)) return undefined;
    order.push({ key, sign: mode.toUpperCase() === 'DESC' ? -1 : 1 });
  }
  return order;
}

/** A lead as API v1 shows it (times with milliseconds, unlike persons' and deals'). */
function presentLead(ctx: SimContext, r: SimRecord): Record<string, unknown> {
  const f = r.fields;
  return {
    id: leadIdOf(r.seq),
    title: f.title,
    owner_id: f.owner_id ?? USERS[0]!.id,
    creator_id: USERS[0]!.id,
    label_ids: [],
    person_id: has(f, 'person_id') ? f.person_id : linked(ctx, 'persons', r.seq),
    organization_id: has(f, 'organization_id') ? f.organization_id : linked(ctx, 'organizations', r.seq),
    source_name: f.source_name ?? 'API',
    origin: 'ManuallyCreated',
    channel: null,
    channel_id: null,
    is_archived: f.is_archived ?? false,
    was_seen: true,
    value: f.value ?? null,
    expected_close_date: f.expected_close_date ?? null,
    next_activity_id: null,
    add_time: new Date(r.createdAt).toISOString(),
    update_time: new Date(r.updatedAt).toISOString(),
    visible_to: '3',
    cc_email: `sim+${COMPANY.domain}+lead${r.seq}@pipedrivemail.com`,
  };
}

function objectOf(name: string): PipedriveObject | undefined {
  return (OBJECTS as readonly string[]).includes(name) ? (name as PipedriveObject) : undefined;
}

// ---- Input validation (API v2 is strict: numbers are not coerced from strings). ----

const isInt = (v: unknown): v is number => Number.isInteger(v);
function checkType(name: string, v: unknown, type: 'string' | 'int' | 'number' | 'bool' | 'object') {
  const ok =
    type === 'int'
      ? isInt(v)
      : type === 'object'
        ? typeof v === 'object' && v !== null && !Array.isArray(v)
        : type === 'bool'
          ? typeof v === 'boolean'
          : typeof v === type;
  if (!ok) throw new ValidationError(`Validation failed: ${name}: Parameter '${name}' must be ${type}`);
}

function contactList(name: string, v: unknown) {
  if (!Array.isArray(v)) throw new ValidationError(`Validation failed: ${name}: must be an array`);
  return v.map((item, i) => {
    if (
      typeof item !== 'object' ||
      item === null ||
      typeof (item as { value?: unknown }).value !== 'string'
    ) {
      throw new ValidationError(`Validation failed: ${name}[${i}].value: must be a string`);
    }
    const { value, primary, label } = item as { value: string; primary?: unknown; label?: unknown };
    if (primary !== undefined) checkType(`${name}[${i}].primary`, primary, 'bool');
    if (label !== undefined) checkType(`${name}[${i}].label`, label, 'string');
    return { value, primary: primary ?? i === 0, label: label ?? 'work' };
  });
}

/** Fields of a create or update body, validated; `creating` requires the object's name field. */
function writeFields(object: PipedriveObject, body: unknown, creating: boolean, now: number) {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('Validation failed: request body must be a JSON object');
  }
  const b = body as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const nullableInt = (k: string) => {
    if (!has(b, k)) return;
    if (b[k] !== null) checkType(k, b[k], 'int');
    out[k] = b[k];
  };
  const str = (k: string, nullable = false) => {
    if (!has(b, k)) return;
    if (!(nullable && b[k] === null)) checkType(k, b[k], 'string');
    out[k] = b[k];
  };
  nullableInt('owner_id');
  nullableInt('visible_to');
  if (has(b, 'label_ids')) {
    if (!Array.isArray(b.label_ids) || !b.label_ids.every(isInt))
      throw new ValidationError('Validation failed: label_ids: must be an array of integers');
    out.label_ids = b.label_ids;
  }
  if (has(b, 'custom_fields')) {
    checkType('custom_fields', b.custom_fields, 'object');
    out.custom_fields = b.custom_fields;
  }
  const nameKey = object === 'deals' ? 'title' : 'name';
  if (object === 'persons') {
    str('name');
    str('first_name');
    str('last_name');
    str('job_title', true);
    nullableInt('org_id');
    if (has(b, 'emails')) out.emails = contactList('emails', b.emails);
    if (has(b, 'phones')) out.phones = contactList('phones', b.phones);
    if (out.name === undefined && (out.first_name !== undefined || out.last_name !== undefined)) {
      out.name = [out.first_name, out.last_name].filter(Boolean).join(' ');
    }
    if (typeof out.name === 'string' && out.first_name === undefined && out.last_name === undefined) {
      const [first, ...rest] = out.name.split(' ');
      out.first_name = first ?? '';
      out.last_name = rest.join(' ') || null;
    }
  } else if (object === 'organizations') {
    str('name');
    str('website', true);
    nullableInt('employee_count');
    if (has(b, 'address')) {
      if (b.address !== null) checkType('address', b.address, 'object');
      out.address = b.address;
    }
  } else {
    str('title');
    str('currency');
    str('lost_reason', true);
    str('expected_close_date', true);
    nullableInt('person_id');
    nullableInt('org_id');
    nullableInt('probability');
    if (has(b, 'stage_id')) {
      checkType('stage_id', b.stage_id, 'int');
      out.stage_id = b.stage_id;
    }
    if (has(b, 'pipeline_id')) {
      checkType('pipeline_id', b.pipeline_id, 'int');
      out.pipeline_id = b.pipeline_id;
    }
    if (has(b, 'value')) {
      checkType('value', b.value, 'number');
      out.value = b.value;
    }
    if (has(b, 'status')) {
      if (!['open', 'won', 'lost'].includes(b.status as string))
        throw new ValidationError("Validation failed: status: must be one of 'open', 'won', 'lost'");
      out.status = b.status;
      out.won_time = b.status === 'won' ? rfc3339(now) : null;
      out.lost_time = b.status === 'lost' ? rfc3339(now) : null;
    }
    if (typeof out.expected_close_date === 'string' && !/^\d{4}-\d{2}-\d{2}$/.test(out.expected_close_date)) {
      throw new ValidationError('Validation failed: expected_close_date: must be a date (YYYY-MM-DD)');
    }
  }
  if (out[nameKey] !== undefined && String(out[nameKey]).trim() === '') {
    throw new ValidationError(`Validation failed: ${nameKey}: must not be empty`);
  }
  if (creating && out[nameKey] === undefined) {
    throw new ValidationError(`Validation failed: ${nameKey}: Parameter '${nameKey}' is required`);
  }
  return out;
}

// ---- Lists: cursor pagination over the lazily generated store. ----

type SortBy = 'id' | 'update_time' | 'add_time';
interface Cursor {
  field: SortBy;
  fieldValue: number;
  sortDirection: 'asc' | 'desc';
  id: number;
}

const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');
function decodeCursor(raw: string, sortBy: SortBy, direction: 'asc' | 'desc'): Cursor {
  let c: Partial<Cursor>;
  try {
    c = JSON.parse(Buffer.from(raw, 'base64url').toString()) as Partial<Cursor>;
  } catch {
    throw new ValidationError('Validation failed: cursor: invalid cursor');
  }
  if (!c || !isInt(c.id) || typeof c.fieldValue !== 'number') {
    throw new ValidationError('Validation failed: cursor: invalid cursor');
  }
  if (c.field !== sortBy || c.sortDirection !== direction) {
    throw new ValidationError(
      'Validation failed: cursor: the cursor does not match sort_by and sort_direction',
    );
  }
  return c as Cursor;
}

/** An RFC 3339 filter bound, rounded up to whole seconds (the precision update_time is shown with). */
function timeBound(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(raw)) {
    throw new ValidationError(`Validation failed: ${name}: must be a date-time in RFC3339 format`);
  }
  const ms = Date.parse(raw);
  if (Number.isNaN(ms)) throw new ValidationError(`Validation failed: ${name}: invalid date-time`);
  return Math.ceil(ms / 1000) * 1000;
}

function intParam(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw new ValidationError(`Validation failed: ${name}: must be an integer`);
  return Number(raw);
}

type ListQuery = Partial<
  Record<
    | 'limit'
    | 'cursor'
    | 'updated_since'
    | 'updated_until'
    | 'sort_by'
    | 'sort_direction'
    | 'ids'
    | 'owner_id'
    | 'org_id'
    | 'person_id'
    | 'stage_id'
    | 'pipeline_id'
    | 'status',
    string
  >
>;

function list(ctx: SimContext, object: PipedriveObject, q: ListQuery) {
  const limit = q.limit === undefined || q.limit === '' ? DEFAULT_LIMIT : intParam('limit', q.limit)!;
  if (limit < 1 || limit > MAX_LIMIT) {
    throw new ValidationError(`Validation failed: limit: Must be between 1 and ${MAX_LIMIT}`);
  }
  const sortBy = (q.sort_by ?? 'id') as SortBy;
  if (!['id', 'update_time', 'add_time'].includes(sortBy)) {
    throw new ValidationError("Validation failed: sort_by: must be one of 'id', 'update_time', 'add_time'");
  }
  const direction = (q.sort_direction ?? 'asc') as 'asc' | 'desc';
  if (direction !== 'asc' && direction !== 'desc') {
    throw new ValidationError("Validation failed: sort_direction: must be one of 'asc', 'desc'");
  }
  const since = timeBound('updated_since', q.updated_since);
  const until = timeBound('updated_until', q.updated_until);
  const cursor = q.cursor ? decodeCursor(q.cursor, sortBy, direction) : undefined;
  const filters: [keyof ListQuery, (r: Record<string, unknown>) => unknown][] = [
    ['owner_id', (p) => p.owner_id],
    ['org_id', (p) => p.org_id],
    ...(object === 'deals'
      ? ([
          ['person_id', (p) => p.person_id],
          ['stage_id', (p) => p.stage_id],
          ['pipeline_id', (p) => p.pipeline_id],
        ] as [keyof ListQuery, (r: Record<string, unknown>) => unknown][])
      : []),
  ];
  const wanted = filters
    .map(([k, get]) => [intParam(k, q[k]), get] as const)
    .filter((f): f is readonly [number, (r: Record<string, unknown>) => unknown] => f[0] !== undefined);

  let statuses = new Set(['open', 'won', 'lost']);
  if (object === 'deals' && q.status && q.status !== 'all_not_deleted') {
    statuses = new Set(q.status.split(','));
    for (const s of statuses) {
      if (!['open', 'won', 'lost', 'deleted'].includes(s)) {
        throw new ValidationError(
          "Validation failed: status: must be one of 'open', 'won', 'lost', 'deleted', 'all_not_deleted'",
        );
      }
    }
  }
  const includeDeleted = statuses.has('deleted');
  const now = ctx.clock.now();

  const store = ctx.store(object);
  const key = (r: SimRecord) =>
    sortBy === 'update_time' ? r.updatedAt : sortBy === 'add_time' ? r.createdAt : r.seq;
  const pastCursor = (r: SimRecord) => {
    if (!cursor) return true;
    const k = key(r);
    return direction === 'asc'
      ? k > cursor.fieldValue || (k === cursor.fieldValue && r.seq > cursor.id)
      : k < cursor.fieldValue || (k === cursor.fieldValue && r.seq < cursor.id);
  };

  let source: Iterable<SimRecord>;
  if (q.ids) {
    const ids = q.ids.split(',').map((id) => intParam('ids', id.trim())!);
    if (ids.length > 100) throw new ValidationError('Validation failed: ids: at most 100 ids');
    const found = [...new Set(ids)].map((id) => store.get(id)).filter((r): r is SimRecord => !!r);
    found.sort((a, b) => key(a) - key(b) || a.seq - b.seq);
    source = direction === 'asc' ? found : found.reverse();
  } else if (sortBy !== 'update_time' && direction === 'asc') {
    // Creation order: ids and add_time grow together.
    const after = cursor?.id ?? 0;
    source =
      since === undefined && until === undefined
        ? store.bySeq(after, includeDeleted)
        : store.modifiedSinceBySeq((since ?? Number.NEGATIVE_INFINITY) - 1, after, includeDeleted, until);
  } else if (sortBy !== 'update_time') {
    const below = cursor?.id ?? store.size + 1;
    if (since !== undefined) {
      const seqs: number[] = [];
      for (const r of store.modifiedSinceBySeq(since - 1, 0, includeDeleted))
        if (r.seq < below) seqs.push(r.seq);
      source = (function* () {
        for (const seq of seqs.reverse()) {
          const r = store.get(seq);
          if (r) yield r;
        }
      })();
    } else {
      source = (function* () {
        for (let seq = below - 1; seq >= 1; seq--) {
          const r = store.get(seq);
          if (r && (includeDeleted || !r.deleted)) yield r;
        }
      })();
    }
  } else if (direction === 'asc') {
    source = store.byModified(
      cursor
        ? { updatedAt: cursor.fieldValue, seq: cursor.id }
        : since !== undefined
          ? { updatedAt: since - 1, seq: Number.MAX_SAFE_INTEGER }
          : undefined,
      includeDeleted,
    );
  } else {
    source = store.byModifiedDesc(
      cursor
        ? { updatedAt: cursor.fieldValue, seq: cursor.id }
        : until !== undefined
          ? { updatedAt: until, seq: 0 }
          : undefined,
      includeDeleted,
    );
  }

  const data: Record<string, unknown>[] = [];
  let last: SimRecord | undefined;
  let more = false;
  for (const r of source) {
    // Stop early where the order makes every later record fail the time filter.
    if (sortBy === 'update_time' && direction === 'asc' && until !== undefined && r.updatedAt >= until) break;
    if (sortBy === 'update_time' && direction === 'desc' && since !== undefined && r.updatedAt < since) break;
    if (!pastCursor(r)) continue;
    if (since !== undefined && r.updatedAt < since) continue;
    if (until !== undefined && r.updatedAt >= until) continue;
    if (r.deleted) {
      if (!includeDeleted || object !== 'deals' || (r.deletedAt ?? 0) < now - DELETED_DEALS_KEPT_MS) continue;
    } else if (object === 'deals' && !statuses.has(String(r.fields.status ?? 'open'))) {
      continue;
    }
    const item = present(ctx, object, r);
    if (!wanted.every(([value, get]) => get(item) === value)) continue;
    if (data.length === limit) {
      more = true;
      break;
    }
    data.push(item);
    last = r;
  }
  return {
    success: true,
    data,
    additional_data: {
      next_cursor:
        more && last
          ? encodeCursor({ field: sortBy, fieldValue: key(last), sortDirection: direction, id: last.seq })
          : null,
    },
  };
}

function userV1(ctx: SimContext, u: (typeof USERS)[number], you: boolean) {
  const created = v1Time(ctx.clock.now() - 400 * DAY_MS);
  return {
    id: u.id,
    name: u.name,
    default_currency: 'USD',
    locale: 'en_US',
    lang: 1,
    email: u.email,
    phone: null,
    activated: true,
    last_login: v1Time(ctx.clock.now() - 3600_000),
    created,
    modified: created,
    has_created_company: u.admin,
    access: [{ app: 'sales', admin: u.admin, permission_set_id: u.admin ? 'admin-set' : 'user-set' }],
    active_flag: true,
    timezone_name: 'Europe/Tallinn',
    timezone_offset: '+03:00',
    role_id: 1,
    icon_url: null,
    is_you: you,
    is_deleted: false,
  };
}

function registerRoutes(app: FastifyInstance, ctx: SimContext) {
  const burst = new RateWindow(ctx.clock, 2000);
  const daily = { day: -1, used: 0 };
  const youOf = (token: string) => {
    const id = Number(ctx.tokens.infoFor(token)?.userId ?? ctx.provider.account.userId);
    return USERS.find((u) => u.id === id) ?? USERS[0]!;
  };

  /**
   * Authenticates, checks the token's scopes, then spends `cost` tokens from the burst window
   * and the daily budget. Answers and returns true when the request is refused.
   */
  const guard = (
    req: FastifyRequest,
    reply: FastifyReply,
    cost: number,
    scope?: { family: string; write: boolean },
  ): boolean => {
    const auth = req.headers.authorization;
    const token = auth?.match(/^Bearer (\S+)$/i)?.[1];
    const status = auth === undefined ? 'missing' : token ? ctx.tokens.check(token) : 'malformed';
    if (status !== 'ok') {
      const info: Record<string, string> = {
        missing: ERROR_INFO,
        malformed: 'Invalid request: malformed authorization header',
        expired: 'Invalid token: access token has expired',
        invalid: 'Invalid token: access token is invalid',
      };
      pipedriveError(reply, 401, 'unauthorized access', { errorCode: 401, error_info: info[status] });
      return true;
    }
    if (scope) {
      const granted = ctx.tokens.infoFor(token ?? '')?.scopes ?? [];
      const scopes = granted.length > 0 ? granted : APP_SCOPES;
      const ok =
        scopes.includes(`${scope.family}:full`) || (!scope.write && scopes.includes(`${scope.family}:read`));
      if (!ok) {
        pipedriveError(reply, 403, 'Scope and URL mismatch', { errorCode: 403 });
        return true;
      }
    }
    const now = ctx.clock.now();
    const day = Math.floor(now / DAY_MS);
    if (daily.day !== day) Object.assign(daily, { day, used: 0 });
    const dailyLimit = ctx.limits.daily_tokens!;
    const w = burst.take(token!, ctx.limits.burst_per_2s!, arrivedAt(ctx, req));
    const overDaily = w.allowed && daily.used + cost > dailyLimit;
    if (w.allowed && !overDaily) daily.used += cost;
    const left = Math.max(0, dailyLimit - daily.used);
    reply.headers({
      'x-ratelimit-limit': String(w.limit),
      'x-ratelimit-remaining': String(w.remaining),
      'x-ratelimit-reset': String(Math.max(1, Math.ceil(w.resetInMs / 1000))),
      'x-daily-requests-left': String(left),
      'x-daily-ratelimit-token-limit': String(dailyLimit),
      'x-daily-ratelimit-token-remaining': String(left),
    });
    if (!w.allowed || overDaily) {
      const retryAfter = !w.allowed
        ? Math.max(1, Math.ceil(w.resetInMs / 1000))
        : Math.ceil(((day + 1) * DAY_MS - now) / 1000);
      reply.header('retry-after', String(retryAfter));
      pipedriveError(reply, 429, 'Request over limit', { errorCode: 429 });
      return true;
    }
    return false;
  };

  /** Runs a handler, answering validation problems with Pipedrive's 400. */
  const validated = (reply: FastifyReply, run: () => unknown) => {
    try {
      return run();
    } catch (err) {
      if (err instanceof ValidationError) return pipedriveError(reply, 400, err.message, { errorCode: 400 });
      throw err;
    }
  };

  // ---- OAuth (oauth.pipedrive.com) ----

  app.get('/oauth/authorize', async (req, reply) => consentPage(ctx, req, reply, 'Pipedrive'));

  const oauthError = (reply: FastifyReply, status: number, error: string, message: string) =>
    reply.code(status).send({ success: false, error, error_description: message, message });

  /** Client credentials from HTTP Basic only: Pipedrive ignores them in the body. */
  const basicClient = (req: FastifyRequest) => {
    const auth = req.headers.authorization;
    if (!auth?.startsWith('Basic ')) return undefined;
    const raw = Buffer.from(auth.slice(6), 'base64').toString();
    const colon = raw.indexOf(':');
    if (colon < 0) return undefined;
    return { id: decodeURIComponent(raw.slice(0, colon)), secret: decodeURIComponent(raw.slice(colon + 1)) };
  };

  app.post('/oauth/token', async (req, reply) => {
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return oauthError(
        reply,
        400,
        'invalid_request',
        'Invalid request: content must be application/x-www-form-urlencoded',
      );
    }
    const f = Object.fromEntries(new URLSearchParams(String(req.body ?? '')));
    const client = basicClient(req);
    if (!client) {
      return oauthError(reply, 401, 'invalid_client', 'Invalid client: cannot retrieve client credentials');
    }
    try {
      ctx.tokens.checkClient(client.id, client.secret);
    } catch {
      return oauthError(reply, 401, 'invalid_client', 'Invalid client: client is invalid');
    }
    if (!f.grant_type) return oauthError(reply, 400, 'invalid_request', 'Missing parameter: grant_type');
    let tokens: IssuedTokens;
    try {
      if (f.grant_type === 'authorization_code') {
        if (!f.code)
          return oauthError(reply, 400, 'invalid_grant', 'Invalid grant: authorization_code is invalid');
        if (!f.redirect_uri)
          return oauthError(
            reply,
            400,
            'invalid_request',
            'Invalid request: redirect_uri is not a valid URI',
          );
        tokens = ctx.tokens.exchangeCode({
          code: f.code,
          clientId: client.id,
          redirectUri: f.redirect_uri,
          codeVerifier: f.code_verifier,
        });
      } else if (f.grant_type === 'refresh_token') {
        tokens = ctx.tokens.refresh({ refreshToken: f.refresh_token ?? '', clientId: client.id });
      } else {
        return oauthError(
          reply,
          400,
          'unsupported_grant_type',
          'Unsupported grant type: grant_type is invalid',
        );
      }
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      const message = /redirect_uri/.test(err.description)
        ? 'Invalid request: redirect_uri is invalid'
        : f.grant_type === 'refresh_token'
          ? 'Invalid grant: refresh_token is invalid'
          : 'Invalid grant: authorization_code is invalid';
      return oauthError(reply, 400, 'invalid_grant', message);
    }
    return reply.send(ctx.provider.tokenResponse(ctx, tokens));
  });

  app.post('/oauth/revoke', async (req, reply) => {
    const client = basicClient(req);
    if (!client) {
      return oauthError(reply, 401, 'invalid_client', 'Invalid client: cannot retrieve client credentials');
    }
    try {
      ctx.tokens.checkClient(client.id, client.secret);
    } catch {
      return oauthError(reply, 401, 'invalid_client', 'Invalid client: client is invalid');
    }
    const f = Object.fromEntries(new URLSearchParams(String(req.body ?? '')));
    if (f.token_type_hint !== 'refresh_token') {
      return oauthError(
        reply,
        400,
        'unsupported_token_type',
        'The simulator revokes refresh tokens only (token_type_hint=refresh_token)',
      );
    }
    ctx.tokens.revokeRefreshToken(f.token ?? '');
    return reply.send({ success: true });
  });

  // ---- API v2: persons, organizations, deals ----

  const unknownObject = (reply: FastifyReply) =>
    pipedriveError(reply, 404, 'Unknown method .', { errorCode: 404 });
  const findLive = (store: ObjectStore, id: string) => {
    if (!/^\d+$/.test(id)) throw new ValidationError('Validation failed: id: must be an integer');
    const r = store.get(Number(id));
    return r && !r.deleted ? r : undefined;
  };
  const notFound = (reply: FastifyReply, object: PipedriveObject) =>
    pipedriveError(reply, 404, `${SINGULAR[object]} not found`, { errorCode: 404 });

  app.get<{ Params: { object: string }; Querystring: ListQuery }>('/api/v2/:object', async (req, reply) => {
    const object = objectOf(req.params.object);
    if (!object) return unknownObject(reply);
    if (guard(req, reply, COST.v2List, { family: SCOPE[object], write: false })) return reply;
    return validated(reply, () => list(ctx, object, req.query));
  });

  app.get<{ Params: { object: string; id: string } }>('/api/v2/:object/:id', async (req, reply) => {
    const object = objectOf(req.params.object);
    if (!object) return unknownObject(reply);
    if (guard(req, reply, COST.v2Get, { family: SCOPE[object], write: false })) return reply;
    return validated(reply, () => {
      const r = findLive(ctx.store(object), req.params.id);
      return r ? { success: true, data: present(ctx, object, r) } : notFound(reply, object);
    });
  });

  app.post<{ Params: { object: string } }>('/api/v2/:object', async (req, reply) => {
    const object = objectOf(req.params.object);
    if (!object) return unknownObject(reply);
    if (guard(req, reply, COST.v2Write, { family: SCOPE[object], write: true })) return reply;
    return validated(reply, () => {
      const fields = writeFields(object, req.body, true, ctx.clock.now());
      const defaults: Record<PipedriveObject, Record<string, unknown>> = {
        persons: { org_id: null },
        organizations: {},
        deals: { person_id: null, org_id: null, status: 'open', pipeline_id: 1, stage_id: 1, value: 0 },
      };
      const r = ctx.store(object).create({
        owner_id: youOf(bearerToken(req)).id,
        ...defaults[object],
        ...fields,
      });
      return reply.code(201).send({ success: true, data: present(ctx, object, r) });
    });
  });

  app.patch<{ Params: { object: string; id: string } }>('/api/v2/:object/:id', async (req, reply) => {
    const object = objectOf(req.params.object);
    if (!object) return unknownObject(reply);
    if (guard(req, reply, COST.v2Write, { family: SCOPE[object], write: true })) return reply;
    return validated(reply, () => {
      const store = ctx.store(object);
      const current = findLive(store, req.params.id);
      if (!current) return notFound(reply, object);
      const fields = writeFields(object, req.body, false, ctx.clock.now());
      const r = store.update(current.seq, fields)!;
      return { success: true, data: present(ctx, object, r) };
    });
  });

  app.delete<{ Params: { object: string; id: string } }>('/api/v2/:object/:id', async (req, reply) => {
    const object = objectOf(req.params.object);
    if (!object) return unknownObject(reply);
    if (guard(req, reply, COST.v2Delete, { family: SCOPE[object], write: true })) return reply;
    return validated(reply, () => {
      const store = ctx.store(object);
      const current = findLive(store, req.params.id);
      if (!current) return notFound(reply, object);
      store.delete(current.seq);
      return { success: true, data: { id: current.seq } };
    });
  });

  // ---- API v1: leads (also under /v1, a prefix alias) ----

  app.get<{ Querystring: { start?: string; limit?: string; archived_status?: string; sort?: string } }>(
    '/api/v1/leads',
    async (req, reply) => {
      if (guard(req, reply, COST.v1List, { family: 'leads', write: false })) return reply;
      const start = Number(req.query.start ?? 0);
      const limit = Number(req.query.limit ?? DEFAULT_LIMIT);
      const archived = req.query.archived_status ?? 'all';
      if (!Number.isInteger(start) || start < 0 || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
        return pipedriveError(
          reply,
          400,
          'Validation failed: start and limit must be integers, limit at most 500',
          {
            errorCode: 400,
          },
        );
      if (!['archived', 'not_archived', 'all'].includes(archived))
        return pipedriveError(reply, 400, 'Validation failed: archived_status', { errorCode: 400 });
      const order = leadOrder(req.query.sort);
      if (order === undefined)
        return pipedriveError(reply, 400, 'Validation failed: sort', { errorCode: 400 });
      // Creation order unless sorted; archived leads as asked (deleted ones are gone).
      const matching: SimRecord[] = [];
      for (const r of ctx.store('leads').bySeq(0, false)) {
        const isArchived = r.fields.is_archived === true;
        if (archived === 'all' || isArchived === (archived === 'archived')) matching.push(r);
      }
      if (order.length > 0)
        matching.sort((a, b) => {
          for (const { key, sign } of order) {
            const [x, y] = [key(a), key(b)];
            if (x !== y) return x < y ? -sign : sign;
          }
          return a.seq - b.seq;
        });
      const page = matching.slice(start, start + limit);
      const more = start + limit < matching.length;
      return {
        success: true,
        data: page.map((r) => presentLead(ctx, r)),
        additional_data: {
          pagination: {
            start,
            limit,
            more_items_in_collection: more,
            ...(more ? { next_start: start + limit } : {}),
          },
        },
      };
    },
  );

  // ---- API v1: users (also under /v1, a prefix alias) ----

  app.get('/api/v1/users/me', async (req, reply) => {
    if (guard(req, reply, COST.v1Get)) return reply;
    const you = youOf(bearerToken(req));
    return {
      success: true,
      data: {
        ...userV1(ctx, you, true),
        company_id: COMPANY.id,
        company_name: COMPANY.name,
        company_domain: COMPANY.domain,
        company_country: COMPANY.country,
        company_industry: 'software',
        language: { language_code: 'en', country_code: 'US' },
      },
    };
  });
  app.get('/api/v1/users', async (req, reply) => {
    if (guard(req, reply, COST.v1List)) return reply;
    const you = youOf(bearerToken(req));
    return { success: true, data: USERS.map((u) => userV1(ctx, u, u.id === you.id)) };
  });
  app.get<{ Params: { id: string } }>('/api/v1/users/:id', async (req, reply) => {
    if (guard(req, reply, COST.v1Get)) return reply;
    const you = youOf(bearerToken(req));
    const user = USERS.find((u) => String(u.id) === req.params.id);
    if (!user) return pipedriveError(reply, 404, 'User not found', { errorCode: 404 });
    return { success: true, data: userV1(ctx, user, user.id === you.id) };
  });
}

const bearerToken = (req: FastifyRequest) => req.headers.authorization?.match(/^Bearer (\S+)$/i)?.[1] ?? '';

const pick = <T>(list: readonly T[], i: number) => list[i % list.length]!;

export const pipedrive: ProviderSimulator = {
  name: 'pipedrive',
  account: { accountId: String(COMPANY.id), userId: String(USERS[0]!.id) },
  // The burst window of the lowest plan for OAuth apps (80 requests per 2 s per access token) and
  // the daily budget of a 5-seat account on it (30,000 tokens × plan multiplier 1 × 5 seats).
  limits: { burst_per_2s: 80, daily_tokens: 150_000 },
  objects: {
    persons: {
      generate: (seed, i) => {
        const p = fakePerson(seed, i);
        return {
          name: `${p.firstName} ${p.lastName}`,
          first_name: p.firstName,
          last_name: p.lastName,
          owner_id: pick(USERS, i).id,
          emails: [
            { value: p.email, primary: true, label: 'work' },
            ...(i % 3 === 0
              ? [{ value: `${p.firstName}.${i}@home.example`.toLowerCase(), primary: false, label: 'home' }]
              : []),
          ],
          phones: [
            { value: p.phone, primary: true, label: 'work' },
            ...(i % 2 === 0
              ? [{ value: `+1-555-7${String(i % 1000).padStart(3, '0')}`, primary: false, label: 'mobile' }]
              : []),
          ],
        };
      },
      edit: (fields, n) => ({
        ...fields,
        phones: [{ value: `+1-555-${String(n % 10_000).padStart(4, '0')}`, primary: true, label: 'mobile' }],
      }),
    },
    organizations: {
      generate: (seed, i) => {
        const c = fakeCompany(seed, i);
        return {
          name: c.name,
          owner_id: pick(USERS, i).id,
          address: pipedriveAddress(seed, i),
          website: `https://${c.domain}`,
          employee_count: c.employees,
        };
      },
      edit: (fields, n) => ({ ...fields, employee_count: Number(fields.employee_count ?? 0) + n }),
    },
    deals: {
      generate: (seed, i) => {
        const d = fakeDeal(seed, i);
        return {
          title: d.name,
          value: d.amount,
          currency: pick(['USD', 'EUR', 'GBP'], i),
          owner_id: pick(USERS, i).id,
          pipeline_id: 1,
          stage_id: 1 + STAGES.indexOf(d.stage),
          status: d.stage === 'closedwon' ? 'won' : d.stage === 'closedlost' ? 'lost' : 'open',
          expected_close_date: new Date(Date.UTC(2025, 0, 1) + (i % 365) * DAY_MS).toISOString().slice(0, 10),
        };
      },
      edit: (fields, n) => ({ ...fields, value: Number(fields.value ?? 0) + n }),
    },
    leads: {
      generate: (seed, i) => {
        const c = fakeCompany(seed + 50, i);
        return {
          title: `${c.name} lead`,
          owner_id: pick(USERS, i).id,
          source_name: pick(LEAD_SOURCES, i),
          is_archived: i % 5 === 4,
          value: i % 2 === 0 ? { amount: 1000 + i * 10, currency: 'USD' } : null,
        };
      },
      edit: (fields, n) => ({
        ...fields,
        title: `${String(fields.title).replace(/ \(v\d+\)$/, '')} (v${n})`,
      }),
    },
  },
  idOf: (object, seq) => (object === 'leads' ? leadIdOf(seq) : String(seq)),
  seqOf: (object, id) => (object === 'leads' ? leadSeqOf(id) : /^\d+$/.test(id) ? Number(id) : undefined),
  present: (ctx, object, r) =>
    object === 'leads' ? presentLead(ctx, r) : present(ctx, object as PipedriveObject, r),
  tokenResponse: (ctx, t) => ({
    access_token: t.accessToken,
    token_type: 'bearer',
    refresh_token: t.refreshToken,
    scope: (t.scopes.length > 0 ? [...new Set(['base', ...t.scopes])] : APP_SCOPES).join(','),
    expires_in: t.expiresIn,
    api_domain: ctx.url,
  }),
  rateLimited: (ctx, reply, retryAfterSeconds) =>
    pipedriveError(
      reply.headers({
        'retry-after': String(retryAfterSeconds),
        'x-ratelimit-limit': String(ctx.limits.burst_per_2s),
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(retryAfterSeconds),
      }),
      429,
      'Request over limit',
      { errorCode: 429 },
    ),
  serverError: (_ctx, reply) => pipedriveError(reply, 500, 'Internal server error', { errorCode: 500 }),
  faultExempt: ['/oauth/'],
  // Pipedrive serves v1 at /v1 on api.pipedrive.com (its SDK's base) and at /api/v1 on company domains.
  prefixAliases: { '/v1/': '/api/v1/' },
  routes: registerRoutes,
};
