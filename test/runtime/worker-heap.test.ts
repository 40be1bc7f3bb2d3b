import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/process.ts';

describe('the heap growth of a process that runs syncs', () => {
  it('lets the old generation grow to about twice the live heap, not four times', async () => {
    // Its own process: the setting is process-wide, and the figures are that process's alone.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', 'test/fixtures/heap-growth.ts', 'limited'],
      { cwd: ROOT },
    );
    const { live, largestOld } = JSON.parse(stdout) as { live: number; largestOld: number };
    // Twice the live heap, plus the young generation promoted at once. V8's own factor is up to
    // four where the heap limit is 2 GB or more.
    expect(largestOld).toBeLessThan(3 * live);
    expect(largestOld).toBeGreaterThan(live);
  });
});
