import fs from 'node:fs';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

const SHOTS = path.resolve(import.meta.dirname, '../../test-results/screenshots');

/** Debian's Chromium, headless, driven by Playwright (no browser is downloaded). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/**
 * Lets the context's pages reach loopback servers only: nothing a page links to elsewhere (a web
 * font, a vendor's logo) is fetched, so no test waits on a network it does not have.
 */
export async function loopbackOnly(context: BrowserContext): Promise<void> {
  await context.route(
    (url) => url.hostname !== '127.0.0.1' && url.hostname !== 'localhost',
    (route) => route.abort('blockedbyclient'),
  );
}

/** Saves a screenshot under test-results/screenshots/<name>.png (`name` may name a folder) and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const file = path.join(SHOTS, `${name}.png`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
