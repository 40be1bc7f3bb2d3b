import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Which web pages may call a surface from a browser (CORS). No cookies or other browser-held
 * credentials are ever accepted (API keys and tokens travel in headers the page sets), so an
 * allowed origin is answered with itself, or with `*`, and never with `allow-credentials`.
 */
export interface CorsPolicy {
  /** Exact origins (`https://app.example.com`), or `['*']` for any; empty: no cross-origin calls. */
  origins: readonly string[];
  /** Request headers a page may send beyond the CORS-safelisted ones, lower case. */
  headers: readonly string[];
}

/** How long a browser may reuse a preflight's answer (Chromium caps it at 2 hours). */
const PREFLIGHT_MAX_AGE_SECONDS = 7200;

/** The value of `access-control-allow-origin` for a request's `Origin`, if that origin is allowed. */
function allowedOrigin(policy: CorsPolicy, origin: string | undefined): string | undefined {
  if (origin === undefined) return undefined;
  if (policy.origins.includes('*')) return '*';
  return policy.origins.includes(origin) ? origin : undefined;
}

const isPreflight = (req: FastifyRequest) =>
  req.method === 'OPTIONS' &&
  typeof req.headers.origin === 'string' &&
  typeof req.headers['access-control-request-method'] === 'string';

/**
 * Applies the policy to a request before anything else looks at it: a preflight is answered here
 * (so it needs no credentials, which browsers never send on one), and any other request from an
 * allowed origin gets the header that lets its page read the answer, errors included. Returns
 * whether the request has been answered.
 */
export function applyCors(
  policy: CorsPolicy,
  methods: readonly string[],
  req: FastifyRequest,
  reply: FastifyReply,
): boolean {
  const origin = typeof req.headers.origin === 'string' ? req.headers.origin : undefined;
  const allowed = allowedOrigin(policy, origin);
  // The answer depends on the Origin header unless it is the same for everyone.
  if (!policy.origins.includes('*')) reply.header('vary', 'origin');
  if (allowed) reply.header('access-control-allow-origin', allowed);
  if (!isPreflight(req)) return false;
  // A preflight from an origin that is not allowed gets no permission, and the browser stops there.
  if (allowed) {
    reply
      .header('access-control-allow-methods', methods.join(', '))
      .header('access-control-allow-headers', policy.headers.join(', '))
      .header('access-control-max-age', String(PREFLIGHT_MAX_AGE_SECONDS));
  }
  reply.code(204).send();
  return true;
}
