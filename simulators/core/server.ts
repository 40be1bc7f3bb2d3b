import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { SimClock } from './clock.ts';
import { type FaultDecision, FaultInjector, type Faults } from './faults.ts';
import { type ObjectDefinition, ObjectStore, type SimRecord } from './store.ts';
import { type IssuedTokens, OAuthError, TEST_CLIENT, TokenStore } from './tokens.ts';

/** Everything a provider's routes share: time, data, tokens and faults. */
export interface SimContext {
  readonly provider: ProviderSimulator;
  readonly seed: number;
  readonly clock: SimClock;
  readonly faults: FaultInjector;
  readonly tokens: TokenStore;
  readonly stores: Map<string, ObjectStore>;
  /** The simulator's own origin, e.g. http://127.0.0.1:9001 (known once listening). */
  url: string;
  /** Requests served per route, and the faults actually injected, by kind. */
  readonly stats: {
    requests: Record<string, number>;
    faults: Record<Exclude<FaultDecision, undefined>, number>;
    /** 429s the provider's own rate limits answered (injected ones left out). */
    rateLimited: number;
  };
  /** The provider's rate limits in force (its defaults, changed with POST /__sim/limits). */
  readonly limits: Record<string, number>;
  store(object: string): ObjectStore;
}

/** A provider, as the simulator framework needs to know it. */
export interface ProviderSimulator {
  name: string;
  /** The account the built-in test user belongs to (portal id, org id...) and that user. */
  account: { accountId: string; userId: string };
  objects: Record<string, ObjectDefinition>;
  /** Named rate limits with the provider's documented defaults (requests per window, daily budgets). */
  limits: Record<string, number>;
  /** The provider's id for record `seq` of `object`, and back. */
  idOf(object: string, seq: number): string;
  seqOf(object: string, id: string): number | undefined;
  /** The record as the provider's API shows it (used by GET /__sim/records). */
  present(ctx: SimContext, object: string, record: SimRecord): unknown;
  /** The token endpoint's JSON for freshly issued tokens. */
  tokenResponse(ctx: SimContext, tokens: IssuedTokens): Record<string, unknown>;
  /** Injected faults answer as the provider would. */
  rateLimited(ctx: SimContext, reply: FastifyReply, retryAfterSeconds: number): FastifyReply;
  serverError(ctx: SimContext, reply: FastifyReply): FastifyReply;
  /** Path prefixes that are not subject to injected faults (OAuth pages and token endpoints). */
  faultExempt?: string[];
  /**
   * Other prefixes the provider serves the same API under (another host's base path, an earlier
   * one), each mapped to the prefix its routes are registered under.
   */
  prefixAliases?: Record<string, string>;
  routes(app: FastifyInstance, ctx: SimContext): void | Promise<void>;
}

export interface RunningSimulator {
  url: string;
  ctx: SimContext;
  app: FastifyInstance;
  close(): Promise<void>;
}

export class SimHttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * When `req` reached the simulator, before the latency it adds: a provider counts a request
 * against its rate limits as it arrives, and the moment the simulator gets to its handler
 * (after the latency, behind the other answers it is busy with) would count bursts late.
 */
export function arrivedAt(ctx: SimContext, req: FastifyRequest): number {
  return (req as { arrivedAt?: number }).arrivedAt ?? ctx.clock.now();
}

/**
 * The provider's consent page for an authorization request: a real HTML page with Allow and Deny.
 * Providers call this from their authorize route.
 */
export function consentPage(ctx: SimContext, req: FastifyRequest, reply: FastifyReply, displayName: string) {
  const q = req.query as Record<string, string | undefined>;
  const problem = !q.client_id
    ? 'client_id is missing'
    : !ctx.tokens.clients.has(q.client_id)
      ? `unknown client_id ${q.client_id}`
      : !q.redirect_uri
        ? 'redirect_uri is missing'
        : q.response_type && q.response_type !== 'code'
          ? 'response_type must be code'
          : undefined;
  if (problem) {
    return reply
      .code(400)
      .type('text/html')
      .send(
        `<!doctype html><title>${displayName}: error</title><h1>Authorization error</h1><p>${escapeHtml(problem)}</p>`,
      );
  }
  const hidden = ['client_id', 'redirect_uri', 'state', 'scope', 'code_challenge', 'code_challenge_method']
    .filter((k) => q[k] !== undefined)
    .map((k) => `<input type="hidden" name="${k}" value="${escapeHtml(q[k]!)}">`)
    .join('');
  const scopes = (q.scope ?? '').split(/[ ,+]/).filter(Boolean);
  return reply.type('text/html').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${displayName} — authorize access</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}
button{font-size:1rem;padding:.6rem 1.4rem;margin-right:.6rem;border-radius:.4rem;border:1px solid #888;cursor:pointer}
#allow{background:#1a7f37;color:#fff;border-color:#1a7f37}</style></head>
<body><h1>${displayName} (simulator)</h1>
<p>An application (client <code>${escapeHtml(q.client_id!)}</code>) asks for access to account
<strong>${escapeHtml(ctx.provider.account.accountId)}</strong>${scopes.length ? ` with scopes: ${scopes.map((s) => `<code>${escapeHtml(s)}</code>`).join(', ')}` : ''}.</p>
<form method="post" action="/__sim/consent">${hidden}
<button id="allow" name="decision" value="allow" type="submit">Allow</button>
<button id="deny" name="decision" value="deny" type="submit">Deny</button></form></body></html>`);
}

function parseForm(body: unknown): Record<string, string> {
  if (typeof body === 'string') return Object.fromEntries(new URLSearchParams(body));
  return (body ?? {}) as Record<string, string>;
}

/** Reads a form-encoded or JSON token request body, plus HTTP Basic client credentials. */
export function tokenRequest(req: FastifyRequest): Record<string, string> {
  const fields = parseForm(req.body);
  const auth = req.headers.authorization;
  if (auth?.startsWith('Basic ')) {
    const [id, secret] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
    fields.client_id ??= decodeURIComponent(id ?? '');
    fields.client_secret ??= decodeURIComponent(secret ?? '');
  }
  return fields;
}

/**
 * Token endpoint logic shared by providers; they differ only in paths and response fields.
 * `respond` shapes the JSON (default: the provider's `tokenResponse`), for providers whose
 * `tokenResponse` issues something else through `POST /__sim/tokens` (API keys, key pairs).
 */
export function handleTokenRequest(
  ctx: SimContext,
  req: FastifyRequest,
  reply: FastifyReply,
  respond: (tokens: IssuedTokens) => Record<string, unknown> = (t) => ctx.provider.tokenResponse(ctx, t),
) {
  const f = tokenRequest(req);
  try {
    ctx.tokens.checkClient(f.client_id, f.client_secret);
    let tokens: IssuedTokens;
    if (f.grant_type === 'authorization_code') {
      if (!f.code) throw new OAuthError('invalid_request', 'code is required');
      tokens = ctx.tokens.exchangeCode({
        code: f.code,
        clientId: f.client_id!,
        redirectUri: f.redirect_uri,
        codeVerifier: f.code_verifier,
      });
    } else if (f.grant_type === 'refresh_token') {
      if (!f.refresh_token) throw new OAuthError('invalid_request', 'refresh_token is required');
      tokens = ctx.tokens.refresh({ refreshToken: f.refresh_token, clientId: f.client_id! });
    } else {
      throw new OAuthError('invalid_request', `unsupported grant_type ${f.grant_type ?? '(none)'}`);
    }
    return reply.send(respond(tokens));
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err;
    return reply
      .code(err.error === 'invalid_client' ? 401 : 400)
      .send({ error: err.error, error_description: err.description });
  }
}

/** The bearer token of a request, if any. */
export function bearer(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  return auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
}

function registerControlApi(app: FastifyInstance, ctx: SimContext) {
  const objectOf = (body: Record<string, unknown>) => {
    if (typeof body.object !== 'string') throw new SimHttpError(400, 'object is required');
    return ctx.store(body.object);
  };
  const count = (v: unknown, name: string) => {
    if (v === undefined) return 0;
    if (!Number.isInteger(v) || (v as number) < 0)
      throw new SimHttpError(400, `${name} must be a whole number`);
    return v as number;
  };

  app.post<{ Body: Record<string, unknown> }>('/__sim/seed', async (req) => {
    const store = objectOf(req.body ?? {});
    const n = count(req.body.count, 'count');
    if (n > 5_000_000) throw new SimHttpError(400, 'count is at most 5,000,000');
    store.reset(n);
    return { object: store.name, count: n };
  });

  app.post<{ Body: { client_id?: string; scopes?: string[] } | undefined }>('/__sim/tokens', async (req) => {
    const clientId = req.body?.client_id ?? TEST_CLIENT.id;
    if (!ctx.tokens.clients.has(clientId)) throw new SimHttpError(400, `unknown client ${clientId}`);
    return ctx.provider.tokenResponse(ctx, ctx.tokens.grant(clientId, req.body?.scopes ?? []));
  });

  app.post<{ Body: { client_id?: string; client_secret?: string } }>('/__sim/clients', async (req) => {
    const { client_id, client_secret } = req.body ?? {};
    if (!client_id || !client_secret) throw new SimHttpError(400, 'client_id and client_secret are required');
    ctx.tokens.clients.set(client_id, client_secret);
    return { client_id };
  });

  app.get<{ Params: { object: string } }>('/__sim/records/:object', async (req, reply) => {
    const store = ctx.store(req.params.object);
    const lines = function* () {
      for (const r of store.bySeq(0, true)) {
        yield `${JSON.stringify({
          id: ctx.provider.idOf(store.name, r.seq),
          deleted: r.deleted,
          updated_at: new Date(r.updatedAt).toISOString(),
          record: ctx.provider.present(ctx, store.name, r),
        })}\n`;
      }
    };
    return reply.type('application/x-ndjson').send(Readable.from(lines()));
  });

  /**
   * Simulated activity at the provider. Updates and deletions are picked among the records that
   * existed before this call, and never the same record twice, so the three lists are disjoint.
   */
  app.post<{ Body: Record<string, unknown> }>('/__sim/mutate', async (req) => {
    const store = objectOf(req.body ?? {});
    const salt = Math.floor(ctx.clock.now() / 7) % 1_000_003;
    const chosen = new Set<number>();
    const ids = (v: unknown, name: string, salt: number): number[] => {
      if (Array.isArray(v)) {
        return v.map((id) => {
          const seq = ctx.provider.seqOf(store.name, String(id));
          if (seq === undefined || !store.get(seq))
            throw new SimHttpError(404, `no ${store.name} with id ${id}`);
          return seq;
        });
      }
      const picked = store.pickLive(count(v, name), salt, chosen);
      for (const seq of picked) chosen.add(seq);
      return picked;
    };
    const toUpdate = ids(req.body.update, 'update', salt);
    const toDelete = ids(req.body.delete, 'delete', salt + 1);
    const created: string[] = [];
    const nCreate = count(req.body.create, 'create');
    const definition = ctx.provider.objects[store.name]!;
    for (let i = 0; i < nCreate; i++) {
      const r = store.create(definition.generate(ctx.seed + 17, store.size + i));
      created.push(ctx.provider.idOf(store.name, r.seq));
    }
    const updated = toUpdate.flatMap((seq) => (store.edit(seq) ? [ctx.provider.idOf(store.name, seq)] : []));
    const deleted = toDelete.flatMap((seq) =>
      store.delete(seq) ? [ctx.provider.idOf(store.name, seq)] : [],
    );
    return { object: store.name, created, updated, deleted };
  });

  app.post<{ Body: { advance_ms?: number } }>('/__sim/clock', async (req) => {
    try {
      return { now: new Date(ctx.clock.advance(req.body?.advance_ms ?? 0)).toISOString() };
    } catch (err) {
      throw new SimHttpError(400, (err as Error).message);
    }
  });

  app.get('/__sim/faults', async () => ctx.faults.current);
  app.post<{ Body: Partial<Faults> & { expire_tokens_now?: boolean } }>('/__sim/faults', async (req) => {
    const { expire_tokens_now, ...update } = req.body ?? {};
    if (expire_tokens_now) ctx.tokens.expireAll();
    try {
      return ctx.faults.set(update);
    } catch (err) {
      throw new SimHttpError(400, (err as Error).message);
    }
  });

  app.post<{ Body: { refresh_token?: string } }>('/__sim/revoke', async (req) => ({
    revoked: ctx.tokens.revokeRefreshToken(req.body?.refresh_token ?? ''),
  }));

  app.get('/__sim/limits', async () => ctx.limits);
  app.post<{ Body: Record<string, unknown> }>('/__sim/limits', async (req) => {
    for (const [key, value] of Object.entries(req.body ?? {})) {
      if (!(key in ctx.limits))
        throw new SimHttpError(400, `unknown limit "${key}" (known: ${Object.keys(ctx.limits).join(', ')})`);
      if (!Number.isInteger(value) || (value as number) < 1)
        throw new SimHttpError(400, `limit "${key}" must be a positive whole number`);
      ctx.limits[key] = value as number;
    }
    return ctx.limits;
  });

  app.get('/__sim/stats', async () => ({
    requests: ctx.stats.requests,
    faults_injected: ctx.stats.faults,
    rate_limited: ctx.stats.rateLimited,
    token_refreshes: ctx.tokens.refreshCount,
  }));

  app.post<{ Body: Record<string, string> | string }>('/__sim/consent', async (req, reply) => {
    const f = parseForm(req.body);
    if (!f.client_id || !ctx.tokens.clients.has(f.client_id) || !f.redirect_uri) {
      throw new SimHttpError(400, 'the consent form is incomplete');
    }
    const target = new URL(f.redirect_uri);
    if (f.decision === 'allow') {
      target.searchParams.set(
        'code',
        ctx.tokens.createCode({
          clientId: f.client_id,
          redirectUri: f.redirect_uri,
          scopes: (f.scope ?? '').split(/[ ,+]/).filter(Boolean),
          codeChallenge: f.code_challenge,
          codeChallengeMethod: f.code_challenge_method,
        }),
      );
    } else {
      target.searchParams.set('error', 'access_denied');
      target.searchParams.set('error_description', 'The user denied access');
    }
    if (f.state !== undefined) target.searchParams.set('state', f.state);
    return reply.redirect(target.toString(), 302);
  });
}

/** Starts a provider simulator on a loopback port (0 picks a free one). */
export async function startSimulator(
  provider: ProviderSimulator,
  opts: { port?: number; host?: string; records?: number; seed?: number; faults?: Partial<Faults> } = {},
): Promise<RunningSimulator> {
  const seed = opts.seed ?? 1;
  const clock = new SimClock();
  const faults = new FaultInjector(seed, opts.faults);
  const stores = new Map<string, ObjectStore>();
  for (const [name, definition] of Object.entries(provider.objects)) {
    const store = new ObjectStore(name, definition, seed, clock);
    store.reset(opts.records ?? 100);
    stores.set(name, store);
  }
  const ctx: SimContext = {
    provider,
    seed,
    clock,
    faults,
    tokens: new TokenStore(clock, faults, provider.account),
    stores,
    url: '',
    stats: { requests: {}, faults: { drop: 0, error: 0, rate_limit: 0, truncate: 0 }, rateLimited: 0 },
    limits: { ...provider.limits },
    store(object) {
      const store = stores.get(object);
      if (!store) throw new SimHttpError(404, `${provider.name} simulator has no object "${object}"`);
      return store;
    },
  };

  const aliases = Object.entries(provider.prefixAliases ?? {});
  const app = Fastify({
    logger: false,
    bodyLimit: 50 * 1024 * 1024,
    // A path with a trailing slash is the path without one, as providers and their SDKs have it
    // (HubSpot's SDK lists owners at /crm/v3/owners/; Salesforce documents /query/).
    routerOptions: { ignoreTrailingSlash: true },
    rewriteUrl: (req) => {
      const url = req.url ?? '/';
      const alias = aliases.find(([from]) => url.startsWith(from));
      return alias ? alias[1] + url.slice(alias[0].length) : url;
    },
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
    done(null, body),
  );
  const exempt = provider.faultExempt ?? [];
  app.addHook('onRequest', async (req, reply) => {
    (req as { arrivedAt?: number }).arrivedAt = ctx.clock.now();
    const path = req.url.split('?')[0]!;
    const key = `${req.method} ${req.routeOptions.url ?? path}`;
    ctx.stats.requests[key] = (ctx.stats.requests[key] ?? 0) + 1;
    const f = faults.current;
    if (path.startsWith('/__sim')) return;
    if (exempt.some((p) => path.startsWith(p))) {
      if (f.token_latency_ms > 0) await new Promise((r) => setTimeout(r, f.token_latency_ms));
      return;
    }
    if (f.latency_ms > 0) await new Promise((r) => setTimeout(r, f.latency_ms));
    const decision = faults.decide();
    if (decision && decision !== 'truncate') ctx.stats.faults[decision]++;
    if (decision === 'drop') {
      req.raw.socket.destroy();
      return reply.hijack();
    }
    if (decision === 'error') return provider.serverError(ctx, reply);
    if (decision === 'rate_limit') {
      (req as { injected429?: boolean }).injected429 = true;
      return provider.rateLimited(ctx, reply, f.rate_limit_retry_after_seconds);
    }
    if (decision === 'truncate') (req as { truncate?: boolean }).truncate = true;
  });
  app.addHook('onResponse', async (req, reply) => {
    if (reply.statusCode === 429 && !(req as { injected429?: boolean }).injected429) ctx.stats.rateLimited++;
  });
  app.addHook('onSend', async (req, reply, payload) => {
    if (!(req as { truncate?: boolean }).truncate || typeof payload !== 'string') return payload;
    ctx.stats.faults.truncate++;
    const bytes = Buffer.from(payload);
    reply.header('content-length', bytes.length);
    const half = bytes.subarray(0, Math.floor(bytes.length / 2));
    return new Readable({
      read() {
        this.push(half);
        this.destroy(new Error('simulated truncated response'));
      },
    });
  });
  app.setErrorHandler((err, _req, reply) => {
    const e = err as { statusCode?: number; message?: string };
    return reply.code(e.statusCode ?? 500).send({ error: e.message ?? 'simulator error' });
  });
  registerControlApi(app, ctx);
  await provider.routes(app, ctx);
  await app.listen({ port: opts.port ?? 0, host: opts.host ?? '127.0.0.1' });
  const address = app.server.address();
  ctx.url = `http://${opts.host ?? '127.0.0.1'}:${typeof address === 'object' && address ? address.port : 0}`;
  return { url: ctx.url, ctx, app, close: () => app.close() };
}
