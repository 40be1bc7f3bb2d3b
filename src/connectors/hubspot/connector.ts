import { decodeCursor, encodeCursor } from '../cursor.ts';
import { ConnectorError, type ProviderPolicy, type ProviderResponse } from '../http.ts';
import type { Connector, ConnectorContext, ProviderRecord, ReadPage, ReadRequest } from '../types.ts';

/**
 * HubSpot CRM v3. Full reads page the list endpoint. Incremental reads use search on the
 * last-modified property, ordered by object id with an `hs_object_id > last` bound instead of
 * offsets, so they never meet search's 10,000-result cap; then a pass over archived records finds
 * deletions (search does not return archived records). HubSpot cannot filter archived records by
 * time and keeps them for 90 days, so the pass lists every one: a portal that deletes much makes
 * it long, and it is paced by its length (ARCHIVED_PAGE_SPACING_MS). A pass that was skipped
 * leaves its deletions to the next one, which reports every record archived since the last pass
 * began (less CLOCK_SKEW_MS): the sync's state keeps when that was.
 *
 * Partitions: a full read of an object with at least 2 × PARTITION_RECORDS records splits into
 * ranges of record ids (`hs_object_id`, which never changes), each read through search in id
 * order with `GTE from`, `LT to` and `GT last` filters, so that ranges are read at the same time.
 * The list endpoint's `after` is documented as an opaque paging token, not an id to start from,
 * so only search can start a read in the middle. Its 200-record pages at 5 requests a second make
 * the same 1,000 records a second as the list's 100 at 100 per 10 s, on a lane of its own, and a
 * read with several ranges in flight reaches that whatever the latency. The first range has no
 * lower bound and the last no upper one, and adjacent ranges share their bound: every id falls in
 * exactly one, records created during the read included. Boundaries divide the span between the
 * smallest and the largest id evenly. Ids are spread unevenly in real portals, but two ranges
 * still being read keep search's 5 requests a second busy at 300 ms, so a range larger than the
 * others only holds up the read's last seconds. Where the list's own budget (its rate-limit
 * headers) is ten times what HubSpot documents or more — a stand-in with its limits raised — a
 * sequential list read outruns search's 5 requests a second, and the object is read whole.
 *
 * A portal's custom object types are read, written and described the same way, under
 * `/crm/v3/objects/<objectTypeId>`. A sync names one by its objectTypeId, its fully qualified name
 * (`p<portal>_<name>`), the short form `p_<name>` or its internal name (Supaglue's way); only the
 * last two are the same in every portal. The schemas API (`/crm/v3/schemas`) says which type a
 * name is. HubSpot no longer takes internal names in paths, so paths always carry the objectTypeId.
 *
 * Associations (a sync config's `associations_to_fetch`, and those a common object's mapping
 * needs) come with the records, kept as the list endpoint shows them (`associations.<object>.
 * results`, ids and association types): full reads ask the list endpoint for them; search returns
 * none, so each incremental page's ids go through the batch association read. Deleted records
 * found by the archived pass carry none.
 *
 * Properties: HubSpot returns only the properties a read names, so reads name every property of
 * the object, as its property list says. Full reads ask for the list; their pages hand it back
 * (ReadPage.state) with when it was read, and incremental reads use the one kept for up to
 * PROPERTY_LIST_MAX_AGE_MS, so that a run that finds nothing costs the search and the archived
 * list only (the search only, where the archived list is long and its pass is not due). An older
 * list is read again; if it has properties the kept one lacked, the read starts from when the kept
 * one was read (less CLOCK_SKEW_MS), so that records changed while it was stale come again with the
 * new properties. A property deleted since is harmless: HubSpot ignores unknown names in
 * `properties`.
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
/** About this many records a partition of a full read (20 search pages). */
const PARTITION_RECORDS = 4000;
const MAX_PARTITIONS = 16;
/** A list budget of this many requests a second or more reads an object faster whole than in search ranges. */
const WHOLE_READ_LIST_RATE = 100;
/**
 * How long incremental reads go on with a property list read before. A property created since is
 * missed until the list is read again, and then read for every record changed since: an hour
 * keeps that reread to an hour's changes and costs one list request an hour, however often the
 * sync runs.
 */
export const PROPERTY_LIST_MAX_AGE_MS = 3_600_000;
/**
 * Rereads for new properties and archived passes start this much earlier: HubSpot's clock may be
 * behind Trellis's.
 */
const CLOCK_SKEW_MS = 60_000;
/**
 * An archived pass is due once this long has passed since the last one began for each of its
 * pages after the first, up to a day: a pass of one page runs with every incremental read, a
 * portal with 10,000 archived contacts has its deletions within 100 minutes, and the pass costs
 * about a request a minute however often the sync runs (at a 5-minute period, 100 pages every run
 * would be 28,800 of HubSpot's daily requests for one object).
 */
export const ARCHIVED_PAGE_SPACING_MS = 60_000;
const ARCHIVED_PASS_MAX_INTERVAL_MS = 86_400_000;

interface HubSpotObject {
  id: string;
  properties: Record<string, string | null>;
  createdAt: string;
  updatedAt: string;
  archived?: boolean;
  archivedAt?: string;
  /** Associated records, by object, when asked for. */
  associations?: Record<string, { results: { id: string; type: string }[] }>;
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
  /** `since`: archived after it; `startedAt` and `pages`: the pass so far. */
  | { mode: 'changes'; since: number; phase: 'archived'; after?: string; startedAt?: number; pages?: number }
  | { mode: 'owners'; after?: string }
  /** Within a partition: the last id read. */
  | { mode: 'range'; lastId: string };

/** A partition of a full read: ids from `from` (inclusive) to `to` (exclusive), either open. */
interface IdRange {
  from?: number;
  to?: number;
}

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

interface ObjectProperties {
  /** Every property of the object, so that synced rows carry the whole record. */
  names: string[];
  /** When the list was asked for (epoch ms, Trellis's clock). */
  readAt: number;
  /** Requests a second the account's budget (search's excepted) allows, as the answer's rate-limit headers said. */
  listRate?: number;
}

const propertyCache = new WeakMap<ConnectorContext, Map<string, ObjectProperties>>();

/** The object's properties, once per context. */
async function objectProperties(ctx: ConnectorContext, type: ObjectType): Promise<ObjectProperties> {
  let cache = propertyCache.get(ctx);
  if (!cache) {
    cache = new Map();
    propertyCache.set(ctx, cache);
  }
  const known = cache.get(type.path);
  if (known) return known;
  const readAt = Date.now();
  const res = await ctx.http.request<{ results: { name: string }[] }>({
    path: `/crm/v3/properties/${type.path}`,
  });
  const max = Number(res.headers.get('x-hubspot-ratelimit-max'));
  const interval = Number(res.headers.get('x-hubspot-ratelimit-interval-milliseconds'));
  const properties = {
    names: res.body.results.map((p) => p.name),
    readAt,
    ...(max > 0 && interval > 0 ? { listRate: (max * 1000) / interval } : {}),
  };
  cache.set(type.path, properties);
  return properties;
}

/** The last archived pass of an incremental read. */
interface ArchivedPass {
  startedAt: number;
  pages: number;
}

/**
 * What a read's pages hand back for the sync's next reads (ReadPage.state): the property list and
 * when it was read (absent where the reads name their fields), and the last archived pass.
 */
interface KeptState {
  /** The object's path: a sync mapped to another object since has nothing kept. */
  object: string;
  names?: string[];
  readAt?: number;
  archivedPass?: ArchivedPass;
}

function keptState(state: string | undefined, type: ObjectType): KeptState | undefined {
  if (state === undefined) return undefined;
  let kept: Partial<KeptState>;
  try {
    kept = decodeCursor<Partial<KeptState>>(state);
  } catch {
    return undefined;
  }
  if (kept === null || typeof kept !== 'object' || kept.object !== type.path) return undefined;
  const listKept =
    Array.isArray(kept.names) &&
    kept.names.every((n) => typeof n === 'string') &&
    Number.isFinite(kept.readAt);
  const pass = kept.archivedPass;
  const passKept =
    typeof pass === 'object' &&
    pass !== null &&
    Number.isFinite(pass.startedAt) &&
    Number.isInteger(pass.pages);
  return {
    object: type.path,
    ...(listKept ? { names: kept.names, readAt: kept.readAt } : {}),
    ...(passKept ? { archivedPass: { startedAt: pass.startedAt, pages: pass.pages } } : {}),
  };
}

/** Whether an incremental read after `last` lists the archived records (ARCHIVED_PAGE_SPACING_MS). */
function archivedPassDue(last: ArchivedPass | undefined, now: number): boolean {
  if (last === undefined) return true;
  const interval = Math.min((last.pages - 1) * ARCHIVED_PAGE_SPACING_MS, ARCHIVED_PASS_MAX_INTERVAL_MS);
  return now - last.startedAt >= interval;
}

/**
 * The properties a read names (see the file's comment): the kept list for an incremental read
 * while it is young enough, else the list read now, with the state that hands it on, whether it
 * differs from the kept one and, if it has properties the kept one lacked, the instant from which
 * changes are read again.
 */
async function readProperties(
  ctx: ConnectorContext,
  type: ObjectType,
  kept: KeptState | undefined,
  incremental: boolean,
): Promise<{ names: string[]; kept?: KeptState; rereadFrom?: number; changed?: boolean }> {
  if (incremental && kept?.names && Date.now() - kept.readAt! < PROPERTY_LIST_MAX_AGE_MS)
    return { names: kept.names };
  const { names, readAt } = await objectProperties(ctx, type);
  const known = new Set(kept?.names);
  const gained = kept?.names !== undefined && names.some((n) => !known.has(n));
  return {
    names,
    // A full read's sweep handles every deletion before it: the next pass starts from its watermark.
    kept: { ...(incremental ? kept : {}), object: type.path, names, readAt },
    ...(gained ? { rereadFrom: kept.readAt! - CLOCK_SKEW_MS } : {}),
    // Names are unique: with none gained, a list of another length lost some.
    changed: gained || (kept?.names !== undefined && kept.names.length !== names.length),
  };
}

/**
 * An object a read fetches associations with: how requests name it (the plural standard name, a
 * custom type's objectTypeId) and the key HubSpot lists it under in a record's `associations` (the
 * plural standard name, a custom type's fully qualified name).
 */
interface AssociationTarget {
  path: string;
  key: string;
}

/** Supaglue's names for the objects records associate with: HubSpot's, singular or plural, and the common objects'. */
const STANDARD_ASSOCIATIONS: Record<string, string> = {
  contact: 'contacts',
  contacts: 'contacts',
  company: 'companies',
  companies: 'companies',
  account: 'companies',
  deal: 'deals',
  deals: 'deals',
  opportunity: 'deals',
};

/** The association targets `names` ask for (HubSpot's own, common objects', custom object types'). */
async function associationTargets(ctx: ConnectorContext, names: string[]): Promise<AssociationTarget[]> {
  const targets = new Map<string, AssociationTarget>();
  for (const name of names) {
    const standard = Object.hasOwn(STANDARD_ASSOCIATIONS, name) ? STANDARD_ASSOCIATIONS[name] : undefined;
    if (standard) {
      targets.set(standard, { path: standard, key: standard });
      continue;
    }
    const schema = (await customObjectSchemas(ctx)).find((s) =>
      [s.objectTypeId, s.fullyQualifiedName, `p_${s.name}`, s.name].includes(name),
    );
    if (!schema) {
      throw new ConnectorError(
        'validation',
        `HubSpot records cannot be associated with "${name}": it is neither contacts, companies (account), deals (opportunity) nor a custom object type of this account`,
      );
    }
    targets.set(schema.objectTypeId, { path: schema.objectTypeId, key: schema.fullyQualifiedName });
  }
  return [...targets.values()];
}

/** How many ids HubSpot's batch association read takes at once. */
const ASSOCIATION_BATCH = 100;

/**
 * Adds their associations to records the search API returned (it returns none), read through the
 * batch association API and listed as the objects API lists them: `associations.<key>.results`.
 */
async function withAssociations(
  ctx: ConnectorContext,
  type: ObjectType,
  records: HubSpotObject[],
  targets: AssociationTarget[],
): Promise<HubSpotObject[]> {
  if (targets.length === 0 || records.length === 0) return records;
  const found = new Map<string, Record<string, { results: { id: string; type: string }[] }>>();
  for (const target of targets) {
    for (let i = 0; i < records.length; i += ASSOCIATION_BATCH) {
      const inputs = records.slice(i, i + ASSOCIATION_BATCH).map((r) => ({ id: r.id }));
      const res = await ctx.http.request<{
        results?: { from: { id: string }; to: { id: string | number; type: string }[] }[];
      }>({
        method: 'POST',
        path: `/crm/v3/associations/${type.path}/${target.path}/batch/read`,
        body: { inputs },
      });
      for (const { from, to } of res.body.results ?? []) {
        const lists = found.get(from.id) ?? {};
        lists[target.key] = { results: to.map((t) => ({ id: String(t.id), type: t.type })) };
        found.set(from.id, lists);
      }
    }
  }
  return records.map((r) => ({ ...r, associations: found.get(r.id) ?? {} }));
}

async function* readFull(
  ctx: ConnectorContext,
  type: ObjectType,
  properties: string[],
  associations: AssociationTarget[],
  start?: string,
): AsyncIterable<ReadPage> {
  let after = start;
  for (;;) {
    const res = await ctx.http.request<Paged<HubSpotObject>>({
      path: `/crm/v3/objects/${type.path}`,
      query: {
        limit: LIST_LIMIT,
        after,
        properties: properties.join(','),
        associations: associations.length > 0 ? associations.map((a) => a.path).join(',') : undefined,
        archived: false,
      },
    });
    after = res.body.paging?.next?.after;
    yield {
      records: res.body.results.map((o) => toRecord(type, o)),
      cursor: after ? encodeCursor({ mode: 'full', after } satisfies Cursor) : null,
    };
    if (!after) return;
  }
}

/**
 * Records changed since the cursor's `since` (search), then, if `archivedSince` is given, those
 * archived after it; the pass's last page hands back `stateAfterPass` of it.
 */
async function* readChanges(
  ctx: ConnectorContext,
  type: ObjectType,
  properties: string[],
  associations: AssociationTarget[],
  cursor: Extract<Cursor, { mode: 'changes' }>,
  archivedSince: number | undefined,
  stateAfterPass: (pass: ArchivedPass) => string,
): AsyncIterable<ReadPage> {
  if (cursor.phase === 'changed') {
    const since = cursor.since;
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
      const results = await withAssociations(ctx, type, res.body.results, associations);
      if (results.length > 0) lastId = results[results.length - 1]!.id;
      const done = results.length < SEARCH_LIMIT;
      const next: Cursor | undefined = !done
        ? { mode: 'changes', since, phase: 'changed', lastId }
        : archivedSince !== undefined
          ? { mode: 'changes', since: archivedSince, phase: 'archived' }
          : undefined;
      yield { records: results.map((o) => toRecord(type, o)), cursor: next ? encodeCursor(next) : null };
      if (done) break;
    }
    if (archivedSince === undefined) return;
  }
  const since = cursor.phase === 'archived' ? cursor.since : archivedSince!;
  let after = cursor.phase === 'archived' ? cursor.after : undefined;
  // A pass resumed from a cursor that does not say when it began counts from its `since`, earlier.
  const startedAt = cursor.phase === 'archived' ? (cursor.startedAt ?? since) : Date.now();
  let pages = (cursor.phase === 'archived' ? cursor.pages : undefined) ?? 0;
  for (;;) {
    const res = await ctx.http.request<Paged<HubSpotObject>>({
      path: `/crm/v3/objects/${type.path}`,
      query: { limit: LIST_LIMIT, after, archived: true, properties: type.modified },
    });
    after = res.body.paging?.next?.after;
    pages++;
    const deleted = res.body.results.filter((o) => new Date(o.archivedAt ?? o.updatedAt).getTime() > since);
    const records = deleted.map((o) => toRecord(type, { ...o, archived: true }));
    if (!after) {
      yield { records, cursor: null, state: stateAfterPass({ startedAt, pages }) };
      return;
    }
    yield {
      records,
      cursor: encodeCursor({
        mode: 'changes',
        since,
        phase: 'archived',
        after,
        startedAt,
        pages,
      } satisfies Cursor),
    };
  }
}

/** A full read's id range, through search in id order (see the file's comment). */
async function* readRange(
  ctx: ConnectorContext,
  type: ObjectType,
  properties: string[],
  associations: AssociationTarget[],
  range: IdRange,
  start?: string,
): AsyncIterable<ReadPage> {
  let lastId = start;
  for (;;) {
    const filters = [
      lastId === undefined
        ? range.from === undefined
          ? undefined
          : { propertyName: 'hs_object_id', operator: 'GTE', value: String(range.from) }
        : { propertyName: 'hs_object_id', operator: 'GT', value: lastId },
      range.to === undefined
        ? undefined
        : { propertyName: 'hs_object_id', operator: 'LT', value: String(range.to) },
    ].filter((f) => f !== undefined);
    const res = await ctx.http.request<Paged<HubSpotObject>>({
      method: 'POST',
      path: `/crm/v3/objects/${type.path}/search`,
      lane: 'search',
      body: {
        filterGroups: filters.length > 0 ? [{ filters }] : [],
        sorts: [{ propertyName: 'hs_object_id', direction: 'ASCENDING' }],
        properties,
        limit: SEARCH_LIMIT,
      },
    });
    const results = await withAssociations(ctx, type, res.body.results, associations);
    if (results.length > 0) lastId = results[results.length - 1]!.id;
    const done = results.length < SEARCH_LIMIT || !res.body.paging?.next;
    yield {
      records: results.map((o) => toRecord(type, o)),
      cursor: done || lastId === undefined ? null : encodeCursor({ mode: 'range', lastId } satisfies Cursor),
    };
    if (done) return;
  }
}

/** The object's live record with the smallest or largest id, and how many live records it has. */
async function idEnd(ctx: ConnectorContext, type: ObjectType, direction: 'ASCENDING' | 'DESCENDING') {
  const res = await ctx.http.request<Paged<HubSpotObject> & { total: number }>({
    method: 'POST',
    path: `/crm/v3/objects/${type.path}/search`,
    lane: 'search',
    body: {
      filterGroups: [],
      sorts: [{ propertyName: 'hs_object_id', direction }],
      properties: ['hs_object_id'],
      limit: 1,
    },
  });
  return { id: Number(res.body.results[0]?.id), total: res.body.total };
}

/**
 * Ranges of about PARTITION_RECORDS records each between the smallest and the largest id; none
 * for a small object, or where the list reads faster (see the file's comment).
 */
async function idRanges(ctx: ConnectorContext, type: ObjectType): Promise<IdRange[] | undefined> {
  // The properties' answer, which every full read asks for anyway, carries the budget headers.
  if (((await objectProperties(ctx, type)).listRate ?? 0) >= WHOLE_READ_LIST_RATE) return undefined;
  // Both ends of the ids in one round trip: a small object leaves the second search unused.
  const [first, last] = await Promise.all([idEnd(ctx, type, 'ASCENDING'), idEnd(ctx, type, 'DESCENDING')]);
  const count = Math.min(MAX_PARTITIONS, Math.floor(first.total / PARTITION_RECORDS));
  if (count < 2) return undefined;
  if (!Number.isSafeInteger(first.id) || !Number.isSafeInteger(last.id) || last.id <= first.id)
    return undefined;
  const bounds = new Set<number>();
  for (let i = 1; i < count; i++) bounds.add(first.id + Math.floor(((last.id - first.id + 1) * i) / count));
  const sorted = [...bounds].filter((b) => b > first.id).sort((a, b) => a - b);
  return [undefined, ...sorted].map((from, i) => ({
    ...(from === undefined ? {} : { from }),
    ...(i < sorted.length ? { to: sorted[i]! } : {}),
  }));
}

function decodeRange(partition: string): IdRange {
  const range = decodeCursor<IdRange>(partition);
  const valid = (n: unknown) => n === undefined || Number.isSafeInteger(n);
  if (typeof range !== 'object' || range === null || !valid(range.from) || !valid(range.to))
    throw new ConnectorError('validation', 'the read partition is not one this connector described');
  return range;
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
  /** Owners are few (read whole); objects split into id ranges (see the file's comment). */
  async partitions(ctx, req) {
    if (req.object === 'owners') return undefined;
    const ranges = await idRanges(ctx, await objectType(ctx, req.object));
    return ranges && { partitions: ranges.map((r) => encodeCursor(r)) };
  },

  async *read(ctx: ConnectorContext, req: ReadRequest) {
    const start = req.cursor ? decodeCursor<Cursor>(req.cursor) : undefined;
    if (req.object === 'owners') {
      yield* readOwners(ctx, start?.mode === 'owners' ? start.after : undefined);
      return;
    }
    const type = await objectType(ctx, req.object);
    const incremental =
      req.partition === undefined &&
      (start?.mode === 'changes' || (req.since !== undefined && start === undefined));
    const before = keptState(req.state, type);
    const {
      names: properties,
      kept,
      rereadFrom,
      changed,
    } = req.fields ? { names: req.fields } : await readProperties(ctx, type, before, incremental);
    const state = kept && encodeCursor(kept);
    const associations = await associationTargets(ctx, req.associations ?? []);
    let pages: AsyncIterable<ReadPage>;
    if (req.partition !== undefined) {
      const range = decodeRange(req.partition);
      if (start !== undefined && !(start.mode === 'range' && /^\d+$/.test(start.lastId)))
        throw new ConnectorError('validation', 'the read cursor is not one this connector issued');
      pages = readRange(
        ctx,
        type,
        properties,
        associations,
        range,
        start?.mode === 'range' ? start.lastId : undefined,
      );
    } else if (incremental) {
      const since = start?.mode === 'changes' ? start.since : req.since!.getTime();
      // Records changed while the kept property list was stale are read again, from the start.
      const changes: Extract<Cursor, { mode: 'changes' }> =
        rereadFrom !== undefined && rereadFrom < since
          ? { mode: 'changes', since: rereadFrom, phase: 'changed', lastId: '0' }
          : start?.mode === 'changes'
            ? start
            : { mode: 'changes', since, phase: 'changed', lastId: '0' };
      // A pass not due leaves its deletions to the next one, which starts from when the last began.
      const lastPass = before?.archivedPass;
      const archivedSince = archivedPassDue(lastPass, Date.now())
        ? Math.min(changes.since, lastPass ? lastPass.startedAt - CLOCK_SKEW_MS : changes.since)
        : undefined;
      pages = readChanges(ctx, type, properties, associations, changes, archivedSince, (archivedPass) =>
        encodeCursor({ ...(kept ?? before), object: type.path, archivedPass } satisfies KeptState),
      );
    } else {
      pages = readFull(ctx, type, properties, associations, start?.mode === 'full' ? start.after : undefined);
    }
    if (state === undefined) {
      yield* pages;
      return;
    }
    // Every page hands on the state; with a changed property list, records the last run wrote may
    // come back different.
    for await (const page of pages)
      yield { ...page, state: page.state ?? state, ...(changed ? { fieldsChanged: true } : {}) };
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
