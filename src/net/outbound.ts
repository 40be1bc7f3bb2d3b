import dns from 'node:dns/promises';
import type { IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import type { Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { Agent, buildConnector, type Dispatcher, interceptors } from 'undici';
import { addCidr, bareHost, parseAllowances } from '../util/addresses.ts';

/**
 * Why Trellis opens a connection. Providers are public SaaS, so provider calls reach public
 * addresses only; webhooks and destinations may live in the operator's own network.
 */
export type OutboundPurpose = 'provider' | 'webhook' | 'destination';

export interface OutboundSettings {
  /** Deny private ranges to webhooks and destinations too (operators hosting untrusted tenants). */
  strict: boolean;
  /** Let webhooks and destinations reach loopback (a local installation talking to itself). */
  allowLoopback: boolean;
  /** CIDRs, addresses and host names always allowed (`TRELLIS_ALLOWED_OUTBOUND`). */
  allowed: string[];
  /** Hosts that stand in for providers (`TRELLIS_PROVIDER_OVERRIDES`): allowed for provider calls. */
  providerHosts: string[];
}

/** What `OutboundPolicy.request` sends. */
export interface OutboundRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** `follow`: redirects are followed; by default a redirect is the answer. */
  redirect?: 'follow' | 'manual';
  signal?: AbortSignal;
}

/** An answer from outside. Its body is read once (`readCapped`, `readCappedBytes`) or `discard`ed. */
export interface OutboundResponse {
  status: number;
  /** A 2xx status. */
  ok: boolean;
  headers: Headers;
  body: Dispatcher.ResponseData['body'];
}

/** The content codings answers may come in, and how `readCappedBytes` decodes each. */
const DECODERS: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};
const ACCEPTED_ENCODINGS = 'gzip, deflate, br';

/** Redirects a request that follows them takes at most (as `fetch` does). */
const MAX_REDIRECTS = 20;

/** Loopback host names and addresses, as a public URL may name them. */
export function isLoopbackHost(host: string): boolean {
  const bare = bareHost(host);
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (!net.isIP(bare)) return false;
  const { address, family } = normalize(bare);
  return LOOPBACK.check(address, family);
}

/** A connection the outbound policy refuses; its message names the host, never a response. */
export class OutboundDenied extends Error {
  constructor(
    readonly host: string,
    readonly reason: string,
  ) {
    super(`outbound connection to ${host} denied: ${reason}`);
  }
}

/**
 * A name that does not resolve now: no refusal (a lookup can fail for a moment), so callers treat
 * it as they treat a connection that failed, and may try again.
 */
export class OutboundUnresolved extends Error {
  readonly code = 'ENOTFOUND';
  constructor(readonly host: string) {
    super(`${host} does not resolve`);
  }
}

/** No purpose reaches these: "this network", link-local (cloud metadata), multicast, reserved. */
const NEVER = blockList(
  ['0.0.0.0/8', '169.254.0.0/16', '224.0.0.0/4', '240.0.0.0/4'],
  ['::/128', 'fe80::/10', 'ff00::/8'],
);
const LOOPBACK = blockList(['127.0.0.0/8'], ['::1/128']);
/** Private, shared (carrier NAT), benchmarking and unique-local ranges. */
const PRIVATE = blockList(
  ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '198.18.0.0/15'],
  ['fc00::/7'],
);

function blockList(v4: string[], v6: string[]): net.BlockList {
  const list = new net.BlockList();
  for (const cidr of v4) addCidr(list, cidr);
  for (const cidr of v6) addCidr(list, cidr);
  return list;
}

/** An IPv6 address that carries an IPv4 one (mapped, NAT64) is judged as that IPv4 address. */
function normalize(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  if (net.isIP(address) === 4) return { address, family: 'ipv4' };
  const embedded = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (embedded) return { address: embedded, family: 'ipv4' };
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (hex) {
    const n = (Number.parseInt(hex[1]!, 16) << 16) | Number.parseInt(hex[2]!, 16);
    return { address: [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.'), family: 'ipv4' };
  }
  return { address, family: 'ipv6' };
}

/**
 * The one network policy every outbound connection passes: provider API and token calls,
 * webhooks, destination databases and the proxy. It judges the address actually connected to,
 * after resolution, so a name that resolves (or re-resolves) to an internal address is refused.
 */
export class OutboundPolicy {
  readonly #allowed: { addresses: net.BlockList; hosts: Set<string> };
  readonly #providerHosts: Set<string>;
  readonly #agents = new Map<OutboundPurpose, Agent>();
  readonly #following = new Map<OutboundPurpose, Dispatcher>();

  constructor(private readonly settings: OutboundSettings) {
    this.#allowed = parseAllowances(settings.allowed);
    this.#providerHosts = new Set(settings.providerHosts.map(bareHost));
  }

  #hostAllowed(purpose: OutboundPurpose, host: string): boolean {
    if (purpose === 'provider' && this.#providerHosts.has(host)) return true;
    if (this.#allowed.hosts.has(host)) return true;
    for (const entry of this.#allowed.hosts) {
      if (entry.startsWith('*.') && host.endsWith(entry.slice(1))) return true;
    }
    return false;
  }

  /** Why `purpose` may not connect to `address` (reached through the name `host`), or undefined. */
  denial(purpose: OutboundPurpose, host: string, address: string): string | undefined {
    if (this.#hostAllowed(purpose, bareHost(host))) return undefined;
    const { address: ip, family } = normalize(address);
    if (this.#allowed.addresses.check(ip, family)) return undefined;
    if (NEVER.check(ip, family)) return 'a link-local, multicast or reserved address';
    if (LOOPBACK.check(ip, family)) {
      if (purpose === 'provider') return 'providers are reached on public addresses only';
      return this.settings.allowLoopback ? undefined : 'loopback is not allowed';
    }
    if (PRIVATE.check(ip, family)) {
      if (purpose === 'provider') return 'providers are reached on public addresses only';
      return this.settings.strict ? 'private addresses are not allowed' : undefined;
    }
    return undefined;
  }

  /**
   * The addresses of `host` that `purpose` may connect to, first the preferred; throws
   * OutboundDenied, or OutboundUnresolved.
   */
  async resolve(purpose: OutboundPurpose, rawHost: string): Promise<string[]> {
    const host = bareHost(rawHost);
    let addresses: string[];
    if (net.isIP(host)) {
      addresses = [host];
    } else {
      try {
        addresses = (await dns.lookup(host, { all: true, verbatim: true })).map((a) => a.address);
      } catch {
        throw new OutboundUnresolved(host);
      }
    }
    const reasons = addresses.map((a) => this.denial(purpose, host, a));
    const allowed = addresses.filter((_, i) => reasons[i] === undefined);
    if (allowed.length === 0) throw new OutboundDenied(host, reasons[0] ?? 'no address');
    return allowed;
  }

  /**
   * Why `purpose` may not reach `host`, for a clear answer when a URL or host is configured; a
   * name that does not resolve yet is not refused here (every connection is checked again).
   */
  async refusal(purpose: OutboundPurpose, host: string): Promise<string | undefined> {
    try {
      await this.resolve(purpose, host);
      return undefined;
    } catch (err) {
      if (err instanceof OutboundUnresolved) return undefined;
      return (err as OutboundDenied).reason;
    }
  }

  /** The connection pool of `purpose`, whose every connection is checked at connect time. */
  #agent(purpose: OutboundPurpose): Agent {
    let agent = this.#agents.get(purpose);
    if (!agent) {
      const connect = buildConnector({ timeout: 10_000 });
      agent = new Agent({
        connect: (opts, callback) => {
          const host = bareHost(opts.hostname);
          this.resolve(purpose, host).then(
            ([address]) =>
              connect(
                { ...opts, hostname: address!, servername: net.isIP(host) ? undefined : host },
                callback,
              ),
            (err: Error) => callback(err, null),
          );
        },
      });
      this.#agents.set(purpose, agent);
    }
    return agent;
  }

  /** The agent, with `followRedirects` following them through it: each hop is checked like the first. */
  #dispatcher(purpose: OutboundPurpose, followRedirects: boolean): Dispatcher {
    if (!followRedirects) return this.#agent(purpose);
    let following = this.#following.get(purpose);
    if (!following) {
      following = this.#agent(purpose).compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTS }));
      this.#following.set(purpose, following);
    }
    return following;
  }

  /**
   * An HTTP request through the policy. A redirect is the answer unless `redirect` is `follow`
   * (each hop is checked like the first, and credentials are not carried to another origin).
   * undici's `request` rather than `fetch`: the same connection pool without WHATWG streams costs
   * about a quarter of a millisecond less CPU a request (a sync's pages are thousands of them).
   */
  async request(
    purpose: OutboundPurpose,
    url: string | URL,
    init: OutboundRequest = {},
  ): Promise<OutboundResponse> {
    const target = new URL(url);
    if (target.protocol !== 'https:' && target.protocol !== 'http:') {
      throw new OutboundDenied(target.host, `${target.protocol} is not http(s)`);
    }
    // A redirect loop fails the request rather than answering its last redirect (undici's types omit it).
    const options: Dispatcher.RequestOptions & { throwOnMaxRedirect: boolean } = {
      origin: target.origin,
      path: target.pathname + target.search,
      method: (init.method ?? 'GET') as Dispatcher.HttpMethod,
      // As `fetch` asks: providers compress large pages, which are then a fraction on the wire;
      // and named, as some APIs and their firewalls require.
      headers: { 'accept-encoding': ACCEPTED_ENCODINGS, 'user-agent': 'Trellis', ...init.headers },
      body: init.body,
      signal: init.signal,
      throwOnMaxRedirect: true,
    };
    const res = await this.#dispatcher(purpose, init.redirect === 'follow').request(options);
    try {
      return {
        status: res.statusCode,
        ok: res.statusCode >= 200 && res.statusCode < 300,
        headers: headersOf(res.headers),
        body: res.body,
      };
    } catch (err) {
      // Headers a `Headers` refuses: the answer is dropped, its connection with it.
      res.body.destroy();
      throw err;
    }
  }

  async close(): Promise<void> {
    for (const agent of this.#agents.values()) await agent.close();
    this.#agents.clear();
    this.#following.clear();
  }
}

/** A response body as text, refusing one larger than `maxBytes` (a hostile or broken peer). */
export async function readCapped(res: OutboundResponse, maxBytes: number): Promise<string> {
  return (await readCappedBytes(res, maxBytes)).toString('utf8');
}

/**
 * A response body, decoded if it came compressed in one coding Trellis asks for (any other comes
 * as it is, as from `fetch`), refusing one larger than `maxBytes` decoded.
 */
export async function readCappedBytes(res: OutboundResponse, maxBytes: number): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    discard(res);
    throw new ResponseTooLarge(maxBytes);
  }
  const decoder = DECODERS[res.headers.get('content-encoding')?.trim().toLowerCase() ?? ''];
  let content: Readable = res.body;
  if (decoder) {
    const decoding = decoder();
    res.body.on('error', (err) => decoding.destroy(err));
    content = res.body.pipe(decoding);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of content as AsyncIterable<Buffer>) {
      size += chunk.byteLength;
      if (size > maxBytes) throw new ResponseTooLarge(maxBytes);
      chunks.push(chunk);
    }
  } finally {
    // Left early (too large, or a broken coding): the rest is never downloaded.
    if (!res.body.readableEnded) res.body.destroy();
  }
  return Buffer.concat(chunks, size);
}

/**
 * Drops an answer unread, without waiting for it: past its first byte the connection is closed
 * rather than read on, so a peer cannot make Trellis download.
 */
export function discard(res: OutboundResponse): void {
  void res.body.dump({ limit: 1 });
}

function headersOf(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.append(name, value);
  }
  return headers;
}

export class ResponseTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`the response is larger than ${maxBytes} bytes`);
  }
}
