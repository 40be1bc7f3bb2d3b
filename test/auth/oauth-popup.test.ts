import { createHash } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import type { Credentials } from '../../src/auth/connection-auth.ts';
import { SEALED_COLUMNS } from '../../src/auth/vault.ts';
import { redactUrl } from '../../src/logger.ts';
import { expectProblem } from '../helpers/ampersand.ts';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { consentFields, simConsent, simOAuthProvider } from '../helpers/simulator.ts';
import { hourlySyncConfig } from '../helpers/syncs.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

/** The page of the project's product that opens the popup. */
const PAGE = 'http://127.0.0.1:5173';

interface PopupEnd {
  status: number;
  headers: Headers;
  /** What the page posts to its opener, and the origin it posts to; undefined when it posts nothing. */
  posted?: { message: { eventType: string; data: Record<string, string> }; targetOrigin: string };
  text: string;
}

/** Reads the page a popup ends on: its one script (allowed by its hash) and what that script posts. */
async function readPopupEnd(res: Response): Promise<PopupEnd> {
  const body = await res.text();
  const script = /<script>([\s\S]*)<\/script>/.exec(body)?.[1];
  const end: PopupEnd = { status: res.status, headers: res.headers, text: body };
  if (script === undefined) return end;
  const hash = createHash('sha256').update(script).digest('base64');
  expect(res.headers.get('content-security-policy')?.split('; ')).toEqual([
    "default-src 'none'",
    `script-src 'sha256-${hash}'`,
    expect.stringMatching(/^style-src 'sha256-[^']+'$/),
    "form-action 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ]);
  const call = /window\.opener\.postMessage\((\{.*\}), ("[^"]*")\);/.exec(script);
  if (!call) throw new Error(`the popup's script posts nothing: ${script}`);
  end.posted = { message: JSON.parse(call[1]!), targetOrigin: JSON.parse(call[2]!) };
  return end;
}

/** The connection a popup's page reports as connected. */
function connectedId(end: PopupEnd): string {
  expect(end.posted?.message.eventType, end.text).toBe('AUTHORIZATION_SUCCEEDED');
  return end.posted?.message.data.connection ?? '';
}

describe('OAuth in a popup (the Platform API’s oauth-connect and oauth-update), over HTTP', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let mgmt: Client;
  let v1: Client;
  let db: pg.Client;

  /** `POST /v1/oauth-connect` as the page's script sends it. */
  const oauthConnect = (body: Record<string, unknown>, headers: Record<string, string> = { origin: PAGE }) =>
    v1('POST', '/oauth-connect', {
      headers,
      body: {
        projectIdOrName: 'default',
        provider: 'hubspot',
        providerMetadata: {},
        enableCSRFProtection: false,
        ...body,
      },
    });
  /** The popup: opens the start URL, consents on the provider's page, and follows the redirect back. */
  const popup = async (startUrl: string, decision: 'allow' | 'deny' = 'allow', browser = new CookieJar()) => {
    const start = await browser.fetch(startUrl, { redirect: 'manual' });
    expect(start.status, await start.clone().text()).toBe(303);
    const authorize = new URL(start.headers.get('location')!);
    expect(authorize.origin).toBe(sim.url);
    const back = await simConsent(sim.url, { ...consentFields(authorize), decision });
    return { end: await readPopupEnd(await browser.fetch(back, { redirect: 'manual' })), authorize, back };
  };
  const credentialsOf = async (connectionId: string) => {
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
    sim = await startSimulator(hubspot, { records: 5 });
    t = await startTrellis({
      env: {
        TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }),
        TRELLIS_CORS_ORIGINS: PAGE,
      },
    });
    mgmt = client(t.baseUrl, t.apiKey);
    v1 = client(t.baseUrl, t.apiKey, '/v1');
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    expect((await mgmt('POST', '/providers', { body: simOAuthProvider('hubspot') })).status).toBe(201);
  });
  afterAll(async () => {
    await db?.end();
    await t?.stop();
    await sim?.close();
  });

  it('connects a new group and end user: the start URL, the consent page, and a page that tells its opener', async () => {
    const res = await oauthConnect({
      groupRef: 'acme',
      groupName: 'Acme Inc',
      consumerRef: 'user-1',
      consumerName: 'Ada',
    });
    expect(res.status, String(res.body)).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('access-control-allow-origin')).toBe(PAGE);
    const startUrl = new URL(res.body as string);
    expect(`${startUrl.origin}${startUrl.pathname}`).toBe(`${t.baseUrl}/oauth/start`);

    const { end, authorize } = await popup(startUrl.toString());
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${t.baseUrl}/oauth/callback`);
    expect(end.status).toBe(200);
    // Its opener stays reachable, and it may be neither framed nor cached.
    expect(end.headers.get('cross-origin-opener-policy')).toBeNull();
    expect(end.headers.get('x-frame-options')).toBe('DENY');
    expect(end.headers.get('cache-control')).toBe('no-store');
    const connectionId = connectedId(end);
    expect(end.posted).toEqual({
      message: { eventType: 'AUTHORIZATION_SUCCEEDED', data: { connection: expect.any(String) } },
      targetOrigin: PAGE,
    });

    // The same connection both surfaces show, with its group and end user.
    const listed = await v1('GET', '/projects/default/connections', { query: { groupRef: 'acme' } });
    expect(listed.body).toEqual([
      expect.objectContaining({
        id: connectionId,
        provider: 'hubspot',
        status: 'working',
        group: expect.objectContaining({ groupRef: 'acme', groupName: 'Acme Inc' }),
        consumer: expect.objectContaining({ consumerRef: 'user-1', consumerName: 'Ada' }),
      }),
    ]);
    expect((await mgmt('GET', '/customers/acme/connections/hubspot')).body).toMatchObject({
      id: connectionId,
      status: 'working',
    });
    expect((await mgmt('GET', '/customers/acme')).body).toMatchObject({ name: 'Acme Inc', email: '' });
    expect((await credentialsOf(connectionId)).refresh_token).toMatch(/^sim-rt-/);
  });

  it('is started only from a page of an allowed origin, for the credentials’ own project', async () => {
    const body = { groupRef: 'acme', consumerRef: 'user-1' };
    const pages: Record<string, string>[] = [{}, { origin: 'http://127.0.0.1:6666' }, { origin: 'null' }];
    for (const headers of pages) {
      const refused = expectProblem(await oauthConnect(body, headers), 403);
      expect(refused.detail).toContain('TRELLIS_CORS_ORIGINS');
    }
    expectProblem(await oauthConnect({ ...body, projectIdOrName: 'elsewhere' }), 404);
    expectProblem(await oauthConnect({ ...body, provider: 'nowhere' }), 422);
    expectProblem(await oauthConnect({ ...body, provider: 'salesforce' }), 422);
    expectProblem(
      await oauthConnect({ ...body, providerAppId: '32356abe-d2fd-49c7-9030-abdcbc6456d4' }),
      404,
    );
    const empty = expectProblem(await oauthConnect({ ...body, groupRef: '' }), 400);
    expect(empty.issues).toEqual([{ in: 'body', name: '/groupRef', detail: 'must not be empty' }]);
    expectProblem(await oauthConnect({ consumerRef: 'user-1' }), 400);
  });

  it('a start URL opens once: a second browser gets nothing, and the first completes', async () => {
    const startUrl = (await oauthConnect({ groupRef: 'initech', consumerRef: 'user-2' })).body as string;
    const first = new CookieJar();
    const claimed = await first.fetch(startUrl, { redirect: 'manual' });
    expect(claimed.status).toBe(303);
    expect(claimed.headers.getSetCookie()[0]).toMatch(
      /^trellis_oauth_[0-9a-f-]{36}=[^;]+; Path=\/oauth\/callback; Max-Age=\d+; HttpOnly; SameSite=Lax$/,
    );
    const second = await readPopupEnd(await new CookieJar().fetch(startUrl, { redirect: 'manual' }));
    expect(second.posted?.message).toEqual({
      eventType: 'AUTHORIZATION_FAILED',
      data: { error: 'already_used', message: expect.stringContaining('another window') },
    });
    expect(second.posted?.targetOrigin).toBe(PAGE);

    const authorize = new URL(claimed.headers.get('location')!);
    const back = await simConsent(sim.url, consentFields(authorize));
    // The provider's redirect in any other browser (no cookie) connects nothing and posts nothing.
    const elsewhere = await readPopupEnd(await fetch(back, { redirect: 'manual' }));
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.posted).toBeUndefined();
    expect(elsewhere.text).toContain('started in another browser');
    const done = await readPopupEnd(await first.fetch(back, { redirect: 'manual' }));
    expect(done.posted?.message.eventType).toBe('AUTHORIZATION_SUCCEEDED');
    // Replayed, even in its own browser, it is refused.
    expect((await readPopupEnd(await first.fetch(back, { redirect: 'manual' }))).status).toBe(400);
  });

  it('a denial on the consent page is posted as Trellis’s code, and connects nothing', async () => {
    const startUrl = (await oauthConnect({ groupRef: 'globex', consumerRef: 'user-3' })).body as string;
    const { end } = await popup(startUrl, 'deny');
    expect(end.posted).toEqual({
      message: {
        eventType: 'AUTHORIZATION_FAILED',
        data: { error: 'access_denied', message: "Access was denied on the provider's page." },
      },
      targetOrigin: PAGE,
    });
    expect((await mgmt('GET', '/customers/globex/connections/hubspot')).status).toBe(404);
  });

  it('a forged or unknown state at the start gets a page, and posts nothing', async () => {
    const startUrl = new URL(
      (await oauthConnect({ groupRef: 'acme', consumerRef: 'user-1' })).body as string,
    );
    const [id, project] = startUrl.searchParams.get('state')!.split('.');
    startUrl.searchParams.set('state', `${id}.${project}.AAAA`);
    const forged = await readPopupEnd(await fetch(startUrl, { redirect: 'manual' }));
    expect(forged.status).toBe(400);
    expect(forged.posted).toBeUndefined();
    expect(forged.text).toContain('not one Trellis started');
    // Whoever opens a start URL first claims its flow: it is never logged.
    expect(redactUrl(`${startUrl.pathname}${startUrl.search}`)).toBe('/oauth/start?[redacted]');
  });

  it('oauth-update re-authorizes a connection: new credentials, working again, its paused syncs resume', async () => {
    expect(
      (
        await mgmt('POST', '/sync_configs', {
          body: {
            destination_name: 'Supaglue Managed Destination',
            provider_name: 'hubspot',
            config: hourlySyncConfig('contacts'),
          },
        })
      ).status,
    ).toBe(201);
    const startUrl = (await oauthConnect({ groupRef: 'umbrella', consumerRef: 'user-4' })).body as string;
    const connectionId = connectedId((await popup(startUrl)).end);
    const before = await credentialsOf(connectionId);
    // Its grant was revoked: the connection is bad and its syncs wait for new credentials.
    await db.query(`update trellis.connections set status = 'bad_credentials' where id = $1`, [connectionId]);
    await db.query(
      `update trellis.syncs set paused = true, pause_reason = 'credentials' where connection_id = $1`,
      [connectionId],
    );

    const path = `/projects/default/connections/${connectionId}:oauth-update`;
    expectProblem(await v1('PATCH', path), 403);
    const renewal = await v1('PATCH', path, { headers: { origin: PAGE } });
    expect(renewal.status, String(renewal.body)).toBe(200);
    expect(renewal.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const { end } = await popup(renewal.body as string);
    expect(end.posted?.message).toEqual({
      eventType: 'AUTHORIZATION_SUCCEEDED',
      data: { connection: connectionId },
    });
    expect((await credentialsOf(connectionId)).refresh_token).not.toBe(before.refresh_token);
    const shown = await v1('GET', `/projects/default/connections/${connectionId}`);
    expect(shown.body).toMatchObject({ status: 'working', consumer: { consumerRef: 'user-4' } });
    const { rows } = await db.query('select paused from trellis.syncs where connection_id = $1', [
      connectionId,
    ]);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => !r.paused)).toBe(true);

    expectProblem(
      await v1('PATCH', '/projects/default/connections/32356abe-d2fd-49c7-9030-abdcbc6456d4:oauth-update', {
        headers: { origin: PAGE },
      }),
      404,
    );
  });

  it('a connection deleted during its re-authorization is not made again', async () => {
    const startUrl = (await oauthConnect({ groupRef: 'hooli', consumerRef: 'user-5' })).body as string;
    const connectionId = connectedId((await popup(startUrl)).end);
    const renewal = await v1('PATCH', `/projects/default/connections/${connectionId}:oauth-update`, {
      headers: { origin: PAGE },
    });
    const browser = new CookieJar();
    const start = await browser.fetch(renewal.body as string, { redirect: 'manual' });
    const back = await simConsent(sim.url, consentFields(new URL(start.headers.get('location')!)));
    expect((await v1('DELETE', `/projects/default/connections/${connectionId}`)).status).toBe(204);
    const end = await readPopupEnd(await browser.fetch(back, { redirect: 'manual' }));
    expect(end.posted?.message).toEqual({
      eventType: 'AUTHORIZATION_FAILED',
      data: { error: 'connection_removed', message: expect.any(String) },
    });
    expect((await mgmt('GET', '/customers/hooli/connections/hubspot')).status).toBe(404);
  });
});
