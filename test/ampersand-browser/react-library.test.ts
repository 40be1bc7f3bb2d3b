import { generateKeyPairSync } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { SEALED_COLUMNS } from '../../src/auth/vault.ts';
import { createDestination } from '../../src/core/destinations.ts';
import { authenticateApiKey } from '../../src/core/projects.ts';
import { launchBrowser, loopbackOnly, screenshot } from '../helpers/browser.ts';
import { browserClaims, rs256Token } from '../helpers/browser-tokens.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { simOAuthProvider } from '../helpers/simulator.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';
import { type ProductPage, startProductPage } from './product-page.ts';

/**
 * Ampersand's own React library (`@amp-labs/react`, as published) in a page of the project's
 * product on another origin, driven in Chromium against Trellis and the HubSpot simulator: the
 * page calls /v1 across origins, the OAuth popup goes through the simulator's consent page, and
 * the callback's message reaches the page; given getToken instead of the key, it sends the browser
 * tokens the product's server signs. Screenshots: test-results/screenshots/ampersand/.
 */

const MANIFEST = [
  'specVersion: 1.0.0',
  'integrations:',
  '  - name: hubspot-contacts',
  '    displayName: HubSpot contacts',
  '    provider: hubspot',
  '    read:',
  '      objects:',
  '        - objectName: contacts',
  '          destination: contactsWebhook',
  '          schedule: "*/10 * * * *"',
  '          requiredFields: [{ fieldName: email }]',
  '          optionalFieldsAuto: all',
  '          backfill: { defaultPeriod: { fullHistory: true } }',
  '    write:',
  '      objects:',
  '        - objectName: contacts',
].join('\n');

describe('Ampersand’s React library against Trellis, in a real browser', () => {
  let sim: RunningSimulator;
  let page: ProductPage;
  let t: TestTrellis;
  let mgmt: Client;
  let v1: Client;
  let browser: Browser;
  let context: BrowserContext;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  /** What the pages printed as errors, to say why a step did not come. */
  const consoleErrors: string[] = [];
  /** What Chromium refused in the popups under Trellis's page policies: nothing, or the flow breaks. */
  const policyViolations: string[] = [];
  /** Whom the product's server signed browser tokens for. */
  const tokensSigned: { groupRef: string; consumerRef: string }[] = [];

  /** A page of the product at `path`, with the group and end user in its query. */
  const openProductPage = async (path: string, query: Record<string, string>): Promise<Page> => {
    const tab = await context.newPage();
    tab.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    await tab.goto(`${page.origin}${path}?${new URLSearchParams(query)}`);
    return tab;
  };
  /** Next, the popup, the simulator's consent page, Allow: the popup closes by itself. */
  const connectThroughPopup = async (tab: Page, shots: string) => {
    const next = tab.getByRole('button', { name: 'Next' });
    await next.waitFor();
    await screenshot(tab, `${shots}-1-next`);
    const [popup] = await Promise.all([tab.waitForEvent('popup'), next.click()]);
    popup.on('console', (msg) => {
      if (/Content Security Policy/i.test(msg.text())) policyViolations.push(msg.text());
    });
    await popup.waitForSelector('#allow');
    expect(new URL(popup.url()).origin).toBe(sim.url);
    await screenshot(popup, `${shots}-2-consent`);
    await Promise.all([popup.waitForEvent('close'), popup.click('#allow')]);
  };
  const refreshTokenOf = async (connectionId: string) => {
    const { rows } = await t.runtime.deps.db.query<{ sealed: string }>(
      'select credentials_sealed as sealed from connections where id = $1',
      [connectionId],
    );
    return t.runtime.deps.vault.openJson<{ refresh_token?: string }>(
      rows[0]!.sealed,
      SEALED_COLUMNS.connectionCredentials,
      connectionId,
    ).refresh_token;
  };
  const titleStartingWith = async (tab: Page, prefix: string): Promise<string> => {
    await tab
      // An expression, evaluated in the page (this file is compiled without the DOM's types).
      .waitForFunction(`document.title.startsWith(${JSON.stringify(prefix)})`, undefined, { timeout: 15_000 })
      .catch((err: Error) => {
        throw new Error(`${err.message}\npage errors: ${consoleErrors.join('\n')}`);
      });
    return (await tab.title()).slice(prefix.length);
  };

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: 20 });
    // Trellis must know the page's origin before it starts, and the page Trellis's URL before it is bundled.
    page = await startProductPage();
    t = await startTrellis({
      env: {
        TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }),
        TRELLIS_CORS_ORIGINS: page.origin,
      },
    });
    await page.bundle({ serverUrl: t.config.publicUrl, project: 'default', apiKey: t.apiKey });
    mgmt = client(t.baseUrl, t.apiKey);
    v1 = client(t.baseUrl, t.apiKey, '/v1');
    expect((await mgmt('POST', '/providers', { body: simOAuthProvider('hubspot', ['oauth']) })).status).toBe(
      201,
    );
    receiver = await startReceiver(() => 200);
    await createDestination(t.runtime.deps, (await authenticateApiKey(t.runtime.deps.db, t.apiKey))!, {
      name: 'contactsWebhook',
      type: 'webhook',
      config: { url: receiver.url },
    });
    const deployed = await v1('PUT', '/projects/default/integrations:batch', {
      body: { sourceYaml: MANIFEST },
    });
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(200);
    // The product's server: one RSA key registered with Trellis, tokens signed with it on request.
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwtKey = await v1('POST', '/projects/default/jwt-keys', {
      body: {
        label: 'product server',
        algorithm: 'RS256',
        publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }),
      },
    });
    expect(jwtKey.status).toBe(201);
    page.signTokensWith((who) => {
      tokensSigned.push(who);
      return rs256Token(privateKey, { kid: jwtKey.body.kid }, browserClaims(who.groupRef, who.consumerRef));
    });
    browser = await launchBrowser();
    context = await browser.newContext();
    await loopbackOnly(context);
  });
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
    await receiver?.close();
    await page?.close();
    await sim?.close();
  });

  it('ConnectProvider: Next, the popup, consent, connected (shown in /v1 and /mgmt/v2); then Update connection re-authorizes it', async () => {
    const tab = await openProductPage('/connect', {
      provider: 'hubspot',
      groupRef: 'acme',
      groupName: 'Acme Inc',
      consumerRef: 'user-1',
      consumerName: 'Ada Lovelace',
    });
    await connectThroughPopup(tab, 'ampersand/connect');
    const connectionId = await titleStartingWith(tab, 'connected ');
    await tab.getByText('You have successfully connected your HubSpot account').waitFor();
    await screenshot(tab, 'ampersand/connect-3-connected');

    const listed = await v1('GET', '/projects/default/connections', { query: { groupRef: 'acme' } });
    expect(listed.body).toEqual([
      expect.objectContaining({
        id: connectionId,
        provider: 'hubspot',
        status: 'working',
        group: expect.objectContaining({ groupRef: 'acme', groupName: 'Acme Inc' }),
        consumer: expect.objectContaining({ consumerRef: 'user-1', consumerName: 'Ada Lovelace' }),
      }),
    ]);
    expect((await mgmt('GET', '/customers/acme/connections/hubspot')).body).toMatchObject({
      id: connectionId,
      provider_name: 'hubspot',
      status: 'working',
    });

    // The library's own re-authorization: oauth-update, the popup again, new credentials.
    const before = await refreshTokenOf(connectionId);
    await tab.getByRole('button', { name: 'Update connection' }).click();
    await connectThroughPopup(tab, 'ampersand/reconnect');
    await tab.getByText('Connection updated successfully').waitFor();
    await screenshot(tab, 'ampersand/reconnect-3-updated');
    expect(await refreshTokenOf(connectionId)).not.toBe(before);
    expect(policyViolations).toEqual([]);
    await tab.close();
  });

  it('InstallIntegration: Next, the popup, consent, Install, then Save on the Write tab', async () => {
    const tab = await openProductPage('/install', {
      integration: 'hubspot-contacts',
      groupRef: 'globex',
      groupName: 'Globex',
      consumerRef: 'user-2',
      consumerName: 'Grace Hopper',
    });
    await connectThroughPopup(tab, 'ampersand/install');
    const install = tab.getByRole('button', { name: 'Install' });
    await install.waitFor();
    await screenshot(tab, 'ampersand/install-3-configure');
    await install.click();
    const installationId = await titleStartingWith(tab, 'installed ');
    await screenshot(tab, 'ampersand/install-4-installed');

    await tab.getByText('Write', { exact: true }).click();
    await tab.getByRole('checkbox').first().check();
    await screenshot(tab, 'ampersand/install-5-write');
    await tab.getByRole('button', { name: 'Save' }).click();
    expect(await titleStartingWith(tab, 'updated ')).toBe(installationId);
    await screenshot(tab, 'ampersand/install-6-saved');

    const installation = await v1(
      'GET',
      `/projects/default/integrations/hubspot-contacts/installations/${installationId}`,
    );
    expect(installation.status, JSON.stringify(installation.body)).toBe(200);
    expect(installation.body).toMatchObject({
      group: { groupRef: 'globex' },
      config: {
        content: {
          read: { objects: { contacts: expect.objectContaining({ objectName: 'contacts' }) } },
          write: { objects: { contacts: expect.objectContaining({ objectName: 'contacts' }) } },
        },
      },
    });
    expect(policyViolations).toEqual([]);
    await tab.close();
  });

  it('with getToken instead of the API key: the page calls /v1 with the tokens its server signs for its group', async () => {
    const credentials: string[] = [];
    context.on('request', (request) => {
      if (!request.url().startsWith(`${t.config.publicUrl}/v1/`) || request.method() === 'OPTIONS') return;
      const headers = request.headers();
      credentials.push(headers['x-api-key'] ? 'api key' : (headers.authorization?.split(' ')[0] ?? 'none'));
    });
    // Globex's installation (the test before) shows again, read with globex's tokens only.
    const tab = await openProductPage('/install', {
      auth: 'jwt',
      integration: 'hubspot-contacts',
      groupRef: 'globex',
      groupName: 'Globex',
      consumerRef: 'user-2',
      consumerName: 'Grace Hopper',
    });
    await tab.getByText('Reading from contacts is enabled.').waitFor({ timeout: 15_000 });
    await screenshot(tab, 'ampersand/jwt-installed');
    expect(tokensSigned.length).toBeGreaterThan(0);
    expect(new Set(tokensSigned.map((who) => `${who.groupRef}/${who.consumerRef}`))).toEqual(
      new Set(['globex/user-2']),
    );
    expect(credentials.length).toBeGreaterThan(0);
    expect(new Set(credentials)).toEqual(new Set(['Bearer']));
    await tab.close();
  });
});
