import { decodeCursor, encodeCursor } from '../cursor.ts';
import { ConnectorError, type ProviderPolicy, type ProviderResponse } from '../http.ts';
import { fieldsFromSample } from '../sample-fields.ts';
import type {
  Connector,
  ConnectorContext,
  FieldDescription,
  PartitionPlan,
  ProviderRecord,
  RateLimitWindow,
  ReadPage,
  ReadRequest,
} from '../types.ts';

/**
 * Pipedrive. Persons, organizations and deals come from API v2's cursor lists (`limit` 500, ordered
 * by id, so a list's own `next_cursor` is a stable resume point); users from API v1, which lists
 * every user of the company in one answer; leads from API v1's offset-paged list (leads have no v2
 * list), archived ones included. Requests go to the company's API host: the `api_domain` of the
 * token response, kept as the connection's instance URL.
 *
 * Incremental reads pass `updated_since`. Pipedrive compares update times at whole seconds and
 * counts a record updated at exactly `updated_since` as changed, so the bound is `since` rounded
 * down to its second: an incremental read returns every record changed after `since`, plus any
 * changed earlier within that same second (harmless repeats; nothing is missed).
 *
 * Full reads of persons, organizations and deals from 10,000 records on are split into ranges of
 * update time, read at the same time (see `partitions`).
 *
 * Deletions:
 * - Deals: API v2 lists deleted deals (for 30 days after deletion, with `is_deleted: true` and
 *   `status: "deleted"`) when `status` names `deleted`, and deleting a deal stamps its update time,
 *   so incremental reads ask for every status including `deleted` and flag those records.
 * - Persons and organizations: deleted ones are never listed by API v2 (nor fetchable by id), so
 *   incremental reads cannot see them; the engine's full-run sweep removes them (a record missing
 *   from a full read is gone).
 * - Leads: the list cannot be filtered by update time, but it can be sorted by it: an incremental
 *   read pages through the newest first (ties by id) and stops at the first page that reaches a
 *   lead updated before `since` (keeping those at or after it), so a run that finds nothing costs
 *   one request. A full read pages through all of them in creation order. A deleted lead is gone
 *   from the list, and the full-run sweep removes it. Offsets shift back when a lead is deleted
 *   during a read, so each page starts LEADS_PAGE_OVERLAP leads before the last one ended and drops
 *   the last leads the page before had; a page with none of them (more leads went meanwhile) is
 *   asked again a page further back. A deletion between two requests thus skips nothing (a skipped
 *   lead would be swept by a full run, and an incremental read after it would not read it again).
 */
const CRM_OBJECTS = ['persons', 'organizations', 'deals'] as const;
type CrmObject = (typeof CRM_OBJECTS)[number];
const OBJECTS = [...CRM_OBJECTS, 'leads', 'users'];
const PAGE_LIMIT = 500;
/** Leads a page of the leads list starts before the last one ended (see the module comment). */
const LEADS_PAGE_OVERLAP = 10;
/** API v2's statuses with deleted deals included (the default, `all_not_deleted`, leaves them out). */
const DEAL_STATUSES_WITH_DELETED = 'open,won,lost,deleted';
/** Pipedrive's burst limits count requests in rolling two-second windows. */
const BURST_WINDOW_MS = 2000;
/**
 * Full reads are split from this many records on (20 pages): below it a sequential read takes a
 * few seconds, and a split costs two planning requests, a catch-up and at least one per range.
 */
const SPLIT_FROM_RECORDS = 10_000;
/**
 * As many as the engine reads at once. A range is read a page after another, each page of 500 about
 * 0.4 s away with its building at 300 ms of latency: 16 ranges could ask no more than the budget's
 * 40 requests a second, and fell behind it whenever a page came late. A range more costs a partial
 * last page, a request, on average half of one.
 */
const MAX_RANGES = 32;
/**
 * The catch-up partition starts this long before the split's instant: Pipedrive stamps update
 * times by its clock, Trellis plans by its own. The engine's watermark keeps the same margin, and
 * a run recognises the records it wrote within it, so those the catch-up reads again are not
 * written twice.
 */
const CATCH_UP_MARGIN_MS = 60_000;

const FIELDS_PATH: Record<CrmObject, string> = {
  persons: '/api/v2/personFields',
  organizations: '/api/v2/organizationFields',
  deals: '/api/v2/dealFields',
};
/** Fields Pipedrive maintains itself; API v2's field metadata does not say which ones those are. */
const SYSTEM_FIELDS = new Set([
  'id',
  'add_time',
  'update_time',
  'is_deleted',
  'is_archived',
  'archive_time',
  'creator_user_id',
  'picture_id',
  'stage_change_time',
  'close_time',
  'won_time',
  'lost_time',
  'first_won_time',
  'next_activity_id',
  'last_activity_id',
  'last_incoming_mail_time',
  'last_outgoing_mail_time',
  'arr',
  'mrr',
  'acv',
  'origin',
  'origin_id',
  'cc_email',
]);

interface PipedriveRecord {
  id: number;
  update_time: string;
  is_deleted?: boolean;
  status?: string;
  [key: string]: unknown;
}

interface V2List<T> {
  success: boolean;
  data: T[] | null;
  additional_data?: { next_cursor?: string | null };
}

interface V1User {
  id: number;
  email: string;
  created: string;
  modified: string | null;
  is_deleted?: boolean;
  [key: string]: unknown;
}

type Cursor =
  | { mode: 'full'; next: string }
  | { mode: 'changes'; since: string; next: string }
  /** `seen`: the last leads read, which the next page drops (its overlap). */
  | { mode: 'leads'; start: number; since?: number; newestFirst?: boolean; seen?: string[] }
  /** Within a partition. */
  | { mode: 'range'; next: string };

/**
 * A partition of a full read: records with `since <= update_time < until` (RFC 3339 at whole
 * seconds, as Pipedrive shows update times), either bound open.
 */
interface TimeRange {
  since?: string;
  until?: string;
}

interface V1Lead {
  id: string;
  update_time: string;
  [key: string]: unknown;
}

const header = (headers: Headers, name: string): number | undefined => {
  const value = headers.get(name);
  if (value === null || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
};

export const pipedrivePolicy: ProviderPolicy = {
  classify(res: ProviderResponse) {
    if (res.status === 429) {
      // Both the burst window and the daily token budget answer 429 with `retry-after`: the
      // window's end, or UTC midnight for the daily budget (longer than any wait the engine
      // sits out, so that one surfaces as rate_limited with its wait hint).
      const seconds = header(res.headers, 'retry-after');
      return seconds === undefined
        ? { kind: 'rate_limited' }
        : { kind: 'rate_limited', waitMs: seconds * 1000 };
    }
    if (res.status === 401) return { kind: 'auth' };
    // 402: the company's subscription has lapsed; nothing this connection can fix by retrying.
    if (res.status === 402) return { kind: 'permission' };
    return undefined;
  },
  /**
   * The burst window sets the pace: `x-ratelimit-limit` requests per two seconds, with
   * `x-ratelimit-remaining` left until `x-ratelimit-reset` seconds from now. The daily token
   * budget (`x-daily-requests-left`, `x-daily-ratelimit-token-remaining`) is not turned into a pause
   * here: a pause until midnight would stall every caller of the connection silently, whereas the
   * 429 Pipedrive answers once it is spent carries `retry-after`, which `classify` passes on.
   */
  budget(headers: Headers) {
    const remaining = header(headers, 'x-ratelimit-remaining');
    const limit = header(headers, 'x-ratelimit-limit');
    if (remaining === undefined || limit === undefined) return undefined;
    const reset = header(headers, 'x-ratelimit-reset') ?? BURST_WINDOW_MS / 1000;
    return { remaining, resetInMs: reset * 1000, limit, windowMs: BURST_WINDOW_MS };
  },
};

function checkObject(object: string): asserts object is CrmObject {
  if (!(CRM_OBJECTS as readonly string[]).includes(object)) {
    throw new ConnectorError(
      'validation',
      `Pipedrive object "${object}" is not one of ${CRM_OBJECTS.join(', ')}`,
    );
  }
}

function toRecord(o: PipedriveRecord): ProviderRecord {
  return {
    id: String(o.id),
    lastModifiedAt: new Date(o.update_time),
    isDeleted: o.is_deleted === true || o.status === 'deleted',
    raw: o,
  };
}

/** v1 times are `YYYY-MM-DD HH:MM:SS` in UTC. */
const v1Time = (s: string | null | undefined): Date | undefined => {
  if (!s) return undefined;
  const d = new Date(`${s.replace(' ', 'T')}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d;
};

/** RFC 3339 at whole seconds, rounded down (see the incremental reads above). */
const wholeSecond = (d: Date) =>
  new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/**
 * A v2 list by id, within `range`; deleted deals too for incremental reads (`withDeleted`).
 * `resume` makes the read's cursor from the list's own.
 */
async function* readList(
  ctx: ConnectorContext,
  object: CrmObject,
  range: TimeRange,
  withDeleted: boolean,
  start: string | undefined,
  resume: (next: string) => Cursor,
): AsyncIterable<ReadPage> {
  let next = start;
  for (;;) {
    const res = await ctx.http.request<V2List<PipedriveRecord>>({
      path: `/api/v2/${object}`,
      query: {
        limit: PAGE_LIMIT,
        sort_by: 'id',
        sort_direction: 'asc',
        cursor: next,
        updated_since: range.since,
        updated_until: range.until,
        status: withDeleted && object === 'deals' ? DEAL_STATUSES_WITH_DELETED : undefined,
      },
    });
    const after = res.body.additional_data?.next_cursor ?? undefined;
    yield {
      records: (res.body.data ?? []).map(toRecord),
      cursor: after ? encodeCursor(resume(after) satisfies Cursor) : null,
    };
    if (!after) return;
    next = after;
  }
}

/** The first record of a v2 list in the given order, if any. */
async function firstOf(
  ctx: ConnectorContext,
  object: CrmObject,
  sortBy: 'id' | 'update_time',
  direction: 'asc' | 'desc',
): Promise<PipedriveRecord | undefined> {
  const res = await ctx.http.request<V2List<PipedriveRecord>>({
    path: `/api/v2/${object}`,
    query: { limit: 1, sort_by: sortBy, sort_direction: direction },
  });
  return res.body.data?.[0];
}

/**
 * Ranges of update time for a full read begun at `now`, and the catch-up partition read after
 * them; undefined for an object better read whole. API v2 lists give no count: ids grow as
 * records are created, so the highest id bounds how many there are (too high where many were
 * deleted: a split that was not needed costs its planning and a request per range). The ranges
 * divide the time from the oldest update time up to `now` evenly, at whole seconds; the first is
 * open below, the last ends at `now`.
 *
 * Even slices of time are only as even in records as update times are spread: an import that
 * stamped most records within one slice leaves that slice to one sequential read.
 */
async function timeRanges(
  ctx: ConnectorContext,
  object: CrmObject,
  now: number,
): Promise<PartitionPlan | undefined> {
  // Asked together: a round trip less before the read starts, for a request wasted on an object
  // too small to split.
  const [newest, oldest] = await Promise.all([
    firstOf(ctx, object, 'id', 'desc'),
    firstOf(ctx, object, 'update_time', 'asc'),
  ]);
  if (newest === undefined || oldest === undefined || newest.id < SPLIT_FROM_RECORDS) return undefined;
  const to = Math.floor(now / 1000);
  const from = Math.floor(Date.parse(oldest.update_time) / 1000);
  // Ranges of two pages or more (as the highest id counts records): a range of less than a page
  // costs a request for fewer records.
  const count = Math.min(MAX_RANGES, to - from, Math.floor(newest.id / (2 * PAGE_LIMIT)));
  if (!(count >= 2)) return undefined;
  const bounds = Array.from(
    { length: count - 1 },
    (_, i) => from + Math.round(((i + 1) * (to - from)) / count),
  );
  const at = (seconds: number) => wholeSecond(new Date(seconds * 1000));
  const ranges: TimeRange[] = [undefined, ...bounds].map((since, i) => ({
    ...(since === undefined ? {} : { since: at(since) }),
    until: at(bounds[i] ?? to),
  }));
  return {
    partitions: ranges.map((r) => encodeCursor(r)),
    last: encodeCursor({
      since: at(Math.ceil((now - CATCH_UP_MARGIN_MS) / 1000)),
    } satisfies TimeRange),
  };
}

function decodeRange(partition: string): TimeRange {
  const range = decodeCursor<TimeRange>(partition);
  const valid = (t: unknown) => t === undefined || (typeof t === 'string' && !Number.isNaN(Date.parse(t)));
  if (typeof range !== 'object' || range === null || !valid(range.since) || !valid(range.until))
    throw new ConnectorError('validation', 'the read partition is not one this connector described');
  return range;
}

/** Users are few, listed whole by API v1, and cannot be filtered by date: every read returns all. */
async function* readUsers(ctx: ConnectorContext): AsyncIterable<ReadPage> {
  const res = await ctx.http.request<{ data: V1User[] | null }>({ path: '/api/v1/users' });
  yield {
    records: (res.body.data ?? []).map((u) => ({
      id: String(u.id),
      lastModifiedAt: v1Time(u.modified) ?? v1Time(u.created) ?? new Date(0),
      isDeleted: u.is_deleted === true,
      raw: u,
    })),
    cursor: null,
  };
}

/**
 * Whether a page of leads, newest first, reaches one updated before `since` (every lead after it
 * is older still). A page out of that order (the sort not applied) proves nothing.
 */
function reachesBefore(page: V1Lead[], since: number): boolean {
  const times = page.map((l) => Date.parse(l.update_time));
  return times.every((t, i) => i === 0 || times[i - 1]! >= t) && times.some((t) => t < since);
}

/**
 * Leads by offset (see the module comment): all of them in creation order, or, for a read that
 * began newest first, those updated at or after `since`.
 */
async function* readLeads(
  ctx: ConnectorContext,
  from: Extract<Cursor, { mode: 'leads' }>,
): AsyncIterable<ReadPage> {
  // Cursors issued before reads went newest first page in creation order to the end.
  const newestFirst = from.since !== undefined && from.newestFirst === true;
  let start = from.start;
  let seen = new Set(Array.isArray(from.seen) ? from.seen : []);
  for (;;) {
    const res = await ctx.http.request<{
      data: V1Lead[] | null;
      additional_data?: { pagination?: { more_items_in_collection?: boolean; next_start?: number } };
    }>({
      path: '/api/v1/leads',
      query: {
        start,
        limit: PAGE_LIMIT,
        archived_status: 'all',
        // Ids break ties between leads updated at the same instant: the same order every request.
        ...(newestFirst ? { sort: 'update_time DESC, id ASC' } : {}),
      },
    });
    const page = res.body.data ?? [];
    // More leads went since the last page than the overlap covers (none of the last ones read is
    // here): leads between would be skipped, so the read steps a page back.
    if (start > 0 && seen.size > 0 && page.length > 0 && !page.some((l) => seen.has(l.id))) {
      start = Math.max(0, start - PAGE_LIMIT);
      continue;
    }
    const leads = page.filter(
      (l) => !seen.has(l.id) && (from.since === undefined || Date.parse(l.update_time) >= from.since),
    );
    // Twice the overlap: a lead updated meanwhile moves to the front, and the rest one further back.
    const last = page.slice(-2 * LEADS_PAGE_OVERLAP).map((l) => l.id);
    seen = new Set(last);
    const pagination = res.body.additional_data?.pagination;
    const reachedOlder = newestFirst && reachesBefore(page, from.since!);
    const next =
      pagination?.more_items_in_collection && pagination.next_start !== undefined && !reachedOlder
        ? Math.max(start + 1, pagination.next_start - LEADS_PAGE_OVERLAP)
        : undefined;
    yield {
      records: leads.map((l) => ({
        id: l.id,
        lastModifiedAt: new Date(l.update_time),
        isDeleted: false,
        raw: l,
      })),
      cursor: next === undefined ? null : encodeCursor({ ...from, start: next, seen: last } satisfies Cursor),
    };
    if (next === undefined) return;
    start = next;
  }
}

async function fieldsOf(ctx: ConnectorContext, object: CrmObject): Promise<FieldDescription[]> {
  const fields: FieldDescription[] = [];
  let next: string | undefined;
  do {
    const res = await ctx.http.request<
      V2List<{ field_code: string; field_name: string; field_type: string; is_custom_field?: boolean }>
    >({ path: FIELDS_PATH[object], query: { limit: PAGE_LIMIT, cursor: next } });
    for (const f of res.body.data ?? []) {
      fields.push({
        name: f.field_code,
        label: f.field_name,
        type: f.field_type,
        readOnly: !f.is_custom_field && SYSTEM_FIELDS.has(f.field_code),
      });
    }
    next = res.body.additional_data?.next_cursor ?? undefined;
  } while (next);
  return fields;
}

const windowOf = (limit: number | undefined, remaining: number | undefined, resetTime?: number) =>
  limit === undefined || remaining === undefined
    ? undefined
    : ({ limit, remaining, ...(resetTime === undefined ? {} : { resetTime }) } satisfies RateLimitWindow);

export const pipedriveConnector: Connector = {
  /**
   * Persons, organizations and deals split into ranges of update time, each read by id within its
   * range, and a catch-up partition of every record updated since the split (less a margin for
   * clock skew) that the engine reads once the ranges are read. A record changed during the read
   * may leave a range not read yet, or join one read already; it then has an update time after
   * the split, and the catch-up, read after the change, has it. Every record that exists at the
   * end is thus read at least once; one in a range and the catch-up is read twice. Leads and users
   * are read whole.
   */
  async partitions(ctx, req) {
    if (!(CRM_OBJECTS as readonly string[]).includes(req.object)) return undefined;
    return timeRanges(ctx, req.object as CrmObject, Date.now());
  },

  /**
   * `fields` is not needed: API v2 lists carry every standard field and every custom field (under
   * `custom_fields`) of each record.
   */
  async *read(ctx: ConnectorContext, req: ReadRequest) {
    if (req.object === 'users') {
      yield* readUsers(ctx);
      return;
    }
    const start = req.cursor ? decodeCursor<Cursor>(req.cursor) : undefined;
    if (req.object === 'leads') {
      yield* readLeads(
        ctx,
        start?.mode === 'leads'
          ? start
          : {
              mode: 'leads',
              start: 0,
              ...(req.since ? { since: req.since.getTime(), newestFirst: true } : {}),
            },
      );
      return;
    }
    checkObject(req.object);
    if (req.partition !== undefined) {
      if (start !== undefined && start.mode !== 'range')
        throw new ConnectorError('validation', 'the read cursor is not one this connector issued');
      yield* readList(ctx, req.object, decodeRange(req.partition), false, start?.next, (next) => ({
        mode: 'range',
        next,
      }));
    } else if (start?.mode === 'leads' || start?.mode === 'range') {
      throw new ConnectorError('validation', 'not a cursor of this read');
    } else if (start?.mode === 'changes' || (start === undefined && req.since)) {
      const since = start ? start.since : wholeSecond(req.since!);
      yield* readList(ctx, req.object, { since }, true, start?.next, (next) => ({
        mode: 'changes',
        since,
        next,
      }));
    } else {
      yield* readList(ctx, req.object, {}, false, start?.next, (next) => ({ mode: 'full', next }));
    }
  },

  async create(ctx, object, fields) {
    checkObject(object);
    const res = await ctx.http.request<{ data: PipedriveRecord }>({
      method: 'POST',
      path: `/api/v2/${object}`,
      body: fields,
    });
    return toRecord(res.body.data);
  },

  async update(ctx, object, id, fields) {
    checkObject(object);
    const res = await ctx.http.request<{ data: PipedriveRecord }>({
      method: 'PATCH',
      path: `/api/v2/${object}/${encodeURIComponent(id)}`,
      body: fields,
    });
    return toRecord(res.body.data);
  },

  async delete(ctx, object, id) {
    checkObject(object);
    await ctx.http.request({ method: 'DELETE', path: `/api/v2/${object}/${encodeURIComponent(id)}` });
  },

  async listObjects() {
    return [...OBJECTS];
  },

  /**
   * API v2's field metadata for persons, organizations and deals; users and leads have none, so
   * their records' keys.
   */
  async describeFields(ctx, object) {
    if (object === 'leads') {
      const res = await ctx.http.request<{ data: V1Lead[] | null }>({
        path: '/api/v1/leads',
        query: { limit: 1 },
      });
      const sample = res.body.data?.[0];
      return sample ? fieldsFromSample(sample) : [];
    }
    if (object === 'users') {
      const me = await ctx.http.request<{ data: V1User }>({ path: '/api/v1/users/me' });
      return Object.entries(me.body.data)
        .filter(([name]) => !name.startsWith('company_') && name !== 'language')
        .map(([name, value]) => ({
          name,
          label: name,
          type: Array.isArray(value) ? 'array' : value === null ? 'unknown' : typeof value,
          readOnly: true,
        }));
    }
    checkObject(object);
    return fieldsOf(ctx, object);
  },

  /** The token's user, and the company as the account. */
  async whoAmI(ctx) {
    const res = await ctx.http.request<{
      data: { id: number; company_id: number; [key: string]: unknown };
    }>({ path: '/api/v1/users/me' });
    const me = res.body.data;
    return { userId: String(me.id), accountId: String(me.company_id), raw: me };
  },

  /**
   * From the headers of the cheapest call: the burst window (rolling, so no reset time) and the
   * company's daily token budget, which resets at UTC midnight.
   */
  async rateLimitInfo(ctx) {
    const res = await ctx.http.request({ path: '/api/v1/users/me' });
    const h = res.headers;
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    const daily = windowOf(
      header(h, 'x-daily-ratelimit-token-limit'),
      header(h, 'x-daily-ratelimit-token-remaining') ?? header(h, 'x-daily-requests-left'),
      Math.floor(midnight.getTime() / 1000),
    );
    const burst = windowOf(header(h, 'x-ratelimit-limit'), header(h, 'x-ratelimit-remaining'));
    const other: Record<string, RateLimitWindow> = {};
    if (burst) other.burst_two_seconds = burst;
    return { ...(daily ? { daily } : {}), other };
  },
};
