import http from 'node:http';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apollo } from '../../simulators/apollo/index.ts';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { salesforce } from '../../simulators/salesforce/index.ts';
import { SEALED_COLUMNS, Vault } from '../../src/auth/vault.ts';
import { launchBrowser, screenshot } from '../helpers/browser.ts';
import { simControl, simOAuthProvider } from '../helpers/simulator.ts';
import { hourlySyncConfig } from '../helpers/syncs.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

/** The project's own app, where a finished connect flow lands. */
async function startReturnApp() {
  const server = http.createServer((_req, res) => {
    res
      .writeHead(200, { 'content-type': 'text/html' })
      .end('<!doctype html><title>Back in the app</title><h1>Back in the app</h1>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/connected`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The Content-Security-Policy violations Chromium reports on `page` (it logs each as an error). */
function policyViolations(page: Page): string[] {
  const violations: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) violations.push(msg.text());
  });
  return violations;
}

describe('connecting through a magic link in a real browser', () => {
  const sims: Record<string, RunningSimulator> = {};
  let t: TestTrellis;
  let api: Client;
  let browser: Browser;
  let db: pg.Client;
  let returnApp: Awaited<ReturnType<typeof startReturnApp>>;

  const link = async (provider: string, customer = 'acme') => {
    const res = await api('POST', '/magic_links', {
      body: {
        customer_id: customer,
        provider_name: provider,
        return_url: returnApp.url,
        expiration_secs: 600,
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: string; url: string; status: string };
  };

  beforeAll(async () => {
    sims.hubspot = await startSimulator(hubspot, { records: 300 });
    sims.salesforce = await startSimulator(salesforce, { records: 50 });
    sims.apollo = await startSimulator(apollo, { records: 50 });
    await simControl(sims.hubspot.url, 'limits', { ten_second: 100_000, search_per_second: 1000 });
    // PORT=0: the server binds a free port, and the public URL (links, callbacks) follows it.
    t = await startTrellis({
      env: {
        TRELLIS_PROVIDER_OVERRIDES: JSON.stringify(
          Object.fromEntries(Object.entries(sims).map(([k, v]) => [k, v.url])),
        ),
      },
    });
    api = client(t.baseUrl, t.apiKey);
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    returnApp = await startReturnApp();
    await api('PUT', '/customers', {
      body: { customer_id: 'acme', name: 'Acme Inc', email: 'it@acme.test' },
    });
    for (const name of ['hubspot', 'salesforce'])
      expect((await api('POST', '/providers', { body: simOAuthProvider(name) })).status).toBe(201);
    await api('POST', '/sync_configs', {
      body: {
        destination_name: 'Supaglue Managed Destination',
        provider_name: 'hubspot',
        config: hourlySyncConfig('contacts'),
      },
    });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await db?.end();
    await returnApp?.close();
    await t?.stop();
    for (const sim of Object.values(sims)) await sim.close();
  });

  it('HubSpot: link page, connect, approve on the consent page, back to the app; the connection syncs', async () => {
    const magic = await link('hubspot');
    expect(magic.url).toBe(`${t.config.publicUrl}/links/${magic.id}`);
    const page = await browser.newPage();
    const violations = policyViolations(page);
    const opened = await page.goto(magic.url);
    // The page's own policy: no script, its stylesheet by hash, forms only to here and the provider.
    expect(opened?.headers()).toMatchObject({
      'content-security-policy': expect.stringMatching(
        new RegExp(`^default-src 'none'; style-src 'sha256-[^']+'; form-action 'self' ${sims.hubspot!.url};`),
      ),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
    expect(opened?.headers()['strict-transport-security']).toBeUndefined();
    await expect(page.locator('h1').textContent()).resolves.toContain('Connect HubSpot');
    await screenshot(page, 'hubspot-1-link');
    await page.click('#connect');
    await page.waitForSelector('#allow');
    await screenshot(page, 'hubspot-2-consent');
    await page.click('#allow');
    await page.waitForURL((url) => url.toString().startsWith(returnApp.url));
    await screenshot(page, 'hubspot-3-returned');
    const landed = new URL(page.url());
    expect(landed.searchParams.get('result')).toBe('success');
    expect(landed.searchParams.get('provider_name')).toBe('hubspot');
    // Styled, submitted and redirected under the policy without a single refusal.
    expect(violations).toEqual([]);
    await page.close();

    const conn = await api('GET', '/customers/acme/connections/hubspot');
    expect(conn.body).toMatchObject({
      provider_name: 'hubspot',
      status: 'working',
      instance_url: 'https://app.hubspot.com/contacts/24681357',
    });
    const links = await api('GET', '/magic_links');
    expect(links.body.find((l: { id: string }) => l.id === magic.id).status).toBe('consumed');

    // Credentials are sealed in the database, never in the clear.
    const { rows } = await db.query('select credentials_sealed from trellis.connections where id = $1', [
      conn.body.id,
    ]);
    expect(rows[0].credentials_sealed).toMatch(/^v2\./);
    const credentials = new Vault(t.config.encryptionKey!).openJson<{ refresh_token: string }>(
      rows[0].credentials_sealed,
      SEALED_COLUMNS.connectionCredentials,
      conn.body.id,
    );
    expect(credentials.refresh_token).toMatch(/^sim-rt-/);
    expect(rows[0].credentials_sealed).not.toContain(credentials.refresh_token);

    // Its first sync runs.
    let runs: { status: string; num_records_synced: number }[] = [];
    for (let i = 0; i < 100 && !runs.some((r) => r.status === 'SUCCESS'); i++) {
      await new Promise((r) => setTimeout(r, 200));
      runs = (await api('GET', '/sync-runs', { query: { customer_id: 'acme', provider_name: 'hubspot' } }))
        .body.results;
    }
    expect(runs[0]).toMatchObject({ status: 'SUCCESS', num_records_synced: 300 });
  });

  it('Salesforce: a sandbox login through the same flow', async () => {
    const magic = await link('salesforce');
    const page = await browser.newPage();
    await page.goto(magic.url);
    await screenshot(page, 'salesforce-1-link');
    await page.check('#sandbox');
    await page.click('#connect');
    await page.waitForSelector('#allow');
    expect(page.url()).toContain('/services/oauth2/authorize');
    expect(new URL(page.url()).searchParams.get('code_challenge_method')).toBe('S256');
    await screenshot(page, 'salesforce-2-consent');
    await page.click('#allow');
    await page.waitForURL((url) => url.toString().startsWith(returnApp.url));
    await screenshot(page, 'salesforce-3-returned');
    expect(new URL(page.url()).searchParams.get('result')).toBe('success');
    await page.close();
    const conn = await api('GET', '/customers/acme/connections/salesforce');
    expect(conn.body).toMatchObject({ status: 'working', instance_url: sims.salesforce!.url });
    // The sandbox choice is kept: its tokens are refreshed at the sandbox login host (test.salesforce.com,
    // served here by the simulator), where a production connection keeps no login URL at all.
    const { rows } = await db.query('select credentials_sealed from trellis.connections where id = $1', [
      conn.body.id,
    ]);
    expect(
      t.runtime.deps.vault.openJson<{ login_url?: string }>(
        rows[0].credentials_sealed,
        SEALED_COLUMNS.connectionCredentials,
        conn.body.id,
      ).login_url,
    ).toBe(sims.salesforce!.url);
  });

  it('an authorize URL opened in another browser cannot connect the account', async () => {
    await api('PUT', '/customers', {
      body: { customer_id: 'globex', name: 'Globex', email: 'it@globex.test' },
    });
    const magic = await link('hubspot', 'globex');
    // The link holder starts the flow in their browser...
    const holder = await browser.newContext();
    const started = await holder.newPage();
    await started.goto(magic.url);
    await started.click('#connect');
    await started.waitForSelector('#allow');
    // ...and sends the provider's page to someone else, who approves in their own browser.
    const other = await browser.newContext();
    const page = await other.newPage();
    await page.goto(started.url());
    await page.click('#allow');
    await page.waitForURL(
      (url) => url.pathname === '/oauth/callback' || url.toString().startsWith(returnApp.url),
    );
    expect(new URL(page.url()).pathname).toBe('/oauth/callback');
    await expect(page.locator('h1').textContent()).resolves.toBe('Could not connect');
    await expect(page.locator('p').textContent()).resolves.toContain('started in another browser');
    await screenshot(page, 'oauth-other-browser');
    expect((await api('GET', '/customers/globex/connections/hubspot')).status).toBe(404);
    await holder.close();
    await other.close();
  });

  it('the API reference renders under its policy', async () => {
    const page = await browser.newPage();
    const violations = policyViolations(page);
    const opened = await page.goto(`${t.config.publicUrl}/docs`);
    expect(opened?.headers()['content-security-policy']).toContain("script-src 'self' 'sha256-");
    await page.waitForSelector('.opblock', { timeout: 10_000 });
    expect(await page.locator('.opblock').count()).toBeGreaterThan(20);
    await screenshot(page, 'docs');
    expect(violations).toEqual([]);
    await page.close();
  });

  it('Apollo: the API key form, checked with Apollo before it is saved', async () => {
    const key: { api_key: string } = await simControl(sims.apollo!.url, 'tokens', {});
    const magic = await link('apollo');
    const page = await browser.newPage();
    const violations = policyViolations(page);
    await page.goto(magic.url);
    await screenshot(page, 'apollo-1-form');
    await page.fill('#api_key', 'not-a-real-key');
    await page.click('#connect');
    await expect(page.locator('.error').textContent()).resolves.toContain('did not accept');
    await screenshot(page, 'apollo-2-rejected');
    await page.fill('#api_key', key.api_key);
    await page.click('#connect');
    await page.waitForURL((url) => url.toString().startsWith(returnApp.url));
    await screenshot(page, 'apollo-3-returned');
    expect(new URL(page.url()).searchParams.get('result')).toBe('success');
    // The form, its refusal page and its redirect to the app, all under the policy.
    expect(violations).toEqual([]);
    await page.close();
    expect((await api('GET', '/customers/acme/connections/apollo')).body.status).toBe('working');
  });

  it('an unknown, consumed or expired link shows a clear page', async () => {
    const page = await browser.newPage();
    await page.goto(`${t.config.publicUrl}/links/00000000-0000-4000-8000-000000000000`);
    await expect(page.locator('h1').textContent()).resolves.toBe('Link not found');
    const used = (await api('GET', '/magic_links')).body.find(
      (l: { status: string }) => l.status === 'consumed',
    );
    await page.goto(`${t.config.publicUrl}/links/${used.id}`);
    await expect(page.locator('h1').textContent()).resolves.toBe('This link was already used');
    await screenshot(page, 'link-consumed');
    const short = await api('POST', '/magic_links', {
      body: { customer_id: 'acme', provider_name: 'hubspot', return_url: returnApp.url, expiration_secs: 1 },
    });
    await new Promise((r) => setTimeout(r, 1200));
    await page.goto(short.body.url);
    await expect(page.locator('h1').textContent()).resolves.toBe('This link has expired');
    await screenshot(page, 'link-expired');
    await page.close();
  });
});
