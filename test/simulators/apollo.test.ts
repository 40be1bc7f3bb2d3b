import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { apollo } from '../../simulators/apollo/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { consentThroughPage, expectRefreshRotation, simControl, simRecords } from '../helpers/simulator.ts';

// Apollo has no official Node SDK: the calls below are made with fetch exactly as Apollo's API
// reference shows them (JSON bodies, the key in the x-api-key header).
const json = (res: Response) => res.json() as Promise<any>;

describe('Apollo simulator', () => {
  let sim: RunningSimulator;
  const control = (path: string, body?: unknown) => simControl(sim.url, path, body);
  let key: string;
  let search: (path: string, body: Record<string, unknown>, apiKey?: string) => Promise<Response>;

  /** Every page of a search, in order, as Apollo pages: page=1..total_pages. */
  const allPages = async (path: string, list: string, body: Record<string, unknown> = {}) => {
    const items: any[] = [];
    for (let page = 1; ; page++) {
      const res = await json(await search(path, { ...body, page, per_page: 100 }));
      items.push(...res[list]);
      if (page >= res.pagination.total_pages) return { items, last: res };
    }
  };

  beforeAll(async () => {
    sim = await startSimulator(apollo, { records: 250 });
    await control('limits', { per_minute: 100_000, per_hour: 100_000, per_day: 100_000 });
    key = (await control('tokens', {})).api_key;
    search = (path, body, apiKey = key) =>
      fetch(`${sim.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'cache-control': 'no-cache', 'x-api-key': apiKey },
        body: JSON.stringify(body),
      });
  });
  afterAll(() => sim.close());

  it('pages through every contact, account, sequence and user exactly once', async () => {
    const { items: contacts, last } = await allPages('/api/v1/contacts/search', 'contacts', {
      sort_by_field: 'contact_created_at',
      sort_ascending: true,
    });
    expect(contacts).toHaveLength(250);
    expect(last.pagination).toMatchObject({ page: 3, per_page: 100, total_entries: 250, total_pages: 3 });
    const seeded = (await simRecords(sim.url, 'contacts')).map((r) => r.id);
    expect(contacts.map((c) => c.id)).toEqual(seeded);
    expect(contacts[0]).toMatchObject({
      id: expect.stringMatching(/^[0-9a-f]{24}$/),
      email: expect.stringContaining('@'),
    });
    expect(contacts[0].name).toBe(`${contacts[0].first_name} ${contacts[0].last_name}`);

    const { items: accounts } = await allPages('/api/v1/accounts/search', 'accounts');
    expect(new Set(accounts.map((a) => a.id)).size).toBe(250);
    const { items: sequences } = await allPages('/api/v1/emailer_campaigns/search', 'emailer_campaigns');
    expect(new Set(sequences.map((s) => s.id)).size).toBe(250);
    const users: any[] = [];
    for (let page = 1; page <= 3; page++) {
      const res = await json(
        await fetch(`${sim.url}/api/v1/users/search?page=${page}&per_page=100`, {
          headers: { 'x-api-key': key },
        }),
      );
      users.push(...res.users);
    }
    expect(new Set(users.map((u) => u.id)).size).toBe(250);

    // per_page is capped at 100; the default page size is 25.
    const big = await json(await search('/api/v1/contacts/search', { per_page: 500 }));
    expect(big.contacts).toHaveLength(100);
    const small = await json(await search('/api/v1/contacts/search', {}));
    expect(small.pagination).toMatchObject({ page: 1, per_page: 25, total_pages: 10 });
  });

  it('refuses a missing or unknown key with 401 and checks keys on auth/health', async () => {
    const missing = await fetch(`${sim.url}/api/v1/contacts/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(missing.status).toBe(401);
    expect(await missing.text()).toBe('Invalid access credentials.');
    const unknown = await search('/api/v1/contacts/search', {}, 'not-a-key');
    expect(unknown.status).toBe(401);
    // Header names are case-insensitive: X-Api-Key works as well.
    const upper = await fetch(`${sim.url}/api/v1/contacts/search`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Api-Key': key },
      body: JSON.stringify({ per_page: 1 }),
    });
    expect(upper.status).toBe(200);
    const health = (k: string) =>
      fetch(`${sim.url}/api/v1/auth/health`, { headers: { 'x-api-key': k } }).then(json);
    expect(await health(key)).toEqual({ healthy: true, is_logged_in: true });
    expect(await health('not-a-key')).toEqual({ healthy: true, is_logged_in: false });
  });

  it('creates and updates contacts, and the changes are what an updated-since read returns', async () => {
    const before = new Date((await control('clock', { advance_ms: 1000 })).now).getTime();
    const created = await json(
      await search('/api/v1/contacts', {
        first_name: 'Jon',
        last_name: 'Snow',
        title: 'Lord Commander',
        organization_name: 'Westeros',
        email: 'jon.snow@westeros.example',
      }),
    );
    expect(created.contact).toMatchObject({
      first_name: 'Jon',
      name: 'Jon Snow',
      organization_name: 'Westeros',
    });
    const id = created.contact.id;
    const update = (method: string, body: Record<string, unknown>) =>
      fetch(`${sim.url}/api/v1/contacts/${id}`, {
        method,
        headers: { 'content-type': 'application/json', 'x-api-key': key },
        body: JSON.stringify(body),
      });
    expect((await json(await update('PUT', { title: 'King in the North' }))).contact.title).toBe(
      'King in the North',
    );
    expect((await json(await update('PATCH', { email: 'jon@winterfell.example' }))).contact).toMatchObject({
      title: 'King in the North',
      email: 'jon@winterfell.example',
    });
    const unknown = await fetch(`${sim.url}/api/v1/contacts/${'0'.repeat(24)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: '{}',
    });
    expect(unknown.status).toBe(404);

    await control('clock', { advance_ms: 1000 });
    const changes = await control('mutate', { object: 'contacts', update: 7, delete: 3, create: 2 });
    // Sorted by contact_updated_at, newest first, a sync reads until it meets its high-water mark.
    const page = await json(
      await search('/api/v1/contacts/search', {
        sort_by_field: 'contact_updated_at',
        sort_ascending: false,
        per_page: 100,
      }),
    );
    const since = page.contacts.filter((c: any) => Date.parse(c.updated_at) > before).map((c: any) => c.id);
    // The contact edited above may be among the records the mutation picks to update (once each)
    // or to delete (then it is gone from search).
    const changed = [id, ...changes.updated, ...changes.created].filter((c) => !changes.deleted.includes(c));
    expect(since.sort()).toEqual([...new Set(changed)].sort());
    // Ascending order puts the same records last.
    const asc = await json(
      await search('/api/v1/contacts/search', {
        sort_by_field: 'contact_updated_at',
        sort_ascending: true,
        page: 3,
        per_page: 100,
      }),
    );
    expect(asc.contacts.at(-1).id).toBe(page.contacts[0].id);

    // Deleted contacts are gone from search, and updating one answers Apollo's 422.
    const { items, last } = await allPages('/api/v1/contacts/search', 'contacts');
    expect(last.pagination.total_entries).toBe(250 + 1 + 2 - 3);
    const ids = new Set(items.map((c) => c.id));
    for (const gone of changes.deleted) expect(ids.has(gone)).toBe(false);
    const deleted = await fetch(`${sim.url}/api/v1/contacts/${changes.deleted[0]}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify({ title: 'Ghost' }),
    });
    expect(deleted.status).toBe(422);
    expect(await json(deleted)).toEqual({
      error: 'Cannot update contact as it is deleted.',
      deleted_contact_ids: [changes.deleted[0]],
    });
  });

  it('counts each endpoint against minute, hour and day windows and answers 429 like Apollo', async () => {
    await control('clock', { advance_ms: 24 * 3600_000 });
    await control('limits', { per_minute: 2 });
    const call = () => search('/api/v1/accounts/search', { per_page: 1 });
    const first = await call();
    expect(first.headers.get('x-rate-limit-minute')).toBe('2');
    expect(first.headers.get('x-minute-usage')).toBe('1');
    expect(first.headers.get('x-minute-requests-left')).toBe('1');
    expect(first.headers.get('x-rate-limit-hourly')).toBe('100000');
    expect(first.headers.get('x-hourly-usage')).toBe('1');
    expect(first.headers.get('x-rate-limit-24-hour')).toBe('100000');
    expect(first.headers.get('x-24-hour-requests-left')).toBe('99999');
    expect((await call()).headers.get('x-minute-requests-left')).toBe('0');
    const limited = await call();
    expect(limited.status).toBe(429);
    expect(await json(limited)).toEqual({
      message:
        'The maximum number of api calls allowed for api/v1/accounts/search is 2 times per minute. Please upgrade your plan from https://app.apollo.io/#/settings/plans/upgrade.',
    });
    // Limits are per endpoint: contacts search still answers.
    expect((await search('/api/v1/contacts/search', { per_page: 1 })).status).toBe(200);
    // The next minute starts a fresh window.
    await control('clock', { advance_ms: 60_000 });
    expect((await call()).status).toBe(200);

    await control('limits', { per_minute: 100_000, per_hour: 3 });
    await call();
    await call();
    const hourly = await call();
    expect(hourly.status).toBe(429);
    expect((await json(hourly)).message).toContain('is 3 times per hour');
    expect(hourly.headers.get('x-hourly-requests-left')).toBe('0');
    await control('limits', { per_hour: 100_000 });
  });

  it('keeps API keys alive past the token TTL, and expire_tokens_now revokes them', async () => {
    await control('faults', { token_ttl_seconds: 1 });
    const fresh = (await control('tokens', {})).api_key;
    await control('clock', { advance_ms: 10_000 });
    expect((await search('/api/v1/contacts/search', { per_page: 1 }, fresh)).status).toBe(200);
    await control('faults', { expire_tokens_now: true, token_ttl_seconds: 1800 });
    const expired = await search('/api/v1/contacts/search', { per_page: 1 }, fresh);
    expect(expired.status).toBe(401);
    expect(await expired.text()).toBe('Invalid access credentials.');
    key = (await control('tokens', {})).api_key;
    expect((await search('/api/v1/contacts/search', { per_page: 1 })).status).toBe(200);
  });

  it('completes the partner OAuth flow, refreshes with and without rotation, and expires bearer tokens', async () => {
    const redirect = 'http://127.0.0.1:1/callback';
    const location = await consentThroughPage(
      sim.url,
      `${sim.url}/oauth/authorize?client_id=sim-client-id&redirect_uri=${encodeURIComponent(redirect)}&response_type=code&scope=contacts_search&state=s1`,
      {
        redirect_uri: redirect,
        state: 's1',
        scope: 'contacts_search',
      },
    );
    expect(location.searchParams.get('state')).toBe('s1');
    const token = (body: Record<string, string>) =>
      fetch(`${sim.url}/api/v1/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          client_id: 'sim-client-id',
          client_secret: 'sim-client-secret',
          ...body,
        }),
      });
    const tokens = await json(
      await token({
        grant_type: 'authorization_code',
        code: location.searchParams.get('code')!,
        redirect_uri: redirect,
      }),
    );
    expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 1800, scope: 'contacts_search' });
    const withBearer = (t: string) =>
      fetch(`${sim.url}/api/v1/contacts/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t}` },
        body: JSON.stringify({ per_page: 1 }),
      });
    expect((await withBearer(tokens.access_token)).status).toBe(200);

    const rotated = await expectRefreshRotation(sim.url, token, tokens.refresh_token);

    await control('clock', { advance_ms: 1801_000 });
    const expired = await withBearer(rotated.access_token);
    expect(expired.status).toBe(401);
    expect(await json(expired)).toEqual({
      error: 'invalid_token',
      error_description: 'The access token expired',
    });
  });

  it('answers injected faults the way Apollo does', async () => {
    await control('faults', { rate_limit_rate: 1 });
    const limited = await search('/api/v1/contacts/search', { per_page: 1 });
    expect(limited.status).toBe(429);
    expect((await json(limited)).message).toMatch(
      /^The maximum number of api calls allowed for api\/v1\/contacts\/search is \d+ times per minute/,
    );
    await control('faults', { rate_limit_rate: 0, error_rate: 1 });
    expect((await search('/api/v1/contacts/search', { per_page: 1 })).status).toBe(500);
    await control('faults', { error_rate: 0 });
    expect((await search('/api/v1/contacts/search', { per_page: 1 })).status).toBe(200);
  });

  it('holds a million contacts, serves the first and 500th pages building about a page of records each, and stops at page 500', async () => {
    await control('seed', { object: 'contacts', count: 1_000_000 });
    // Seeded records are generated on demand: count how many each page makes the simulator build.
    const generated = vi.spyOn(apollo.objects.contacts!, 'generate');
    const built = () => {
      const n = generated.mock.calls.length;
      generated.mockClear();
      return n;
    };
    try {
      const first = await json(
        await search('/api/v1/contacts/search', {
          sort_by_field: 'contact_created_at',
          sort_ascending: true,
          per_page: 100,
        }),
      );
      expect(first.contacts).toHaveLength(100);
      // Each page costs about a page of records, wherever it is: never the 49,900 skipped ones.
      expect(built()).toBeLessThanOrEqual(200);
      expect(first.pagination).toEqual({
        page: 1,
        per_page: 100,
        total_entries: 1_000_000,
        total_pages: 10_000,
      });
      const newest = await json(
        await search('/api/v1/contacts/search', { sort_by_field: 'contact_updated_at', per_page: 100 }),
      );
      expect(newest.contacts[0].id).toBe(apollo.idOf('contacts', 1_000_000));
      expect(built()).toBeLessThanOrEqual(200);
      const lastShown = await json(
        await search('/api/v1/contacts/search', {
          sort_by_field: 'contact_updated_at',
          page: 500,
          per_page: 100,
        }),
      );
      expect(lastShown.contacts).toHaveLength(100);
      expect(lastShown.contacts.at(-1).id).toBe(apollo.idOf('contacts', 1_000_000 - 49_999));
      expect(built()).toBeLessThanOrEqual(200);
      // Past the 50,000-record display limit the page is empty; the total still counts everything.
      const beyond = await json(
        await search('/api/v1/contacts/search', {
          sort_by_field: 'contact_updated_at',
          page: 501,
          per_page: 100,
        }),
      );
      expect(beyond.contacts).toEqual([]);
      expect(beyond.pagination).toMatchObject({ page: 501, total_entries: 1_000_000 });
      expect(built()).toBeLessThanOrEqual(200);
    } finally {
      generated.mockRestore();
    }
  });
});
