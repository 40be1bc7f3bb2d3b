import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { gong } from '../../simulators/gong/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { consentThroughPage, expectRefreshRotation, simControl, simRecords } from '../helpers/simulator.ts';

// Gong has no official Node SDK: the calls below are made with fetch as Gong's API reference
// describes them (Basic auth from the access key pair, cursors in the query or the JSON body).
const json = (res: Response) => res.json() as Promise<any>;

describe('Gong simulator', () => {
  let sim: RunningSimulator;
  const control = (path: string, body?: unknown) => simControl(sim.url, path, body);
  let basic: string;
  let get: (path: string, auth?: string) => Promise<Response>;
  let extensive: (body: Record<string, unknown>, auth?: string) => Promise<Response>;

  const pairAuth = (p: { access_key: string; access_key_secret: string }) =>
    `Basic ${Buffer.from(`${p.access_key}:${p.access_key_secret}`).toString('base64')}`;
  const records = (object: string) => simRecords(sim.url, object);

  /** Follows `records.cursor` until Gong stops sending one. */
  const allCalls = async (query = '') => {
    const calls: any[] = [];
    const pages: any[] = [];
    let cursor: string | undefined;
    do {
      const sep = query || cursor ? '?' : '';
      const res = await get(
        `/v2/calls${sep}${query}${cursor ? `${query ? '&' : ''}cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      expect(res.status).toBe(200);
      const body = await json(res);
      calls.push(...body.calls);
      pages.push(body.records);
      cursor = body.records.cursor;
    } while (cursor);
    return { calls, pages };
  };

  beforeAll(async () => {
    sim = await startSimulator(gong, { records: 250 });
    await control('limits', { per_second: 100_000, daily: 1_000_000 });
    basic = pairAuth(await control('tokens', {}));
    get = (path, auth = basic) => fetch(`${sim.url}${path}`, { headers: { authorization: auth } });
    extensive = (body, auth = basic) =>
      fetch(`${sim.url}/v2/calls/extensive`, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
  });
  afterAll(() => sim.close());

  it('pages through every user with cursors, 100 at a time', async () => {
    const users: any[] = [];
    const pages: any[] = [];
    let cursor: string | undefined;
    do {
      const body = await json(await get(`/v2/users${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`));
      expect(body.requestId).toEqual(expect.any(String));
      users.push(...body.users);
      pages.push(body.records);
      cursor = body.records.cursor;
    } while (cursor);
    expect(pages.map((p) => [p.totalRecords, p.currentPageSize, p.currentPageNumber])).toEqual([
      [250, 100, 0],
      [250, 100, 1],
      [250, 50, 2],
    ]);
    expect(pages[0].cursor).toMatch(/^eyJ/);
    expect(users.map((u) => u.id)).toEqual((await records('users')).map((r) => r.id));
    expect(users[0]).toMatchObject({
      id: expect.stringMatching(/^\d{19}$/),
      active: true,
      emailAddress: expect.stringContaining('@'),
    });
    const one = await json(await get(`/v2/users/${users[7].id}`));
    expect(one.user).toEqual(users[7]);
  });

  it('lists every call, and a date window returns exactly the calls started in it', async () => {
    const { calls, pages } = await allCalls();
    expect(calls).toHaveLength(250);
    expect(pages.map((p) => p.currentPageSize)).toEqual([100, 100, 50]);
    const stored = await records('calls');
    expect(calls.map((c) => c.id)).toEqual(stored.map((r) => r.id));
    const userIds = new Set((await records('users')).map((r) => r.id));
    for (const call of calls.slice(0, 5)) {
      expect(call).toMatchObject({
        id: expect.stringMatching(/^\d{19}$/),
        url: `${sim.url}/call?id=${call.id}`,
        title: expect.any(String),
        started: expect.stringMatching(/Z$/),
        duration: expect.any(Number),
      });
      expect(userIds.has(call.primaryUserId)).toBe(true);
    }
    // fromDateTime is inclusive, toDateTime exclusive.
    const from = calls[40].started;
    const to = calls[160].started;
    const window = await allCalls(
      `fromDateTime=${encodeURIComponent(from)}&toDateTime=${encodeURIComponent(to)}`,
    );
    expect(window.calls.map((c) => c.id)).toEqual(calls.slice(40, 160).map((c) => c.id));
    expect(window.pages[0].totalRecords).toBe(120);

    const workspaces = await json(await get('/v2/workspaces'));
    expect(workspaces.workspaces).toHaveLength(2);
    const inFirst = await allCalls(`workspaceId=${workspaces.workspaces[0].id}`);
    expect(inFirst.calls.length).toBe(
      calls.filter((c) => c.workspaceId === workspaces.workspaces[0].id).length,
    );
    expect(inFirst.pages[0].totalRecords).toBe(inFirst.calls.length);
  });

  it('serves /v2/calls/extensive with filters, content selectors and cursors in the body', async () => {
    const calls: any[] = [];
    let cursor: string | undefined;
    do {
      const res = await extensive({
        filter: { fromDateTime: '2000-01-01T00:00:00Z' },
        contentSelector: { exposedFields: { parties: true, content: { topics: true } } },
        ...(cursor ? { cursor } : {}),
      });
      expect(res.status).toBe(200);
      const body = await json(res);
      calls.push(...body.calls);
      cursor = body.records.cursor;
    } while (cursor);
    expect(calls).toHaveLength(250);
    expect(calls[0].metaData).toMatchObject({ id: expect.any(String), started: expect.any(String) });
    expect(calls[0].parties.map((p: any) => p.affiliation)).toEqual(['Internal', 'External']);
    expect(calls[0].parties[0].userId).toBe(calls[0].metaData.primaryUserId);
    expect(calls[0].content.topics).toHaveLength(1);
    expect(calls[0].interaction).toBeUndefined();

    const picked = [calls[3].metaData.id, calls[200].metaData.id];
    const byId = await json(await extensive({ filter: { callIds: picked } }));
    expect(byId.calls.map((c: any) => c.metaData.id)).toEqual(picked);
    expect(byId.records).toMatchObject({ totalRecords: 2, currentPageSize: 2, currentPageNumber: 0 });
    const host = calls[5].metaData.primaryUserId;
    const byHost = await json(await extensive({ filter: { primaryUserIds: [host] } }));
    expect(byHost.calls.length).toBeGreaterThan(0);
    expect(byHost.calls.every((c: any) => c.metaData.primaryUserId === host)).toBe(true);

    // Nothing matching is a 404 in Gong, not an empty page.
    const none = await extensive({ filter: { callIds: ['5999999999999999999'] } });
    expect(none.status).toBe(404);
    expect(await json(none)).toEqual({
      requestId: expect.any(String),
      errors: ['No calls found corresponding to the provided filters'],
    });
  });

  it('shows mutations: new and changed calls in a fromDateTime read, deleted calls gone, users deactivated', async () => {
    const before = new Date((await control('clock', { advance_ms: 1000 })).now).toISOString();
    const changes = await control('mutate', { object: 'calls', update: 5, delete: 3, create: 4 });
    const since = await allCalls(`fromDateTime=${encodeURIComponent(before)}`);
    expect(since.calls.map((c) => c.id).sort()).toEqual([...changes.updated, ...changes.created].sort());
    expect(since.pages[0].totalRecords).toBe(9);
    const { calls } = await allCalls();
    expect(calls).toHaveLength(250 + 4 - 3);
    const listed = new Set(calls.map((c) => c.id));
    for (const id of changes.deleted) expect(listed.has(id)).toBe(false);
    expect((await get(`/v2/calls/${changes.deleted[0]}`)).status).toBe(404);
    const edited = await json(await get(`/v2/calls/${changes.updated[0]}`));
    expect(edited.call.title).toMatch(/\(v\d+\)$/);

    const later = new Date((await control('clock', { advance_ms: 1000 })).now).toISOString();
    const empty = await get(`/v2/calls?fromDateTime=${encodeURIComponent(later)}`);
    expect(empty.status).toBe(404);
    expect((await json(empty)).errors).toEqual(['No calls found corresponding to the provided filters']);

    const users = await control('mutate', { object: 'users', delete: 1 });
    const gone = await json(await get(`/v2/users/${users.deleted[0]}`));
    expect(gone.user.active).toBe(false);
  });

  it('rejects bad cursors and dates with 400', async () => {
    const first = await json(await get('/v2/calls'));
    const cursor = first.records.cursor as string;
    const tampered = `${cursor.slice(0, -2)}xx`;
    expect((await get(`/v2/calls?cursor=${encodeURIComponent(tampered)}`)).status).toBe(400);
    // A cursor belongs to its query.
    expect(
      (await get(`/v2/calls?workspaceId=3813947207271230001&cursor=${encodeURIComponent(cursor)}`)).status,
    ).toBe(400);
    const bad = await get('/v2/calls?fromDateTime=yesterday');
    expect(bad.status).toBe(400);
    expect(await json(bad)).toMatchObject({
      requestId: expect.any(String),
      errors: [expect.stringContaining('fromDateTime')],
    });
  });

  it('refuses missing or wrong credentials with 401; key pairs outlive the token TTL until expired', async () => {
    const none = await fetch(`${sim.url}/v2/users`);
    expect(none.status).toBe(401);
    expect(await json(none)).toEqual({ requestId: expect.any(String), errors: [expect.any(String)] });
    const pair = await control('tokens', {});
    expect(pair).toEqual({ access_key: expect.any(String), access_key_secret: expect.any(String) });
    const wrong = pairAuth({ ...pair, access_key_secret: 'nope' });
    expect((await get('/v2/users', wrong)).status).toBe(401);

    await control('faults', { token_ttl_seconds: 1 });
    const shortLived = pairAuth(await control('tokens', {}));
    await control('clock', { advance_ms: 5000 });
    expect((await get('/v2/workspaces', shortLived)).status).toBe(200);
    await control('faults', { expire_tokens_now: true, token_ttl_seconds: 1800 });
    const expired = await get('/v2/workspaces', shortLived);
    expect(expired.status).toBe(401);
    expect((await json(expired)).errors).toHaveLength(1);
    basic = pairAuth(await control('tokens', {}));
    expect((await get('/v2/workspaces')).status).toBe(200);
  });

  it('answers 429 with Retry-After past 3 calls a second and past the daily budget', async () => {
    await control('clock', { advance_ms: 2000 });
    await control('limits', { per_second: 3 });
    for (let i = 0; i < 3; i++) expect((await get('/v2/workspaces')).status).toBe(200);
    const limited = await get('/v2/workspaces');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(await json(limited)).toEqual({ requestId: expect.any(String), errors: [expect.any(String)] });
    await control('clock', { advance_ms: 1000 });
    expect((await get('/v2/workspaces')).status).toBe(200);

    await control('clock', { advance_ms: 24 * 3600_000 });
    await control('limits', { per_second: 100_000, daily: 2 });
    await get('/v2/workspaces');
    await get('/v2/workspaces');
    const daily = await get('/v2/workspaces');
    expect(daily.status).toBe(429);
    expect(Number(daily.headers.get('retry-after'))).toBeGreaterThan(3600);
    await control('limits', { daily: 1_000_000 });
    await control('clock', { advance_ms: 24 * 3600_000 });
  });

  it('completes the OAuth flow with query-string token requests, refreshes with rotation, expires bearer tokens', async () => {
    const redirect = 'http://127.0.0.1:1/gong/callback';
    const location = await consentThroughPage(
      sim.url,
      `${sim.url}/oauth2/authorize?client_id=sim-client-id&response_type=code&scope=api:calls:read:basic%20api:users:read&redirect_uri=${encodeURIComponent(redirect)}&state=g1`,
      {
        redirect_uri: redirect,
        state: 'g1',
        scope: 'api:calls:read:basic api:users:read',
      },
    );
    const code = location.searchParams.get('code') ?? '';
    const clientAuth = `Basic ${Buffer.from('sim-client-id:sim-client-secret').toString('base64')}`;
    const token = (params: Record<string, string>) =>
      fetch(`${sim.url}/oauth2/generate-customer-token?${new URLSearchParams(params)}`, {
        method: 'POST',
        headers: { authorization: clientAuth },
      });
    const tokens = await json(
      await token({
        grant_type: 'authorization_code',
        code,
        client_id: 'sim-client-id',
        redirect_uri: redirect,
      }),
    );
    expect(tokens).toMatchObject({
      token_type: 'bearer',
      expires_in: 1800,
      scope: 'api:calls:read:basic api:users:read',
      api_base_url_for_customer: sim.url,
    });
    expect((await get('/v2/users', `Bearer ${tokens.access_token}`)).status).toBe(200);

    const rotated = await expectRefreshRotation(sim.url, token, tokens.refresh_token);

    await control('faults', { expire_tokens_now: true });
    const expired = await get('/v2/users', `Bearer ${rotated.access_token}`);
    expect(expired.status).toBe(401);
    expect((await json(expired)).errors).toEqual(['The access token has expired']);
    basic = pairAuth(await control('tokens', {}));
  });

  it('answers injected faults the way Gong does', async () => {
    await control('faults', { rate_limit_rate: 1, rate_limit_retry_after_seconds: 7 });
    const limited = await get('/v2/workspaces');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(await json(limited)).toEqual({ requestId: expect.any(String), errors: [expect.any(String)] });
    await control('faults', { rate_limit_rate: 0, error_rate: 1 });
    expect((await get('/v2/workspaces')).status).toBe(500);
    await control('faults', { error_rate: 0 });
    expect((await get('/v2/workspaces')).status).toBe(200);
  });

  it('holds a million calls and serves the first and last pages building about a page of records each', async () => {
    await control('seed', { object: 'calls', count: 1_000_000 });
    // Seeded records are generated on demand: count how many each answer makes the simulator build.
    const generated = vi.spyOn(gong.objects.calls!, 'generate');
    const built = () => {
      const n = generated.mock.calls.length;
      generated.mockClear();
      return n;
    };
    try {
      const first = await json(await get('/v2/calls'));
      // Each answer costs about a page of records, wherever it is in the million.
      expect(built()).toBeLessThanOrEqual(200);
      expect(first.calls).toHaveLength(100);
      expect(first.records).toMatchObject({
        totalRecords: 1_000_000,
        currentPageSize: 100,
        currentPageNumber: 0,
      });
      expect(first.calls[0].id).toBe(gong.idOf('calls', 1));
      // Reaching the end of a million calls is a fromDateTime window, not 10,000 cursor hops.
      const tail = await json(await get('/v2/calls?fromDateTime=2000-01-01T00:00:00Z'));
      expect(tail.records.totalRecords).toBe(1_000_000);
      expect(built()).toBeLessThanOrEqual(200);
      const lastCall = await json(await get(`/v2/calls/${gong.idOf('calls', 1_000_000)}`));
      expect(built()).toBeLessThanOrEqual(200);
      const from = new Date(Date.parse(lastCall.call.started) - 49_000).toISOString();
      const last = await json(await get(`/v2/calls?fromDateTime=${encodeURIComponent(from)}`));
      expect(last.calls.at(-1).id).toBe(gong.idOf('calls', 1_000_000));
      expect(last.records).toMatchObject({ totalRecords: 50, currentPageSize: 50 });
      expect(last.records.cursor).toBeUndefined();
      expect(built()).toBeLessThanOrEqual(200);
    } finally {
      generated.mockRestore();
    }
  });
});
