import { decodeCursor, encodeCursor } from '../cursor.ts';
import { ConnectorError, type ProviderPolicy, type ProviderResponse } from '../http.ts';
import { fieldsFromSample } from '../sample-fields.ts';
import type {
  Connector,
  ConnectorContext,
  FieldDescription,
  ProviderRecord,
  RateLimitWindow,
  ReadPage,
  ReadRequest,
} from '../types.ts';

/**
 * Apollo.io (API key in the `x-api-key` header). Contacts, accounts, sequences (Apollo's
 * `emailer_campaigns`) and users come from Apollo's page-numbered search endpoints, 100 records a
 * page.
 *
 * Contacts and accounts can be sorted by their update time, and every read walks that order:
 * newest first, so an incremental read stops at the first record not changed after `since`, and a
 * record changed during the read moves to the front, behind the read's position, instead of
 * pushing an unread record out of reach. Page numbers are offsets into a set that changes while
 * it is read, so each page's records are checked against the position reached (the update time of
 * the last record returned and the ids returned at that time): records already returned are
 * dropped, and when `total_entries` shrinks between two pages (deletions ahead of the position
 * move records into pages already read) the read steps back as many pages as records vanished.
 *
 * The 500-page display limit: Apollo shows at most 50,000 records of a search (100 a page, pages
 * 1–500; later pages are empty) and has no update-time range filter to narrow one. A read that
 * reaches page 500 with more to go continues from the other end: the same search oldest first,
 * returning records until it meets the oldest record the newest-first pass returned. Both ends
 * together reach 100,000 records; an object with more cannot be read whole through Apollo's API,
 * and the read fails with a validation error rather than return an incomplete set (which the
 * engine's full-run sweep would take as deletions). Narrowing by contact/account stage would go
 * further, but needs each account's stage ids and is not done.
 *
 * Sequences and users have no update time and no sort: every read (incremental ones too) pages
 * through all of them, as HubSpot owners are read. Email accounts (the mailboxes sequences send
 * from) are listed whole in one answer, dated by their last sync with the mailbox.
 *
 * Deletions are not visible: a deleted contact or account just disappears from search (Apollo has
 * no deleted flag or deleted-records listing), so incremental reads cannot report it; the engine's
 * full-run sweep removes it.
 */
const PER_PAGE = 100;
const MAX_PAGE = 500;
/** "A display limit of 50,000 records (100 records per page, up to 500 pages)." */
const DISPLAY_LIMIT = PER_PAGE * MAX_PAGE;

interface ObjectSpec {
  path: string;
  method: 'GET' | 'POST';
  /** The response field holding the page's records. */
  list: string;
  /** The `sort_by_field` value for the update time, where the search can sort by it. */
  updatedSort?: string;
  /** The field that dates the record's last change. */
  timeField: 'updated_at' | 'created_at' | 'last_synced_at';
}

const OBJECTS: Record<string, ObjectSpec> = {
  contacts: {
    path: '/api/v1/contacts/search',
    method: 'POST',
    list: 'contacts',
    updatedSort: 'contact_updated_at',
    timeField: 'updated_at',
  },
  accounts: {
    path: '/api/v1/accounts/search',
    method: 'POST',
    list: 'accounts',
    updatedSort: 'account_updated_at',
    timeField: 'updated_at',
  },
  emailer_campaigns: {
    path: '/api/v1/emailer_campaigns/search',
    method: 'POST',
    list: 'emailer_campaigns',
    timeField: 'created_at',
  },
  users: { path: '/api/v1/users/search', method: 'GET', list: 'users', timeField: 'created_at' },
  // Not paged: one answer lists them all, which the page reader takes as its only page.
  email_accounts: {
    path: '/api/v1/email_accounts',
    method: 'GET',
    list: 'email_accounts',
    timeField: 'last_synced_at',
  },
};
const OBJECT_NAMES = Object.keys(OBJECTS);
/** Sequences are `emailer_campaigns` in Apollo's API; the engagement name is accepted too. */
const ALIASES: Record<string, string> = { sequences: 'emailer_campaigns' };

/** Contact fields the create and update endpoints take. */
const CONTACT_WRITABLE = new Set([
  'first_name',
  'last_name',
  'organization_name',
  'title',
  'account_id',
  'email',
  'website_url',
  'label_names',
  'contact_stage_id',
  'owner_id',
  'present_raw_address',
  'direct_phone',
  'corporate_phone',
  'mobile_phone',
  'home_phone',
  'other_phone',
  'typed_custom_fields',
]);

interface ApolloRecord {
  id: string;
  updated_at?: string | null;
  created_at?: string | null;
  last_synced_at?: string | null;
  [key: string]: unknown;
}

interface SearchResponse {
  pagination?: { page: number | string; per_page: number; total_entries: number; total_pages: number };
  [list: string]: unknown;
}

type Cursor =
  | {
      m: 'updated';
      since?: number;
      /**
       * Newest first from page 1, then (past page 500) oldest first until `stopAt`/`stopIds`, the
       * oldest record the first pass returned, or until `rest` records (those the first pass could
       * not show) are covered, whichever comes first.
       */
      phase: 'newest' | 'oldest';
      page: number;
      /** `total_entries` of the last page read; -1 before the first. */
      total: number;
      /** Update time of the last record returned in this phase, and the ids returned at that time. */
      at: number | null;
      ids: string[];
      stopAt?: number;
      stopIds?: string[];
      rest?: number;
    }
  | { m: 'pages'; page: number; total: number };

const num = (headers: Headers, name: string) => {
  const v = headers.get(name);
  return v === null || v === '' ? Number.NaN : Number(v);
};

/** Apollo's fixed windows, as its headers show them: [limit header, requests-left header]. */
const WINDOWS = {
  minute: ['x-rate-limit-minute', 'x-minute-requests-left'],
  hourly: ['x-rate-limit-hourly', 'x-hourly-requests-left'],
  daily: ['x-rate-limit-24-hour', 'x-24-hour-requests-left'],
} as const;

function window(headers: Headers, which: keyof typeof WINDOWS): RateLimitWindow | undefined {
  const [limitHeader, leftHeader] = WINDOWS[which];
  const limit = num(headers, limitHeader);
  const remaining = num(headers, leftHeader);
  return Number.isFinite(limit) && Number.isFinite(remaining) ? { limit, remaining } : undefined;
}

/**
 * Apollo counts requests per endpoint in fixed minute, hour and day windows and says neither when
 * a window started nor when it resets. The pace follows the minute window's limit; a spent minute
 * window is retried after a few seconds (refused requests do not count), a spent hour window each
 * minute (up to the connector's longest rate-limit wait, then the run fails and is retried later),
 * and a spent day window fails at once.
 */
const MINUTE_RETRY_MS = 5_000;
const HOUR_RETRY_MS = 60_000;
const DAY_RETRY_MS = 60 * 60_000;

export const apolloPolicy: ProviderPolicy = {
  classify(res: ProviderResponse) {
    const body = res.body;
    if (res.status === 429) {
      const message =
        typeof body === 'string' ? body : String((body as { message?: unknown } | null)?.message ?? '');
      if (/per day/i.test(message)) return { kind: 'rate_limited', waitMs: DAY_RETRY_MS };
      if (/per hour/i.test(message)) return { kind: 'rate_limited', waitMs: HOUR_RETRY_MS };
      return { kind: 'rate_limited' };
    }
    if (res.status === 401) return { kind: 'auth' };
    // Updating a deleted contact: 422 with the contact's id in `deleted_contact_ids`.
    if (
      res.status === 422 &&
      Array.isArray((body as { deleted_contact_ids?: unknown })?.deleted_contact_ids)
    ) {
      return { kind: 'not_found' };
    }
    return undefined;
  },
  budget(headers: Headers) {
    const minute = window(headers, 'minute');
    if (!minute) return undefined;
    const hourly = window(headers, 'hourly');
    const daily = window(headers, 'daily');
    if (daily && daily.remaining <= 0) return { remaining: 0, resetInMs: 0, ...paceOf(minute) };
    if (hourly && hourly.remaining <= 0) return { remaining: 0, resetInMs: HOUR_RETRY_MS, ...paceOf(minute) };
    return { remaining: minute.remaining, resetInMs: MINUTE_RETRY_MS, ...paceOf(minute) };
  },
};

const paceOf = (minute: RateLimitWindow) => ({ limit: minute.limit, windowMs: 60_000 });

function specOf(object: string): ObjectSpec {
  const spec = OBJECTS[ALIASES[object] ?? object];
  if (!spec) {
    throw new ConnectorError(
      'validation',
      `Apollo object "${object}" is not one of ${OBJECT_NAMES.join(', ')} (or sequences)`,
    );
  }
  return spec;
}

function timeOf(spec: ObjectSpec, r: ApolloRecord): number {
  const t = Date.parse(r[spec.timeField] ?? r.created_at ?? '');
  return Number.isNaN(t) ? 0 : t;
}

function toRecord(spec: ObjectSpec, r: ApolloRecord): ProviderRecord {
  return { id: r.id, lastModifiedAt: new Date(timeOf(spec, r)), isDeleted: false, raw: r };
}

async function search(
  ctx: ConnectorContext,
  spec: ObjectSpec,
  page: number,
  opts: { perPage?: number; ascending?: boolean } = {},
): Promise<{ items: ApolloRecord[]; total: number }> {
  const params = {
    page,
    per_page: opts.perPage ?? PER_PAGE,
    ...(spec.updatedSort && opts.ascending !== undefined
      ? { sort_by_field: spec.updatedSort, sort_ascending: opts.ascending }
      : {}),
  };
  const res =
    spec.method === 'GET'
      ? await ctx.http.request<SearchResponse>({ path: spec.path, query: params })
      : await ctx.http.request<SearchResponse>({ method: 'POST', path: spec.path, body: params });
  const items = (res.body[spec.list] ?? []) as ApolloRecord[];
  return { items, total: Number(res.body.pagination?.total_entries ?? items.length) };
}

const tooMany = (object: string, total: number) =>
  new ConnectorError(
    'validation',
    `Apollo ${object} has ${total.toLocaleString('en-US')} records: its search shows at most ${DISPLAY_LIMIT.toLocaleString('en-US')} ` +
      'from each end of the update order (500 pages of 100), so they cannot all be read',
  );

/** Contacts and accounts: the update-time order, both ends (see the module comment). */
async function* readByUpdate(
  ctx: ConnectorContext,
  object: string,
  spec: ObjectSpec,
  start: Extract<Cursor, { m: 'updated' }>,
): AsyncIterable<ReadPage> {
  const c = { ...start };
  const since = c.since;
  for (;;) {
    const newest = c.phase === 'newest';
    const { items, total } = await search(ctx, spec, c.page, { ascending: !newest });
    if (newest && c.page === 1 && since === undefined && total > 2 * DISPLAY_LIMIT) {
      throw tooMany(object, total);
    }
    if (c.total >= 0 && total < c.total && c.page > 1) {
      // Records ahead of the position vanished: the rest moved up into pages already read.
      c.page = Math.max(1, c.page - Math.ceil((c.total - total) / PER_PAGE));
      c.total = total;
      continue;
    }
    const records: ProviderRecord[] = [];
    let ids = new Set(c.ids);
    let done = false;
    for (const item of items) {
      const t = timeOf(spec, item);
      if (newest) {
        if (since !== undefined && t <= since) {
          done = true;
          break;
        }
        // Newer than the position: returned already, or changed during this read (the next
        // incremental read, which starts before this one did, returns it).
        if (c.at !== null && (t > c.at || (t === c.at && ids.has(item.id)))) continue;
      } else {
        // Past where the newest-first pass stopped: the rest was returned by it.
        if (t > c.stopAt!) {
          done = true;
          break;
        }
        if (t === c.stopAt && c.stopIds!.includes(item.id)) continue;
        if (since !== undefined && t <= since) continue;
        if (c.at !== null && (t < c.at || (t === c.at && ids.has(item.id)))) continue;
      }
      records.push(toRecord(spec, item));
      if (t === c.at) ids.add(item.id);
      else {
        c.at = t;
        ids = new Set([item.id]);
      }
    }
    c.ids = [...ids];
    if (!done) {
      done =
        items.length < PER_PAGE ||
        c.page * PER_PAGE >= total ||
        // The oldest-first pass has covered every position the newest-first pass could not show
        // (with exactly 100,000 records, the record to stop at is first on page 501, out of sight).
        (!newest && c.page * PER_PAGE >= c.rest!);
    }
    if (done) {
      yield { records, cursor: null };
      return;
    }
    if (c.page < MAX_PAGE) {
      c.page++;
      c.total = total;
    } else if (newest) {
      // Page 500 of the newest-first order: the rest is read oldest first, up to where this pass stopped.
      if (total > 2 * DISPLAY_LIMIT) throw tooMany(object, total);
      Object.assign(c, {
        phase: 'oldest',
        page: 1,
        total: -1,
        at: null,
        ids: [],
        stopAt: c.at ?? Number.MAX_SAFE_INTEGER,
        stopIds: c.ids,
        rest: total - DISPLAY_LIMIT,
      });
    } else {
      throw tooMany(object, total);
    }
    yield { records, cursor: encodeCursor(c satisfies Cursor) };
  }
}

/** Sequences, users and email accounts: every record, by page number. */
async function* readPages(
  ctx: ConnectorContext,
  object: string,
  spec: ObjectSpec,
  start: Extract<Cursor, { m: 'pages' }>,
): AsyncIterable<ReadPage> {
  let { page, total: previous } = start;
  const seen = new Set<string>();
  for (;;) {
    const { items, total } = await search(ctx, spec, page);
    if (total > DISPLAY_LIMIT) throw tooMany(object, total);
    if (previous >= 0 && total < previous && page > 1) {
      page = Math.max(1, page - Math.ceil((previous - total) / PER_PAGE));
      previous = total;
      continue;
    }
    const records = items.filter((r) => !seen.has(r.id)).map((r) => toRecord(spec, r));
    for (const r of records) seen.add(r.id);
    const done = items.length < PER_PAGE || page * PER_PAGE >= total;
    yield {
      records,
      cursor: done ? null : encodeCursor({ m: 'pages', page: page + 1, total } satisfies Cursor),
    };
    if (done) return;
    page++;
    previous = total;
  }
}

function contactsOnly(object: string): void {
  if ((ALIASES[object] ?? object) !== 'contacts') {
    throw new ConnectorError('validation', `Trellis writes Apollo contacts only, not "${object}"`);
  }
}

function contactFields(fields: Record<string, unknown>): Record<string, unknown> {
  const unknown = Object.keys(fields).filter((k) => !CONTACT_WRITABLE.has(k));
  if (unknown.length > 0) {
    throw new ConnectorError('validation', `Apollo contacts cannot be written with ${unknown.join(', ')}`);
  }
  return fields;
}

export const apolloConnector: Connector = {
  async *read(ctx: ConnectorContext, req: ReadRequest) {
    const spec = specOf(req.object);
    const start = req.cursor ? decodeCursor<Cursor>(req.cursor) : undefined;
    if (spec.updatedSort) {
      if (start && start.m !== 'updated') throw new ConnectorError('validation', 'not a cursor of this read');
      yield* readByUpdate(
        ctx,
        req.object,
        spec,
        start ?? {
          m: 'updated',
          ...(req.since ? { since: req.since.getTime() } : {}),
          phase: 'newest',
          page: 1,
          total: -1,
          at: null,
          ids: [],
        },
      );
    } else {
      if (start && start.m !== 'pages') throw new ConnectorError('validation', 'not a cursor of this read');
      yield* readPages(ctx, req.object, spec, start ?? { m: 'pages', page: 1, total: -1 });
    }
  },

  async create(ctx, object, fields) {
    contactsOnly(object);
    const res = await ctx.http.request<{ contact: ApolloRecord }>({
      method: 'POST',
      path: '/api/v1/contacts',
      body: contactFields(fields),
    });
    return toRecord(OBJECTS.contacts!, res.body.contact);
  },

  async update(ctx, object, id, fields) {
    contactsOnly(object);
    const res = await ctx.http.request<{ contact: ApolloRecord }>({
      method: 'PATCH',
      path: `/api/v1/contacts/${encodeURIComponent(id)}`,
      body: contactFields(fields),
    });
    return toRecord(OBJECTS.contacts!, res.body.contact);
  },

  // No delete: Apollo's API has no endpoint that deletes a contact, account, sequence or user.

  async listObjects() {
    return [...OBJECT_NAMES];
  },

  /**
   * Apollo has no field-metadata endpoint for these objects: the fields are those of a record as
   * the search returns it (none when the object is empty). Contacts' writable fields are the
   * create/update parameters; everything else is read-only through the API.
   */
  async describeFields(ctx, object): Promise<FieldDescription[]> {
    const spec = specOf(object);
    const { items } = await search(ctx, spec, 1, { perPage: 1 });
    const sample = items[0];
    if (!sample) return [];
    return fieldsFromSample(sample, spec === OBJECTS.contacts ? CONTACT_WRITABLE : undefined);
  },

  /**
   * Apollo does not say whose API key it is: `auth/health` only says whether the key is good, and
   * no endpoint names the key's user. The connection's identity is therefore the Apollo team the
   * key belongs to (the `team_id` of the team's users), returned as both user and account id.
   */
  async whoAmI(ctx) {
    const health = await ctx.http.request<{ healthy?: boolean; is_logged_in?: boolean }>({
      path: '/api/v1/auth/health',
    });
    if (health.body.is_logged_in !== true) {
      throw new ConnectorError('auth', 'Apollo does not accept the API key', health.status, health.body);
    }
    const { items } = await search(ctx, OBJECTS.users!, 1, { perPage: 1 });
    const teamId = items[0]?.team_id;
    if (typeof teamId !== 'string') {
      throw new ConnectorError('not_found', 'Apollo listed no team user to identify the team by');
    }
    return {
      userId: teamId,
      accountId: teamId,
      raw: { team_id: teamId, ...health.body },
      additional: { identity: 'team', note: "Apollo's API does not identify the API key's user" },
    };
  },

  /**
   * The windows of the contacts search endpoint (Apollo counts each endpoint separately; contacts
   * search is the one syncs spend most), from the headers of a one-record search.
   */
  async rateLimitInfo(ctx) {
    const res = await ctx.http.request({
      method: 'POST',
      path: OBJECTS.contacts!.path,
      body: { page: 1, per_page: 1 },
    });
    const minute = window(res.headers, 'minute');
    const hourly = window(res.headers, 'hourly');
    const daily = window(res.headers, 'daily');
    const other: Record<string, RateLimitWindow> = minute ? { minute } : {};
    return { ...(daily ? { daily } : {}), ...(hourly ? { hourly } : {}), other };
  },
};
