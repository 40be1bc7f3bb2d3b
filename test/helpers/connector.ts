import { expect } from 'vitest';
import type { ProviderRecord, ReadPage, ReadRequest } from '../../src/connectors/types.ts';

/** Reads a connector read's pages (all, or the first `maxPages`): their records, and each page's cursor. */
export async function collect(pages: AsyncIterable<ReadPage>, maxPages = Number.POSITIVE_INFINITY) {
  const records: ProviderRecord[] = [];
  const cursors: (string | null)[] = [];
  for await (const page of pages) {
    records.push(...page.records);
    cursors.push(page.cursor);
    if (cursors.length === maxPages) break;
  }
  return { records, cursors };
}

/**
 * Reads `req` whole, then again stopping after each page count in `stops` and resuming from that
 * page's cursor: each interrupted read must yield exactly the whole read's records, in order.
 */
export async function expectResumable(
  read: (req: ReadRequest) => AsyncIterable<ReadPage>,
  req: ReadRequest,
  /** Page counts to stop after, or a function of the whole read's page count. */
  stops: number[] | ((pages: number) => number[]),
) {
  const whole = await collect(read(req));
  const ids = (records: ProviderRecord[]) => records.map((r) => r.id);
  for (const stopAfter of typeof stops === 'function' ? stops(whole.cursors.length) : stops) {
    const first = await collect(read(req), stopAfter);
    const rest = await collect(read({ ...req, cursor: first.cursors.at(-1)! }));
    expect(ids([...first.records, ...rest.records])).toEqual(ids(whole.records));
  }
  return whole;
}
