import { describe, expect, it } from 'vitest';
import { cronProblem, nextRead, nextScheduledRun, type ReadPolicy } from '../../src/core/read-plan.ts';

const NOW = new Date('2026-03-01T12:03:30Z');
const incremental: ReadPolicy = { schedule: { everyMs: 60_000 }, mode: 'incremental' };
const read = (policy: ReadPolicy, state: Parameters<typeof nextRead>[1]) => nextRead(policy, state, NOW);

describe('what the next run of a sync reads', () => {
  it('everything first, then what changed since the watermark', () => {
    expect(read(incremental, { fullRequested: false })).toEqual({ mode: 'full' });
    expect(
      read(incremental, { synced: true, watermark: '2026-03-01T11:00:00Z', fullRequested: false }),
    ).toEqual({
      mode: 'incremental',
      since: '2026-03-01T11:00:00Z',
    });
  });

  it('everything when asked, in full mode, and every n-th incremental', () => {
    const synced = { synced: true, watermark: '2026-03-01T11:00:00Z', fullRequested: false };
    expect(read(incremental, { ...synced, fullRequested: true })).toEqual({ mode: 'full' });
    expect(read({ ...incremental, mode: 'full' }, synced)).toEqual({ mode: 'full' });
    expect(read({ ...incremental, fullEvery: 2 }, { ...synced, incrementalsSinceFull: 1 }).mode).toBe(
      'incremental',
    );
    expect(read({ ...incremental, fullEvery: 2 }, { ...synced, incrementalsSinceFull: 2 }).mode).toBe('full');
  });

  it('a first read bounded to recent days reads what changed since then, unless a full read is asked for', () => {
    const bounded = { ...incremental, backfillDays: 30 };
    expect(read(bounded, { fullRequested: false })).toEqual({
      mode: 'incremental',
      since: '2026-01-30T12:03:30.000Z',
    });
    expect(read(bounded, { fullRequested: true })).toEqual({ mode: 'full' });
    expect(read({ ...bounded, mode: 'full' }, { fullRequested: false })).toEqual({ mode: 'full' });
  });
});

describe('when a sync runs next', () => {
  it('a period after the run, or at the cron expression’s next time (UTC)', () => {
    expect(nextScheduledRun({ everyMs: 60_000 }, NOW).toISOString()).toBe('2026-03-01T12:04:30.000Z');
    expect(nextScheduledRun({ cron: '*/10 * * * *' }, NOW).toISOString()).toBe('2026-03-01T12:10:00.000Z');
    expect(nextScheduledRun({ cron: '0 6 * * 1' }, NOW).toISOString()).toBe('2026-03-02T06:00:00.000Z');
  });

  it('names what is wrong with an expression that is not cron', () => {
    expect(cronProblem('*/10 * * * *')).toBeUndefined();
    expect(cronProblem('every ten minutes')).toEqual(expect.any(String));
    expect(cronProblem('61 * * * *')).toEqual(expect.any(String));
  });
});
