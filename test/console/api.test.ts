import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProject } from '../../src/core/projects.ts';
import { createFixture } from '../helpers/mgmt-fixtures.ts';
import { client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

/**
 * The console's page and JSON API over real HTTP: sign-in with an API key for an HttpOnly,
 * SameSite=Strict cookie, CSRF and same-site checks on every change, clear 4xx JSON for bad input,
 * one project's data only, no secret in any answer, and a revoked key ending its sessions.
 */

interface ConsoleClient {
  cookie: string;
  csrf: string;
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<any>;
}

describe('the admin console', () => {
  let t: TestTrellis;
  let otherKey: string;

  const signIn = async (apiKey: string): Promise<ConsoleClient> => {
    const res = await fetch(`${t.baseUrl}/console/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiKey }),
    });
    expect(res.status).toBe(200);
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toMatch(
      /^trellis_console=[\w-]{43}; Path=\/console; Max-Age=43200; HttpOnly; SameSite=Strict$/,
    );
    const { csrfToken } = (await res.json()) as { csrfToken: string };
    const cookie = setCookie.split(';')[0]!;
    return {
      cookie,
      csrf: csrfToken,
      async call(method, path, body, headers = {}) {
        const r = await fetch(`${t.baseUrl}/console/api${path}`, {
          method,
          headers: {
            cookie,
            ...(method === 'GET' ? {} : { 'x-csrf-token': csrfToken }),
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...headers,
          },
          body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        });
        const text = await r.text();
        return { status: r.status, body: text ? JSON.parse(text) : undefined, text };
      },
    };
  };

  beforeAll(async () => {
    t = await startTrellis();
    await createFixture(client(t.baseUrl, t.apiKey), 'a');
    const other = await createProject(t.runtime.deps.db, 'other');
    otherKey = other.apiKey;
    await createFixture(client(t.baseUrl, otherKey), 'b');
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('serves its page with a strict policy, and a script that names no other host', async () => {
    const page = await fetch(`${t.baseUrl}/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
    );
    const html = await page.text();
    const script = /src="(\/console\/console\.js\?v=\w+)"/.exec(html)?.[1] ?? '';
    const js = await fetch(`${t.baseUrl}${script}`);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await js.text()).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
  });

  it('signs in with an active API key only, answering clear JSON errors', async () => {
    const wrong = await fetch(`${t.baseUrl}/console/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiKey: 'trls_not-a-key' }),
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({
      error: { code: 'unauthorized', message: 'this is not an active API key of any project' },
    });
    const anonymous = await fetch(`${t.baseUrl}/console/api/syncs`);
    expect(anonymous.status).toBe(401);
    const session = await signIn(t.apiKey);
    const me = await session.call('GET', '/session');
    expect(me.body).toMatchObject({ project: { name: 'default' }, csrfToken: session.csrf });
  });

  it('takes changes only with the session’s CSRF token, from its own site', async () => {
    const session = await signIn(t.apiKey);
    const noToken = await session.call('POST', '/api-keys', { name: 'x' }, { 'x-csrf-token': 'forged' });
    expect(noToken.status).toBe(403);
    const otherSite = await session.call(
      'POST',
      '/api-keys',
      { name: 'x' },
      { origin: 'https://evil.example' },
    );
    expect(otherSite.status).toBe(403);
    const crossSite = await session.call(
      'POST',
      '/api-keys',
      { name: 'x' },
      { 'sec-fetch-site': 'cross-site' },
    );
    expect(crossSite.status).toBe(403);
    const made = await session.call('POST', '/api-keys', { name: 'from the console' });
    expect(made.status).toBe(201);
    expect(made.body.apiKey).toMatch(/^trls_/);
  });

  it('refuses bad input with a 4xx naming what is wrong', async () => {
    const session = await signIn(t.apiKey);
    for (const [method, path, body] of [
      ['POST', '/api-keys', { name: 5 }],
      ['POST', '/api-keys', { name: 'x', extra: true }],
      ['POST', '/api-keys', '{not json'],
      ['POST', '/syncs/not-a-sync/trigger', { fullRefresh: 'yes' }],
      ['POST', '/customers/customer-a/magic-links', { providerName: 'nosuchprovider' }],
    ] as const) {
      const res = await session.call(method, path, body);
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(res.body.error.message).toEqual(expect.any(String));
    }
    expect((await session.call('GET', '/runs/not-a-run')).status).toBe(404);
    expect((await session.call('GET', '/runs?syncId=x')).status).toBe(404);
    expect((await session.call('GET', '/nothing-here')).status).toBe(404);
  });

  it('shows one project’s rows only, and another project’s ids are not found', async () => {
    const mine = await signIn(t.apiKey);
    const theirs = await signIn(otherKey);
    const [myCustomers, theirSyncs] = await Promise.all([
      mine.call('GET', '/customers'),
      theirs.call('GET', '/syncs'),
    ]);
    expect(myCustomers.body.map((c: { ref: string }) => c.ref)).toEqual(['customer-a']);
    const theirSync = theirSyncs.body[0];
    expect(theirSync.customerRef).toBe('customer-b');
    expect((await mine.call('POST', `/syncs/${theirSync.id}/pause`)).status).toBe(404);
    expect((await mine.call('POST', `/syncs/${theirSync.id}/trigger`, { fullRefresh: true })).status).toBe(
      404,
    );
    const theirKeys = await theirs.call('GET', '/api-keys');
    expect((await mine.call('DELETE', `/api-keys/${theirKeys.body[0].id}`)).status).toBe(404);
    expect((await theirs.call('GET', '/session')).status).toBe(200);
  });

  it('pauses, resumes and triggers syncs, and makes re-authorization links', async () => {
    const session = await signIn(t.apiKey);
    const syncs = await session.call('GET', '/syncs');
    const sync = syncs.body.find((s: { object: string }) => s.object === 'contacts');
    expect((await session.call('POST', `/syncs/${sync.id}/pause`)).status).toBe(204);
    expect(
      (await session.call('GET', '/syncs')).body.find((s: { id: string }) => s.id === sync.id).paused,
    ).toBe(true);
    expect((await session.call('POST', `/syncs/${sync.id}/trigger`, { fullRefresh: true })).status).toBe(409);
    expect((await session.call('POST', `/syncs/${sync.id}/resume`)).status).toBe(204);
    const link = await session.call('POST', '/customers/customer-a/magic-links', { providerName: 'hubspot' });
    expect(link.status).toBe(201);
    expect(link.body.url).toMatch(new RegExp(`^${t.config.publicUrl}/links/`));
  });

  it('answers no secret: provider apps, destinations, keys and the overview', async () => {
    const session = await signIn(t.apiKey);
    const answers = await Promise.all(
      [
        '/overview',
        '/customers',
        '/syncs',
        '/runs',
        '/webhooks',
        '/provider-apps',
        '/destinations',
        '/integrations',
        '/api-keys',
      ].map((path) => session.call('GET', path)),
    );
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      for (const secret of [
        'pg-password-a',
        'client-secret-hubspot-client-a',
        'apollo-key-a',
        'hubspot-refresh-a',
        t.apiKey,
      ])
        expect(answer.text).not.toContain(secret);
    }
  });

  it('ends the session when its key is revoked, and on sign-out', async () => {
    const fresh = await client(t.baseUrl, t.apiKey)('GET', '/customers');
    expect(fresh.status).toBe(200);
    const first = await signIn(t.apiKey);
    const made = await first.call('POST', '/api-keys', { name: 'short-lived' });
    const session = await signIn(made.body.apiKey);
    const revoked = await session.call(
      'DELETE',
      `/api-keys/${(await session.call('GET', '/session')).body.apiKeyId}`,
    );
    expect(revoked.status).toBe(204);
    expect((await session.call('GET', '/session')).status).toBe(401);

    expect((await first.call('DELETE', '/session')).status).toBe(204);
    expect((await first.call('GET', '/overview')).status).toBe(401);
  });
});
