import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { CookieJar, parseSetCookie } from '../helpers/cookie-jar.ts';
import { simConsent, simOAuthProvider } from '../helpers/simulator.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

const PUBLIC_URL = 'https://trellis.example.test';
const RETURN = 'https://app.example.test/connected';

/**
 * The HTTP server as the internet sees it: Trellis behind an https public URL, with a short request
 * timeout and debug logging, so that the transport hardening and what the logs keep can be checked.
 */
describe('HTTP hardening', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;

  const newLink = async () => {
    const res = await api('POST', '/magic_links', {
      body: { customer_id: 'acme', provider_name: 'hubspot', return_url: RETURN, expiration_secs: 600 },
    });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  /** The link page's button, pressed in `browser`: the provider's authorize URL. */
  const begin = async (linkId: string, browser: CookieJar) => {
    const res = await browser.fetch(`${t.baseUrl}/links/${linkId}/oauth`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams(),
    });
    expect(res.status).toBe(303);
    return { authorize: new URL(res.headers.get('location')!), res };
  };
  /** Approves on the provider's page; the redirect goes to the public URL, which is this server. */
  const approve = async (authorize: URL) => {
    const form: Record<string, string> = {};
    for (const k of ['client_id', 'redirect_uri', 'state', 'scope']) {
      const v = authorize.searchParams.get(k);
      if (v !== null) form[k] = v;
    }
    const back = await simConsent(sim.url, form);
    expect(back.origin).toBe(PUBLIC_URL);
    return new URL(back.pathname + back.search, t.baseUrl);
  };

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: 5 });
    t = await startTrellis({
      env: {
        TRELLIS_PUBLIC_URL: PUBLIC_URL,
        TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }),
        TRELLIS_REQUEST_TIMEOUT_SECONDS: '1',
        LOG_LEVEL: 'debug',
      },
    });
    api = client(t.baseUrl, t.apiKey);
    await api('PUT', '/customers', { body: { customer_id: 'acme', name: 'Acme', email: 'it@acme.test' } });
    expect((await api('POST', '/providers', { body: simOAuthProvider('hubspot') })).status).toBe(201);
  });
  afterAll(async () => {
    await t?.stop();
    await sim?.close();
  });

  it('pages, API answers and the docs carry nosniff, no-referrer, HSTS and a content security policy', async () => {
    const link = await newLink();
    const answers = {
      'link page': await fetch(`${t.baseUrl}/links/${link}`),
      'unknown link page': await fetch(`${t.baseUrl}/links/00000000-0000-4000-8000-000000000000`),
      'callback page': await fetch(`${t.baseUrl}/oauth/callback?state=forged&code=x`),
      'docs page': await fetch(`${t.baseUrl}/docs`),
      'API answer': await fetch(`${t.baseUrl}/mgmt/v2/customers`, { headers: { 'x-api-key': t.apiKey } }),
      'API error': await fetch(`${t.baseUrl}/mgmt/v2/customers`),
    };
    expect(Object.fromEntries(Object.entries(answers).map(([name, res]) => [name, res.status]))).toEqual({
      'link page': 200,
      'unknown link page': 404,
      'callback page': 400,
      'docs page': 200,
      'API answer': 200,
      'API error': 401,
    });
    for (const [name, res] of Object.entries(answers)) {
      expect(
        {
          nosniff: res.headers.get('x-content-type-options'),
          referrer: res.headers.get('referrer-policy'),
          hsts: res.headers.get('strict-transport-security'),
          csp: res.headers.get('content-security-policy'),
        },
        name,
      ).toEqual({
        nosniff: 'nosniff',
        referrer: 'no-referrer',
        hsts: 'max-age=31536000',
        csp: expect.stringMatching(/^default-src 'none';.*frame-ancestors 'none'/),
      });
    }
    // The connect pages allow no script; the docs only their own and one inline script, by hash.
    for (const page of ['link page', 'unknown link page', 'callback page'] as const)
      expect(answers[page].headers.get('content-security-policy'), page).not.toContain('script-src');
    expect(answers['link page'].headers.get('content-security-policy')).toContain(
      `form-action 'self' ${sim.url};`,
    );
    expect(answers['docs page'].headers.get('content-security-policy')).toMatch(
      /script-src 'self' 'sha256-[\w+/=]+';/,
    );
  });

  it('over an https public URL the flow cookie is Secure', async () => {
    const { res } = await begin(await newLink(), new CookieJar());
    const [cookie] = res.headers.getSetCookie().map(parseSetCookie);
    expect(cookie?.attributes).toMatchObject({
      secure: true,
      httponly: true,
      samesite: 'Lax',
      path: '/oauth/callback',
    });
  });

  /**
   * Sends a request's headers and the first byte of a 1,000-byte body, then either stalls or
   * dribbles a byte every 100 ms; resolves when the server closes the connection (or after 10 s,
   * when the client gives up), with what the server answered.
   */
  const slowBody = (mode: 'stall' | 'dribble') =>
    new Promise<{ elapsedMs: number; answer: string }>((resolve) => {
      const address = t.runtime.app!.server.address() as net.AddressInfo;
      const socket = net.connect(address.port, '127.0.0.1');
      const started = Date.now();
      let answer = '';
      let dribbler: NodeJS.Timeout | undefined;
      const giveUp = setTimeout(() => socket.destroy(), 10_000);
      socket.on('connect', () => {
        socket.write(
          `POST /mgmt/v2/customers HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${t.apiKey}\r\n` +
            'content-type: application/json\r\ncontent-length: 1000\r\n\r\n{',
        );
        if (mode === 'dribble') dribbler = setInterval(() => socket.write(' '), 100);
      });
      socket.on('data', (chunk) => {
        answer += chunk;
      });
      // Writes the dribbler makes after the server hung up fail; the close says what happened.
      socket.on('error', () => {});
      socket.on('close', () => {
        clearInterval(dribbler);
        clearTimeout(giveUp);
        resolve({ elapsedMs: Date.now() - started, answer });
      });
    });

  it.each([
    'stall',
    'dribble',
  ] as const)('a client that sends a body too slowly (%s) is answered 408 and cut off at the request timeout', async (mode) => {
    const { elapsedMs, answer } = await slowBody(mode);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    // The timeout is 1 s, checked every 250 ms; the body would have taken 100 s to dribble in.
    expect(elapsedMs).toBeGreaterThanOrEqual(950);
    expect(elapsedMs).toBeLessThan(3_000);
  });

  it('at debug level, no log line holds a magic link id, an authorization code, a state or the flow cookie', async () => {
    const secrets: Record<string, string> = {};
    const linkId = await newLink();
    secrets['link id'] = linkId;
    const browser = new CookieJar();
    expect((await fetch(`${t.baseUrl}/links/${linkId}`)).status).toBe(200);
    // A path under the link that no route serves is logged as not found, without the id.
    expect((await fetch(`${t.baseUrl}/links/${linkId}/elsewhere`)).status).toBe(404);
    const { authorize } = await begin(linkId, browser);
    const back = await approve(authorize);
    const [stateId, , stateMac] = back.searchParams.get('state')!.split('.') as [string, string, string];
    Object.assign(secrets, {
      'state id': stateId,
      'state signature': stateMac,
      'authorization code': back.searchParams.get('code')!,
      'flow cookie': browser.get(`trellis_oauth_${stateId}`)!,
    });
    // A callback from another browser is refused, and logged like any other request.
    expect((await fetch(back, { redirect: 'manual' })).status).toBe(400);
    const done = await browser.fetch(back, { redirect: 'manual' });
    expect(done.headers.get('location')).toBe(`${RETURN}?result=success&provider_name=hubspot`);
    // A second link, deleted through the Management API by its id.
    const deleted = await newLink();
    secrets['deleted link id'] = deleted;
    expect((await api('DELETE', `/magic_links/${deleted}`)).status).toBe(204);

    const urls = t.logs.map((l) => (l.req as { url?: string } | undefined)?.url).filter(Boolean);
    // The requests were logged, with their URLs redacted.
    expect(urls).toEqual(
      expect.arrayContaining([
        '/links/[redacted]',
        '/links/[redacted]/elsewhere',
        '/links/[redacted]/oauth',
        '/oauth/callback?[redacted]',
        '/mgmt/v2/magic_links/[redacted]',
      ]),
    );
    const logged = t.logs.map((l) => JSON.stringify(l));
    for (const [name, secret] of Object.entries(secrets)) {
      expect(secret, name).toMatch(/\S{8,}/);
      expect(
        logged.filter((line) => line.includes(secret)),
        `${name} in the logs`,
      ).toEqual([]);
    }
  });
});
