import { decodeCursor, encodeCursor } from '../cursor.ts';
import { ConnectorError, type ProviderPolicy, type ProviderResponse } from '../http.ts';
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
 * Salesforce REST API and Bulk API 2.0, on the org's own host (the `instance_url` of the token
 * response, kept as the connection's instance URL). Reads select every field of the object, as
 * its describe lists them (compound address and geolocation fields, which Bulk API 2.0 cannot
 * query, and base64 bodies excepted: their parts are fields of their own).
 *
 * Full reads first count the object's rows, deleted ones included (`SELECT COUNT()` through
 * `queryAll`). Up to BULK_THRESHOLD rows, REST `queryAll` pages through it in Id order: a few
 * requests, with no job to wait for. Above it, a Bulk API 2.0 `queryAll` job exports the object
 * as CSV in sets of BULK_SET records (`Sforce-Locator` pages): ten requests per hundred thousand
 * records instead of fifty, and no query cursor held open for the whole read. Both return the
 * records in the recycle bin with `IsDeleted = true`, flagged deleted.
 *
 * Incremental reads use REST `queryAll` with `SystemModstamp >= since` (rounded down to its
 * second: Salesforce keeps dateTimes to the second, so `> since` would miss changes made later in
 * the second of `since`; the records changed earlier in that second come back too, harmlessly)
 * ordered by Id. Deleting a record stamps its SystemModstamp and `queryAll` returns it from the
 * recycle bin with `IsDeleted = true`, flagged deleted. Records purged from the recycle bin (hard
 * deletes, emptied bins, after 15 days) are not visible: the engine's full-run sweep removes them.
 *
 * Resuming: REST pages follow `nextRecordsUrl`, but those query locators are server-side state
 * that expires (15 idle minutes, or released when the user opens too many), so the cursor holds a
 * keyset instead: the Id of the last record read. A resumed read (or a read whose locator was
 * released under it) queries again with `Id > last`, in the same Id order, and so neither loses
 * nor repeats anything. (Ordering incremental reads by `SystemModstamp, Id` would need a
 * two-column keyset, `SystemModstamp > s OR (SystemModstamp = s AND Id > i)`; ordering by Id makes
 * it one column, the same for full and incremental reads. A record changed during a read behind
 * its position is picked up by the next incremental read, whose `since` is before this run began.)
 * Bulk pages resume from the job id and the locator of the next set; if the job is gone (jobs are
 * deleted after 7 days, or by an admin), the read starts over keyset-wise through REST — which
 * repeats what was read before (upserts make that harmless) but loses nothing: Bulk results come
 * in no guaranteed order, so there is no position to continue from.
 *
 * Partitions: a full read of an object with at least 2 × PARTITION_RECORDS rows splits into Id
 * ranges (`Id >= from AND Id < to`, the ranges of Bulk API PK chunking), each read through REST
 * `queryAll` in Id order, `LIMIT REST_BATCH` rows a query with the keyset after the last Id, so
 * that ranges are read at the same time without holding a query locator each (a user has 10 open
 * at most; an eleventh releases the oldest). Ids never change; the first range has no lower bound,
 * the last no upper one, and adjacent ranges share their bound, so every row falls in exactly one
 * whatever order Salesforce compares Ids in. Boundaries divide the span between the smallest and
 * the largest Id evenly (the record-number part of the Id, base 62). A partitioned read takes a
 * request per 2,000 rows where a Bulk job takes one per 10,000: Salesforce limits requests per
 * day, not per second, and a million rows cost 500 of them.
 *
 * Limits: a daily org-wide request budget (rolling 24 hours), reported in `Sforce-Limit-Info:
 * api-usage=N/M` on every response and by `/limits`. Past it Salesforce answers 403
 * REQUEST_LIMIT_EXCEEDED; the same code also names short-lived limits (concurrent long-running
 * requests), told apart by the usage header.
 */
const API_VERSION = 'v59.0';
const DATA = `/services/data/${API_VERSION}`;
/** Above this many rows (deleted ones included), a full read uses a Bulk API 2.0 job rather than REST. */
const BULK_THRESHOLD = 10_000;
/** REST query batch size: the largest Salesforce allows. */
const REST_BATCH = 2000;
/** Records per Bulk result set (one page of the read). */
const BULK_SET = 10_000;
/** About this many rows a partition of a full read (5 REST queries). */
const PARTITION_RECORDS = 10_000;
const MAX_PARTITIONS = 16;
/** Ids in the order SOQL compares them: digits, upper case, lower case. */
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** How long to hold off once the org's daily budget is spent: the rolling window frees requests as they age. */
const DAILY_BUDGET_WAIT_MS = 60 * 60_000;
/** Always read: the record's identity, its change stamp and whether it is in the recycle bin. */
const SYSTEM_FIELDS = ['Id', 'SystemModstamp', 'IsDeleted'];
/** Field types no query can select as such (compound) or that Bulk API 2.0 cannot export. */
const UNSELECTABLE_TYPES = new Set(['address', 'location', 'base64']);
const NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const ID = /^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$/;

interface SfField {
  name: string;
  label: string;
  type: string;
  createable: boolean;
  updateable: boolean;
}

interface QueryResult {
  totalSize: number;
  done: boolean;
  nextRecordsUrl?: string;
  records: Record<string, unknown>[];
}

interface BulkJob {
  id: string;
  state: 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Aborted' | 'Failed';
  errorMessage?: string;
}

type Cursor =
  /** REST, keyset on Id: records after `after`, changed at or after `from` (epoch ms) when incremental. */
  | { m: 'rest'; from?: number; after?: string }
  /** The next result set of a Bulk job, fetched with the API version the job was created with. */
  | { m: 'bulk'; v: string; job: string; locator: string };

/** A partition of a full read: 15-character Ids from `from` (inclusive) to `to` (exclusive), either open. */
interface IdRange {
  from?: string;
  to?: string;
}

// ---- policy ----------------------------------------------------------------------------------

/** Salesforce's errors: `[{message, errorCode}]` (JSON, also when asked for CSV). */
function errorOf(body: unknown): { errorCode?: string; message?: string } | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const first = Array.isArray(parsed) ? parsed[0] : undefined;
  return first && typeof first === 'object' ? (first as { errorCode?: string; message?: string }) : undefined;
}

/** `Sforce-Limit-Info: api-usage=18/15000`. */
function apiUsage(headers: Headers): { used: number; max: number } | undefined {
  const m = /api-usage=(\d+)\/(\d+)/.exec(headers.get('sforce-limit-info') ?? '');
  return m ? { used: Number(m[1]), max: Number(m[2]) } : undefined;
}

export const salesforcePolicy: ProviderPolicy = {
  classify(res: ProviderResponse) {
    const error = errorOf(res.body);
    if (res.status === 401 || error?.errorCode === 'INVALID_SESSION_ID') return { kind: 'auth' };
    // The identity endpoints answer an expired or revoked token with a plain-text 403.
    if (res.status === 403 && typeof res.body === 'string' && res.body.includes('Bad_OAuth_Token')) {
      return { kind: 'auth' };
    }
    if (error?.errorCode === 'REQUEST_LIMIT_EXCEEDED') {
      // The daily budget, spent: waiting it out is beyond a run's patience, so the long wait fails
      // the run with the hint. Otherwise a short-lived limit (concurrent long requests): try again soon.
      const usage = apiUsage(res.headers);
      const spent = usage ? usage.used >= usage.max : /TotalRequests/i.test(error.message ?? '');
      return spent ? { kind: 'rate_limited', waitMs: DAILY_BUDGET_WAIT_MS } : { kind: 'rate_limited' };
    }
    // Row lock contention with another transaction: the same write works a moment later.
    if (error?.errorCode === 'UNABLE_TO_LOCK_ROW') return { kind: 'transient' };
    return undefined;
  },
  /**
   * What is left of the daily budget. The window is rolling (no reset instant) and is not passed
   * on as a pace: spreading a day's budget evenly would slow a read to a crawl, and Salesforce asks
   * for no such thing. A spent budget shows on the next request as REQUEST_LIMIT_EXCEEDED.
   */
  budget(headers: Headers) {
    const usage = apiUsage(headers);
    return usage ? { remaining: Math.max(0, usage.max - usage.used), resetInMs: 0 } : undefined;
  },
};

// ---- records and fields ----------------------------------------------------------------------

function toRecord(raw: Record<string, unknown>): ProviderRecord {
  return {
    id: raw.Id as string,
    lastModifiedAt: new Date(raw.SystemModstamp as string),
    isDeleted: raw.IsDeleted === true,
    raw,
  };
}

/** A REST record without its `attributes` (type and URL), as Bulk results show records too. */
function restRecord(r: Record<string, unknown>): ProviderRecord {
  const { attributes: _, ...fields } = r;
  return toRecord(fields);
}

function checkObject(object: string): void {
  if (!NAME.test(object))
    throw new ConnectorError('validation', `"${object}" is not a Salesforce object name`);
}

const describeCache = new WeakMap<ConnectorContext, Map<string, Promise<SfField[]>>>();

/** The object's fields from its describe, once per context. */
function describe(ctx: ConnectorContext, object: string): Promise<SfField[]> {
  checkObject(object);
  let cache = describeCache.get(ctx);
  if (!cache) {
    cache = new Map();
    describeCache.set(ctx, cache);
  }
  let fields = cache.get(object);
  if (!fields) {
    fields = ctx.http
      .request<{ fields: SfField[] }>({ path: `${DATA}/sobjects/${object}/describe` })
      .then((res) => res.body.fields);
    cache.set(object, fields);
    fields.catch(() => cache.delete(object));
  }
  return fields;
}

/** The fields a read selects: the ones asked for, or every selectable one; always the system fields. */
function selection(fields: SfField[], wanted?: string[]): SfField[] {
  const byName = new Map(fields.map((f) => [f.name.toLowerCase(), f]));
  if (!wanted) return fields.filter((f) => !UNSELECTABLE_TYPES.has(f.type));
  const selected = new Map<string, SfField>();
  for (const name of [...SYSTEM_FIELDS, ...wanted]) {
    const f = byName.get(name.toLowerCase());
    if (!f) throw new ConnectorError('validation', `Salesforce has no field "${name}" on this object`);
    selected.set(f.name, f);
  }
  return [...selected.values()];
}

/** A SOQL dateTime literal at whole seconds. */
const soqlDateTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

// ---- REST reads ------------------------------------------------------------------------------

const BATCH_HEADER = { 'sforce-query-options': `batchSize=${REST_BATCH}` };

/**
 * `queryAll` in Id order after `after` (keyset), changed at or after `from` when given, following
 * `nextRecordsUrl` while it lasts and querying again from the last Id when it does not. Within an
 * Id range (a partition), each query stops at REST_BATCH rows and the next one starts after them.
 */
async function* readRest(
  ctx: ConnectorContext,
  object: string,
  fields: SfField[],
  from: number | undefined,
  after: string | undefined,
  range?: IdRange,
): AsyncIterable<ReadPage> {
  if (after !== undefined && !ID.test(after)) {
    throw new ConnectorError('validation', 'the read cursor is not one this connector issued');
  }
  const select = `SELECT ${fields.map((f) => f.name).join(', ')} FROM ${object}`;
  let lastId = after;
  let next: string | undefined;
  /** Rows the current query has returned, when it has a LIMIT. */
  let queried = 0;
  for (;;) {
    let result: QueryResult;
    if (next) {
      try {
        result = (await ctx.http.request<QueryResult>({ path: next, headers: BATCH_HEADER })).body;
      } catch (err) {
        // The locator was released (too many open) or expired: continue from the keyset instead.
        if (err instanceof ConnectorError && errorOf(err.body)?.errorCode === 'INVALID_QUERY_LOCATOR') {
          next = undefined;
          continue;
        }
        throw err;
      }
    } else {
      const where = [
        ...(from === undefined ? [] : [`SystemModstamp >= ${soqlDateTime(from)}`]),
        ...(lastId === undefined
          ? range?.from === undefined
            ? []
            : [`Id >= '${range.from}'`]
          : [`Id > '${lastId}'`]),
        ...(range?.to === undefined ? [] : [`Id < '${range.to}'`]),
      ];
      const q = `${select}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY Id ASC${range ? ` LIMIT ${REST_BATCH}` : ''}`;
      result = (
        await ctx.http.request<QueryResult>({ path: `${DATA}/queryAll`, query: { q }, headers: BATCH_HEADER })
      ).body;
      queried = 0;
    }
    const records = result.records.map(restRecord);
    if (records.length > 0) lastId = records[records.length - 1]!.id;
    queried += records.length;
    next = result.done ? undefined : result.nextRecordsUrl;
    // A query that reached its LIMIT may have rows after it.
    const more = next !== undefined || (range !== undefined && queried === REST_BATCH);
    yield {
      records,
      cursor: more
        ? encodeCursor({ m: 'rest', ...(from === undefined ? {} : { from }), after: lastId })
        : null,
    };
    if (!more) return;
  }
}

// ---- Bulk API 2.0 reads ----------------------------------------------------------------------

/** Creates a `queryAll` job and waits for it to complete; undefined when the org's daily job quota is spent. */
async function startBulkJob(
  ctx: ConnectorContext,
  object: string,
  fields: SfField[],
): Promise<string | undefined> {
  let job: BulkJob;
  try {
    job = (
      await ctx.http.request<BulkJob>({
        method: 'POST',
        path: `${DATA}/jobs/query`,
        body: {
          operation: 'queryAll',
          query: `SELECT ${fields.map((f) => f.name).join(', ')} FROM ${object}`,
          contentType: 'CSV',
          columnDelimiter: 'COMMA',
          lineEnding: 'LF',
        },
      })
    ).body;
  } catch (err) {
    if (err instanceof ConnectorError && errorOf(err.body)?.errorCode === 'LIMIT_EXCEEDED') return undefined;
    throw err;
  }
  // Small jobs complete in well under a second, large ones take minutes: poll with growing pauses
  // (a two-minute job costs about twenty polls).
  let pause = 100;
  for (;;) {
    await ctx.http.sleep(pause);
    pause = Math.min(pause * 1.5, 10_000);
    job = (await ctx.http.request<BulkJob>({ path: `${DATA}/jobs/query/${job.id}` })).body;
    if (job.state === 'JobComplete') return job.id;
    if (job.state === 'Failed' || job.state === 'Aborted') {
      throw new ConnectorError(
        'transient',
        `the Bulk API query job ${job.id} on ${object} ended ${job.state}`,
        undefined,
        job,
      );
    }
  }
}

/**
 * Parses RFC 4180 CSV (quoted or bare values, `""` escapes, LF or CRLF rows). Empty values, quoted
 * or not, are empty strings: Bulk results show nulls that way.
 */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  const n = text.length;
  let row: string[] = [];
  let i = 0;
  while (i < n) {
    let value: string;
    if (text.charCodeAt(i) === 34) {
      value = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) throw new ConnectorError('transient', 'a Bulk API result set ended inside a value');
        if (text.charCodeAt(q + 1) === 34) {
          value += text.slice(j, q + 1);
          j = q + 2;
          continue;
        }
        value += text.slice(j, q);
        i = q + 1;
        break;
      }
    } else {
      let j = i;
      for (; j < n; j++) {
        const c = text.charCodeAt(j);
        if (c === 44 || c === 10 || c === 13) break;
      }
      value = text.slice(i, j);
      i = j;
    }
    row.push(value);
    const c = text.charCodeAt(i);
    if (c === 44) {
      i++;
      if (i === n) row.push('');
      continue;
    }
    if (c === 13) i++;
    if (text.charCodeAt(i) === 10) i++;
    rows.push(row);
    row = [];
  }
  if (row.length > 0) rows.push(row);
  return rows;
}

/** A CSV cell as REST's JSON shows the value: typed, null when empty, dateTimes as `…000+0000`. */
function csvConverter(type: string | undefined): (v: string) => unknown {
  switch (type) {
    case 'boolean':
      return (v) => (v === '' ? null : v === 'true');
    case 'int':
    case 'double':
    case 'currency':
    case 'percent':
      return (v) => (v === '' ? null : Number(v));
    case 'datetime':
      return (v) => (v === '' ? null : v.endsWith('Z') ? `${v.slice(0, -1)}+0000` : v);
    default:
      return (v) => (v === '' ? null : v);
  }
}

async function* readBulk(
  ctx: ConnectorContext,
  object: string,
  fields: SfField[],
  start: { v: string; job: string; locator?: string },
): AsyncIterable<ReadPage> {
  const types = new Map(fields.map((f) => [f.name, f.type]));
  let locator = start.locator;
  for (;;) {
    let res: ProviderResponse<string>;
    let rows: string[][];
    for (let attempt = 1; ; attempt++) {
      try {
        res = await ctx.http.request<string>({
          path: `/services/data/${start.v}/jobs/query/${start.job}/results`,
          query: { maxRecords: BULK_SET, locator },
          headers: { accept: 'text/csv' },
          text: true,
        });
      } catch (err) {
        // The job is gone: start over keyset-wise (nothing lost; what was read comes again).
        if (err instanceof ConnectorError && err.kind === 'not_found') {
          yield* readRest(ctx, object, fields, undefined, undefined);
          return;
        }
        throw err;
      }
      rows = parseCsv(res.body);
      // A set cut short at a row boundary still parses: check the row count Salesforce announced.
      const announced = Number(res.headers.get('sforce-numberofrecords') ?? Number.NaN);
      if (Number.isNaN(announced) || rows.length - 1 === announced) break;
      if (attempt === 3) {
        throw new ConnectorError(
          'transient',
          `a Bulk API result set of job ${start.job} had ${rows.length - 1} of ${announced} records`,
        );
      }
    }
    const [header = [], ...data] = rows;
    const convert = header.map((name) => csvConverter(types.get(name)));
    const records = data.map((cells) => {
      const raw: Record<string, unknown> = {};
      for (let k = 0; k < header.length; k++) raw[header[k]!] = convert[k]!(cells[k] ?? '');
      return toRecord(raw);
    });
    const next = res.headers.get('sforce-locator');
    locator = next && next !== 'null' ? next : undefined;
    yield {
      records,
      cursor: locator
        ? encodeCursor({ m: 'bulk', v: start.v, job: start.job, locator } satisfies Cursor)
        : null,
    };
    if (!locator) return;
  }
}

// ---- the connector ---------------------------------------------------------------------------

/** The object's rows, deleted ones included. */
async function rowCount(ctx: ConnectorContext, object: string): Promise<number> {
  return (
    await ctx.http.request<QueryResult>({
      path: `${DATA}/queryAll`,
      query: { q: `SELECT COUNT() FROM ${object}` },
    })
  ).body.totalSize;
}

/** The record number part of a 15-character Id (after its key prefix), base 62, and back. */
const idNumber = (id15: string) =>
  [...id15.slice(3)].reduce((n, c) => n * 62n + BigInt(BASE62.indexOf(c)), 0n);
function idWithNumber(prefix: string, n: bigint): string {
  let digits = '';
  for (let i = 0, v = n; i < 12; i++, v /= 62n) digits = BASE62[Number(v % 62n)] + digits;
  return prefix + digits;
}

/** Id ranges of about PARTITION_RECORDS rows each between the smallest and the largest Id, or none for a small object. */
async function idRanges(ctx: ConnectorContext, object: string): Promise<IdRange[] | undefined> {
  const count = Math.min(MAX_PARTITIONS, Math.floor((await rowCount(ctx, object)) / PARTITION_RECORDS));
  if (count < 2) return undefined;
  const end = async (order: 'ASC' | 'DESC') => {
    const res = await ctx.http.request<QueryResult>({
      path: `${DATA}/queryAll`,
      query: { q: `SELECT Id FROM ${object} ORDER BY Id ${order} LIMIT 1` },
    });
    const id = res.body.records[0]?.Id;
    return typeof id === 'string' && ID.test(id) ? id.slice(0, 15) : undefined;
  };
  const [low, high] = await Promise.all([end('ASC'), end('DESC')]);
  if (!low || !high || low.slice(0, 3) !== high.slice(0, 3)) return undefined;
  const [from, to] = [idNumber(low), idNumber(high)];
  const bounds = new Set<string>();
  for (let i = 1; i < count; i++) {
    const b = from + ((to - from + 1n) * BigInt(i)) / BigInt(count);
    if (b > from) bounds.add(idWithNumber(low.slice(0, 3), b));
  }
  const sorted = [...bounds];
  return [undefined, ...sorted].map((start, i) => ({
    ...(start === undefined ? {} : { from: start }),
    ...(i < sorted.length ? { to: sorted[i]! } : {}),
  }));
}

function decodeRange(partition: string): IdRange {
  const range = decodeCursor<IdRange>(partition);
  const valid = (id: unknown) => id === undefined || (typeof id === 'string' && /^[A-Za-z0-9]{15}$/.test(id));
  if (typeof range !== 'object' || range === null || !valid(range.from) || !valid(range.to))
    throw new ConnectorError('validation', 'the read partition is not one this connector described');
  return range;
}

async function* readFull(ctx: ConnectorContext, object: string, fields: SfField[]): AsyncIterable<ReadPage> {
  const count = await rowCount(ctx, object);
  if (count > BULK_THRESHOLD) {
    const job = await startBulkJob(ctx, object, fields);
    if (job) {
      yield* readBulk(ctx, object, fields, { v: API_VERSION, job });
      return;
    }
  }
  yield* readRest(ctx, object, fields, undefined, undefined);
}

/** A record as it stands after a write (REST answers writes with the id alone). */
async function fetchRecord(ctx: ConnectorContext, object: string, id: string): Promise<ProviderRecord> {
  const res = await ctx.http.request<Record<string, unknown>>({
    path: `${DATA}/sobjects/${object}/${encodeURIComponent(id)}`,
  });
  return restRecord(res.body);
}

export const salesforceConnector: Connector = {
  async partitions(ctx, req) {
    checkObject(req.object);
    // Each partition's read starts with the object's describe (kept per context): asked beside the
    // planning queries, the first pages need not wait a round trip for it.
    const [ranges] = await Promise.all([idRanges(ctx, req.object), describe(ctx, req.object)]);
    return ranges && { partitions: ranges.map((r) => encodeCursor(r)) };
  },

  async *read(ctx: ConnectorContext, req: ReadRequest) {
    const fields = selection(await describe(ctx, req.object), req.fields);
    const cursor = req.cursor ? decodeCursor<Cursor>(req.cursor) : undefined;
    if (req.partition !== undefined) {
      if (cursor !== undefined && (cursor.m !== 'rest' || cursor.from !== undefined)) {
        throw new ConnectorError('validation', 'the read cursor is not one this connector issued');
      }
      yield* readRest(ctx, req.object, fields, undefined, cursor?.after, decodeRange(req.partition));
    } else if (cursor?.m === 'bulk') {
      if (!ID.test(cursor.job) || !/^v\d+\.\d$/.test(cursor.v)) {
        throw new ConnectorError('validation', 'the read cursor is not one this connector issued');
      }
      yield* readBulk(ctx, req.object, fields, cursor);
    } else if (cursor?.m === 'rest') {
      yield* readRest(ctx, req.object, fields, cursor.from, cursor.after);
    } else if (req.since) {
      const from = Math.floor(req.since.getTime() / 1000) * 1000;
      yield* readRest(ctx, req.object, fields, from, undefined);
    } else {
      yield* readFull(ctx, req.object, fields);
    }
  },

  async create(ctx, object, fields) {
    checkObject(object);
    const res = await ctx.http.request<{ id: string }>({
      method: 'POST',
      path: `${DATA}/sobjects/${object}`,
      body: fields,
    });
    return fetchRecord(ctx, object, res.body.id);
  },

  async update(ctx, object, id, fields) {
    checkObject(object);
    await ctx.http.request({
      method: 'PATCH',
      path: `${DATA}/sobjects/${object}/${encodeURIComponent(id)}`,
      body: fields,
    });
    return fetchRecord(ctx, object, id);
  },

  async delete(ctx, object, id) {
    checkObject(object);
    await ctx.http.request({
      method: 'DELETE',
      path: `${DATA}/sobjects/${object}/${encodeURIComponent(id)}`,
    });
  },

  /** The org's objects that can be queried and followed by their change stamps (describeGlobal). */
  async listObjects(ctx) {
    const res = await ctx.http.request<{
      sobjects: { name: string; queryable: boolean; replicateable: boolean }[];
    }>({ path: `${DATA}/sobjects` });
    return res.body.sobjects.filter((o) => o.queryable && o.replicateable).map((o) => o.name);
  },

  async describeFields(ctx, object): Promise<FieldDescription[]> {
    return (await describe(ctx, object)).map((f) => ({
      name: f.name,
      label: f.label,
      type: f.type,
      readOnly: !f.createable && !f.updateable,
    }));
  },

  /** The connected Salesforce User (Supaglue's provider user id for Salesforce) and the org. */
  async whoAmI(ctx) {
    const res = await ctx.http.request<{ user_id: string; organization_id: string }>({
      path: '/services/oauth2/userinfo',
    });
    return {
      userId: res.body.user_id,
      accountId: res.body.organization_id,
      raw: res.body as unknown as Record<string, unknown>,
    };
  },

  async rateLimitInfo(ctx) {
    const res = await ctx.http.request<Record<string, { Max?: unknown; Remaining?: unknown }>>({
      path: `${DATA}/limits`,
    });
    const windows: Record<string, RateLimitWindow> = {};
    for (const [name, v] of Object.entries(res.body)) {
      if (typeof v?.Max === 'number' && typeof v.Remaining === 'number') {
        windows[name] = { limit: v.Max, remaining: v.Remaining };
      }
    }
    const { DailyApiRequests: daily, ...other } = windows;
    return { ...(daily ? { daily } : {}), other };
  },
};
