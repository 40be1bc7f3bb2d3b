import type { Db } from '../../src/db/pool.ts';

/**
 * Trellis's request budgets forget every reservation and pause, as if all the providers' windows
 * had reset: for tests that move a simulator's clock past its windows (Trellis keeps real time)
 * or lift a limit the provider said was spent for the day.
 */
export async function forgetRequestBudgets(db: Db): Promise<void> {
  await db.query(`update trellis.rate_budgets set reserved = '{}', paused_until = 0`);
}
