import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import type { Credentials } from '../../src/auth/connection-auth.ts';
import { SEALED_COLUMNS } from '../../src/auth/vault.ts';
import { createProject } from '../../src/core/projects.ts';
import { openConnector } from '../../src/core/provider-access.ts';
import { queueKeepAlives } from '../../src/engine/keep-alive.ts';
import { CookieJar, parseSetCookie } from '../helpers/cookie-jar.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { consentFields, simConsent, simControl, simOAuthProvider } from '../helpers/simulator.ts';
import { hourlySyncConfig } from '../helpers/syncs.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';
import { until } from '../helpers/wait.ts';

const RETURN = 'http://127.0.0.1:9/app/connected';

describe('the OAuth flow and the token lifecycle, over HTTP', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let db: pg.Client;
  const simCall = (p: string, body?: unknown) => simControl(sim.url, p, body);
  const refreshes = async (): Promise<number> => (await simCall('stats')).token_refreshes;

  const newLink = async (customer = 'acme') => {
    const res = await api('POST', '/magic_links', {
      body: { customer_id: customer, provider_name: 'hubspot', return_url: RETURN, expiration_secs: 600 },
    });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  /**
   * What the link page's button does in `browser` (a person's own by default): the provider's
   * authorize URL, and the browser, which now holds the flow's cookie.
   */
  const begin = async (linkId: string, browser = new CookieJar()) => {
    // The link page's form: no fields filled in, posted from the page itself.
    const res = await browser.fetch(`${t.baseUrl}/links/${linkId}/oauth`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'sec-fetch-site': 'same-origin' },
      body: new URLSearchParams(),
    });
    expect(res.status).toBe(303);
    return { authorize: new URL(res.headers.get('location')!), browser };
  };
  /** The user's answer on the provider's consent page: where the provider sends the browser back. */
  const consent = async (authorize: URL, decision: 'allow' | 'deny' = 'allow') => {
    const form = { ...consentFields(authorize), decision };
    return simConsent(sim.url, form);
  };
  /** The provider's redirect, followed by `browser` (with whatever cookies it holds). */
  const callback = async (url: URL, browser: CookieJar) => {
    const res = await browser.fetch(url, { redirect: 'manual' });
    return { status: res.status, location: res.headers.get('location'), body: await res.text() };
  };
  /** The whole flow in one browser, as a person does it. */
  const connectThrough = async (linkId: string, decision: 'allow' | 'deny' = 'allow') => {
    const { authorize, browser } = await begin(linkId);
    return callback(await consent(authorize, decision), browser);
  };
  const outcome = (location: string | null) => Object.fromEntries(new URL(location!).searchParams);

  /** A customer of its own, connected to HubSpot through the whole flow; its connection id. */
  const connectNew = async (customer: string): Promise<string> => {
    await api('PUT', '/customers', {
      body: { customer_id: customer, name: customer, email: `it@${customer}.test` },
    });
    const back = await connectThrough(await newLink(customer));
    expect(outcome(back.location).result).toBe('success');
    return (await api('GET', `/customers/${customer}/connections/hubspot`)).body.id;
  };
  const storedCredentials = async (connectionId: string) => {
    const { rows } = await db.query('select credentials_sealed from trellis.connections where id = $1', [
      connectionId,
    ]);
    return t.runtime.deps.vault.openJson<Extract<Credentials, { type: 'oauth2' }>>(
      rows[0].credentials_sealed,
      SEALED_COLUMNS.connectionCredentials,
      connectionId,
    );
  };

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: 50 });
    await simCall('limits', { ten_second: 100_000, search_per_second: 1000 });
    await simCall('faults', { rotate_refresh_tokens: true });
    // PORT=0: the server binds a free port, and the public URL (the OAuth callback) follows it.
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) } });
    api = client(t.baseUrl, t.apiKey);
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    await api('PUT', '/customers', { body: { customer_id: 'acme', name: 'Acme', email: 'it@acme.test' } });
    await api('POST', '/providers', { body: simOAuthProvider('hubspot') });
  });
  afterAll(async () => {
    await db?.end();
    await t?.stop();
    await sim?.close();
  });

  it('rejects a tampered state', async () => {
    const { authorize, browser } = await begin(await newLink());
    const back = await consent(authorize);
    const [id, project, mac] = back.searchParams.get('state')!.split('.') as [string, string, string];
    // The first character of the signature carries six whole bits: changing it changes the bytes.
    back.searchParams.set('state', `${id}.${project}.${mac[0] === 'A' ? 'B' : 'A'}${mac.slice(1)}`);
    const res = await callback(back, browser);
    expect(res.status).toBe(400);
    expect(res.body).toContain('not one Trellis started');
  });

  it("rejects another project's state", async () => {
    const other = await createProject(t.runtime.deps.db, 'other-project');
    const { authorize, browser } = await begin(await newLink());
    const back = await consent(authorize);
    const [id, , mac] = back.searchParams.get('state')!.split('.');
    back.searchParams.set('state', `${id}.${other.project.id}.${mac}`);
    const res = await callback(back, browser);
    expect(res.status).toBe(400);
    expect(res.body).toContain('not one Trellis started');
  });

  it('a state lives 15 minutes; an expired one sends the user back with the reason', async () => {
    const { authorize, browser } = await begin(await newLink());
    const [stateId] = authorize.searchParams.get('state')!.split('.');
    const { rows } = await db.query(
      `select extract(epoch from expires_at - created_at) as lifetime from trellis.oauth_states where id = $1`,
      [stateId],
    );
    expect(Number(rows[0].lifetime)).toBeGreaterThan(15 * 60 - 5);
    expect(Number(rows[0].lifetime)).toBeLessThan(15 * 60 + 5);
    await db.query(`update trellis.oauth_states set expires_at = now() - interval '1 minute' where id = $1`, [
      stateId,
    ]);
    const res = await callback(await consent(authorize), browser);
    expect(res.status).toBe(302);
    expect(outcome(res.location)).toEqual({ result: 'error', error: 'expired' });
  });

  it("a denial on the consent page comes back as Trellis's code, not the provider's text, and no connection is made", async () => {
    await api('PUT', '/customers', { body: { customer_id: 'denier', name: 'Denier', email: 'it@d.test' } });
    const { authorize, browser } = await begin(await newLink('denier'));
    const denied = await consent(authorize, 'deny');
    // The simulator, like real providers, explains the denial in its own words.
    expect(denied.searchParams.get('error_description')).toBe('The user denied access');
    const res = await callback(denied, browser);
    expect(outcome(res.location)).toEqual({ result: 'error', error: 'access_denied' });
    expect((await api('GET', '/customers/denier/connections/hubspot')).status).toBe(404);
  });

  it("a failed code exchange comes back as provider_error, without the token endpoint's description", async () => {
    await api('PUT', '/customers', { body: { customer_id: 'refused', name: 'Refused', email: 'it@r.test' } });
    const { authorize, browser } = await begin(await newLink('refused'));
    const back = await consent(authorize);
    // A code the provider does not know: its token endpoint answers invalid_grant with a description.
    back.searchParams.set('code', 'not-a-code-the-provider-issued');
    const res = await callback(back, browser);
    expect(res.status).toBe(302);
    expect(outcome(res.location)).toEqual({ result: 'error', error: 'provider_error' });
    expect(res.location).not.toMatch(/invalid|expired/);
    expect((await api('GET', '/customers/refused/connections/hubspot')).status).toBe(404);
  });

  it('a callback in another browser is refused, connects nothing and leaves the state to its own browser', async () => {
    await api('PUT', '/customers', { body: { customer_id: 'victim', name: 'Victim', email: 'it@v.test' } });
    const connection = () => api('GET', '/customers/victim/connections/hubspot');
    // The link holder starts the flow, then has someone else open the authorize URL and approve.
    const { authorize, browser: starter } = await begin(await newLink('victim'));
    const approved = await consent(authorize);
    const [stateId] = approved.searchParams.get('state')!.split('.') as [string];

    const elsewhere = await callback(approved, new CookieJar());
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body).toContain('started in another browser');
    // A nonce that is genuine, but another flow's, does not pass for this one either.
    const { authorize: otherAuthorize, browser: other } = await begin(await newLink('victim'));
    const [otherStateId] = otherAuthorize.searchParams.get('state')!.split('.') as [string];
    const otherNonce = other.get(`trellis_oauth_${otherStateId}`);
    expect(otherNonce).toBeTruthy();
    const res = await fetch(approved, {
      redirect: 'manual',
      headers: { cookie: `trellis_oauth_${stateId}=${otherNonce}` },
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('started in another browser');
    expect((await connection()).status).toBe(404);
    const { rows } = await db.query('select used_at from trellis.oauth_states where id = $1', [stateId]);
    expect(rows[0].used_at).toBeNull();

    const home = await callback(approved, starter);
    expect(outcome(home.location)).toEqual({ result: 'success', provider_name: 'hubspot' });
    expect((await connection()).body.status).toBe('working');
  });

  it('the flow cookie is HttpOnly, SameSite=Lax, sent only to the callback, not Secure over http, and cleared by the callback', async () => {
    const res = await fetch(`${t.baseUrl}/links/${await newLink()}/oauth`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams(),
    });
    const started = new URL(res.headers.get('location')!);
    const [stateId] = started.searchParams.get('state')!.split('.') as [string];
    const cookies = res.headers.getSetCookie().map(parseSetCookie);
    expect(cookies).toHaveLength(1);
    const [cookie] = cookies;
    expect(cookie).toMatchObject({
      name: `trellis_oauth_${stateId}`,
      value: expect.stringMatching(/^[\w-]{43}$/),
      attributes: { httponly: true, samesite: 'Lax', path: '/oauth/callback' },
    });
    expect(cookie!.attributes.secure).toBeUndefined();
    // It lives as long as the state can still be answered: 15 minutes, and the hour after.
    expect(Number(cookie!.attributes['max-age'])).toBe(75 * 60);
    expect(res.headers.get('location')).not.toContain(cookie!.value);

    const browser = new CookieJar();
    const { authorize } = await begin(await newLink(), browser);
    expect(browser.size).toBe(1);
    await callback(await consent(authorize), browser);
    expect(browser.size).toBe(0);
  });

  it('a flow cannot be started from another site', async () => {
    const link = await newLink();
    const states = async () =>
      (await db.query('select count(*)::int as n from trellis.oauth_states where magic_link_id = $1', [link]))
        .rows[0].n;
    const res = await fetch(`${t.baseUrl}/links/${link}/oauth`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'sec-fetch-site': 'cross-site' },
      body: new URLSearchParams(),
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('Start from the link page');
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(await states()).toBe(0);
    await begin(link);
    expect(await states()).toBe(1);
  });

  it('states that expired more than an hour ago are purged when a flow starts', async () => {
    const stateOf = async () =>
      ((await begin(await newLink())).authorize.searchParams.get('state')!.split('.') as [string])[0];
    const [old, recent] = [await stateOf(), await stateOf()];
    await db.query(
      `update trellis.oauth_states set expires_at = now() - interval '61 minutes' where id = $1`,
      [old],
    );
    await db.query(
      `update trellis.oauth_states set expires_at = now() - interval '59 minutes' where id = $1`,
      [recent],
    );
    const fresh = await stateOf();
    const { rows } = await db.query('select id from trellis.oauth_states where id = any($1)', [
      [old, recent, fresh],
    ]);
    expect(rows.map((r) => r.id).sort()).toEqual([recent, fresh].sort());
  });

  it('a replayed callback is rejected', async () => {
    const link = await newLink();
    const { authorize, browser } = await begin(link);
    const returned = await consent(authorize);
    const first = await callback(returned, browser);
    expect(outcome(first.location).result).toBe('success');
    const again = await callback(returned, browser);
    expect(again.status).toBe(400);
    expect(again.body).toContain('already completed');
  });

  it('a link opened in two tabs connects once', async () => {
    const link = await newLink();
    // Two tabs of one browser: both flows' cookies are in it, and each callback finds its own.
    const browser = new CookieJar();
    const [tabA, tabB] = [await begin(link, browser), await begin(link, browser)];
    const [backA, backB] = [await consent(tabA.authorize), await consent(tabB.authorize)];
    const [a, b] = await Promise.all([callback(backA, browser), callback(backB, browser)]);
    const results = [outcome(a.location).result, outcome(b.location).result].sort();
    expect(results).toEqual(['error', 'success']);
    const page = await fetch(`${t.baseUrl}/links/${link}`);
    expect(page.status).toBe(410);
    expect(await page.text()).toContain('already used');
    const links = await api('GET', '/magic_links');
    expect(links.body.find((l: { id: string }) => l.id === link).status).toBe('consumed');
  });

  it('the keep-alive refreshes an idle connection whose token is about to expire', async () => {
    const id = await connectNew('idle');
    // Make the stored token due within the keep-alive window.
    const soon = new Date(Date.now() + 120_000).toISOString();
    await db.query(
      'update trellis.connections set token_expires_at = $2, credentials_sealed = $3 where id = $1',
      [
        id,
        soon,
        t.runtime.deps.vault.sealJson(
          { ...(await storedCredentials(id)), expires_at: soon },
          SEALED_COLUMNS.connectionCredentials,
          id,
        ),
      ],
    );
    const before = await refreshes();
    expect(await queueKeepAlives(t.runtime.deps)).toBe(1);
    // Wait for what Trellis committed, not for the provider's side of it.
    const after = await until('the keep-alive to save a renewed token', async () => {
      const { rows } = await db.query('select token_expires_at from trellis.connections where id = $1', [id]);
      return new Date(rows[0].token_expires_at).getTime() > Date.now() + 20 * 60_000 && rows[0];
    });
    expect(after).toBeTruthy();
    expect(await refreshes()).toBe(before + 1);
  });

  it('tokens that live less than the renewal margin are renewed half-way through their life, not before every call', async () => {
    await simCall('faults', { token_ttl_seconds: 30 });
    try {
      const id = await connectNew('short-lived');
      const { ctx } = await openConnector(t.runtime.deps, id);
      const before = await refreshes();
      for (let i = 0; i < 10; i++) {
        expect((await ctx.http.request({ path: '/crm/v3/owners', query: { limit: 1 } })).status).toBe(200);
      }
      // Ten calls well inside the first half of the token's 30 s: none needed a new token.
      expect(await refreshes()).toBe(before);
      expect((await storedCredentials(id)).lifetime_seconds).toBe(30);
    } finally {
      await simCall('faults', { token_ttl_seconds: 1800 });
    }
  });

  it('a 401 on a token adopted from another process refreshes before calling the credentials bad', async () => {
    const id = await connectNew('adopter');
    // Two holders of the connection, as two processes would be: each has the token of the flow.
    const first = await openConnector(t.runtime.deps, id);
    const second = await openConnector(t.runtime.deps, id);
    const owners = (c: typeof first) => c.ctx.http.request({ path: '/crm/v3/owners', query: { limit: 1 } });
    const before = await refreshes();
    // The token expires early; the second holder notices first and saves a new one.
    await simCall('faults', { expire_tokens_now: true });
    expect((await owners(second)).status).toBe(200);
    expect(await refreshes()).toBe(before + 1);
    // That one is revoked early too, while Trellis still takes it for valid.
    await simCall('faults', { expire_tokens_now: true });
    // The first holder's call fails with its old token, adopts the saved one, fails again: only a
    // refresh of its own tells whether the credentials are bad. They are not.
    expect((await owners(first)).status).toBe(200);
    expect(await refreshes()).toBe(before + 2);
    expect((await api('GET', '/customers/adopter/connections/hubspot')).body.status).toBe('working');
  });

  it('20 calls at once from four processes on an expired token cause exactly one refresh, and all share its token', async () => {
    const id = await connectNew('storm');
    const env = {
      ...process.env,
      DATABASE_URL: t.databaseUrl,
      TRELLIS_ENCRYPTION_KEY: t.config.encryptionKey!.toString('hex'),
      TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }),
    };
    type Summary = {
      ok: number;
      failed: string[];
      after: number;
      startedAt: number;
      finishedAt: number;
      token: string;
    };
    const children = Array.from({ length: 4 }, () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/provider-calls.ts', id, '5'], {
        cwd: path.resolve(import.meta.dirname, '../..'),
        env,
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      let out = '';
      let markReady: () => void;
      const ready = new Promise<void>((resolve) => {
        markReady = resolve;
      });
      child.stdout.on('data', (c) => {
        out += c;
        if (out.startsWith('ready\n')) markReady();
      });
      // Its summary is the line that starts with {"ok": (warnings are logged to stdout too).
      const summary = new Promise<Summary>((resolve, reject) =>
        child.once('exit', (code) => {
          const line = out.split('\n').find((l) => l.startsWith('{"ok":'));
          if (code === 0 && line) resolve(JSON.parse(line));
          else reject(new Error(`exit ${code}: ${out}`));
        }),
      );
      return { child, ready, summary };
    });
    // Every process has its connector open; then the token expires, and the provider's token
    // endpoint answers slowly, so the four refresh attempts overlap.
    await Promise.all(children.map((c) => c.ready));
    await simCall('faults', { expire_tokens_now: true, token_latency_ms: 1500 });
    const before = await refreshes();
    for (const c of children) c.child.stdin.end('go\n');
    const results = await Promise.all(children.map((c) => c.summary));
    await simCall('faults', { token_latency_ms: 0 });

    for (const r of results) expect(r).toMatchObject({ ok: 5, failed: [], after: 200 });
    // The four batches ran at the same time: each started before any other finished.
    expect(Math.max(...results.map((r) => r.startedAt))).toBeLessThan(
      Math.min(...results.map((r) => r.finishedAt)),
    );
    expect((await refreshes()) - before).toBe(1);
    const saved = (await storedCredentials(id)).access_token ?? '';
    const savedDigest = createHash('sha256').update(saved).digest('hex');
    expect(results.map((r) => r.token)).toEqual(Array(4).fill(savedDigest));
    // The connection keeps working with the rotated refresh token.
    const user = await api('GET', '/customers/storm/connections/_provider_user_id', {
      query: { provider_name: 'hubspot' },
    });
    expect(user.status).toBe(200);
  }, 90_000);

  it('a revoked refresh token marks the connection bad_credentials, pauses its syncs, and re-authorizing resumes them', async () => {
    const syncConfig = await api('POST', '/sync_configs', {
      body: {
        destination_name: 'Supaglue Managed Destination',
        provider_name: 'hubspot',
        config: hourlySyncConfig('contacts'),
      },
    });
    expect(syncConfig.status, JSON.stringify(syncConfig.body)).toBe(201);
    const runsOf = async () =>
      (await api('GET', '/sync-runs', { query: { customer_id: 'revoked' } })).body.results as {
        status: string;
      }[];
    const id = await connectNew('revoked');
    // The connection's first run ends before its token is revoked.
    await until('the first run to succeed', async () => (await runsOf())[0]?.status === 'SUCCESS');

    const receiver = await startReceiver();
    await api('POST', '/webhooks', { body: { url: receiver.url, event_types: ['sync.paused'] } });
    const { refresh_token } = await storedCredentials(id);
    expect((await simCall('revoke', { refresh_token })).revoked).toBe(true);
    await simCall('faults', { expire_tokens_now: true });
    const trigger = await api('POST', '/syncs/_trigger', {
      headers: { 'x-customer-id': 'revoked', 'x-provider-name': 'hubspot' },
      body: { object_type: 'standard', object: 'contacts' },
    });
    expect(trigger.status, JSON.stringify(trigger.body)).toBe(200);
    const [event] = await receiver.waitFor(1, 45_000).catch(async (err) => {
      // Say what the run did, should the event not come.
      throw new Error(`${(err as Error).message}; runs: ${JSON.stringify((await runsOf()).slice(0, 3))}`);
    });
    expect(JSON.parse(event!.body)).toMatchObject({
      webhook_event_type: 'sync.paused',
      object: 'contacts',
      customer_id: 'revoked',
    });
    expect((await api('GET', '/customers/revoked/connections/hubspot')).body.status).toBe('bad_credentials');
    const syncsOf = async () =>
      (await api('GET', '/syncs', { query: { customer_id: 'revoked' } })).body.results as {
        paused: boolean;
      }[];
    expect((await syncsOf())[0]!.paused).toBe(true);

    const back = await connectThrough(await newLink('revoked'));
    expect(outcome(back.location).result).toBe('success');
    expect((await api('GET', '/customers/revoked/connections/hubspot')).body.status).toBe('working');
    expect((await syncsOf())[0]!.paused).toBe(false);
    await until('a run after re-authorizing to succeed', async () => {
      const runs = await runsOf();
      return runs.length >= 3 && runs[0]!.status === 'SUCCESS';
    });
    await receiver.close();
  }, 90_000);
});
