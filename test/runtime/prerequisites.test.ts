import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPT = path.resolve(import.meta.dirname, '../setup/prerequisites.sh');
const NOBODY = 65534;

describe('the test prerequisites step (run by npm test and CI)', () => {
  it('stops a non-root user at once with one line naming the package and the command', () => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    // This machine has Chromium; the run must see a machine without it. As root (CI, the dev
    // machines), a private mount namespace hides the binary and the script runs as `nobody`;
    // as a non-root user, CHROMIUM_PATH points at a file that does not exist.
    const run =
      process.getuid?.() === 0
        ? spawnSync(
            'unshare',
            [
              '-m',
              'sh',
              '-c',
              // The script is read by this shell (root), so `nobody` need not reach the checkout.
              `mount --bind /dev/null /usr/bin/chromium && exec setpriv --reuid=${NOBODY} --regid=${NOBODY} --clear-groups bash -s < ${SCRIPT}`,
            ],
            { env, encoding: 'utf8', timeout: 30_000 },
          )
        : spawnSync('bash', [SCRIPT], {
            env: {
              ...env,
              CHROMIUM_PATH: path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'no-')), 'chromium'),
            },
            encoding: 'utf8',
            timeout: 30_000,
          });
    expect(run.status, run.stderr).toBe(1);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("install Debian's package with 'sudo apt-get install chromium'");
    expect(lines[0]).toContain('CHROMIUM_PATH');
  });

  it('passes when the browser is there, and names a CHROMIUM_PATH that is not', () => {
    const present = spawnSync('bash', [SCRIPT], {
      env: { PATH: process.env.PATH, CHROMIUM_PATH: process.execPath },
      encoding: 'utf8',
    });
    expect(present.status, present.stderr).toBe(0);
    const missing = spawnSync('bash', [SCRIPT], {
      env: { PATH: process.env.PATH, CHROMIUM_PATH: '/nonexistent/chrome' },
      encoding: 'utf8',
    });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('not found at /nonexistent/chrome');
  });
});
