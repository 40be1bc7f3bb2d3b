import { decodeCursor, encodeCursor } from '../cursor.ts';
import { ConnectorError, type ProviderPolicy, type ProviderResponse } from '../http.ts';
import type { Connector, ConnectorContext, ProviderRecord, ReadPage, ReadRequest } from '../types.ts';

/**
 * HubSpot CRM v3. Full reads page the list endpoint. Incremental reads use search on the
 * last-modified property, ordered by object id with an `hs_object_id > last` bound instead of
 * offsets, so they never meet search's 10,000-result cap; then a pass over archived records finds
 * deletions (search does not return archived records).
 */
const MODIFIED: Record<string, string> = {
  contacts: 'lastmodifieddate',
  companies: 'hs_lastmodifieddate',
  deals: 'hs_lastmodifieddate',
};
const CRM_OBJECTS = Object.keys(MODIFIED);
const LIST_LIMIT = 100;
const SEARCH_LIMIT = 200;

interface HubSpotObject {
  id: string;
  properties: Record<string, string | null>;
  createdAt: string;
  updatedAt: string;
  archived?: boolean;
  archivedAt?: string;
}

interface Paged<T> {
  results: T[];
  paging?: { next?: { after: string } };
}

type Cursor =
  | { mode: 'full'; after?: string }
  | { mode: 'changes'; since: number; phase: 'changed'; lastId: string }
  | { mode: 'changes'; since: number; phase: 'archived'; after?: string }
  | { mode: 'owners'; after?: string };

export const hubspotPolicy: ProviderPolicy = {
  classify(res: ProviderResponse) {
    const body = (res.body ?? {}) as { policyName?: string; category?: string };
    if (res.status === 429) {
      if (body.policyName === 'DAILY') {
        const midnight = new Date();
        midnight.setUTCHours(24, 0, 0, 0);
        return { kind: 'rate_limited', waitMs: midnight.getTime() - Date.now() };
      }
      // Rolling windows: a short wait and another try (the pacer slows down from the headers).
      return { kind: 'rate_limited' };
    }
    if (res.status === 401) return { kind: 'auth' };
    return undefined;
  },
  budget(headers: Headers) {
    const remaining = headers.get('x-hubspot-ratelimit-remaining');
    const max = headers.get('x-hubspot-ratelimit-max');
    const interval = headers.get('x-hubspot-ratelimit-interval-milliseconds');
    if (remaining === null || max === null || interval === null) return undefined;
    return {
      remaining: Number(remaining),
      resetInMs: Number(interval),
      limit: Number(max),
      windowMs: Number(interval),
    };
  },
};

function toRecord(object: string, o: HubSpotObject): ProviderRecord {
  const modified = o.properties[MODIFIED[object]!] ?? o.updatedAt;
  return {
    id: o.id,
    lastModifiedAt: new Date(o.archived && o.archivedAt ? o.archivedAt : (modified ?? o.updatedAt)),
    isDeleted: o.archived === true,
    raw: o as unknown as Record<string, unknown>,
  };
}

const propertyCache = new WeakMap<ConnectorContext, Map<string, string[]>>();

/** Every property of an object, so that synced rows carry the whole record. */
async function allProperties(ctx: ConnectorContext, object: string): Promise<string[]> {
  let cache = propertyCache.get(ctx);
  if (!cache) {
    cache = new Map();
    propertyCache.set(ctx, cache);
  }
  const known = cache.get(object);
  if (known) return known;
  const res = await ctx.http.request<{ results: { name: string }[] }>({
    path: `/crm/v3/properties/${object}`,
  });
  const names = res.body.results.map((p) => p.name);
  cache.set(object, names);
  return names;
}

async function* readFull(
  ctx: ConnectorContext,
  object: string,
  properties: string[],
  start?: string,
): AsyncIterable<ReadPage> {
  let after = start;
  for (;;) {
    const res = await ctx.http.request<Paged<HubSpotObject>>({
      path: `/crm/v3/objects/${object}`,
      query: { limit: LIST_LIMIT, after, properties: properties.join(','), archived: false },
    });
    after = res.body.paging?.next?.after;
    yield {
      records: res.body.results.map((o) => toRecord(object, o)),
      cursor: after ? encodeCursor({ mode: 'full', after } satisfies Cursor) : null,
    };
    if (!after) return;
  }
}

async function* readChanges(
  ctx: ConnectorContext,
  object: string,
  properties: string[],
  cursor: Extract<Cursor, { mode: 'changes' }>,
): AsyncIterable<ReadPage> {
  const since = cursor.since;
  if (cursor.phase === 'changed') {
    let lastId = cursor.lastId;
    for (;;) {
      const res = await ctx.http.request<Paged<HubSpotObject>>({
        method: 'POST',
        path: `/crm/v3/objects/${object}/search`,
        lane: 'search',
        body: {
          filterGroups: [
            {
              filters: [
                { propertyName: MODIFIED[object], operator: 'GT', value: String(since) },
                { propertyName: 'hs_object_id', operator: 'GT', value: lastId },
              ],
            },
          ],
          sorts: [{ propertyName: 'hs_object_id', direction: 'ASCENDING' }],
          properties,
          limit: SEARCH_LIMIT,
        },
      });
      const results = res.body.results;
      if (results.length > 0) lastId = results[results.length - 1]!.id;
      const done = results.length < SEARCH_LIMIT;
      yield {
        records: results.map((o) => toRecord(object, o)),
        cursor: encodeCursor(
          (done
            ? { mode: 'changes', since, phase: 'archived' }
            : { mode: 'changes', since, phase: 'changed', lastId }) satisfies Cursor,
        ),
      };
      if (done) break;
    }
  }
  let after = cursor.phase === 'archived' ? cursor.after : undefined;
  for (;;) {
    const res = await ctx.http.request<Paged<HubSpotObject>>({
      path: `/crm/v3/objects/${object}`,
      query: { limit: LIST_LIMIT, after, archived: true, properties: MODIFIED[object] },
    });
    after = res.body.paging?.next?.after;
    const deleted = res.body.results.filter((o) => new Date(o.archivedAt ?? o.updatedAt).getTime() > since);
    yield {
      records: deleted.map((o) => toRecord(object, { ...o, archived: true })),
      cursor: after
        ? encodeCursor({ mode: 'changes', since, phase: 'archived', after } satisfies Cursor)
        : null,
    };
    if (!after) return;
  }
}

interface Owner {
  id: string;
  email: string;
  userId: number;
  updatedAt: string;
  archived: boolean;
}

/** Owners are few and cannot be filtered by date: every read returns all of them. */
async function* readOwners(ctx: ConnectorContext, start?: string): AsyncIterable<ReadPage> {
  let after = start;
  for (;;) {
    const res = await ctx.http.request<Paged<Owner>>({
      path: '/crm/v3/owners',
      query: { limit: 500, after },
    });
    after = res.body.paging?.next?.after;
    yield {
      records: res.body.results.map((o) => ({
        id: o.id,
        lastModifiedAt: new Date(o.updatedAt),
        isDeleted: o.archived,
        raw: o as unknown as Record<string, unknown>,
      })),
      cursor: after ? encodeCursor({ mode: 'owners', after } satisfies Cursor) : null,
    };
    if (!after) return;
  }
}

function checkObject(object: string): void {
  if (!CRM_OBJECTS.includes(object)) {
    throw new ConnectorError(
      'validation',
      `HubSpot object "${object}" is not one of ${CRM_OBJECTS.join(', ')}`,
    );
  }
}

export const hubspotConnector: Connector = {
  async *read(ctx: ConnectorContext, req: ReadRequest) {
    const start = req.cursor ? decodeCursor<Cursor>(req.cursor) : undefined;
    if (req.object === 'owners') {
      yield* readOwners(ctx, start?.mode === 'owners' ? start.after : undefined);
      return;
    }
    checkObject(req.object);
    const properties = req.fields ?? (await allProperties(ctx, req.object));
    if (start?.mode === 'changes') {
      yield* readChanges(ctx, req.object, properties, start);
    } else if (req.since && !start) {
      yield* readChanges(ctx, req.object, properties, {
        mode: 'changes',
        since: req.since.getTime(),
        phase: 'changed',
        lastId: '0',
      });
    } else {
      yield* readFull(ctx, req.object, properties, start?.mode === 'full' ? start.after : undefined);
    }
  },

  async create(ctx, object, fields) {
    checkObject(object);
    const res = await ctx.http.request<HubSpotObject>({
      method: 'POST',
      path: `/crm/v3/objects/${object}`,
      body: { properties: fields },
    });
    return toRecord(object, res.body);
  },

  async update(ctx, object, id, fields) {
    checkObject(object);
    const res = await ctx.http.request<HubSpotObject>({
      method: 'PATCH',
      path: `/crm/v3/objects/${object}/${encodeURIComponent(id)}`,
      body: { properties: fields },
    });
    return toRecord(object, res.body);
  },

  async delete(ctx, object, id) {
    checkObject(object);
    await ctx.http.request({ method: 'DELETE', path: `/crm/v3/objects/${object}/${encodeURIComponent(id)}` });
  },

  async listObjects() {
    return [...CRM_OBJECTS, 'owners'];
  },

  async describeFields(ctx, object) {
    checkObject(object);
    const res = await ctx.http.request<{
      results: {
        name: string;
        label: string;
        type: string;
        modificationMetadata?: { readOnlyValue?: boolean };
      }[];
    }>({ path: `/crm/v3/properties/${object}` });
    return res.body.results.map((p) => ({
      name: p.name,
      label: p.label,
      type: p.type,
      readOnly: p.modificationMetadata?.readOnlyValue ?? false,
    }));
  },

  /** The connected user as a HubSpot owner (what Supaglue's provider user id is for HubSpot). */
  async whoAmI(ctx) {
    const token = await ctx.accessToken();
    const info = await ctx.http.request<{ user: string; user_id: number; hub_id: number }>({
      path: `/oauth/v1/access-tokens/${token}`,
    });
    const owners = await ctx.http.request<Paged<Owner>>({
      path: '/crm/v3/owners',
      query: { email: info.body.user },
    });
    const owner = owners.body.results[0];
    if (!owner)
      throw new ConnectorError(
        'not_found',
        `no HubSpot owner has the connected user's email ${info.body.user}`,
      );
    return {
      userId: owner.id,
      accountId: String(info.body.hub_id),
      raw: owner as unknown as Record<string, unknown>,
      additional: info.body as unknown as Record<string, unknown>,
    };
  },

  async rateLimitInfo(ctx) {
    const res = await ctx.http.request({ path: '/crm/v3/owners', query: { limit: 1 } });
    const n = (name: string) => Number(res.headers.get(name) ?? Number.NaN);
    const windows: Record<string, { limit: number; remaining: number }> = {};
    if (!Number.isNaN(n('x-hubspot-ratelimit-max'))) {
      windows.ten_second = {
        limit: n('x-hubspot-ratelimit-max'),
        remaining: n('x-hubspot-ratelimit-remaining'),
      };
    }
    return {
      ...(Number.isNaN(n('x-hubspot-ratelimit-daily'))
        ? {}
        : {
            daily: {
              limit: n('x-hubspot-ratelimit-daily'),
              remaining: n('x-hubspot-ratelimit-daily-remaining'),
            },
          }),
      other: windows,
    };
  },
};
