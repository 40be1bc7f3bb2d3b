import { seededRandom } from './random.ts';

/** What can go wrong, as `POST /__sim/faults` sets it (snake_case, every field optional). */
export interface Faults {
  /** Added to every API response. */
  latency_ms: number;
  /** Share of API requests answered with a 5xx. */
  error_rate: number;
  /** Share of API requests answered with the provider's rate-limit response (a 429 storm). */
  rate_limit_rate: number;
  /** Seconds the injected rate-limit responses ask the client to wait. */
  rate_limit_retry_after_seconds: number;
  /** Share of API requests whose connection is dropped without a response. */
  drop_rate: number;
  /** Share of API responses cut off half-way through the body. */
  truncate_rate: number;
  /** Added to OAuth pages and token endpoints, which the other faults spare (a slow authorization server). */
  token_latency_ms: number;
  /** Lifetime of newly issued access tokens. */
  token_ttl_seconds: number;
  /** Whether a refresh issues a new refresh token and invalidates the old one. */
  rotate_refresh_tokens: boolean;
}

export const DEFAULT_FAULTS: Faults = {
  latency_ms: 0,
  error_rate: 0,
  rate_limit_rate: 0,
  rate_limit_retry_after_seconds: 1,
  drop_rate: 0,
  truncate_rate: 0,
  token_latency_ms: 0,
  token_ttl_seconds: 1800,
  rotate_refresh_tokens: false,
};

export type FaultDecision = 'error' | 'rate_limit' | 'drop' | 'truncate' | undefined;

export class FaultInjector {
  current: Faults;
  readonly #random: () => number;

  constructor(seed: number, initial: Partial<Faults> = {}) {
    this.current = { ...DEFAULT_FAULTS, ...initial };
    this.#random = seededRandom(seed ^ 0x5eed);
  }

  /** Merges a partial update; unknown keys and wrong types are rejected with a message. */
  set(update: Record<string, unknown>): Faults {
    const next = { ...this.current };
    for (const [key, value] of Object.entries(update)) {
      if (!(key in DEFAULT_FAULTS)) throw new Error(`unknown fault "${key}"`);
      const expected = typeof DEFAULT_FAULTS[key as keyof Faults];
      if (typeof value !== expected) throw new Error(`fault "${key}" must be a ${expected}`);
      if (key.endsWith('_rate') && ((value as number) < 0 || (value as number) > 1)) {
        throw new Error(`fault "${key}" must be between 0 and 1`);
      }
      (next as Record<string, unknown>)[key] = value;
    }
    this.current = next;
    return next;
  }

  decide(): FaultDecision {
    const f = this.current;
    const r = this.#random();
    let edge = f.drop_rate;
    if (r < edge) return 'drop';
    edge += f.error_rate;
    if (r < edge) return 'error';
    edge += f.rate_limit_rate;
    if (r < edge) return 'rate_limit';
    edge += f.truncate_rate;
    if (r < edge) return 'truncate';
    return undefined;
  }
}
