import { Configuration as ConfigurationV1, UsersApi } from 'pipedrive/v1';
import { Configuration, DealsApi, OAuth2Configuration, PersonsApi } from 'pipedrive/v2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { pipedrive } from '../../simulators/pipedrive/index.ts';
import { consentThroughPage, simControl } from '../helpers/simulator.ts';

const json = (res: Response) => res.json() as Promise<any>;
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
/** RFC 3339 at whole seconds, rounded down. */
const rfc3339 = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

describe('Pipedrive simulator', () => {
  let sim: RunningSimulator;
  const control = (path: string, body?: unknown) => simControl(sim.url, path, body);
  let token: string;
  let persons: PersonsApi;
  let deals: DealsApi;
  const api = (path: string, t = token) =>
    fetch(`${sim.url}${path}`, { headers: { authorization: `Bearer ${t}` } });
  /** Every id of a v2 list, following next_cursor to the end. */
  const everyId = async (path: string) => {
    const ids: number[] = [];
    let cursor: string | null = null;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const page = await json(await api(`${path}${sep}limit=500${cursor ? `&cursor=${cursor}` : ''}`));
      expect(page.success).toBe(true);
      ids.push(...page.data.map((r: { id: number }) => r.id));
      cursor = page.additional_data.next_cursor;
    } while (cursor);
    return ids;
  };

  beforeAll(async () => {
    sim = await startSimulator(pipedrive, { records: 250 });
    await control('limits', { burst_per_2s: 10_000 });
    token = (await control('tokens', {})).access_token;
    // The official SDK's v2 client, pointed at the simulator.
    const config = new Configuration({ accessToken: token, basePath: `${sim.url}/api/v2` });
    persons = new PersonsApi(config);
    deals = new DealsApi(config);
  });
  afterAll(() => sim.close());

  it('the official SDK pages through every person with cursors', async () => {
    const ids: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await persons.getPersons({ limit: 100, ...(cursor ? { cursor } : {}) });
      expect(page.success).toBe(true);
      ids.push(...page.data!.map((p) => p.id!));
      cursor = page.additional_data?.next_cursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(ids).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));

    const first = (await persons.getPersons({ limit: 1 })).data?.[0];
    expect(first).toMatchObject({ id: 1, is_deleted: false, org_id: 1 });
    expect(first?.emails?.[0]).toMatchObject({ primary: true, label: 'work' });
    expect(first?.emails?.[0]?.value).toMatch(/@/);
    expect(first?.update_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    // Descending by update_time, and the other objects, page the same way.
    const desc = await persons.getPersons({ limit: 5, sort_by: 'update_time', sort_direction: 'desc' });
    expect(desc.data!.map((p) => p.id)).toEqual([250, 249, 248, 247, 246]);
    expect(await everyId('/api/v2/organizations')).toHaveLength(250);
    expect((await everyId('/api/v2/deals?sort_by=update_time')).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 250 }, (_, i) => i + 1),
    );

    const tooMany = await api('/api/v2/persons?limit=501');
    expect(tooMany.status).toBe(400);
    expect(await json(tooMany)).toMatchObject({ success: false });
  });

  it('the official SDK creates, updates, reads and deletes a person', async () => {
    const created = await persons.addPerson({
      AddPersonRequest: {
        name: 'Ada Newperson',
        emails: [{ value: 'ada.newperson@example.test', primary: true, label: 'work' }],
      },
    });
    const id = Number(created.data?.id);
    expect(created.data).toMatchObject({ name: 'Ada Newperson', first_name: 'Ada', org_id: null });
    const updated = await persons.updatePerson({
      id,
      UpdatePersonRequest: { name: 'Ada Renamed', org_id: 3 },
    });
    expect(updated.data).toMatchObject({ id, name: 'Ada Renamed', org_id: 3 });
    const read = await persons.getPerson({ id });
    expect(read.data?.emails?.[0]?.value).toBe('ada.newperson@example.test');
    const deleted = await persons.deletePerson({ id });
    expect(deleted).toEqual({ success: true, data: { id } });
    // The SDK rejects with the response body.
    await expect(persons.getPerson({ id })).rejects.toMatchObject({
      success: false,
      error: 'Person not found',
    });
    // API v2 does not coerce strings into numbers.
    await expect(
      persons.updatePerson({ id: 1, UpdatePersonRequest: { owner_id: '5' as never } }),
    ).rejects.toMatchObject({ success: false, errorCode: 400 });
  });

  it('the official v1 SDK reads the current user and the users of the company', async () => {
    const users = new UsersApi(new ConfigurationV1({ accessToken: token, basePath: `${sim.url}/v1` }));
    const me = await users.getCurrentUser();
    expect(me.data).toMatchObject({
      id: 13370001,
      is_you: true,
      company_id: 7654321,
      company_domain: 'simindustries',
    });
    const all = await users.getUsers();
    expect(all.data).toHaveLength(3);
    // Also served under /api/v1.
    expect((await json(await api('/api/v1/users/me'))).data.id).toBe(13370001);
  });

  it('incremental reads see exactly the mutated records; deleted deals only with status=deleted', async () => {
    const before = new Date((await control('clock', { advance_ms: 2000 })).now).getTime();
    const since = encodeURIComponent(rfc3339(before));
    const total = (await everyId('/api/v2/persons')).length;
    const changes = await control('mutate', { object: 'persons', update: 7, delete: 3, create: 2 });
    expect(changes.updated).toHaveLength(7);

    const changed = await persons.getPersons({
      updated_since: rfc3339(before),
      sort_by: 'update_time',
      limit: 500,
    });
    // A record can be picked for an update and then for deletion; it then counts as deleted.
    const survivors = (c: { updated: string[]; deleted: string[] }) =>
      c.updated.filter((id) => !c.deleted.includes(id));
    const expected = [...survivors(changes), ...changes.created].map(Number);
    expect(changed.data!.map((p) => p.id).sort((a, b) => a! - b!)).toEqual(expected.sort((a, b) => a - b));
    expect(changed.additional_data?.next_cursor ?? null).toBeNull();
    // The id-ordered incremental read agrees, and deleted persons are simply absent.
    expect((await everyId(`/api/v2/persons?updated_since=${since}`)).sort((a, b) => a - b)).toEqual(expected);
    const all = await everyId('/api/v2/persons');
    expect(all).toHaveLength(total - 3 + 2);
    for (const id of changes.deleted) expect(all).not.toContain(Number(id));
    expect((await api(`/api/v2/persons/${changes.deleted[0]}`)).status).toBe(404);
    // updated_until bounds the window from above.
    const until = await json(await api(`/api/v2/persons?updated_until=${since}&limit=500`));
    expect(until.data.every((p: { update_time: string }) => p.update_time < rfc3339(before))).toBe(true);

    const dealChanges = await control('mutate', { object: 'deals', delete: 2, update: 3 });
    const listed = await deals.getDeals({ updated_since: rfc3339(before), limit: 500 });
    expect(listed.data!.map((d) => String(d.id)).sort()).toEqual(survivors(dealChanges).sort());
    const gone = await deals.getDeals({ status: 'deleted', updated_since: rfc3339(before) });
    expect(gone.data!.map((d) => String(d.id)).sort()).toEqual([...dealChanges.deleted].sort());
    expect(gone.data!.every((d) => d.is_deleted && d.status === 'deleted')).toBe(true);
    const openOnly = await deals.getDeals({ status: 'open', limit: 500 });
    expect(openOnly.data!.every((d) => d.status === 'open')).toBe(true);
  });

  it('completes the OAuth flow through the consent page with the SDK, and refreshes with and without rotation', async () => {
    const redirect = 'http://127.0.0.1:1/callback';
    const oauth2 = new OAuth2Configuration({
      clientId: 'sim-client-id',
      clientSecret: 'sim-client-secret',
      redirectUri: redirect,
      host: sim.url,
    });
    const location = await consentThroughPage(sim.url, `${oauth2.authorizationUrl}&state=xyz`, {
      redirect_uri: redirect,
      state: 'xyz',
    });
    expect(location.searchParams.get('state')).toBe('xyz');
    const tokens = await oauth2.authorize(location.searchParams.get('code')!);
    expect(tokens).toMatchObject({ token_type: 'bearer', expires_in: 1800, api_domain: sim.url });
    expect(tokens.scope).toContain('base');
    // The SDK takes the API's base path from api_domain.
    expect(oauth2.basePath).toBe(`${sim.url}/api/v2`);
    const viaOAuth = new PersonsApi(
      new Configuration({ accessToken: oauth2.getAccessToken, basePath: oauth2.basePath }),
    );
    expect((await viaOAuth.getPersons({ limit: 1 })).data).toHaveLength(1);

    const refreshed = await oauth2.tokenRefresh();
    expect(refreshed.refresh_token).toBe(tokens.refresh_token);
    expect(refreshed.access_token).not.toBe(tokens.access_token);

    await control('faults', { rotate_refresh_tokens: true });
    const rotated = await oauth2.tokenRefresh();
    expect(rotated.refresh_token).not.toBe(tokens.refresh_token);
    const reuse = await fetch(`${sim.url}/oauth/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('sim-client-id', 'sim-client-secret'),
      },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
    });
    expect(reuse.status).toBe(400);
    expect(await json(reuse)).toMatchObject({ error: 'invalid_grant' });
    await control('faults', { rotate_refresh_tokens: false });

    // Client credentials in the body instead of HTTP Basic are refused.
    const bodyOnly = await fetch(`${sim.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: rotated.refresh_token,
        client_id: 'sim-client-id',
        client_secret: 'sim-client-secret',
      }),
    });
    expect(bodyOnly.status).toBe(401);
    expect(await json(bodyOnly)).toMatchObject({ error: 'invalid_client' });
  });

  it('sorts the leads list by update time as asked, and refuses a sort it does not take', async () => {
    await control('clock', { advance_ms: 1000 });
    const { updated } = await control('mutate', { object: 'leads', update: 3 });
    const newest = await json(await api('/api/v1/leads?limit=500&sort=update_time%20DESC'));
    const times = newest.data.map((l: { update_time: string }) => Date.parse(l.update_time));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(
      newest.data
        .slice(0, 3)
        .map((l: { id: string }) => l.id)
        .sort(),
    ).toEqual([...updated].sort());
    const created = await json(await api('/api/v1/leads?limit=500'));
    expect(created.data).toHaveLength(newest.data.length);
    expect(created.data.map((l: { id: string }) => l.id)).not.toEqual(
      newest.data.map((l: { id: string }) => l.id),
    );
    const oldest = await json(await api('/api/v1/leads?limit=500&sort=update_time%20ASC,%20id%20DESC'));
    const ascending = oldest.data.map((l: { update_time: string }) => Date.parse(l.update_time));
    expect(ascending).toEqual([...times].reverse());
    expect((await api('/api/v1/leads?sort=title%20ASC')).status).toBe(400);
    expect((await api('/api/v1/leads?sort=update_time%20SIDEWAYS')).status).toBe(400);
  });

  it('counts a request against the burst window as it arrives, not once its latency has passed', async () => {
    const fresh = (await control('tokens', {})).access_token;
    await control('limits', { burst_per_2s: 1 });
    await control('faults', { latency_ms: 300 });
    try {
      const call = () => api('/api/v2/organizations?limit=1', fresh);
      // The first request arrives; while the simulator holds it, a whole window passes.
      const first = call();
      await new Promise((r) => setTimeout(r, 100));
      await control('clock', { advance_ms: 2000 });
      expect((await first).status).toBe(200);
      // The first counted in the window it arrived in, the second is in a new one. Counted after
      // its latency, the first would have opened a window the second falls into.
      expect((await call()).status).toBe(200);
    } finally {
      await control('faults', { latency_ms: 0 });
      await control('limits', { burst_per_2s: 10_000 });
    }
  });

  it('answers an exhausted burst window, an exhausted daily budget and an expired token like Pipedrive', async () => {
    const fresh = (await control('tokens', {})).access_token;
    await control('limits', { burst_per_2s: 2 });
    const call = () => api('/api/v2/organizations?limit=1', fresh);
    const first = await call();
    expect(first.headers.get('x-ratelimit-limit')).toBe('2');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('1');
    expect(Number(first.headers.get('x-daily-requests-left'))).toBeGreaterThan(0);
    const second = await call();
    expect(second.headers.get('x-ratelimit-remaining')).toBe('0');
    const limited = await call();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers.get('x-ratelimit-reset'))).toBeLessThanOrEqual(2);
    expect(await json(limited)).toMatchObject({
      success: false,
      error: 'Request over limit',
      errorCode: 429,
    });
    // The burst window is per access token: another token is not limited.
    const other = (await control('tokens', {})).access_token;
    expect((await api('/api/v2/organizations?limit=1', other)).status).toBe(200);
    await control('limits', { burst_per_2s: 10_000 });

    await control('limits', { daily_tokens: 1 });
    const overBudget = await api('/api/v2/deals?limit=1');
    expect(overBudget.status).toBe(429);
    expect(overBudget.headers.get('x-daily-requests-left')).toBe('0');
    expect(Number(overBudget.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await json(overBudget)).toMatchObject({ error: 'Request over limit', errorCode: 429 });
    await control('limits', { daily_tokens: 150_000 });

    // Injected faults answer in Pipedrive's shape too.
    await control('faults', { rate_limit_rate: 1, rate_limit_retry_after_seconds: 3 });
    const storm = await api('/api/v2/deals?limit=1');
    expect(storm.status).toBe(429);
    expect(storm.headers.get('retry-after')).toBe('3');
    expect(await json(storm)).toMatchObject({ error: 'Request over limit', errorCode: 429 });
    await control('faults', { rate_limit_rate: 0 });

    await control('faults', { expire_tokens_now: true });
    const expired = await call();
    expect(expired.status).toBe(401);
    expect(await json(expired)).toMatchObject({
      success: false,
      error: 'unauthorized access',
      errorCode: 401,
    });
    const missing = await fetch(`${sim.url}/api/v2/persons`);
    expect(missing.status).toBe(401);
    expect(await json(missing)).toMatchObject({ error: 'unauthorized access', errorCode: 401 });
  });

  it('holds a million persons and serves the first and last pages building about a page of records each', async () => {
    const fresh = (await control('tokens', {})).access_token;
    await control('seed', { object: 'persons', count: 1_000_000 });
    // Seeded records are generated on demand: count how many each page makes the simulator build.
    const generated = vi.spyOn(pipedrive.objects.persons!, 'generate');
    const built = () => {
      const n = generated.mock.calls.length;
      generated.mockClear();
      return n;
    };
    try {
      const first = await json(await api('/api/v2/persons?limit=500', fresh));
      expect(first.data).toHaveLength(500);
      expect(first.data[0].id).toBe(1);
      // Each page costs about a page of records, wherever it is in the million.
      expect(built()).toBeLessThanOrEqual(1000);
      const last = await json(await api('/api/v2/persons?limit=500&sort_direction=desc', fresh));
      expect(last.data[0].id).toBe(1_000_000);
      expect(last.data.at(-1).id).toBe(999_501);
      expect(built()).toBeLessThanOrEqual(1000);
      const next = await json(
        await api(
          `/api/v2/persons?limit=500&sort_direction=desc&cursor=${last.additional_data.next_cursor}`,
          fresh,
        ),
      );
      expect(next.data[0].id).toBe(999_500);
      expect(built()).toBeLessThanOrEqual(1000);
      const newest = await json(
        await api('/api/v2/persons?limit=500&sort_by=update_time&sort_direction=desc', fresh),
      );
      expect(newest.data[0].id).toBe(1_000_000);
      expect(built()).toBeLessThanOrEqual(1000);
    } finally {
      generated.mockRestore();
    }
  });
});
