import { decodeCursor, encodeCursor } from '../cursor.ts';
import { ConnectorError, type ProviderPolicy, type ProviderResponse } from '../http.ts';
import type { Connector, ConnectorContext, ProviderRecord, ReadPage, ReadRequest } from '../types.ts';

/**
 * HubSpot CRM v3. Full reads page the list endpoint. Incremental reads use search on the
 * last-modified property, ordered by object id with an `hs_object_id > last` bound instead of
 * offsets, so they never meet search's 10,000-result cap; then a pass over archived records finds
 * deletions (search does not return archived records).
 *
 * A portal's custom object types are read, written and described the same way, under
 * `/crm/v3/objects/<objectTypeId>`. A sync names one by its objectTypeId, its fully qualified name
 * (`p<portal>_<name>`), the short form `p_<name>` or its internal name (Supaglue's way); only the
 * last two are the same in every portal. The schemas API (`/crm/v3/schemas`) says which type a
 * name is. HubSpot no longer takes internal names in paths, so paths always carry the objectTypeId.
 */
const MODIFIED: Record<string, string> = {
  contacts: 'lastmodifieddate',
  companies: 'hs_lastmodifieddate',
  deals: 'hs_lastmodifieddate',
};
const CRM_OBJECTS = Object.keys(MODIFIED);
/** The last-modified property HubSpot gives every custom object type. */
const CUSTOM_MODIFIED = 'hs_lastmodifieddate';
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

/** A custom object type, as the schemas API lists it. */
interface CustomObjectSchema {
  objectTypeId: string;
  fullyQualifiedName: string;
  name: string;
}

/** An object as the API addresses it: the path segment after `/crm/v3/objects/`, and its last-modified property. */
interface ObjectType {
  path: string;
  modified: string;
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

function toRecord(type: ObjectType, o: HubSpotObject): ProviderRecord {
  const modified = o.properties[type.modified] ?? o.updatedAt;
  return {
    id: o.id,
    lastModifiedAt: new Date(o.archived && o.archivedAt ? o.archivedAt : (modified ?? o.updatedAt)),
    isDeleted: o.archived === true,
    raw: o as unknown as Record<string, unknown>,
  };
}

const schemaCache = new WeakMap<ConnectorContext, Promise<CustomObjectSchema[]>>();

/** The portal's custom object types, once per context. */
function customObjectSchemas(ctx: ConnectorContext): Promise<CustomObjectSchema[]> {
  let schemas = schemaCache.get(ctx);
  if (!schemas) {
    schemas = ctx.http
      .request<{ results: CustomObjectSchema[] }>({ path: '/crm/v3/schemas' })
      .then((res) => res.body.results);
    schemaCache.set(ctx, schemas);
    schemas.catch(() => schemaCache.delete(ctx));
  }
  return schemas;
}

/** The standard object, or the portal's custom object type, that `object` names. */
async function objectType(ctx: ConnectorContext, object: string): Promise<ObjectType> {
  if (Object.hasOwn(MODIFIED, object)) return { path: object, modified: MODIFIED[object]! };
  const schema = (await customObjectSchemas(ctx)).find((s) =>
    [s.objectTypeId, s.fullyQualifiedName, `p_${s.name}`, s.name].includes(object),
  );
  if (!schema) {
    throw new ConnectorError(
      'not_found',
      `HubSpot object "${object}" is neither one of ${CRM_OBJECTS.join(', ')} nor a custom object type of this account`,
    );
  }
  return { path: schema.objectTypeId, modified: CUSTOM_MODIFIED };
}

const propertyCache = new WeakMap<ConnectorContext, Map<string, string[]>>();

/** Every property of an object, so that synced rows carry the whole record. */
async function allProperties(ctx: ConnectorContext, type: ObjectType): Promise<string[]> {
  let cache = propertyCache.get(ctx);
  if (!cache) {
    cache = new Map();
    propertyCache.set(ctx, cache);
  }
  const known = cache.get(type.path);
  if (known) return known;
  const res = await ctx.http.request<{ results: { name: string }[] }>({
    path: `/crm/v3/properties/${type.path}`,
  });
  const names = res.body.results.map((p) => p.name);
  cache.set(type.path, names);
  return names;
}

async function* readFull(
  ctx: ConnectorContext,
  type: ObjectType,
  properties: string[],
  start?: string,
): AsyncIterable<ReadPage> {
  let after = start;
  for (;;) {
    const res = await ctx.http.request<Paged<HubSpotObject>>({
      path: `/crm/v3/objects/${type.path}`,
      query: { limit: LIST_LIMIT, after, properties: properties.join(','), archived: false },
    });
    after = res.body.paging?.next?.after;
    yield {
      records: res.body.results.map((o) => toRecord(type, o)),
      cursor: after ? encodeCursor({ mode: 'full', after } satisfies Cursor) : null,
    };
    if (!after) return;
  }
}

async function* readChanges(
  ctx: ConnectorContext,
  type: ObjectType,
  properties: string[],
  cursor: Extract<Cursor, { mode: 'changes' }>,
): AsyncIterable<ReadPage> {
  const since = cursor.since;
  if (cursor.phase === 'changed') {
    let lastId = cursor.lastId;
    for (;;) {
      const res = await ctx.http.request<Paged<HubSpotObject>>({
        method: 'POST',
        path: `/crm/v3/objects/${type.path}/search`,
        lane: 'search',
        body: {
          filterGroups: [
            {
              filters: [
                { propertyName: type.modified, operator: 'GT', value: String(since) },
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
        records: results.map((o) => toRecord(type, o)),
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
      path: `/crm/v3/objects/${type.path}`,
      query: { limit: LIST_LIMIT, after, archived: true, properties: type.modified },
    });
    after = res.body.paging?.next?.after;
    const deleted = res.body.results.filter((o) => new Date(o.archivedAt ?? o.updatedAt).getTime() > since);
    yield {
      records: deleted.map((o) => toRecord(type, { ...o, archived: true })),
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

export const hubspotConnector: Connector = {
  async *read(ctx: ConnectorContext, req: ReadRequest) {
    const start = req.cursor ? decodeCursor<Cursor>(req.cursor) : undefined;
    if (req.object === 'owners') {
      yield* readOwners(ctx, start?.mode === 'owners' ? start.after : undefined);
      return;
    }
    const type = await objectType(ctx, req.object);
    const properties = req.fields ?? (await allProperties(ctx, type));
    if (start?.mode === 'changes') {
      yield* readChanges(ctx, type, properties, start);
    } else if (req.since && !start) {
      yield* readChanges(ctx, type, properties, {
        mode: 'changes',
        since: req.since.getTime(),
        phase: 'changed',
        lastId: '0',
      });
    } else {
      yield* readFull(ctx, type, properties, start?.mode === 'full' ? start.after : undefined);
    }
  },

  async create(ctx, object, fields) {
    const type = await objectType(ctx, object);
    const res = await ctx.http.request<HubSpotObject>({
      method: 'POST',
      path: `/crm/v3/objects/${type.path}`,
      body: { properties: fields },
    });
    return toRecord(type, res.body);
  },

  async update(ctx, object, id, fields) {
    const type = await objectType(ctx, object);
    const res = await ctx.http.request<HubSpotObject>({
      method: 'PATCH',
      path: `/crm/v3/objects/${type.path}/${encodeURIComponent(id)}`,
      body: { properties: fields },
    });
    return toRecord(type, res.body);
  },

  async delete(ctx, object, id) {
    const type = await objectType(ctx, object);
    await ctx.http.request({
      method: 'DELETE',
      path: `/crm/v3/objects/${type.path}/${encodeURIComponent(id)}`,
    });
  },

  /**
   * The standard objects, owners and the portal's custom object types by their internal names
   * (the same in every portal). A connection without the scope to see schemas has none.
   */
  async listObjects(ctx) {
    let custom: CustomObjectSchema[] = [];
    try {
      custom = await customObjectSchemas(ctx);
    } catch (err) {
      if (!(err instanceof ConnectorError && err.kind === 'permission')) throw err;
    }
    return [...CRM_OBJECTS, 'owners', ...custom.map((s) => s.name)];
  },

  async describeFields(ctx, object) {
    const type = await objectType(ctx, object);
    const res = await ctx.http.request<{
      results: {
        name: string;
        label: string;
        type: string;
        modificationMetadata?: { readOnlyValue?: boolean };
      }[];
    }>({ path: `/crm/v3/properties/${type.path}` });
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
