import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apollo } from '../../simulators/apollo/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { ConnectorError } from '../../src/connectors/http.ts';
import type { ProviderRecord, ReadPage } from '../../src/connectors/types.ts';
import { openConnector } from '../../src/core/provider-access.ts';
import { collect, expectResumable } from '../helpers/connector.ts';
import { forgetRequestBudgets } from '../helpers/rate-budgets.ts';
import { simControl, simServed, simServedSince } from '../helpers/simulator.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

const ids = (records: ProviderRecord[]) => records.map((r) => r.id);
const sorted = (list: string[]) => [...list].sort();
const HIGH_LIMITS = { per_minute: 1_000_000, per_hour: 10_000_000, per_day: 100_000_000 };

describe('Apollo connector against the simulator', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let apiKey: string;
  let connectionId: string;
  const control = (path: string, body?: unknown) => simControl(sim.url, path, body);
  const simRecords = async (object: string) =>
    (await (await fetch(`${sim.url}/__sim/records/${object}`)).text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { id: string; deleted: boolean; updated_at: string; record: any });
  const liveIds = async (object: string) =>
    (await simRecords(object)).filter((r) => !r.deleted).map((r) => r.id);
  const open = () => openConnector(t.runtime.deps, connectionId);
  const served = () => simServed(sim.url);
  const servedSince = (before: Record<string, number>) => simServedSince(sim.url, before);

  beforeAll(async () => {
    sim = await startSimulator(apollo, { records: 1234 });
    await control('limits', HIGH_LIMITS);
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ apollo: sim.url }) } });
    api = client(t.baseUrl, t.apiKey);
    await api('PUT', '/customers', { body: { customer_id: 'c', name: 'C', email: 'c@x.test' } });
    apiKey = (await control('tokens', {})).api_key;
    const conn = await api('POST', '/customers/c/connections', {
      body: { provider_name: 'apollo', type: 'api_key', api_key: apiKey },
    });
    expect(conn.status).toBe(200);
    connectionId = conn.body.id;
  });
  afterAll(async () => {
    await t.stop();
    await sim.close();
  });

  it('a full read returns exactly the seeded records, as Apollo shows them', async () => {
    const { connector, ctx } = await open();
    const { records } = await collect(connector.read!(ctx, { object: 'contacts' }));
    const expected = await simRecords('contacts');
    expect(sorted(ids(records))).toEqual(sorted(expected.map((r) => r.id)));
    expect(new Set(ids(records)).size).toBe(records.length);
    const sample = expected[16]!;
    const read = records.find((r) => r.id === sample.id)!;
    expect(read.raw).toEqual(sample.record);
    expect(read.lastModifiedAt.toISOString()).toBe(sample.record.updated_at);
    // Sequences (by either name) and users have no update order: every page of them.
    for (const [object, simObject] of [
      ['sequences', 'emailer_campaigns'],
      ['emailer_campaigns', 'emailer_campaigns'],
      ['users', 'users'],
      ['accounts', 'accounts'],
    ] as const) {
      const all = await collect(connector.read!(ctx, { object }));
      expect(sorted(ids(all.records))).toEqual(sorted(await liveIds(simObject)));
    }
  });

  it('an incremental read returns exactly the records changed since (deletions are not visible)', async () => {
    const since = new Date((await control('clock', { advance_ms: 5000 })).now);
    const changes = await control('mutate', { object: 'contacts', create: 4, update: 30, delete: 6 });
    const { connector, ctx } = await open();
    const { records } = await collect(connector.read!(ctx, { object: 'contacts', since }));
    expect(sorted(ids(records))).toEqual(sorted([...changes.created, ...changes.updated]));
    for (const r of records) {
      expect(r.isDeleted).toBe(false);
      expect(r.lastModifiedAt.getTime()).toBeGreaterThan(since.getTime());
    }
    // The deleted ones are simply gone: a full read (the engine's sweep) no longer has them.
    const full = await collect(connector.read!(ctx, { object: 'contacts' }));
    expect(sorted(ids(full.records))).toEqual(sorted(await liveIds('contacts')));
    for (const gone of changes.deleted) expect(ids(full.records)).not.toContain(gone);
    // Objects without an update time return everything, incremental or not.
    const users = await collect(connector.read!(ctx, { object: 'users', since }));
    expect(sorted(ids(users.records))).toEqual(sorted(await liveIds('users')));
  });

  it('writes contacts, and the writes show in the next incremental read', async () => {
    const since = new Date((await control('clock', { advance_ms: 5000 })).now);
    const { connector, ctx } = await open();
    const created = await connector.create!(ctx, 'contacts', {
      first_name: 'Ada',
      last_name: 'Lovelace',
      email: 'ada@engine.example',
    });
    const updated = await connector.update!(ctx, 'contacts', created.id, { title: 'Analyst' });
    expect(updated.raw).toMatchObject({ first_name: 'Ada', title: 'Analyst' });
    const { records } = await collect(connector.read!(ctx, { object: 'contacts', since }));
    expect(ids(records)).toEqual([created.id]);
    const { deleted } = await control('mutate', { object: 'contacts', delete: 1 });
    await expect(connector.update!(ctx, 'contacts', deleted[0], { title: 'x' })).rejects.toMatchObject({
      kind: 'not_found',
    });
    await expect(connector.create!(ctx, 'accounts', { name: 'x' })).rejects.toMatchObject({
      kind: 'validation',
    });
    expect(await connector.listObjects!(ctx)).toEqual([
      'contacts',
      'accounts',
      'emailer_campaigns',
      'users',
      'email_accounts',
    ]);
    const fields = await connector.describeFields!(ctx, 'contacts');
    expect(fields.find((f) => f.name === 'title')).toMatchObject({ type: 'string', readOnly: false });
    expect(fields.find((f) => f.name === 'updated_at')).toMatchObject({ type: 'datetime', readOnly: true });
  });

  it('a read interrupted after any page resumes from its cursor with nothing lost or repeated', async () => {
    const { connector, ctx } = await open();
    const resumeCheck = async (req: { object: string; since?: Date }) => {
      const whole = await expectResumable(
        (r) => connector.read!(ctx, r),
        req,
        (n) => [1, 3, n - 1],
      );
      return whole.records;
    };
    expect(await resumeCheck({ object: 'contacts' })).toHaveLength((await liveIds('contacts')).length);
    expect(await resumeCheck({ object: 'emailer_campaigns' })).toHaveLength(1234);
    const since = new Date((await control('clock', { advance_ms: 5000 })).now);
    const changed = await control('mutate', { object: 'contacts', update: 450 });
    expect(sorted(ids(await resumeCheck({ object: 'contacts', since })))).toEqual(sorted(changed.updated));
  });

  it('reads past the 50,000-record display limit from both ends of the update order', async () => {
    const total = 50_750;
    await control('seed', { object: 'accounts', count: total });
    const { connector, ctx } = await open();
    const before = ctx.http.requestCount;
    const pages: ReadPage[] = [];
    for await (const page of connector.read!(ctx, { object: 'accounts' })) pages.push(page);
    const records = pages.flatMap((p) => p.records);
    expect(new Set(ids(records)).size).toBe(total);
    expect(records).toHaveLength(total);
    // 500 pages newest first, then the oldest 750 (8 pages) oldest first.
    expect(ctx.http.requestCount - before).toBe(508);
    expect(sorted(ids(records))).toEqual(sorted(await liveIds('accounts')));

    // Resuming right at the switch to the oldest-first pass, and in the middle of it.
    for (const at of [499, 503]) {
      const cursor = pages[at]?.cursor ?? undefined;
      const rest = await collect(connector.read!(ctx, { object: 'accounts', cursor }));
      expect(ids(rest.records)).toEqual(ids(pages.slice(at + 1).flatMap((p) => p.records)));
    }

    // An incremental read of more than 50,000 changes: the oldest-first pass skips what is older.
    const all = await simRecords('accounts');
    const since = new Date(all[500]!.updated_at);
    const expected = all.filter((r) => Date.parse(r.updated_at) > since.getTime()).map((r) => r.id);
    expect(expected.length).toBeGreaterThan(50_000);
    const inc = await collect(connector.read!(ctx, { object: 'accounts', since }));
    expect(new Set(ids(inc.records)).size).toBe(inc.records.length);
    expect(sorted(ids(inc.records))).toEqual(sorted(expected));
  }, 60_000);

  it('reads exactly 100,000 records, and refuses more rather than read part of them', async () => {
    await control('seed', { object: 'accounts', count: 100_000 });
    const { connector, ctx } = await open();
    const before = ctx.http.requestCount;
    let n = 0;
    const seen = new Set<string>();
    for await (const page of connector.read!(ctx, { object: 'accounts' })) {
      n += page.records.length;
      for (const r of page.records) seen.add(r.id);
    }
    expect(n).toBe(100_000);
    expect(seen.size).toBe(100_000);
    // The record the oldest-first pass would stop at is first on page 501, which Apollo never shows.
    expect(ctx.http.requestCount - before).toBe(1000);

    await control('seed', { object: 'accounts', count: 100_001 });
    const pages = connector.read!(ctx, { object: 'accounts' })[Symbol.asyncIterator]();
    await expect(pages.next()).rejects.toMatchObject({ kind: 'validation' });
    await control('seed', { object: 'accounts', count: 1234 });
  });

  it('steps back when records vanish ahead of the read position, so none is skipped', async () => {
    await control('seed', { object: 'accounts', count: 1000 });
    const { connector, ctx } = await open();
    const seen: ProviderRecord[] = [];
    let deleted: string[] = [];
    let pages = 0;
    for await (const page of connector.read!(ctx, { object: 'accounts' })) {
      seen.push(...page.records);
      // Delete records among those already read (newest first: the first 300) after page 3.
      if (++pages === 3) {
        const newest = seen.slice(0, 300).map((r) => r.id);
        deleted = (await control('mutate', { object: 'accounts', delete: newest.slice(10, 15) })).deleted;
      }
    }
    expect(deleted).toHaveLength(5);
    const expected = sorted((await liveIds('accounts')).concat(deleted));
    expect(sorted(ids(seen))).toEqual(expected);
    expect(new Set(ids(seen)).size).toBe(seen.length);
    await control('seed', { object: 'accounts', count: 1234 });
  });

  it('waits out 429s, injected and from a spent window, and never surfaces them', async () => {
    const { connector, ctx } = await open();
    // Injected 429s (Apollo's "per minute" body, no headers).
    await control('faults', { rate_limit_rate: 0.2 });
    const before = ctx.http.requestCount;
    const { records, cursors } = await collect(connector.read!(ctx, { object: 'users' }));
    await control('faults', { rate_limit_rate: 0 });
    expect(sorted(ids(records))).toEqual(sorted(await liveIds('users')));
    expect(ctx.http.requestCount - before).toBeGreaterThan(cursors.length);

    // The minute window of the sequences search spent by another client of the same key. A minute
    // on the simulator's clock first, so that the spending starts a window of its own.
    const route = 'POST /api/v1/emailer_campaigns/search';
    const searches = () => sim.ctx.stats.requests[route] ?? 0;
    await control('clock', { advance_ms: 61_000 });
    await control('limits', { per_minute: 600 });
    try {
      for (let i = 0; i < 60; i++) {
        await Promise.all(
          Array.from({ length: 10 }, () =>
            fetch(`${sim.url}/api/v1/emailer_campaigns/search`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
              body: '{"per_page":1}',
            }),
          ),
        );
      }
      const spent = await fetch(`${sim.url}/api/v1/emailer_campaigns/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
        body: '{"per_page":1}',
      });
      expect(spent.status).toBe(429);
      const refused = searches();
      let settled = false;
      const reading = collect(connector.read!(ctx, { object: 'sequences' }));
      const settle = () => {
        settled = true;
      };
      reading.then(settle, settle);
      // Once the read has been refused, the window resets: a minute later on the simulator's clock.
      while (searches() === refused && !settled) await new Promise((r) => setTimeout(r, 10));
      expect(searches()).toBeGreaterThan(refused);
      // Trellis's budget keeps real time: it forgets the minute too (the refused read waits a
      // second at the least before it asks again).
      await control('clock', { advance_ms: 61_000 });
      await forgetRequestBudgets(t.runtime.deps.db);
      const read = await reading;
      expect(read.records).toHaveLength(1234);
      expect(searches() - refused).toBeGreaterThan(read.cursors.length);
    } finally {
      await control('limits', HIGH_LIMITS);
    }
  }, 30_000);

  it('answers who the connection is, and rate-limit info through the Management API', async () => {
    // The Management API's provider-user-id endpoint is specified for HubSpot, Dynamics and
    // Intercom only; the connector answers directly.
    const { connector, ctx } = await open();
    const me = await connector.whoAmI!(ctx);
    expect(me).toMatchObject({ userId: apollo.account.accountId, accountId: apollo.account.accountId });
    expect(me.raw).toMatchObject({ is_logged_in: true });
    const limits = await api('GET', '/customers/c/connections/apollo/_rate_limit_info');
    expect(limits.status).toBe(200);
    expect(limits.body.daily).toMatchObject({ limit: HIGH_LIMITS.per_day });
    expect(limits.body.hourly).toMatchObject({ limit: HIGH_LIMITS.per_hour });
    expect(limits.body.other.minute).toMatchObject({ limit: HIGH_LIMITS.per_minute });
    expect(limits.body.other.minute.remaining).toBeLessThan(HIGH_LIMITS.per_minute);
  });

  it('a revoked key fails as an auth error, not retried', async () => {
    await control('faults', { expire_tokens_now: true });
    const { connector, ctx } = await open();
    let before = await served();
    const sent = ctx.http.requestCount;
    const error = await collect(connector.read!(ctx, { object: 'contacts' })).catch((e) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error.kind).toBe('auth');
    // One request, refused, and no other: an API key cannot be renewed, so it is not tried again.
    expect(await servedSince(before)).toEqual({ 'POST /api/v1/contacts/search': 1 });
    expect(ctx.http.requestCount - sent).toBe(1);
    before = await served();
    await expect(connector.whoAmI!(ctx)).rejects.toMatchObject({ kind: 'auth' });
    expect(await servedSince(before)).toEqual({ 'GET /api/v1/auth/health': 1 });
  });
});
