import type { Db } from '../db/pool.ts';
import { SEALED_COLUMNS, type SealedColumn, type Vault } from './vault.ts';

const BATCH = 500;

export interface RotationProgress {
  table: string;
  column: string;
  /** Values re-sealed under the current key by this run. */
  resealed: number;
  /** Values already under the current key. */
  current: number;
}

/**
 * Re-seals every stored secret under the vault's current key, in batches of rows ordered by their
 * key, each value replaced only if it is still the one read (a process that wrote it meanwhile
 * wrote it under the current key already). Safe to run while the platform runs, and to run again
 * after an interruption: values already current are skipped. Processes must run with the new key
 * and the previous one (`TRELLIS_ENCRYPTION_KEY_PREVIOUS`) until it has finished.
 */
export async function rotateEncryption(
  db: Db,
  vault: Vault,
  onBatch: (progress: RotationProgress) => void = () => {},
): Promise<RotationProgress[]> {
  const results: RotationProgress[] = [];
  for (const place of Object.values(SEALED_COLUMNS) as SealedColumn[]) {
    const progress = { table: place.table, column: place.column, resealed: 0, current: 0 };
    const rowKey = place.rowKey ?? 'id';
    // Keyset order on the row key's own type, so each batch is an index range scan.
    const type = rowKey === 'id' ? 'uuid' : 'text';
    let after = type === 'uuid' ? '00000000-0000-0000-0000-000000000000' : '';
    for (;;) {
      const { rows } = await db.query<{ row: string; sealed: string }>(
        `select ${rowKey}::text as row, ${place.column} as sealed from ${place.table}
          where ${place.column} is not null and ${rowKey} > $1::${type} ${place.where ? `and ${place.where}` : ''}
          order by ${rowKey} limit ${BATCH}`,
        [after],
      );
      if (rows.length === 0) break;
      for (const { row, sealed } of rows) {
        if (vault.isCurrent(sealed)) {
          progress.current++;
          continue;
        }
        const resealed = vault.seal(vault.open(sealed, place, row), place, row);
        const { rowCount } = await db.query(
          `update ${place.table} set ${place.column} = $3 where ${rowKey} = $1::${type} and ${place.column} = $2`,
          [row, sealed, resealed],
        );
        if (rowCount) progress.resealed++;
        else progress.current++;
      }
      after = rows[rows.length - 1]!.row;
      onBatch(progress);
    }
    results.push(progress);
  }
  return results;
}
