import type { Logger } from '../logger.ts';
import { providerRateLimited, providerRequestSeconds, providerRequests } from '../metrics.ts';
import {
  OutboundDenied,
  type OutboundPolicy,
  ResponseTooLarge,
  readCapped,
  readCappedBytes,
} from '../net/outbound.ts';

/** The largest response body read from a provider by default (a page of a bulk export at most). */
const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

/** The kinds every provider failure is mapped to; callers decide on the kind, never on raw statuses. */
export type ConnectorErrorKind =
  | 'auth'
  | 'permission'
  | 'rate_limited'
  | 'not_found'
  | 'validation'
  | 'transient';

/** A request path for messages, with any credential it carries (token-info endpoints) masked. */
function withoutCredentials(path: string, headers: Record<string, string>): string {
  let safe = path;
  for (const value of Object.values(headers)) {
    const secret = value.replace(/^(Bearer|Basic) /, '');
    if (secret.length >= 8)
      safe = safe.replaceAll(secret, '[redacted]').replaceAll(encodeURIComponent(secret), '[redacted]');
  }
  return safe;
}

/**
 * A provider failure. Its message is written by Trellis and safe to show API callers; the
 * provider's own answer stays in `body`, for logs.
 */
export class ConnectorError extends Error {
  constructor(
    readonly kind: ConnectorErrorKind,
    message: string,
    readonly status?: number,
    readonly body?: unknown,
    /** For rate_limited: how long the provider asked us to wait. */
    readonly waitMs?: number,
  ) {
    super(message);
  }
}

export interface ProviderResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** How a provider signals limits and failures beyond plain status codes (data from its catalog entry). */
export interface ProviderPolicy {
  /** Overrides the default status-based classification (e.g. Salesforce's 403 REQUEST_LIMIT_EXCEEDED). */
  classify?(res: ProviderResponse): { kind: ConnectorErrorKind; waitMs?: number } | undefined;
  /**
   * Reads the budget from response headers, when the provider sends it: what is left until the
   * window resets, and the window's size, which the account's shared budget then adopts.
   */
  budget?(
    headers: Headers,
  ): { remaining: number; resetInMs: number; limit?: number; windowMs?: number } | undefined;
}

/**
 * What renewing credentials did: fetched new ones from the provider, took up newer ones that
 * another request or process had already saved, or could not renew them.
 */
export type Renewal = 'refreshed' | 'adopted' | 'failed';

/** Adds credentials to requests and renews them when the provider says they expired. */
export interface Authenticator {
  headers(): Promise<Record<string, string>>;
  /** Renews the credentials after a 401 on a request sent with `sentHeaders`. */
  renew(sentHeaders?: Record<string, string>): Promise<Renewal>;
}

/** Turns a request takes again for leaving too late before it goes anyway (a machine that slow stays slow). */
const MAX_RETAKES = 2;

/** Adopted tokens a request tries before it refreshes itself (other processes may refresh in turn). */
const MAX_ADOPTIONS = 3;

/**
 * The request budget of one lane of a provider account, shared by everything that talks to that
 * account (core/rate-budget.ts keeps it in Postgres, for every process).
 */
export interface RequestBudget {
  /**
   * Reserves the next turn to send a request: how long from now to wait for it (ms; negative when
   * it has passed already), and how late after it the request may still leave. When the turn is
   * more than `maxWaitMs` away, nothing is reserved (`granted` false).
   */
  reserve(maxWaitMs: number): Promise<{ waitMs: number; granted: boolean; slackMs: number }>;
  /** The provider's headers say it allows `limit` requests every `windowMs`. */
  adopt(limit: number, windowMs: number): Promise<void>;
  /** The provider asked that nothing be sent for `ms` (a 429 and its wait). */
  pause(ms: number): Promise<void>;
  /** The provider's headers say its window is spent until `resetInMs` from now. */
  spent(resetInMs: number): Promise<void>;
}

/**
 * A budget that never holds a request back, for requests no account's budget governs: credentials
 * checked before they belong to a connection, and connector tests and benchmarks.
 */
export const UNMETERED: RequestBudget = {
  reserve: async () => ({ waitMs: 0, granted: true, slackMs: Number.POSITIVE_INFINITY }),
  adopt: async () => {},
  pause: async () => {},
  spent: async () => {},
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Timers by the millisecond (of performance.now()) they ring at; see `wakeAt`. */
const alarms = new Map<number, Promise<void>>();

/**
 * Resolves at `due` (performance.now()), with every other wait due within the same millisecond
 * (one rings up to a millisecond early, far less than any budget's margin): their continuations
 * then all run before any of them sends, so the turns of a burst are judged on time or late by
 * the clock alone, not by the work of sending the burst's earlier requests.
 */
function wakeAt(due: number): Promise<void> {
  const at = Math.ceil(due);
  const alarm = alarms.get(at) ?? alarms.get(at - 1);
  if (alarm) return alarm;
  const ringing = new Promise<void>((resolve) =>
    setTimeout(() => {
      alarms.delete(at);
      resolve();
    }, at - performance.now()),
  );
  alarms.set(at, ringing);
  return ringing;
}

/** How long a request waits for rate limits, unless its client says otherwise. */
const DEFAULT_MAX_RATE_LIMIT_WAIT_MS = 15 * 60_000;

/** Exponential backoff with full jitter: 0.5 s, 1 s, 2 s … capped at 30 s. */
export function backoffMs(attempt: number): number {
  const cap = Math.min(30_000, 500 * 2 ** attempt);
  return cap / 2 + Math.random() * (cap / 2);
}

function retryAfterMs(headers: Headers): number | undefined {
  const value = headers.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function defaultKind(status: number): ConnectorErrorKind {
  if (status === 401) return 'auth';
  if (status === 403) return 'permission';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limited';
  if (status === 408 || status >= 500) return 'transient';
  return 'validation';
}

export interface RequestOptions {
  method?: string;
  /** A path below the base URL, or an absolute URL on the provider's host (paging links). */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** A raw body (form or CSV) sent as-is with its content type. */
  rawBody?: { contentType: string; data: string };
  headers?: Record<string, string>;
  /** Return the body as text rather than parsed JSON (CSV exports). */
  text?: boolean;
  /** Requests under a separate limit (e.g. HubSpot search) spend the budget of their own lane. */
  lane?: string;
}

/** A request passed through to the provider as its caller wrote it (the proxy). */
export interface ForwardRequest {
  method: string;
  /** The path below the base URL, with its query string. */
  pathAndQuery: string;
  /** The caller's headers, already rid of its own credentials and hop-by-hop headers. */
  headers: Record<string, string>;
  body?: Uint8Array;
  /** The largest answer taken; a larger one fails the request. */
  maxResponseBytes: number;
}

/** The provider's answer as it came, body in bytes. */
export interface ForwardedResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

/**
 * HTTP to one provider for one connection, with the etiquette the engine owes providers: pacing,
 * honoring rate-limit hints, retrying transient failures with backoff and jitter, renewing expired
 * credentials once, and mapping failures to `ConnectorError` kinds.
 */
export class ProviderHttp {
  /** Requests actually sent, including retries (benchmarks and tests read it). */
  requestCount = 0;
  /** Waits under way, each ended by the client's signal. */
  readonly #waits = new Set<(reason: unknown) => void>();

  constructor(
    private readonly opts: {
      baseUrl: string;
      /** The provider's name, as metrics label its requests. */
      provider?: string;
      auth: Authenticator;
      outbound: OutboundPolicy;
      policy: ProviderPolicy;
      /** The budget of a lane of the connection's account (`default` unless a request names one). */
      budget: (lane: string) => RequestBudget;
      log?: Logger;
      maxRetries?: number;
      /**
       * Longest wait for rate limits before giving up with a rate_limited error: for a turn in the
       * budget, and in all for the waits 429s ask for.
       */
      maxRateLimitWaitMs?: number;
      timeoutMs?: number;
      /** The largest response body read; a larger one fails the request (not retried). */
      maxResponseBytes?: number;
      /** Ends what the client has on its way (waits for turns, requests, backoffs) once aborted. */
      signal?: AbortSignal;
    },
  ) {
    // One listener for every wait: a run's partitions wait for turns together, and a listener each
    // would pass the signal's limit (Node warns of a leak from 11 on).
    opts.signal?.addEventListener(
      'abort',
      () => {
        for (const end of this.#waits) end(opts.signal?.reason);
        this.#waits.clear();
      },
      { once: true },
    );
  }

  /**
   * Waits `ms` between requests a read paces itself (a provider's job polled until done); ends at
   * once with the reason when the read is stopped, as the client's own waits do.
   */
  async sleep(ms: number): Promise<void> {
    await this.#unlessAborted(sleep(ms));
  }

  /** `promise`, or the client's signal's reason once it aborts first. */
  #unlessAborted<T>(promise: Promise<T>): Promise<T> {
    const { signal } = this.opts;
    if (!signal) return promise;
    signal.throwIfAborted();
    return new Promise<T>((resolve, reject) => {
      this.#waits.add(reject);
      promise.then(
        (value) => {
          this.#waits.delete(reject);
          resolve(value);
        },
        (error: unknown) => {
          this.#waits.delete(reject);
          reject(error);
        },
      );
    });
  }

  /** A request's signal: its timeout, and the client's own signal. */
  #requestSignal(): AbortSignal {
    const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? 120_000);
    return this.opts.signal ? AbortSignal.any([timeout, this.opts.signal]) : timeout;
  }

  get baseUrl(): string {
    return this.opts.baseUrl;
  }

  /** Counts a request sent at `sentAt` (ms) and its answer's status, none when there was no answer. */
  #observe(sentAt: number, status: number | undefined): void {
    const provider = this.opts.provider ?? 'unknown';
    providerRequests.inc({
      provider,
      status_class: status === undefined ? 'none' : `${Math.floor(status / 100)}xx`,
    });
    providerRequestSeconds.observe({ provider }, (performance.now() - sentAt) / 1000);
  }

  /**
   * Waits for a turn in `budget`; one further away than `maxWaitMs` fails as rate_limited. A
   * request that would leave later than its turn allows (the event loop was busy) takes another:
   * sent then, it could reach the provider in the same window as the next turns' requests.
   */
  async #turn(budget: RequestBudget, maxWaitMs: number, url: URL): Promise<void> {
    for (let retakes = 0; ; retakes++) {
      this.opts.signal?.throwIfAborted();
      const { waitMs, granted, slackMs } = await budget.reserve(maxWaitMs);
      if (!granted) {
        throw new ConnectorError(
          'rate_limited',
          `${url.host}'s rate limit leaves no turn for ${Math.ceil(waitMs / 1000)} s`,
          undefined,
          undefined,
          waitMs,
        );
      }
      const due = performance.now() + waitMs;
      if (waitMs > 0) await this.#unlessAborted(wakeAt(due));
      if (performance.now() - due <= slackMs || retakes === MAX_RETAKES) return;
    }
  }

  /** Passes on to the budget what the provider's headers say of it. */
  async #heed(budget: RequestBudget, headers: Headers): Promise<void> {
    const stated = this.opts.policy.budget?.(headers);
    if (!stated) return;
    if (stated.limit && stated.windowMs) await budget.adopt(stated.limit, stated.windowMs);
    if (stated.remaining <= 0 && stated.resetInMs > 0) await budget.spent(stated.resetInMs);
  }

  /** What a 429 asks to wait: the provider's own word, else Retry-After, else a backoff. */
  #rateLimitWait(res: { headers: Headers }, waitMs: number | undefined, attempt: number): number {
    return waitMs ?? retryAfterMs(res.headers) ?? backoffMs(Math.min(attempt + 2, 6));
  }

  url(path: string, query?: RequestOptions['query']): URL {
    const url = /^https?:\/\//.test(path)
      ? new URL(path)
      : new URL(this.opts.baseUrl.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  /**
   * Sends a request as its caller wrote it and returns the provider's answer whatever its status:
   * in its turn of the account's budget, with the connection's credentials (renewed once if the
   * provider says they expired), and through the outbound policy. Nothing is retried and redirects
   * are returned, not followed: the caller decides, as it would talking to the provider itself.
   */
  async forward(req: ForwardRequest): Promise<ForwardedResponse> {
    const { auth } = this.opts;
    const base = new URL(this.opts.baseUrl);
    const url = new URL(this.opts.baseUrl.replace(/\/$/, '') + req.pathAndQuery);
    // The path is the caller's: it may not lead to another host with the connection's credentials.
    if (url.origin !== base.origin)
      throw new ConnectorError('validation', `the path leads away from ${base.host}`);
    const budget = this.opts.budget('default');
    const maxWait = this.opts.maxRateLimitWaitMs ?? DEFAULT_MAX_RATE_LIMIT_WAIT_MS;
    let renewed = false;
    for (;;) {
      // Credentials first: renewing them takes a while, and a request must leave at its turn.
      const headers = { ...req.headers, ...(await auth.headers()) };
      await this.#turn(budget, maxWait, url);
      let res: ForwardedResponse;
      const sentAt = performance.now();
      try {
        this.requestCount++;
        const raw = await this.opts.outbound.request('provider', url, {
          method: req.method,
          headers,
          body: req.body,
          redirect: 'manual',
          signal: this.#requestSignal(),
        });
        res = {
          status: raw.status,
          headers: raw.headers,
          body: await readCappedBytes(raw, req.maxResponseBytes),
        };
        this.#observe(sentAt, res.status);
      } catch (err) {
        this.#observe(sentAt, undefined);
        // Stopped on purpose: not a failure of the provider's, and nothing to retry.
        this.opts.signal?.throwIfAborted();
        if (err instanceof OutboundDenied)
          throw new ConnectorError('validation', `request to ${url.host} refused: ${err.message}`);
        if (err instanceof ResponseTooLarge)
          throw new ConnectorError('validation', `${url.host} answered with more than ${err.maxBytes} bytes`);
        this.opts.log?.warn({ host: url.host, err }, 'provider request failed');
        throw new ConnectorError('transient', `request to ${url.host} failed: no answer`);
      }
      await this.#heed(budget, res.headers);
      const cls = res.status >= 400 ? this.#classify(res) : undefined;
      if (cls?.kind === 'rate_limited') {
        providerRateLimited.inc({ provider: this.opts.provider ?? 'unknown' });
        // The caller gets the answer as it is, and everyone else on the account waits as asked.
        await budget.pause(this.#rateLimitWait(res, cls.waitMs, 0));
      }
      if (cls?.kind === 'auth' && !renewed) {
        renewed = true;
        if ((await auth.renew(headers)) !== 'failed') continue;
      }
      return res;
    }
  }

  /** What a failed answer means, by the provider's own classification, else by status. */
  #classify(res: ForwardedResponse): { kind: ConnectorErrorKind; waitMs?: number } {
    const isJson = (res.headers.get('content-type') ?? '').includes('json');
    let body: unknown = res.body.toString('utf8');
    if (isJson) {
      try {
        body = JSON.parse(body as string);
      } catch {
        // Classified by status alone.
      }
    }
    return (
      this.opts.policy.classify?.({ status: res.status, headers: res.headers, body }) ?? {
        kind: defaultKind(res.status),
      }
    );
  }

  async request<T = unknown>(req: RequestOptions): Promise<ProviderResponse<T>> {
    const { policy, auth } = this.opts;
    const budget = this.opts.budget(req.lane ?? 'default');
    const maxRetries = this.opts.maxRetries ?? 8;
    const maxWait = this.opts.maxRateLimitWaitMs ?? DEFAULT_MAX_RATE_LIMIT_WAIT_MS;
    let transientFailures = 0;
    let waitedMs = 0;
    // A token adopted from another process may already be expired at the provider too, so only a
    // token this request refreshed itself being refused means the credentials are bad.
    let refreshed = false;
    let adoptions = 0;
    const url = this.url(req.path, req.query);
    for (;;) {
      // Credentials first: renewing them takes a while, and a request must leave at its turn.
      const headers: Record<string, string> = {
        accept: 'application/json',
        ...(await auth.headers()),
        ...req.headers,
      };
      let body: string | undefined;
      if (req.rawBody) {
        headers['content-type'] = req.rawBody.contentType;
        body = req.rawBody.data;
      } else if (req.body !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(req.body);
      }
      await this.#turn(budget, maxWait, url);
      let res: ProviderResponse<T>;
      const sentAt = performance.now();
      try {
        this.requestCount++;
        const raw = await this.opts.outbound.request('provider', url, {
          method: req.method ?? 'GET',
          headers,
          body,
          redirect: 'follow',
          signal: this.#requestSignal(),
        });
        const text = await readCapped(raw, this.opts.maxResponseBytes ?? MAX_RESPONSE_BYTES);
        const isJson = (raw.headers.get('content-type') ?? '').includes('json');
        res = {
          status: raw.status,
          headers: raw.headers,
          body: (isJson && !req.text && text ? JSON.parse(text) : text) as T,
        };
        this.#observe(sentAt, res.status);
      } catch (err) {
        this.#observe(sentAt, undefined);
        // Stopped on purpose: not a failure of the provider's, and nothing to retry.
        this.opts.signal?.throwIfAborted();
        if (err instanceof OutboundDenied || err instanceof ResponseTooLarge) {
          throw new ConnectorError('validation', `request to ${url.host} refused: ${err.message}`);
        }
        // Connection dropped, timed out, or a body cut short: the same request may well work again.
        if (++transientFailures > maxRetries) {
          this.opts.log?.warn({ host: url.host, err }, 'provider request failed');
          throw new ConnectorError('transient', `request to ${url.host} failed: no answer after retries`);
        }
        await this.#unlessAborted(sleep(backoffMs(transientFailures)));
        continue;
      }
      await this.#heed(budget, res.headers);
      if (res.status < 400) return res;

      const cls = policy.classify?.(res) ?? { kind: defaultKind(res.status) };
      if (cls.kind === 'auth' && !refreshed && adoptions < MAX_ADOPTIONS) {
        const renewal = await auth.renew(headers);
        if (renewal === 'refreshed') refreshed = true;
        if (renewal === 'adopted') adoptions++;
        if (renewal !== 'failed') continue;
      }
      if (cls.kind === 'rate_limited') {
        providerRateLimited.inc({ provider: this.opts.provider ?? 'unknown' });
        const wait = this.#rateLimitWait(res, cls.waitMs, transientFailures);
        // Everyone on the account waits as asked, also when this request gives up.
        await budget.pause(wait);
        if (waitedMs + wait <= maxWait) {
          waitedMs += wait;
          this.opts.log?.debug({ host: url.host, wait }, 'provider rate limit: waiting');
          await this.#unlessAborted(sleep(wait));
          continue;
        }
      }
      if (cls.kind === 'transient' && ++transientFailures <= maxRetries) {
        await this.#unlessAborted(sleep(retryAfterMs(res.headers) ?? backoffMs(transientFailures)));
        continue;
      }
      throw new ConnectorError(
        cls.kind,
        `${req.method ?? 'GET'} ${withoutCredentials(url.pathname, headers)} answered ${res.status}`,
        res.status,
        res.body,
        cls.waitMs,
      );
    }
  }
}
