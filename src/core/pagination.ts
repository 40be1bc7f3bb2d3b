import type pg from 'pg';
import { badRequest } from './errors.ts';

export const MAX_PAGE_SIZE = 1000;

export interface Page<T> {
  results: T[];
  next: string | null;
  previous: string | null;
  totalCount: number;
}

interface Cursor {
  /** The sort-key values of the row the page starts after. */
  k: (string | number)[];
  /** True for a cursor that walks back (a `previous` link). */
  r: boolean;
}

const encode = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');

function decode(raw: string, keyCount: number): Cursor {
  try {
    const c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Cursor;
    if (Array.isArray(c.k) && c.k.length === keyCount && typeof c.r === 'boolean') return c;
  } catch {
    // fall through to the 400 below
  }
  throw badRequest('cursor is not a cursor this API returned');
}

export function parsePageSize(raw: string | undefined): number {
  if (raw === undefined || raw === '') return MAX_PAGE_SIZE;
  const n = Number(raw);
  // Number() would also take '0x10', '1e2' and ' 5 '.
  if (!/^\d+$/.test(raw) || n < 1) throw badRequest('page_size must be a positive whole number');
  if (n > MAX_PAGE_SIZE) throw badRequest(`page_size cannot exceed ${MAX_PAGE_SIZE}`);
  return n;
}

/**
 * Keyset pagination over `from` (a FROM ... WHERE clause using $1..$n for `params`), ordered by
 * `keys` (SQL expressions, all ascending or all descending, ending in a unique column). `toKey`
 * gives a result row's key values in the same order.
 */
export async function paginate<T extends pg.QueryResultRow>(
  db: Pick<pg.ClientBase, 'query'>,
  q: {
    select: string;
    from: string;
    params: unknown[];
    keys: string[];
    descending: boolean;
    toKey: (row: T) => (string | number)[];
    cursor?: string;
    pageSize: number;
    countTotal?: boolean;
  },
): Promise<Page<T>> {
  const cursor = q.cursor ? decode(q.cursor, q.keys.length) : undefined;
  const backwards = cursor?.r ?? false;
  const descending = q.descending !== backwards;
  const params = [...q.params];
  let where = '';
  if (cursor) {
    const placeholders = cursor.k.map((v) => {
      params.push(v);
      return `$${params.length}`;
    });
    where = ` and (${q.keys.join(', ')}) ${descending ? '<' : '>'} (${placeholders.join(', ')})`;
  }
  const order = q.keys.map((k) => `${k} ${descending ? 'desc' : 'asc'}`).join(', ');
  params.push(q.pageSize + 1);
  const { rows } = await db
    .query<T>(`select ${q.select} ${q.from}${where} order by ${order} limit $${params.length}`, params)
    .catch((err: { code?: string }) => {
      // A cursor we did not issue can hold values the sort keys' types reject (SQLSTATE class 22).
      if (cursor && err.code?.startsWith('22')) throw badRequest('cursor is not a cursor this API returned');
      throw err;
    });
  const hasMore = rows.length > q.pageSize;
  const page = rows.slice(0, q.pageSize);
  if (backwards) page.reverse();
  const first = page[0];
  const last = page[page.length - 1];
  const next =
    last && (backwards ? cursor !== undefined : hasMore) ? encode({ k: q.toKey(last), r: false }) : null;
  const previous =
    first && (backwards ? hasMore : cursor !== undefined) ? encode({ k: q.toKey(first), r: true }) : null;
  let totalCount = 0;
  if (q.countTotal !== false) {
    const { rows: count } = await db.query<{ n: number }>(`select count(*)::int as n ${q.from}`, q.params);
    totalCount = count[0]!.n;
  }
  return { results: page, next, previous, totalCount };
}
