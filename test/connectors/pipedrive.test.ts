import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { pipedrive } from '../../simulators/pipedrive/index.ts';
import type { Credentials } from '../../src/auth/connection-auth.ts';
import { SEALED_COLUMNS } from '../../src/auth/vault.ts';
import { ConnectorError } from '../../src/connectors/http.ts';
import type { ProviderRecord } from '../../src/connectors/types.ts';
import { openConnector } from '../../src/core/provider-access.ts';
import { collect, expectResumable } from '../helpers/connector.ts';
import { forgetRequestBudgets } from '../helpers/rate-budgets.ts';
import { simControl, simOAuthProvider, simRecords } from '../helpers/simulator.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

const SEEDED = 1234;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const wholeSecond = (d: Date) => Math.floor(d.getTime() / 1000) * 1000;

describe('Pipedrive connector against the simulator', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let connectionId: string;
  const control = (path: string, body?: unknown) => simControl(sim.url, path, body);
  const open = () => openConnector(t.runtime.deps, connectionId);
  const live = (records: ProviderRecord[]) => records.filter((r) => !r.isDeleted).map((r) => r.id);
  const deleted = (records: ProviderRecord[]) => records.filter((r) => r.isDeleted).map((r) => r.id);
  const sorted = (ids: Iterable<string>) => [...ids].sort((a, b) => Number(a) - Number(b));
  /** Updates `count` leads, then reads exactly those: when the read began, what changed, the read's requests. */
  const readChangedLeads = async (count: number) => {
    const { connector, ctx } = await open();
    const since = new Date((await control('clock', { advance_ms: 5000 })).now);
    const changed = await control('mutate', { object: 'leads', update: count });
    const before = ctx.http.requestCount;
    const { records } = await collect(connector.read!(ctx, { object: 'leads', since }));
    expect(records.map((r) => r.id).sort()).toEqual([...changed.updated].sort());
    return { since, updated: new Set<string>(changed.updated), requests: ctx.http.requestCount - before };
  };
  /** The ids of the leads the simulator holds, in creation order. */
  const liveLeads = async () =>
    (await simRecords(sim.url, 'leads')).filter((r) => !r.deleted).map((r) => r.id);

  beforeAll(async () => {
    sim = await startSimulator(pipedrive, { records: SEEDED });
    await control('limits', { burst_per_2s: 10_000, daily_tokens: 10_000_000 });
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ pipedrive: sim.url }) } });
    api = client(t.baseUrl, t.apiKey);
    const provider = await api('POST', '/providers', {
      body: simOAuthProvider('pipedrive', ['base', 'contacts:full', 'deals:full', 'users:read']),
    });
    expect(provider.status).toBe(201);
    await api('PUT', '/customers', { body: { customer_id: 'c', name: 'C', email: 'c@x.test' } });

    // Pipedrive connections come from the OAuth flow: the Management API's create-connection body
    // (the Supaglue spec's oneOf) has no Pipedrive branch, and Trellis has no connect flow to drive
    // from a test yet. So the connection is stored here as that flow stores one: the tokens sealed
    // by the vault and the token response's `api_domain` as the instance URL.
    const tokens = await control('tokens', {});
    const { db, vault } = t.runtime.deps;
    const { rows } = await db.query<{ projectId: string; appId: string; customerId: string }>(
      `select p.project_id as "projectId", p.id as "appId", cu.id as "customerId"
         from provider_apps p join customers cu on cu.project_id = p.project_id and cu.external_id = 'c'
        where p.id = $1`,
      [provider.body.id],
    );
    const ids = rows[0]!;
    const credentials: Credentials = {
      type: 'oauth2',
      refresh_token: tokens.refresh_token,
      access_token: tokens.access_token,
      expires_at: new Date(Date.now() + tokens.expires_in * 1000).toISOString(),
    };
    const id = randomUUID();
    const inserted = await db.query<{ id: string }>(
      `insert into connections (id, project_id, customer_id, provider_app_id, provider_name, category, auth_type,
         credentials_sealed, instance_url)
       values ($6, $1, $2, $3, 'pipedrive', 'crm', 'oauth2', $4, $5) returning id`,
      [
        ids.projectId,
        ids.customerId,
        ids.appId,
        vault.sealJson(credentials, SEALED_COLUMNS.connectionCredentials, id),
        tokens.api_domain,
        id,
      ],
    );
    connectionId = inserted.rows[0]!.id;
    const shown = await api('GET', '/customers/c/connections/pipedrive');
    expect(shown.status).toBe(200);
  });
  afterAll(async () => {
    await t?.stop();
    await sim?.close();
  });

  it('a full read returns exactly the seeded records, whole', async () => {
    const { connector, ctx } = await open();
    for (const object of ['persons', 'organizations', 'deals']) {
      const { records, cursors } = await collect(connector.read!(ctx, { object }));
      const expected = await simRecords<Record<string, unknown>>(sim.url, object);
      expect(records.map((r) => r.id)).toEqual(expected.map((r) => r.id));
      expect(cursors).toHaveLength(Math.ceil(SEEDED / 500));
      expect(cursors.at(-1)).toBeNull();
      expect(records.every((r) => !r.isDeleted)).toBe(true);
      const sample = records.find((r) => r.id === '17')!;
      expect(sample.raw).toEqual(expected.find((r) => r.id === '17')!.record);
      expect(sample.lastModifiedAt.toISOString().replace('.000Z', 'Z')).toBe(sample.raw.update_time);
    }
    const users = await collect(connector.read!(ctx, { object: 'users' }));
    expect(users.records.map((r) => r.id)).toEqual(['13370001', '13370002', '13370003']);
    expect(users.cursors).toEqual([null]);
  });

  it('an incremental read returns exactly the changes, and deleted deals flagged', async () => {
    const since = new Date((await control('clock', { advance_ms: 5000 })).now);
    const persons = await control('mutate', { object: 'persons', create: 4, update: 30, delete: 6 });
    const deals = await control('mutate', { object: 'deals', create: 3, update: 25, delete: 7 });
    const { connector, ctx } = await open();

    const p = await collect(connector.read!(ctx, { object: 'persons', since }));
    // Deleted persons are invisible to API v2 lists: only a full run's sweep notices them.
    expect(sorted(live(p.records))).toEqual(sorted(new Set([...persons.created, ...persons.updated])));
    expect(deleted(p.records)).toEqual([]);
    const full = await collect(connector.read!(ctx, { object: 'persons' }));
    for (const id of persons.deleted) expect(full.records.some((r) => r.id === id)).toBe(false);

    const d = await collect(connector.read!(ctx, { object: 'deals', since }));
    expect(sorted(live(d.records))).toEqual(sorted(new Set([...deals.created, ...deals.updated])));
    expect(sorted(deleted(d.records))).toEqual(sorted(deals.deleted));
    for (const r of d.records.filter((r) => r.isDeleted)) expect(r.raw.status).toBe('deleted');

    for (const r of [...p.records, ...d.records]) {
      expect(r.lastModifiedAt.getTime()).toBeGreaterThanOrEqual(wholeSecond(since));
    }
    // Nothing changed since then: an empty read, still one page.
    const later = new Date((await control('clock', { advance_ms: 5000 })).now);
    const none = await collect(connector.read!(ctx, { object: 'deals', since: later }));
    expect(none).toEqual({ records: [], cursors: [null] });
  });

  it('a read interrupted after any page resumes from its cursor with nothing lost or repeated', async () => {
    const { connector, ctx } = await open();
    const resumeEverywhere = async (req: { object: string; since?: Date }) => {
      const whole = await collect(connector.read!(ctx, req));
      expect(whole.cursors.length).toBeGreaterThan(1);
      for (let stopAfter = 1; stopAfter < whole.cursors.length; stopAfter++) {
        const first = await collect(connector.read!(ctx, req), stopAfter);
        const cursor = first.cursors.at(-1) ?? null;
        expect(cursor).not.toBeNull();
        const rest = await collect(connector.read!(ctx, { ...req, cursor: cursor! }));
        expect([...first.records, ...rest.records].map((r) => r.id)).toEqual(whole.records.map((r) => r.id));
      }
      return whole;
    };
    await resumeEverywhere({ object: 'organizations' });
    // The same in the middle of an incremental read, deletions included.
    const since = new Date((await control('clock', { advance_ms: 5000 })).now);
    const changed = await control('mutate', { object: 'deals', update: 1100, delete: 5 });
    const inc = await resumeEverywhere({ object: 'deals', since });
    expect(sorted(inc.records.map((r) => r.id))).toEqual(
      sorted(new Set([...changed.updated, ...changed.deleted])),
    );
  });

  it('reads changed leads newest first and stops at the first older one; a lead deleted between two pages skips no other', async () => {
    const { connector, ctx } = await open();
    const ids = (records: ProviderRecord[]) => records.map((r) => r.id);
    // A full read: every lead once, in creation order, though each page starts before the last ended.
    const whole = await expectResumable((req) => connector.read!(ctx, req), { object: 'leads' }, [1, 2]);
    expect(ids(whole.records)).toEqual(await liveLeads());
    expect(whole.cursors).toHaveLength(3);

    expect((await readChangedLeads(30)).requests).toBe(1);
    const later = new Date((await control('clock', { advance_ms: 5000 })).now);
    const requests = ctx.http.requestCount;
    expect(await collect(connector.read!(ctx, { object: 'leads', since: later }))).toEqual({
      records: [],
      cursors: [null],
    });
    expect(ctx.http.requestCount - requests).toBe(1);

    // Three leads of the first page go before the second is read: the rest move back by three.
    const first = await collect(connector.read!(ctx, { object: 'leads' }), 1);
    await control('mutate', { object: 'leads', delete: ids(first.records).slice(0, 3) });
    const rest = await collect(connector.read!(ctx, { object: 'leads', cursor: first.cursors[0]! }));
    const read = [...ids(first.records), ...ids(rest.records)];
    expect(new Set(read).size).toBe(read.length);
    expect((await liveLeads()).filter((id) => !read.includes(id))).toEqual([]);

    // Forty go: more than the overlap covers, so the next page steps back (and repeats some).
    const again = await collect(connector.read!(ctx, { object: 'leads' }), 1);
    await control('mutate', { object: 'leads', delete: ids(again.records).slice(0, 40) });
    const after = await collect(connector.read!(ctx, { object: 'leads', cursor: again.cursors[0]! }));
    const reread = new Set([...ids(again.records), ...ids(after.records)]);
    expect((await liveLeads()).filter((id) => !reread.has(id))).toEqual([]);
  });

  it('reads changed leads over several pages, and goes on in creation order from a cursor issued before', async () => {
    const { connector, ctx } = await open();
    const ids = (records: ProviderRecord[]) => records.map((r) => r.id);
    const { since, updated, requests } = await readChangedLeads(600);
    // 500 changed leads, then a page from 490 with the other 100 and older ones.
    expect(requests).toBe(2);

    // A cursor of a read begun in creation order (before reads went newest first) at lead 500:
    // the read goes on in that order to the end, so no changed lead after it is lost.
    const old = Buffer.from(JSON.stringify({ mode: 'leads', start: 500, since: since.getTime() })).toString(
      'base64url',
    );
    const rest = await collect(connector.read!(ctx, { object: 'leads', since, cursor: old }));
    const byCreation = await liveLeads();
    expect(ids(rest.records)).toEqual(byCreation.slice(500).filter((id) => updated.has(id)));
  });

  it('waits out 429s, from the burst window and injected, and never surfaces them', async () => {
    await control('seed', { object: 'deals', count: 3000 });
    await control('limits', { burst_per_2s: 10 });
    try {
      const { connector, ctx } = await open();
      // Another client of the same token spends the two-second window first.
      const token = await ctx.accessToken();
      const spent = await Promise.all(
        Array.from({ length: 12 }, () =>
          fetch(`${sim.url}/api/v1/users/me`, { headers: { authorization: `Bearer ${token}` } }),
        ),
      );
      expect(spent.some((r) => r.status === 429)).toBe(true);
      const orgs = await collect(connector.read!(ctx, { object: 'organizations' }));
      expect(orgs.records).toHaveLength(SEEDED);
      expect(ctx.http.requestCount).toBeGreaterThan(orgs.cursors.length);

      await control('faults', { rate_limit_rate: 0.2, rate_limit_retry_after_seconds: 0 });
      const before = ctx.http.requestCount;
      const { records, cursors } = await collect(connector.read!(ctx, { object: 'deals' }));
      expect(records.map((r) => r.id)).toEqual(Array.from({ length: 3000 }, (_, i) => String(i + 1)));
      // Some requests were refused and repeated.
      expect(ctx.http.requestCount - before).toBeGreaterThan(cursors.length);
    } finally {
      await control('faults', { rate_limit_rate: 0 });
      await control('limits', { burst_per_2s: 10_000 });
      await control('seed', { object: 'deals', count: SEEDED });
    }
  });

  it('a spent daily budget surfaces as rate_limited with the wait until UTC midnight', async () => {
    // The simulator's clock decides its day. Move it to noon UTC, so that the wait is half a day:
    // far longer than the engine sits out, and far from either end of the day.
    const simNow = async (advanceMs = 0) =>
      Date.parse((await control('clock', { advance_ms: advanceMs })).now);
    const now = await simNow();
    const sinceNoon = (now - 12 * HOUR_MS) % DAY_MS;
    const noon = await simNow(sinceNoon === 0 ? 0 : DAY_MS - sinceNoon);
    const midnight = new Date(noon);
    midnight.setUTCHours(24, 0, 0, 0);
    expect(midnight.getTime() - noon).toBeGreaterThan(11 * HOUR_MS);
    await control('limits', { daily_tokens: 1 });
    try {
      const { connector, ctx } = await open();
      const err = await collect(connector.read!(ctx, { object: 'persons' })).catch((e: unknown) => e);
      const after = await simNow();
      expect(err).toBeInstanceOf(ConnectorError);
      expect((err as ConnectorError).kind).toBe('rate_limited');
      // The refusal came between `noon` and `after` on the simulator's clock, and waits (in whole
      // seconds) for the midnight that ends its day.
      const waitMs = (err as ConnectorError).waitMs!;
      expect(waitMs).toBeGreaterThanOrEqual(midnight.getTime() - after);
      expect(waitMs).toBeLessThanOrEqual(midnight.getTime() - noon + 1000);
    } finally {
      await control('limits', { daily_tokens: 10_000_000 });
      await forgetRequestBudgets(t.runtime.deps.db);
    }
  });

  it('refreshes an expired token once, with Basic client auth, and retries the call', async () => {
    const { connector, ctx } = await open();
    await collect(connector.read!(ctx, { object: 'organizations' }));
    const before = (await control('stats')).token_refreshes;
    await control('faults', { expire_tokens_now: true });
    const { records } = await collect(connector.read!(ctx, { object: 'deals' }));
    const liveDeals = (await simRecords(sim.url, 'deals')).filter((r) => !r.deleted);
    expect(records.map((r) => r.id)).toEqual(liveDeals.map((r) => r.id));
    expect((await control('stats')).token_refreshes - before).toBe(1);
    // The token response's api_domain stays the connection's instance URL.
    const { rows } = await t.runtime.deps.db.query('select instance_url from connections where id = $1', [
      connectionId,
    ]);
    expect(rows[0].instance_url).toBe(sim.url);
  });

  it('writes persons, organizations and deals, and an incremental read sees them', async () => {
    const { connector, ctx } = await open();
    const since = new Date((await control('clock', { advance_ms: 5000 })).now);
    const org = await connector.create!(ctx, 'organizations', { name: 'Trellis Test Org' });
    const person = await connector.create!(ctx, 'persons', {
      name: 'Ada Lovelace',
      org_id: Number(org.id),
      emails: [{ value: 'ada@example.test', primary: true, label: 'work' }],
    });
    const deal = await connector.create!(ctx, 'deals', {
      title: 'Big one',
      value: 1000,
      person_id: Number(person.id),
      org_id: Number(org.id),
    });
    expect(deal.raw).toMatchObject({ title: 'Big one', person_id: Number(person.id), status: 'open' });
    const won = await connector.update!(ctx, 'deals', deal.id, { status: 'won' });
    expect(won.raw).toMatchObject({ status: 'won' });
    await connector.delete!(ctx, 'persons', person.id);
    const deals = await collect(connector.read!(ctx, { object: 'deals', since }));
    expect(deals.records.map((r) => [r.id, r.raw.status])).toEqual([[deal.id, 'won']]);
    const persons = await collect(connector.read!(ctx, { object: 'persons', since }));
    expect(persons.records).toEqual([]);
    await connector.delete!(ctx, 'deals', deal.id);
    const gone = await collect(connector.read!(ctx, { object: 'deals', since }));
    expect(gone.records.map((r) => [r.id, r.isDeleted])).toEqual([[deal.id, true]]);
    const err = await connector.update!(ctx, 'persons', person.id, { name: 'x' }).catch((e: unknown) => e);
    expect((err as ConnectorError).kind).toBe('not_found');
    const invalid = await connector.create!(ctx, 'deals', { value: 1 }).catch((e: unknown) => e);
    expect((invalid as ConnectorError).kind).toBe('validation');
  });

  it('answers whoAmI, objects and rate-limit info (also through the API)', async () => {
    const { connector, ctx } = await open();
    const me = await connector.whoAmI!(ctx);
    expect(me).toMatchObject({ userId: '13370001', accountId: '7654321' });
    expect(await connector.listObjects!(ctx)).toEqual([
      'persons',
      'organizations',
      'deals',
      'leads',
      'users',
    ]);
    const userFields = await connector.describeFields!(ctx, 'users');
    expect(userFields.map((f) => f.name)).toEqual(expect.arrayContaining(['id', 'email', 'name']));

    const info = await connector.rateLimitInfo!(ctx);
    expect(info.daily).toMatchObject({ limit: 10_000_000 });
    expect(info.daily!.remaining).toBeLessThan(10_000_000);
    expect(info.other?.burst_two_seconds).toMatchObject({ limit: 10_000 });

    const user = await api('GET', '/customers/c/connections/_provider_user_id', {
      query: { provider_name: 'pipedrive' },
    });
    // The spec lets this endpoint answer for HubSpot, Dynamics and Intercom only.
    expect(user.status).toBe(400);
    const limits = await api('GET', '/customers/c/connections/pipedrive/_rate_limit_info');
    expect(limits.status).toBe(200);
    expect(limits.body.daily).toMatchObject({ limit: 10_000_000, reset_time: expect.any(Number) });
    expect(limits.body.other.burst_two_seconds.limit).toBe(10_000);
  });
});
