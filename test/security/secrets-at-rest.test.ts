import { createHash } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { salesforce } from '../../simulators/salesforce/index.ts';
import { SEALED_COLUMNS, type SealedColumn } from '../../src/auth/vault.ts';
import { CookieJar } from '../helpers/cookie-jar.ts';
import { createFixture, type Fixture } from '../helpers/mgmt-fixtures.ts';
import { type Exchange, startRecordingProxy } from '../helpers/recording-proxy.ts';
import { consentFields, consentThroughPage, simControl } from '../helpers/simulator.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

/**
 * Everything stored, as text: every row of every table in every schema. (A data-only `pg_dump`
 * says the same; Debian's pg_dump here is older than the embedded server, so the test reads the
 * rows itself.)
 */
async function dumpDatabase(url: string): Promise<string> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const { rows: tables } = await db.query<{ schema: string; name: string }>(
    `select table_schema as schema, table_name as name from information_schema.tables
      where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`,
  );
  let dump = '';
  for (const t of tables) {
    const { rows } = await db.query(`select t::text as row from "${t.schema}"."${t.name}" t`);
    dump += `-- ${t.schema}.${t.name}\n${rows.map((r) => r.row).join('\n')}\n`;
  }
  await db.end();
  expect(tables.length).toBeGreaterThan(10);
  return dump;
}

const TOKEN_PATH = '/services/oauth2/token';
const VAULT_FORMAT = /^v2\.[\w-]{8}\.[\w-]+\.[\w-]+\.[\w-]+$/;

/**
 * The secrets Trellis handles must be sealed wherever they are stored, including those it only
 * learns at run time: the tokens of a real OAuth flow (Salesforce, with PKCE) through a magic link,
 * and the tokens of a refresh. Their values are read off the wire (a recording proxy between
 * Trellis and the Salesforce simulator), not from what Trellis stored.
 */
describe('secrets at rest', () => {
  let sim: RunningSimulator;
  let proxy: Awaited<ReturnType<typeof startRecordingProxy>>;
  let t: TestTrellis;
  let api: Client;
  let fx: Fixture;
  let db: pg.Client;
  let webhook: { id: string; secret: string };
  /** What went over the wire in the OAuth flow and the refresh. */
  const flow = {
    codeChallenge: '',
    stateId: '',
    browserNonce: '',
    code: '',
    codeVerifier: '',
    accessToken: '',
    refreshToken: '',
    refreshedAccessToken: '',
    rotatedRefreshToken: '',
  };
  const tokenExchanges = (grant: string): Exchange[] =>
    proxy.exchanges.filter((e) => new URLSearchParams(e.requestBody).get('grant_type') === grant);

  beforeAll(async () => {
    sim = await startSimulator(salesforce, { records: 5 });
    proxy = await startRecordingProxy(sim.url, (path) => path.startsWith(TOKEN_PATH));
    t = await startTrellis({
      env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ salesforce: proxy.url }) },
    });
    api = client(t.baseUrl, t.apiKey);
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    // The fixture's Salesforce provider app is a client the simulator knows.
    await simControl(sim.url, 'clients', {
      client_id: 'sf-client-z',
      client_secret: 'client-secret-sf-client-z',
    });
    fx = await createFixture(api, 'z');
    webhook = (await api('POST', '/webhooks', { body: { url: 'http://127.0.0.1:9/x' } })).body;
    expect(webhook.secret).toEqual(expect.any(String));
    const gong = await api('POST', '/customers/customer-z/connections', {
      body: {
        provider_name: 'gong',
        type: 'access_key_secret',
        access_key: 'gong-access-z',
        access_key_secret: 'gong-secret-z',
      },
    });
    expect(gong.status, JSON.stringify(gong.body)).toBe(200);
    // A refresh token handed over through the API, for another customer (customer-z's Salesforce
    // connection comes from the OAuth flow below).
    await api('PUT', '/customers', {
      body: { customer_id: 'customer-y', name: 'Y', email: 'y@example.test' },
    });
    const manual = await api('POST', '/customers/customer-y/connections', {
      body: {
        provider_name: 'salesforce',
        type: 'oauth2',
        refresh_token: 'salesforce-refresh-y',
        instance_url: 'https://acme.my.salesforce.com',
      },
    });
    expect(manual.status, JSON.stringify(manual.body)).toBe(200);

    // The OAuth flow through the fixture's magic link, as a browser would drive it.
    const browser = new CookieJar();
    const begin = await browser.fetch(`${t.baseUrl}/links/${fx.magicLinkId}/oauth`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams(),
    });
    expect(begin.status).toBe(303);
    const authorize = new URL(begin.headers.get('location')!);
    expect(authorize.origin).toBe(proxy.url);
    flow.codeChallenge = authorize.searchParams.get('code_challenge')!;
    expect(flow.codeChallenge).toBeTruthy();
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    const state = String(authorize.searchParams.get('state'));
    flow.stateId = state.slice(0, state.indexOf('.'));
    expect(flow.stateId).toMatch(/^[0-9a-f-]{36}$/);
    // The browser's cookie holds the nonce the callback must bring; the state row only its hash.
    flow.browserNonce = browser.get(`trellis_oauth_${flow.stateId}`)!;
    const back = await consentThroughPage(sim.url, authorize.toString(), consentFields(authorize));
    flow.code = back.searchParams.get('code')!;
    expect(flow.code).toBeTruthy();
    const callback = await browser.fetch(back, { redirect: 'manual' });
    expect(callback.status, await callback.text()).toBe(302);
    expect(callback.headers.get('location')).toContain('result=success');

    const [exchange] = tokenExchanges('authorization_code');
    expect(exchange?.status).toBe(200);
    const sent = new URLSearchParams(exchange!.requestBody);
    expect(sent.get('code')).toBe(flow.code);
    expect(sent.get('client_secret')).toBe('client-secret-sf-client-z');
    flow.codeVerifier = sent.get('code_verifier')!;
    // It is the verifier behind the challenge the authorize URL carried.
    expect(createHash('sha256').update(flow.codeVerifier).digest('base64url')).toBe(flow.codeChallenge);
    const issued = JSON.parse(exchange!.responseBody);
    flow.accessToken = issued.access_token;
    flow.refreshToken = issued.refresh_token;
    expect(flow.accessToken).toBeTruthy();
    expect(flow.refreshToken).toBeTruthy();
    const connection = await api('GET', '/customers/customer-z/connections/salesforce');
    expect(connection.body).toMatchObject({ status: 'working', instance_url: proxy.url });

    // Every access token now expires; the next provider call gets a 401 and refreshes (rotating
    // the refresh token), then succeeds with the new access token.
    await simControl(sim.url, 'faults', { expire_tokens_now: true, rotate_refresh_tokens: true });
    const limits = await api('GET', '/customers/customer-z/connections/salesforce/_rate_limit_info');
    expect(limits.status, JSON.stringify(limits.body)).toBe(200);
    expect(limits.body.daily).toMatchObject({ limit: expect.any(Number) });
    const [refresh] = tokenExchanges('refresh_token');
    expect(refresh?.status).toBe(200);
    expect(new URLSearchParams(refresh!.requestBody).get('refresh_token')).toBe(flow.refreshToken);
    const refreshed = JSON.parse(refresh!.responseBody);
    flow.refreshedAccessToken = refreshed.access_token;
    flow.rotatedRefreshToken = refreshed.refresh_token;
    expect(flow.refreshedAccessToken).toBeTruthy();
    expect(flow.refreshedAccessToken).not.toBe(flow.accessToken);
    expect(flow.rotatedRefreshToken).toBeTruthy();
    expect(flow.rotatedRefreshToken).not.toBe(flow.refreshToken);
    expect((await simControl(sim.url, 'stats')).token_refreshes).toBe(1);
  }, 60_000);
  afterAll(async () => {
    await db?.end();
    await t?.stop();
    await proxy?.close();
    await sim?.close();
  });

  /** Every secret by name; the flow's are known once `beforeAll` ran. */
  const secrets = (): Record<string, string> => ({
    'API key': t.apiKey,
    'webhook signing secret': webhook.secret,
    'destination password': 'pg-password-z',
    'HubSpot client secret': 'client-secret-hubspot-client-z',
    'Salesforce client secret': 'client-secret-sf-client-z',
    'Apollo API key': 'apollo-key-z',
    'HubSpot refresh token (given)': 'hubspot-refresh-z',
    'Gong access key secret': 'gong-secret-z',
    'Gong access key': 'gong-access-z',
    'Salesforce refresh token (given)': 'salesforce-refresh-y',
    'authorization code': flow.code,
    'PKCE code verifier': flow.codeVerifier,
    'browser binding nonce': flow.browserNonce,
    'access token': flow.accessToken,
    'refresh token': flow.refreshToken,
    'refreshed access token': flow.refreshedAccessToken,
    'rotated refresh token': flow.rotatedRefreshToken,
  });

  it('a dump of the database holds no plaintext client secret, password, token, PKCE verifier or API key', async () => {
    const dump = await dumpDatabase(t.databaseUrl);
    expect(dump).toContain('customer-z');
    for (const [name, secret] of Object.entries(secrets())) {
      expect(secret, name).toMatch(/\S{8,}/);
      expect(dump.includes(secret), `${name} found in the database`).toBe(false);
    }

    // They are there, sealed: each sealed column is in the dump, in the vault's format, and opens
    // to the secret that went over the wire.
    const vault = t.runtime.deps.vault;
    const sealed = async (place: SealedColumn, row: string) => {
      const { rows } = await db.query<{ sealed: string }>(
        `select ${place.column} as sealed from trellis.${place.table} where id = $1`,
        [row],
      );
      expect(rows).toHaveLength(1);
      const value = rows[0]!.sealed;
      expect(value).toMatch(VAULT_FORMAT);
      expect(dump).toContain(value);
      return vault.open(value, place, row);
    };
    const { rows: connections } = await db.query<{ id: string }>(
      `select c.id from trellis.connections c join trellis.customers cu on cu.id = c.customer_id
        where cu.external_id = 'customer-z' and c.provider_name = 'salesforce'`,
    );
    const credentials = JSON.parse(await sealed(SEALED_COLUMNS.connectionCredentials, connections[0]!.id));
    // The refreshed token and the rotated refresh token are what is stored now.
    expect(credentials).toMatchObject({
      type: 'oauth2',
      access_token: flow.refreshedAccessToken,
      refresh_token: flow.rotatedRefreshToken,
    });
    expect(await sealed(SEALED_COLUMNS.oauthCodeVerifier, flow.stateId)).toBe(flow.codeVerifier);
    expect(await sealed(SEALED_COLUMNS.providerAppSecret, fx.salesforceProviderId)).toBe(
      'client-secret-sf-client-z',
    );
    expect(JSON.parse(await sealed(SEALED_COLUMNS.destinationSecrets, fx.destinationId))).toMatchObject({
      password: 'pg-password-z',
    });
    expect(await sealed(SEALED_COLUMNS.webhookSecret, webhook.id)).toBe(webhook.secret);
  });

  it('no API response and no log line carries a secret', async () => {
    const responses = await Promise.all(
      [
        '/customers',
        '/destinations',
        '/providers',
        '/webhooks',
        '/magic_links',
        '/customers/customer-z/connections',
        '/customers/customer-y/connections',
      ].map((p) => api('GET', p)),
    );
    for (const r of responses) expect(r.status).toBe(200);
    const text = JSON.stringify(responses.map((r) => r.body)) + JSON.stringify(t.logs);
    for (const [name, secret] of Object.entries(secrets())) expect(text.includes(secret), name).toBe(false);
  });
});
