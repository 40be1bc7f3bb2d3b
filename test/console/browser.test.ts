import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, screenshot } from '../helpers/browser.ts';
import { until } from '../helpers/wait.ts';

/**
 * The acceptance, in Debian's Chromium: `npm run demo` started as a newcomer would, and
 * within 60 s the console shows running syncs with records; every page, signed in with the key the
 * demo printed; a full refresh watched to its end with its counts; pause and resume; a
 * re-authorization link; revoking the session's own key signs it out. No request leaves for
 * another host. Screenshots in test-results/screenshots/console/.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('the console on npm run demo', () => {
  let demo: ChildProcess;
  let output = '';
  let consoleUrl: string;
  let apiKey: string;
  let browser: Browser;
  let page: Page;
  const elsewhere: string[] = [];
  const startedAt = Date.now();

  beforeAll(async () => {
    demo = spawn('npm', ['run', 'demo'], {
      cwd: ROOT,
      env: { ...process.env, PORT: '0', LOG_LEVEL: 'warn' },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo.stdout!.on('data', (c) => {
      output += c;
    });
    demo.stderr!.on('data', (c) => {
      output += c;
    });
    await until(
      'the demo to print its console URL and key',
      async () => /API key\s+trls_/.test(output),
      60_000,
    );
    consoleUrl = /Console\s+(http:\/\/\S+)/.exec(output)?.[1] ?? '';
    apiKey = /API key\s+(trls_\S+)/.exec(output)?.[1] ?? '';
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1300, height: 900 } });
    // Every request is let through to loopback and recorded otherwise (then refused).
    await context.route('**/*', (route) => {
      const { hostname } = new URL(route.request().url());
      if (hostname === '127.0.0.1' || hostname === 'localhost') return route.continue();
      elsewhere.push(route.request().url());
      return route.abort('blockedbyclient');
    });
    page = await context.newPage();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    if (demo?.pid) {
      process.kill(-demo.pid, 'SIGINT');
      await new Promise((resolve) => {
        const timer = setTimeout(() => {
          if (demo.pid) process.kill(-demo.pid, 'SIGKILL');
          resolve(undefined);
        }, 20_000);
        demo.on('exit', () => {
          clearTimeout(timer);
          resolve(undefined);
        });
      });
    }
  });

  const go = async (hash: string) => {
    await page.goto(`${consoleUrl}${hash}`);
  };

  it('signs in with the demo key and shows running syncs with records within 60 s of the start', async () => {
    await page.goto(consoleUrl);
    await page.fill('#api-key', apiKey);
    await screenshot(page, 'console/sign-in');
    await page.click('button[type=submit]');
    await page.waitForSelector('text=Overview');
    await go('#/syncs');
    await page.waitForSelector('[data-testid=progress-records]', { timeout: 60_000 });
    await until(
      'a running sync with records written',
      async () => {
        const counts = await page.locator('[data-testid=progress-records]').allTextContents();
        return counts.some((c) => Number(c.replace(/\D/g, '')) > 0);
      },
      Math.max(1000, 60_000 - (Date.now() - startedAt)),
    );
    expect(Date.now() - startedAt).toBeLessThan(60_000);
    await screenshot(page, 'console/syncs-running');
  }, 70_000);

  it('shows the overview, the demo’s customers and their connections', async () => {
    await go('#/');
    await page.waitForSelector('[data-testid=counts-connections]');
    expect(await page.textContent('[data-testid=counts-connections]')).toMatch(/working|created/);
    await screenshot(page, 'console/overview');
    await go('#/customers');
    for (const customer of ['acme', 'globex', 'initech'])
      await page.waitForSelector(`[data-testid=customer-${customer}]`);
    expect(await page.textContent('[data-testid=customer-acme]')).toContain('pipedrive');
    await screenshot(page, 'console/customers');
  });

  it('makes a re-authorization link to copy', async () => {
    await page
      .locator('[data-testid=customer-globex] button', { hasText: 'Re-authorization link' })
      .first()
      .click();
    const link = page.locator('[data-testid=customer-globex] input.link');
    await link.waitFor();
    expect(await link.inputValue()).toMatch(/\/links\/[0-9a-f-]{36}$/);
    await screenshot(page, 'console/magic-link');
  });

  it('runs a full refresh, shows its progress and the run with its counts', async () => {
    await go('#/syncs');
    // HubSpot's contacts: its search lane's 5 requests a second make a full refresh of the demo's
    // 20,000 last about 20 s (Pipedrive's budget reads them in one or two).
    const row = page.locator('[data-testid=sync-acme-hubspot-contacts]');
    await row.waitFor();
    await until(
      'the sync to be idle',
      async () =>
        (await row.locator('button', { hasText: 'Full refresh' }).count()) > 0 &&
        !(await row.textContent())?.includes('running'),
    );
    const before = await row.locator('a').first().getAttribute('href');
    await row.locator('button', { hasText: 'Full refresh' }).click();
    // The records and pages the progress bar showed, as it showed them.
    const shown = new Set<string>();
    let last = '';
    await until(
      'the full refresh to end',
      async () => {
        // Read without waiting: the bar is gone once the run ends.
        const [records] = await row.locator('[data-testid=progress-records]').allTextContents();
        const [pages] = await row.locator('[data-testid=progress-pages]').allTextContents();
        if (records && pages) shown.add(`${records.replace(/\D/g, '')} ${pages.replace(/\D/g, '')}`);
        const href = await row.locator('a').first().getAttribute('href');
        last = `${href} ${await row.textContent()}`;
        return href !== before && !(await row.textContent())?.includes('running') ? href : undefined;
      },
      90_000,
    ).catch((err) => {
      throw new Error(`${err}: ${last}`);
    });
    // The bar moved: it showed the run at two points at least, with pages read.
    const points = [...shown].map((p) => p.split(' ').map(Number) as [number, number]);
    expect(new Set(points.map(([records]) => records)).size, [...shown].join(', ')).toBeGreaterThanOrEqual(2);
    expect(Math.max(...points.map(([, pages]) => pages))).toBeGreaterThan(0);
    await screenshot(page, 'console/full-refresh-done');
    await row.locator('a').first().click();
    await page.waitForSelector('[data-testid=run-detail]');
    await until('the run detail with its counts', async () =>
      (await page.textContent('[data-testid=run-detail]'))?.includes('succeeded'),
    );
    expect(Number((await page.textContent('[data-testid=run-records]'))!.replace(/\D/g, ''))).toBeGreaterThan(
      20_000 - 1,
    );
    expect(await page.textContent('.log')).toContain('run succeeded');
    await screenshot(page, 'console/run-detail');
  }, 240_000);

  it('pauses and resumes a sync', async () => {
    await go('#/syncs');
    const row = page.locator('[data-testid=sync-globex-salesforce-Account]');
    await row.locator('button', { hasText: 'Pause' }).click();
    await row.locator('button', { hasText: 'Resume' }).waitFor();
    expect(await row.textContent()).toContain('paused');
    await screenshot(page, 'console/paused');
    await row.locator('button', { hasText: 'Resume' }).click();
    await row.locator('button', { hasText: 'Pause' }).waitFor();
  });

  it('shows webhooks, provider apps, destinations and integrations, never a secret', async () => {
    for (const [hash, text] of [
      ['#/runs', 'Runs'],
      ['#/webhooks', 'Webhooks'],
      ['#/provider-apps', 'sim-client-id'],
      ['#/destinations', 'built-in'],
      ['#/integrations', 'hubspot'],
    ] as const) {
      await go(hash);
      await page.waitForSelector(`text=${text}`);
      expect(await page.content()).not.toContain('sim-client-secret');
      await screenshot(page, `console/${hash.slice(2)}`);
    }
  });

  it('creates an API key, and revoking its own key signs the session out', async () => {
    await go('#/api-keys');
    await page.fill('input[placeholder="Name of the new key"]', 'second');
    await page.click('text=Create key');
    await page.waitForSelector('[data-testid=new-key]');
    expect(await page.textContent('[data-testid=new-key]')).toMatch(/trls_/);
    await screenshot(page, 'console/api-keys');
    await page.locator('tr', { hasText: '(this session)' }).locator('button', { hasText: 'Revoke' }).click();
    await page.waitForSelector('#api-key');
    await screenshot(page, 'console/signed-out');
    await page.reload();
    await page.waitForSelector('#api-key');
  });

  it('made no request to any host but Trellis', () => {
    expect(elsewhere).toEqual([]);
  });
});
