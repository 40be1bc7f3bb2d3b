import type { RequestWindow } from '../connectors/catalog.ts';
import type { RequestBudget } from '../connectors/http.ts';
import type { Db } from '../db/pool.ts';

type Turn = { waitMs: number; granted: boolean; slackMs: number };

interface Waiting {
  maxWaitMs: number;
  resolve(turn: Turn): void;
  reject(err: unknown): void;
}

/**
 * The requests of one process waiting for turns in the same budgets: they are reserved together,
 * one statement for all that asked while the previous one ran, so that a burst costs a statement
 * or two instead of one per request (each holding a connection while it waits for the row lock).
 */
class Reserver {
  #waiting: Waiting[] = [];
  #busy = false;

  constructor(
    private readonly db: Db,
    private readonly args: (string | string[] | number[])[],
    private readonly done: () => void,
  ) {}

  reserve(maxWaitMs: number): Promise<Turn> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ maxWaitMs, resolve, reject });
      if (!this.#busy) void this.#run();
    });
  }

  async #run(): Promise<void> {
    this.#busy = true;
    while (this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0, 500);
      try {
        const sentAt = performance.now();
        const { rows } = await this.db.query<Turn>(
          `select wait_ms as "waitMs", granted, slack_ms as "slackMs" from trellis.reserve_rate_budget(
             array[trellis.account_rate_budget($1, $2)] || $3::text[], $4::integer[], $5::integer[], $6::bigint[])`,
          [...this.args, batch.map((w) => Math.max(0, Math.floor(w.maxWaitMs)))],
        );
        // Waits count from when the statement ran, at the latest when it was sent: what has passed
        // since (the answer's way back, a busy event loop) is no longer to wait.
        const elapsed = performance.now() - sentAt;
        for (const [i, w] of batch.entries()) w.resolve({ ...rows[i]!, waitMs: rows[i]!.waitMs - elapsed });
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    this.#busy = false;
    this.done();
  }
}

/** The reservers at work, by pool and by the budgets they reserve in. */
const reservers = new WeakMap<Db, Map<string, Reserver>>();

/**
 * The request budget of a lane of the provider account a connection talks to, kept in Postgres
 * (table rate_budgets, migration 0020) so that every process of Trellis spends the same one; when
 * the connection's project chose a pace for it, the connection's own budget is a ceiling on top. A
 * request reserves, in one statement, an instant at which all of them have room: requests are
 * served in the order they ask, a burst that fits the window goes out at once, and no one polls.
 */
export class SharedRateBudget implements RequestBudget {
  /** The limit the provider's headers last stated, as this budget passed it on. */
  #adopted = '';

  constructor(
    private readonly db: Db,
    private readonly connectionId: string,
    private readonly lane: string,
    /** The provider's documented limit for the lane, until its headers state one. */
    private readonly limit: RequestWindow,
    /** A pace the connection's project chose for it. */
    private readonly ceiling?: RequestWindow,
  ) {}

  reserve(maxWaitMs: number): Promise<Turn> {
    const limits = this.ceiling ? [this.limit, this.ceiling] : [this.limit];
    const args = [
      this.connectionId,
      this.lane,
      this.ceiling ? [`connection/${this.connectionId}`] : [],
      limits.map((l) => l.requests),
      limits.map((l) => l.windowMs),
    ];
    const id = JSON.stringify(args);
    let byBudget = reservers.get(this.db);
    if (!byBudget) {
      byBudget = new Map();
      reservers.set(this.db, byBudget);
    }
    let reserver = byBudget.get(id);
    if (!reserver) {
      const all = byBudget;
      const created: Reserver = new Reserver(this.db, args, () => {
        if (all.get(id) === created) all.delete(id);
      });
      all.set(id, created);
      reserver = created;
    }
    return reserver.reserve(maxWaitMs);
  }

  async adopt(limit: number, windowMs: number): Promise<void> {
    const stated = `${limit}/${windowMs}`;
    if (this.#adopted === stated) return;
    await this.db.query(
      `update trellis.rate_budgets set max_requests = $3, window_ms = $4, from_provider = true
        where key = trellis.account_rate_budget($1, $2)
          and (max_requests, window_ms, from_provider) is distinct from ($3, $4, true)`,
      [this.connectionId, this.lane, limit, windowMs],
    );
    this.#adopted = stated;
  }

  async pause(ms: number): Promise<void> {
    await this.db.query('select trellis.pause_rate_budget(trellis.account_rate_budget($1, $2), $3)', [
      this.connectionId,
      this.lane,
      Math.ceil(ms),
    ]);
  }

  async spent(resetInMs: number): Promise<void> {
    // Reservations that fill the window already hold the next request back until it frees: the
    // provider then speaks of Trellis's own requests, and a pause would only waste the window.
    await this.db.query(
      `update trellis.rate_budgets r set paused_until = greatest(r.paused_until, trellis.epoch_ms() + $3)
        where r.key = trellis.account_rate_budget($1, $2)
          and (select count(*) from unnest(r.reserved) as x
                where x > trellis.epoch_ms() - r.window_ms
                        - trellis.rate_budget_margin(r.window_ms, r.margin_fades_at, trellis.epoch_ms())) < r.max_requests`,
      [this.connectionId, this.lane, Math.ceil(resetInMs)],
    );
  }
}
