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
   * window resets, and the window's size, from which the pace is set.
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

/** Adopted tokens a request tries before it refreshes itself (other processes may refresh in turn). */
const MAX_ADOPTIONS = 3;

/**
 * Paces requests of one connection: a steady rate from the catalog, plus pauses when the provider
 * reports its budget spent or asks us to wait. Shared by everything in this process that talks to
 * the same connection.
 */
export class RequestPacer {
  #next = 0;
  #pausedUntil = 0;

  /** `ceiling`: a pace the budget headers may slow, never pass (one the connection chose). */
  constructor(
    private requestsPerSecond: number,
    private readonly ceiling = Number.POSITIVE_INFINITY,
  ) {}

  /** Adopts the pace the provider's own budget headers allow (kept 10% under it), up to the ceiling. */
  adapt(limit: number, windowMs: number): void {
    if (limit > 0 && windowMs > 0)
      this.requestsPerSecond = Math.min(this.ceiling, ((limit * 1000) / windowMs) * 0.9);
  }

  async acquire(): Promise<void> {
    const now = Date.now();
    const slot = Math.max(now, this.#next, this.#pausedUntil);
    this.#next = slot + 1000 / this.requestsPerSecond;
    if (slot > now) await sleep(slot - now);
  }

  pause(ms: number): void {
    this.#pausedUntil = Math.max(this.#pausedUntil, Date.now() + ms);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
  /** Requests under a separate limit (e.g. HubSpot search) are paced in their own lane. */
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

  constructor(
    private readonly opts: {
      baseUrl: string;
      /** The provider's name, as metrics label its requests. */
      provider?: string;
      auth: Authenticator;
      outbound: OutboundPolicy;
      policy: ProviderPolicy;
      /** The pacer of a lane of this connection (`default` unless a request names one). */
      pacer: (lane: string) => RequestPacer;
      log?: Logger;
      maxRetries?: number;
      /** Longest total wait for rate limits before giving up with a rate_limited error. */
      maxRateLimitWaitMs?: number;
      timeoutMs?: number;
      /** The largest response body read; a larger one fails the request (not retried). */
      maxResponseBytes?: number;
    },
  ) {}

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

  url(path: string, query?: RequestOptions['query']): URL {
    const url = /^https?:\/\//.test(path)
      ? new URL(path)
      : new URL(this.opts.baseUrl.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  /**
   * Sends a request as its caller wrote it and returns the provider's answer whatever its status:
   * paced, with the connection's credentials (renewed once if the provider says they expired), and
   * through the outbound policy. Nothing is retried and redirects are returned, not followed: the
   * caller decides, as it would talking to the provider itself.
   */
  async forward(req: ForwardRequest): Promise<ForwardedResponse> {
    const { policy, auth } = this.opts;
    const base = new URL(this.opts.baseUrl);
    const url = new URL(this.opts.baseUrl.replace(/\/$/, '') + req.pathAndQuery);
    // The path is the caller's: it may not lead to another host with the connection's credentials.
    if (url.origin !== base.origin)
      throw new ConnectorError('validation', `the path leads away from ${base.host}`);
    const pacer = this.opts.pacer('default');
    let renewed = false;
    for (;;) {
      await pacer.acquire();
      const headers = { ...req.headers, ...(await auth.headers()) };
      let res: ForwardedResponse;
      const sentAt = performance.now();
      try {
        this.requestCount++;
        const raw = await this.opts.outbound.fetch('provider', url, {
          method: req.method,
          headers,
          body: req.body,
          redirect: 'manual',
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 120_000),
        });
        res = {
          status: raw.status,
          headers: raw.headers,
          body: await readCappedBytes(raw, req.maxResponseBytes),
        };
        this.#observe(sentAt, res.status);
      } catch (err) {
        this.#observe(sentAt, undefined);
        if (err instanceof OutboundDenied)
          throw new ConnectorError('validation', `request to ${url.host} refused: ${err.message}`);
        if (err instanceof ResponseTooLarge)
          throw new ConnectorError('validation', `${url.host} answered with more than ${err.maxBytes} bytes`);
        this.opts.log?.warn({ host: url.host, err }, 'provider request failed');
        throw new ConnectorError('transient', `request to ${url.host} failed: no answer`);
      }
      const budget = policy.budget?.(res.headers);
      if (budget?.limit && budget.windowMs) pacer.adapt(budget.limit, budget.windowMs);
      if (budget && budget.remaining <= 0) pacer.pause(budget.resetInMs);
      const kind = res.status >= 400 ? this.#kindOf(res) : undefined;
      if (kind === 'rate_limited') providerRateLimited.inc({ provider: this.opts.provider ?? 'unknown' });
      if (kind === 'auth' && !renewed) {
        renewed = true;
        if ((await auth.renew(headers)) !== 'failed') continue;
      }
      return res;
    }
  }

  /** What a failed answer means, by the provider's own classification, else by status. */
  #kindOf(res: ForwardedResponse): ConnectorErrorKind {
    const isJson = (res.headers.get('content-type') ?? '').includes('json');
    let body: unknown = res.body.toString('utf8');
    if (isJson) {
      try {
        body = JSON.parse(body as string);
      } catch {
        // Classified by status alone.
      }
    }
    const kind = this.opts.policy.classify?.({ status: res.status, headers: res.headers, body })?.kind;
    return kind ?? defaultKind(res.status);
  }

  async request<T = unknown>(req: RequestOptions): Promise<ProviderResponse<T>> {
    const { policy, auth } = this.opts;
    const pacer = this.opts.pacer(req.lane ?? 'default');
    const maxRetries = this.opts.maxRetries ?? 8;
    const maxWait = this.opts.maxRateLimitWaitMs ?? 15 * 60_000;
    let transientFailures = 0;
    let waitedMs = 0;
    // A token adopted from another process may already be expired at the provider too, so only a
    // token this request refreshed itself being refused means the credentials are bad.
    let refreshed = false;
    let adoptions = 0;
    const url = this.url(req.path, req.query);
    for (;;) {
      await pacer.acquire();
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
      let res: ProviderResponse<T>;
      const sentAt = performance.now();
      try {
        this.requestCount++;
        const raw = await this.opts.outbound.fetch('provider', url, {
          method: req.method ?? 'GET',
          headers,
          body,
          redirect: 'follow',
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 120_000),
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
        if (err instanceof OutboundDenied || err instanceof ResponseTooLarge) {
          throw new ConnectorError('validation', `request to ${url.host} refused: ${err.message}`);
        }
        // Connection dropped, timed out, or a body cut short: the same request may well work again.
        if (++transientFailures > maxRetries) {
          this.opts.log?.warn({ host: url.host, err }, 'provider request failed');
          throw new ConnectorError('transient', `request to ${url.host} failed: no answer after retries`);
        }
        await sleep(backoffMs(transientFailures));
        continue;
      }
      const budget = policy.budget?.(res.headers);
      if (budget?.limit && budget.windowMs) pacer.adapt(budget.limit, budget.windowMs);
      if (budget && budget.remaining <= 0) pacer.pause(budget.resetInMs);
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
        const wait = cls.waitMs ?? retryAfterMs(res.headers) ?? backoffMs(Math.min(transientFailures + 2, 6));
        if (waitedMs + wait <= maxWait) {
          waitedMs += wait;
          this.opts.log?.debug({ host: url.host, wait }, 'provider rate limit: waiting');
          pacer.pause(wait);
          continue;
        }
      }
      if (cls.kind === 'transient' && ++transientFailures <= maxRetries) {
        await sleep(retryAfterMs(res.headers) ?? backoffMs(transientFailures));
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
