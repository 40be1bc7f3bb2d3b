import type { SimClock } from './clock.ts';

export interface WindowState {
  limit: number;
  remaining: number;
  /** Milliseconds until the window resets. */
  resetInMs: number;
  windowMs: number;
}

/** A fixed-window request counter per key (an access token, an account...). */
export class RateWindow {
  readonly #windows = new Map<string, { start: number; used: number }>();

  constructor(
    private readonly clock: SimClock,
    readonly windowMs: number,
  ) {}

  #window(key: string, now: number) {
    let w = this.#windows.get(key);
    if (!w || now - w.start >= this.windowMs) {
      w = { start: now, used: 0 };
      this.#windows.set(key, w);
    }
    return w;
  }

  #state(w: { start: number; used: number }, limit: number, now: number): WindowState {
    return {
      limit,
      remaining: Math.max(0, limit - w.used),
      resetInMs: Math.max(0, w.start + this.windowMs - now),
      windowMs: this.windowMs,
    };
  }

  /** Counts a request that arrived at `now` against `limit`; `allowed` is false once the window's budget is spent. */
  take(key: string, limit: number, now = this.clock.now()): WindowState & { allowed: boolean } {
    const w = this.#window(key, now);
    const allowed = w.used < limit;
    if (allowed) w.used++;
    return { allowed, ...this.#state(w, limit, now) };
  }

  peek(key: string, limit: number): WindowState {
    const now = this.clock.now();
    return this.#state(this.#window(key, now), limit, now);
  }
}
