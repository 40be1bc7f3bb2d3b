import type { ProviderRecord, ReadPage } from '../../src/connectors/types.ts';

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
