import { decodeCursor, encodeCursor } from '../cursor.ts';
import { ConnectorError, type ProviderPolicy, type ProviderResponse } from '../http.ts';
import { fieldsFromSample } from '../sample-fields.ts';
import type { Connector, ConnectorContext, ProviderRecord, ReadPage, ReadRequest } from '../types.ts';

/**
 * Gong (access key and secret as HTTP Basic auth). Users and calls come from Gong's cursor-paged
 * lists (100 a page; the `records.cursor` of a page fetches the next one with the same filters),
 * workspaces from their one-answer list.
 *
 * - Calls: `GET /v2/calls`, in start order. Incremental reads pass `fromDateTime` (inclusive, at
 *   whole seconds: `since` rounded down to its second, so calls of that same second may repeat;
 *   nothing is missed). Gong filters calls on their start time, which is also the only date a call
 *   carries: the read returns the calls that started since, not calls edited since, and a call that
 *   Gong finishes processing after `since` but that started before it is only picked up by a full
 *   run. Deleted calls simply disappear from the list (Gong shows no deletions), so incremental
 *   reads cannot report them; the engine's full-run sweep removes them. When nothing matches, Gong
 *   answers 404 "No calls found corresponding to the provided filters", read as an empty result.
 * - Users: `GET /v2/users`. Users carry their creation time only, so every read (incremental ones
 *   too) returns all of them, as HubSpot owners are read. Gong never deletes users: a removed user
 *   stays listed with `active: false`, which is a field of the record, not a deletion.
 * - Workspaces: `GET /v2/workspaces`, full reads only in effect (every read returns them all); they
 *   carry no date at all, so their `lastModifiedAt` is the epoch.
 *
 * Limits: 3 calls per second and 10,000 per day per company, answered with 429 and `Retry-After`
 * (the catalog's pace stays under the first; Gong sends no budget headers, and has no endpoint
 * that reports the limits, so this connector has no `rateLimitInfo`).
 */
const OBJECTS = ['users', 'calls', 'workspaces'];
const NO_CALLS = /no calls found/i;

interface GongList {
  requestId: string;
  records?: { totalRecords: number; currentPageSize: number; currentPageNumber: number; cursor?: string };
}

interface GongUser {
  id: string;
  created: string;
  [key: string]: unknown;
}

interface GongCall {
  id: string;
  started: string;
  [key: string]: unknown;
}

interface GongWorkspace {
  id: string;
  name: string;
  [key: string]: unknown;
}

type Cursor = { o: 'users'; c: string } | { o: 'calls'; from?: string; c: string };

export const gongPolicy: ProviderPolicy = {
  classify(res: ProviderResponse) {
    // The wait comes from Retry-After (seconds until the spent window resets: one second, or up to
    // a day for the daily budget, which then fails the request instead of holding it).
    if (res.status === 429) return { kind: 'rate_limited' };
    if (res.status === 401) return { kind: 'auth' };
    return undefined;
  },
};

const dateOf = (value: string | undefined) => {
  const t = Date.parse(value ?? '');
  return new Date(Number.isNaN(t) ? 0 : t);
};

const userRecord = (u: GongUser): ProviderRecord => ({
  id: u.id,
  lastModifiedAt: dateOf(u.created),
  isDeleted: false,
  raw: u,
});

const callRecord = (c: GongCall): ProviderRecord => ({
  id: c.id,
  lastModifiedAt: dateOf(c.started),
  isDeleted: false,
  raw: c,
});

/** `since` as Gong takes it: ISO-8601 at whole seconds, rounded down. */
const fromDateTime = (since: Date) =>
  new Date(Math.floor(since.getTime() / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

async function* readUsers(ctx: ConnectorContext, start?: string): AsyncIterable<ReadPage> {
  let cursor = start;
  for (;;) {
    const res = await ctx.http.request<GongList & { users?: GongUser[] }>({
      path: '/v2/users',
      query: { cursor },
    });
    const next = res.body.records?.cursor;
    yield {
      records: (res.body.users ?? []).map(userRecord),
      cursor: next ? encodeCursor({ o: 'users', c: next } satisfies Cursor) : null,
    };
    if (!next) return;
    cursor = next;
  }
}

function isNoCalls(err: unknown): boolean {
  if (!(err instanceof ConnectorError) || err.status !== 404) return false;
  const errors = (err.body as { errors?: unknown } | undefined)?.errors;
  return Array.isArray(errors) && errors.some((e) => NO_CALLS.test(String(e)));
}

async function callsPage(ctx: ConnectorContext, from: string | undefined, cursor: string | undefined) {
  try {
    const res = await ctx.http.request<GongList & { calls?: GongCall[] }>({
      path: '/v2/calls',
      query: { fromDateTime: from, cursor },
    });
    return { calls: res.body.calls ?? [], next: res.body.records?.cursor };
  } catch (err) {
    if (isNoCalls(err)) return { calls: [], next: undefined };
    throw err;
  }
}

async function* readCalls(
  ctx: ConnectorContext,
  from: string | undefined,
  start?: string,
): AsyncIterable<ReadPage> {
  let cursor = start;
  for (;;) {
    const { calls, next } = await callsPage(ctx, from, cursor);
    yield {
      records: calls.map(callRecord),
      cursor: next ? encodeCursor({ o: 'calls', ...(from ? { from } : {}), c: next } satisfies Cursor) : null,
    };
    if (!next) return;
    cursor = next;
  }
}

async function workspaces(ctx: ConnectorContext): Promise<GongWorkspace[]> {
  const res = await ctx.http.request<{ workspaces?: GongWorkspace[] }>({ path: '/v2/workspaces' });
  return res.body.workspaces ?? [];
}

function checkObject(object: string): void {
  if (!OBJECTS.includes(object)) {
    throw new ConnectorError('validation', `Gong object "${object}" is not one of ${OBJECTS.join(', ')}`);
  }
}

export const gongConnector: Connector = {
  async *read(ctx: ConnectorContext, req: ReadRequest) {
    checkObject(req.object);
    const start = req.cursor ? decodeCursor<Cursor>(req.cursor) : undefined;
    if (start && start.o !== req.object) {
      throw new ConnectorError('validation', `the cursor is not one of a ${req.object} read`);
    }
    switch (req.object) {
      case 'users':
        yield* readUsers(ctx, start?.c);
        return;
      case 'calls':
        // A Gong cursor only works with the filters it was issued for: a resumed read keeps them.
        if (start?.o === 'calls') yield* readCalls(ctx, start.from, start.c);
        else yield* readCalls(ctx, req.since ? fromDateTime(req.since) : undefined);
        return;
      default:
        yield {
          records: (await workspaces(ctx)).map((w) => ({
            id: w.id,
            lastModifiedAt: new Date(0),
            isDeleted: false,
            raw: w,
          })),
          cursor: null,
        };
    }
  },

  // No writes: Trellis syncs Gong read-only (its API adds calls with media uploads, not records).

  async listObjects() {
    return [...OBJECTS];
  },

  /** Gong has no field-metadata endpoint: the fields are those of a record as Gong lists it. */
  async describeFields(ctx, object) {
    checkObject(object);
    let sample: Record<string, unknown> | undefined;
    if (object === 'users') {
      for await (const page of readUsers(ctx)) {
        sample = page.records[0]?.raw;
        break;
      }
    } else if (object === 'calls') {
      sample = (await callsPage(ctx, undefined, undefined)).calls[0];
    } else {
      sample = (await workspaces(ctx))[0];
    }
    return sample ? fieldsFromSample(sample) : [];
  },

  /**
   * Gong has no "me" endpoint for an access key pair: the key belongs to the company, not to a
   * user, and no endpoint names the company. The identity returned is the company's first
   * workspace (as both user and account id), with every workspace in the additional details.
   */
  async whoAmI(ctx) {
    const all = await workspaces(ctx);
    const first = all[0];
    if (!first) throw new ConnectorError('not_found', 'Gong listed no workspace to identify the company by');
    return {
      userId: first.id,
      accountId: first.id,
      raw: first,
      additional: {
        identity: 'workspace',
        note: 'Gong access keys belong to the company; no endpoint names a user for them',
        workspaces: all,
      },
    };
  },
};
