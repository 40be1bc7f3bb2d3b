import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gong } from '../../simulators/gong/index.ts';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { ConnectorError, ProviderHttp, type RequestBudget } from '../../src/connectors/http.ts';
import { openConnector } from '../../src/core/provider-access.ts';
import { removeIdleRateBudgets, SharedRateBudget } from '../../src/core/rate-budget.ts';
import type { Db } from '../../src/db/pool.ts';
import { OutboundPolicy } from '../../src/net/outbound.ts';
import { simControl, simOAuthProvider, simServed, simServedSince } from '../helpers/simulator.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

/**
 * One request budget per provider account, kept in Postgres: every process of Trellis spends the
 * same one. Two runtimes on one database stand for two processes (each has its own pool); what the
 * provider saw is counted at its simulator.
 */

/** A second runtime on `t`'s database and key, with neither API nor worker: another process's pools. */
const secondProcess = (t: TestTrellis, overrides: Record<string, string>) =>
  startTrellis({
    databaseUrl: t.databaseUrl,
    roles: { api: false, worker: false },
    env: {
      TRELLIS_ENCRYPTION_KEY: t.config.encryptionKey!.toString('hex'),
      TRELLIS_PROVIDER_OVERRIDES: JSON.stringify(overrides),
    },
  });

/** 429s the simulator's own rate limits answered. */
const refusals = async (simUrl: string): Promise<number> => (await simControl(simUrl, 'stats')).rate_limited;

async function connectHubspot(api: Client, simUrl: string): Promise<string> {
  await api('POST', '/providers', { body: simOAuthProvider('hubspot', ['oauth']) });
  await api('PUT', '/customers', { body: { customer_id: 'c', name: 'C', email: 'c@x.test' } });
  const tokens = await simControl(simUrl, 'tokens', {});
  const conn = await api('POST', '/customers/c/connections', {
    body: { provider_name: 'hubspot', type: 'oauth2', refresh_token: tokens.refresh_token },
  });
  expect(conn.status, JSON.stringify(conn.body)).toBe(200);
  return conn.body.id;
}

/** A ProviderHttp to the HubSpot simulator at `simUrl` whose turns `budget` alone gives. */
async function httpThrough(
  simUrl: string,
  budget: RequestBudget,
  Outbound = OutboundPolicy,
): Promise<ProviderHttp> {
  const token = (await simControl(simUrl, 'tokens', {})).access_token;
  return new ProviderHttp({
    baseUrl: simUrl,
    auth: { headers: async () => ({ authorization: `Bearer ${token}` }), renew: async () => 'failed' },
    outbound: new Outbound({
      strict: false,
      allowLoopback: false,
      allowed: [],
      providerHosts: ['127.0.0.1'],
    }),
    policy: {},
    budget: () => budget,
  });
}

describe('two processes reading one HubSpot account', () => {
  // 60 pages of 100 each: together 120 requests, more than the 100 a ten-second window allows.
  const RECORDS = 6000;
  let sim: RunningSimulator;
  let a: TestTrellis;
  let b: TestTrellis;
  let connectionId: string;

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: RECORDS });
    const overrides = { hubspot: sim.url };
    a = await startTrellis({
      roles: { api: true, worker: false },
      env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify(overrides) },
    });
    b = await secondProcess(a, overrides);
    connectionId = await connectHubspot(client(a.baseUrl, a.apiKey), sim.url);
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await sim?.close();
  });

  it('never exceed its budget together: the provider refuses none of their requests', async () => {
    const limits = await simControl(sim.url, 'limits');
    expect(limits.ten_second).toBe(100);
    const before = await simServed(sim.url);
    const readAll = async (t: TestTrellis, object: string) => {
      const { connector, ctx } = await openConnector(t.runtime.deps, connectionId);
      let records = 0;
      let pages = 0;
      for await (const page of connector.read!(ctx, { object })) {
        records += page.records.length;
        pages++;
      }
      return { records, pages };
    };
    const [contacts, companies] = await Promise.all([readAll(a, 'contacts'), readAll(b, 'companies')]);
    expect(contacts.records).toBe(RECORDS);
    expect(companies.records).toBe(RECORDS);
    const served = await simServedSince(sim.url, before);
    const total = Object.values(served).reduce((sum, n) => sum + n, 0);
    // The window had to hold requests back: together they asked for more than it allows.
    expect(total).toBeGreaterThan(limits.ten_second);
    expect(await refusals(sim.url)).toBe(0);
  });

  it('grants a burst that fits the window at once, and the rest in order as the window frees', async () => {
    // A lane of its own on the connection's account, with a long window.
    const lane = `test-${randomUUID()}`;
    const budget = (t: TestTrellis) =>
      new SharedRateBudget(t.runtime.deps.db, connectionId, lane, { requests: 50, windowMs: 60_000 });
    // 50 requests asked for at once, from both processes: none waits.
    const burst = await Promise.all(
      Array.from({ length: 50 }, (_, i) => budget(i % 2 ? a : b).reserve(Number.MAX_SAFE_INTEGER)),
    );
    expect(burst.every((r) => r.granted && r.waitMs <= 0)).toBe(true);
    // The 51st waits for the window to free; asked to wait less, it reserves nothing.
    const refused = await budget(a).reserve(1000);
    expect(refused.granted).toBe(false);
    expect(refused.waitMs).toBeGreaterThan(50_000);
    // Further requests are served in the order they asked, a window's worth at a time.
    const queued: number[] = [];
    for (let i = 0; i < 120; i++)
      queued.push((await budget(i % 2 ? a : b).reserve(Number.MAX_SAFE_INTEGER)).waitMs);
    const windows = queued.map((wait) => Math.round(wait / 60_000));
    expect(windows).toEqual([...Array(50).fill(1), ...Array(50).fill(2), ...Array(20).fill(3)]);
  });

  it('keeps a wider margin after a 429: the provider counted a window from later than the budget did', async () => {
    const lane = `test-${randomUUID()}`;
    const budget = new SharedRateBudget(a.runtime.deps.db, connectionId, lane, {
      requests: 1,
      windowMs: 10_000,
    });
    const forever = Number.MAX_SAFE_INTEGER;
    await budget.reserve(forever);
    const second = await budget.reserve(forever);
    // A window and its margin after the first (less what passed meanwhile).
    expect(second.waitMs).toBeGreaterThan(10_000);
    expect(second.waitMs).toBeLessThanOrEqual(10_250);
    await budget.pause(0);
    const third = await budget.reserve(forever);
    // A window and a margin twice as wide after the second.
    expect(third.waitMs - second.waitMs).toBeGreaterThan(10_400);
  });

  it('takes spare turns for a process asking faster than its slack, and none once the window is half full', async () => {
    const lane = `test-${randomUUID()}`;
    let statements = 0;
    const db = a.runtime.deps.db;
    // The pool, counting the statements the budget sends.
    const counting = {
      query: (...args: Parameters<Db['query']>) => {
        statements++;
        return db.query(...args);
      },
    } as unknown as Db;
    const budget = new SharedRateBudget(counting, connectionId, lane, { requests: 200, windowMs: 60_000 });
    const forever = Number.MAX_SAFE_INTEGER;
    // A reader asking as soon as it was answered, as a provider a few ms away lets it.
    for (let i = 0; i < 80; i++) expect((await budget.reserve(forever)).waitMs).toBeLessThanOrEqual(0);
    expect(statements).toBeLessThanOrEqual(20);
    // Past half the window (spares never reach into it), each turn is a statement of its own.
    const half = await Promise.all(Array.from({ length: 40 }, () => budget.reserve(forever)));
    expect(half.every((t) => t.granted && t.waitMs <= 0)).toBe(true);
    const { rows } = await db.query(
      'select array_length(reserved, 1) as n from trellis.rate_budgets where key = trellis.account_rate_budget($1, $2)',
      [connectionId, lane],
    );
    expect(rows[0].n).toBeGreaterThanOrEqual(100);
    statements = 0;
    for (let i = 0; i < 30; i++) expect((await budget.reserve(forever)).waitMs).toBeLessThanOrEqual(0);
    expect(statements).toBe(30);

    // Requests asking together, round after round, are served by a statement or two and leave no
    // spare unused: the window holds their turns and no more.
    const togetherLane = `test-${randomUUID()}`;
    const together = new SharedRateBudget(counting, connectionId, togetherLane, {
      requests: 200,
      windowMs: 60_000,
    });
    for (let round = 0; round < 3; round++)
      await Promise.all(Array.from({ length: 16 }, () => together.reserve(forever)));
    const held = await db.query(
      'select array_length(reserved, 1) as n from trellis.rate_budgets where key = trellis.account_rate_budget($1, $2)',
      [connectionId, togetherLane],
    );
    expect(held.rows[0].n).toBe(48);
  });

  it('removes budgets idle for a day, and only those', async () => {
    const db = a.runtime.deps.db;
    const day = 86_400_000;
    await db.query(
      `insert into trellis.rate_budgets (key, max_requests, window_ms, reserved, paused_until)
       values ('idle', 1, 1000, array[trellis.epoch_ms() - $1::bigint - 1000], 0),
              ('recent', 1, 1000, array[trellis.epoch_ms() - $1::bigint + 60000], 0),
              ('paused', 1, 1000, '{}', trellis.epoch_ms() + 60000)`,
      [day],
    );
    expect(await removeIdleRateBudgets(db)).toBeGreaterThanOrEqual(1);
    const { rows } = await db.query(
      `select key from trellis.rate_budgets where key in ('idle', 'recent', 'paused') order by key`,
    );
    expect(rows.map((r) => r.key)).toEqual(['paused', 'recent']);
  });

  it('gives a request that would leave too late after its turn another turn', async () => {
    const turns = [
      { waitMs: -500, granted: true, slackMs: 100 },
      { waitMs: 0, granted: true, slackMs: 100 },
    ];
    let reserved = 0;
    const budget: RequestBudget = {
      reserve: async () => turns[reserved++]!,
      adopt: async () => {},
      pause: async () => {},
      spent: async () => {},
    };
    const http = await httpThrough(sim.url, budget);
    const before = await simServed(sim.url);
    expect((await http.request({ path: '/crm/v3/owners' })).status).toBe(200);
    expect(reserved).toBe(2);
    expect(await simServedSince(sim.url, before)).toEqual({ 'GET /crm/v3/owners': 1 });
  });
});

describe('a burst of turns due at one instant', () => {
  let sim: RunningSimulator;
  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: 0 });
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('is judged on time by the clock, not late by the time sending its earlier requests takes', async () => {
    // 20 turns due together in 50 ms, each allowed to leave 100 ms late; sending one takes 10 ms
    // here, so the last leaves ~190 ms after its turn: judged after the others went, half of them
    // would be late.
    let reserved = 0;
    const budget: RequestBudget = {
      reserve: async () => {
        reserved++;
        return { waitMs: 50, granted: true, slackMs: 100 };
      },
      adopt: async () => {},
      pause: async () => {},
      spent: async () => {},
    };
    /**
     * Sending takes 10 ms of the event loop (a loaded machine's): no real part of this test can be
     * made that slow on purpose and predictably.
     */
    class SlowToSend extends OutboundPolicy {
      override request(...args: Parameters<OutboundPolicy['request']>) {
        const until = performance.now() + 10;
        while (performance.now() < until);
        return super.request(...args);
      }
    }
    const http = await httpThrough(sim.url, budget, SlowToSend);
    const before = await simServed(sim.url);
    const startedAt = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => http.request({ path: '/crm/v3/owners' })),
    );
    // The burst did take the time sending it costs: the last request left well past its slack.
    expect(performance.now() - startedAt).toBeGreaterThan(50 + 20 * 10);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(reserved).toBe(20);
    expect(await simServedSince(sim.url, before)).toEqual({ 'GET /crm/v3/owners': 20 });
  });
});

describe("the provider's word pauses every user of the account's budget", () => {
  let hubspotSim: RunningSimulator;
  let gongSim: RunningSimulator;
  let a: TestTrellis;
  let b: TestTrellis;
  let hubspotId: string;
  let gongId: string;

  beforeAll(async () => {
    hubspotSim = await startSimulator(hubspot, { records: 10 });
    gongSim = await startSimulator(gong, { records: 10 });
    const overrides = { hubspot: hubspotSim.url, gong: gongSim.url };
    a = await startTrellis({
      roles: { api: true, worker: false },
      env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify(overrides) },
    });
    b = await secondProcess(a, overrides);
    const api = client(a.baseUrl, a.apiKey);
    hubspotId = await connectHubspot(api, hubspotSim.url);
    const pair = await simControl(gongSim.url, 'tokens', {});
    const conn = await api('POST', '/customers/c/connections', {
      body: {
        provider_name: 'gong',
        type: 'access_key_secret',
        access_key: pair.access_key,
        access_key_secret: pair.access_key_secret,
      },
    });
    expect(conn.status, JSON.stringify(conn.body)).toBe(200);
    gongId = conn.body.id;
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await hubspotSim?.close();
    await gongSim?.close();
  });

  it('a window another app spent (remaining 0) holds back the next request of another process until it resets', async () => {
    const owners = { path: '/crm/v3/owners' };
    await simControl(hubspotSim.url, 'limits', { ten_second: 5 });
    // Another app on the portal spends all but one request of the window...
    const token = (await simControl(hubspotSim.url, 'tokens', {})).access_token;
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${hubspotSim.url}/crm/v3/owners`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(200);
    }
    // ...Trellis's request takes the last one, and the answer says none is left.
    const first = await openConnector(a.runtime.deps, hubspotId);
    const last = await first.ctx.http.request(owners);
    expect(last.headers.get('x-hubspot-ratelimit-remaining')).toBe('0');
    // Another process's request waits for the window to reset rather than being refused.
    const other = await openConnector(b.runtime.deps, hubspotId);
    expect((await other.ctx.http.request(owners)).status).toBe(200);
    expect(await refusals(hubspotSim.url)).toBe(0);
  });

  it('a 429 asking for a long wait stops every process from sending until then', async () => {
    const users = { path: '/v2/users' };
    await simControl(gongSim.url, 'faults', { rate_limit_rate: 1, rate_limit_retry_after_seconds: 120 });
    const first = await openConnector(a.runtime.deps, gongId, { interactive: true });
    const err = await first.ctx.http.request(users).catch((e: unknown) => e);
    expect((err as ConnectorError).kind).toBe('rate_limited');
    await simControl(gongSim.url, 'faults', { rate_limit_rate: 0 });

    const before = await simServed(gongSim.url);
    const other = await openConnector(b.runtime.deps, gongId, { interactive: true });
    const refused = await other.ctx.http.request(users).catch((e: unknown) => e);
    // Refused in Trellis, nothing sent: the wait is longer than an interactive call waits.
    expect(refused).toBeInstanceOf(ConnectorError);
    expect((refused as ConnectorError).kind).toBe('rate_limited');
    expect((refused as ConnectorError).waitMs).toBeGreaterThan(100_000);
    expect(await simServedSince(gongSim.url, before)).toEqual({});
  });
});
