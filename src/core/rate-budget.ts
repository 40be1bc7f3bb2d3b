import type { RequestWindow } from '../connectors/catalog.ts';
import type { RequestBudget } from '../connectors/http.ts';
import type { Db } from '../db/pool.ts';

type Turn = { waitMs: number; granted: boolean; slackMs: number };

interface Waiting {
  maxWaitMs: number;
  resolve(turn: Turn): void;
  reject(err: unknown): void;
}

/** How many spare turns one statement may take for the requests that follow. */
const MAX_SPARE_TURNS = 64;

/**
 * The requests of one process waiting for turns in the same budget: they are reserved together,
 * one statement for all that asked while the previous one ran, so that a burst costs a statement
 * or two instead of one per request (each holding a connection while it waits for the row lock).
 *
 * A process asking one request at a time, each within the budget's slack of the last turn it handed
 * out (a sequential read from a provider that answers in a few ms), also takes spare turns, twice
 * as many each time it asks so again (up to 64), and hands them out without a statement until the
 * slack has passed: a turn may be used that late after its instant anyway. Requests that ask
 * together are one statement already and take none: spares they could not use in time would be
 * wasted turns. The budget grants spares only while its window is less than half full, so those a
 * reader stopping leaves unused never crowd out a request.
 */
class Reserver {
  #waiting: Waiting[] = [];
  #busy = false;
  /** Spare turns in hand, good until `#spareUntil` (performance.now()). */
  #spares = 0;
  #spareUntil = 0;
  #spareSlackMs = 0;
  /** When this process last handed out a turn (performance.now()). */
  #lastHandedOut = Number.NEGATIVE_INFINITY;
  /** Statements in a row that served one request asking within the slack of the turn before. */
  #quickSingles = 0;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    /** The budget's key, or the connection and lane whose account's budget it is. */
    private readonly budget: [key: string | null, connectionId: string | null, lane: string | null],
    private readonly limit: RequestWindow,
    private readonly done: () => void,
  ) {}

  reserve(maxWaitMs: number): Promise<Turn> {
    const spare = this.#spare();
    if (spare) return Promise.resolve(spare);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ maxWaitMs, resolve, reject });
      if (!this.#busy) void this.#run();
    });
  }

  /** A spare turn, while one is in hand and good. */
  #spare(): Turn | undefined {
    const now = performance.now();
    if (this.#spares === 0 || now >= this.#spareUntil) return undefined;
    this.#spares--;
    this.#lastHandedOut = now;
    return { waitMs: 0, granted: true, slackMs: this.#spareUntil - now };
  }

  /** Spares worth taking for a statement serving `asking` requests. */
  #sparesWanted(asking: number, now: number): number {
    const quick = asking === 1 && now - this.#lastHandedOut < this.#spareSlackMs;
    this.#quickSingles = quick ? this.#quickSingles + 1 : 0;
    return quick ? Math.min(MAX_SPARE_TURNS, 2 ** (this.#quickSingles - 1)) : 0;
  }

  async #run(): Promise<void> {
    this.#busy = true;
    while (this.#waiting.length > 0) {
      // Those that asked while the last statement ran take its spares first.
      while (this.#waiting.length > 0) {
        const spare = this.#spare();
        if (!spare) break;
        this.#waiting.shift()!.resolve(spare);
      }
      if (this.#waiting.length === 0) break;
      const batch = this.#waiting.splice(0, 500);
      const sentAt = performance.now();
      const spares = this.#sparesWanted(batch.length, sentAt);
      try {
        const { rows } = await this.db.query<Turn>(
          `select wait_ms as "waitMs", granted, slack_ms as "slackMs" from trellis.reserve_rate_budget(
             coalesce($1, trellis.account_rate_budget($2, $3)), $4, $5, $6::bigint[])`,
          [
            ...this.budget,
            this.limit.requests,
            this.limit.windowMs,
            [...batch.map((w) => Math.max(0, Math.floor(w.maxWaitMs))), ...Array<number>(spares).fill(-1)],
          ],
        );
        // Waits count from when the statement ran, at the latest when it was sent: what has passed
        // since (the answer's way back, a busy event loop) is no longer to wait.
        const now = performance.now();
        const elapsed = now - sentAt;
        for (const [i, w] of batch.entries()) {
          const turn = rows[i]!;
          if (turn.granted) this.#lastHandedOut = now;
          w.resolve({ ...turn, waitMs: turn.waitMs - elapsed });
        }
        this.#spareSlackMs = rows[0]?.slackMs ?? 0;
        this.#spares = rows.slice(batch.length).filter((r) => r.granted).length;
        this.#spareUntil = sentAt + this.#spareSlackMs;
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    this.#busy = false;
    this.#forgetWhenIdle();
  }

  /** Leaves the map of reservers once its spares and the history that asks for them have lapsed. */
  #forgetWhenIdle(): void {
    if (this.#idleTimer) return;
    this.#idleTimer = setTimeout(
      () => {
        this.#idleTimer = undefined;
        const idleFor = performance.now() - this.#lastHandedOut;
        if (this.#busy || idleFor < this.#spareSlackMs) this.#forgetWhenIdle();
        else this.done();
      },
      Math.max(1000, this.#spareSlackMs),
    ).unref();
  }
}

/** The reservers at work, by pool and by the budget they reserve in. */
const reservers = new WeakMap<Db, Map<string, Reserver>>();

function reserverOf(db: Db, budget: Reserver['budget'], limit: RequestWindow): Reserver {
  const id = JSON.stringify([budget, limit.requests, limit.windowMs]);
  let byBudget = reservers.get(db);
  if (!byBudget) {
    byBudget = new Map();
    reservers.set(db, byBudget);
  }
  const all = byBudget;
  let reserver = all.get(id);
  if (!reserver) {
    const created: Reserver = new Reserver(db, budget, limit, () => {
      if (all.get(id) === created) all.delete(id);
    });
    all.set(id, created);
    reserver = created;
  }
  return reserver;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The request budget of a lane of the provider account a connection talks to, kept in Postgres
 * (table rate_budgets, migrations 0020 and 0022) so that every process of Trellis spends the same
 * one; when the connection's project chose a pace for it, the connection's own budget is a ceiling
 * on top, whose turn comes first. A request reserves an instant at which its budget has room:
 * requests are served in the order they ask, a burst that fits the window goes out at once, and
 * no one polls.
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

  async reserve(maxWaitMs: number): Promise<Turn> {
    let waited = 0;
    if (this.ceiling) {
      // The connection's turn first, then the account's: reserving both at the instant the first
      // allows would book the account's window ahead for a connection that paces itself slowly.
      const own = await reserverOf(
        this.db,
        [`connection/${this.connectionId}`, null, null],
        this.ceiling,
      ).reserve(maxWaitMs);
      if (!own.granted) return own;
      waited = Math.max(0, own.waitMs);
      if (waited > 0) await sleep(waited);
    }
    return reserverOf(this.db, [null, this.connectionId, this.lane], this.limit).reserve(maxWaitMs - waited);
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

/** Removes the budgets that sent nothing for a day (deleted connections' among them); answers how many. */
export async function removeIdleRateBudgets(db: Db): Promise<number> {
  const { rows } = await db.query<{ removed: number }>(
    'select trellis.remove_idle_rate_budgets() as removed',
  );
  return rows[0]!.removed;
}
