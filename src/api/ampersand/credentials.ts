import type { FastifyRequest } from 'fastify';
import type { CoreDeps } from '../../core/deps.ts';
import { DomainError } from '../../core/errors.ts';
import { verifyBrowserToken } from '../../core/jwt-keys.ts';
import { authenticateApiKey } from '../../core/projects.ts';
import { AMPERSAND_CONTRACT } from './openapi.ts';

/**
 * The Ampersand dialect's credentials. Servers send one of the project's API keys (`X-Api-Key`);
 * pages of the project's product send a browser token instead (`Authorization: Bearer <JWT>`),
 * which the project's server signs with one of its JWT keys for one group and one consumer. Only
 * the Platform API takes browser tokens, and only for what its browser scope allows
 * (browser-scope.ts); Read, Write and the Proxy are called from servers and take API keys only.
 */

/** Whom a browser token acts for: one group (a customer) and one consumer (its end user). */
export interface BrowserToken {
  keyId: string;
  groupRef: string;
  consumerRef: string;
}

const browserTokens = new WeakMap<FastifyRequest, BrowserToken>();

/** The browser token the request was authenticated with; undefined for an API key. */
export const browserTokenOf = (req: FastifyRequest): BrowserToken | undefined => browserTokens.get(req);

/** The token of an `Authorization: Bearer` header ('' when it names none); undefined without one. */
const bearerToken = (req: FastifyRequest): string | undefined => {
  const authorization = req.headers.authorization ?? '';
  return /^bearer(\s|$)/i.test(authorization) ? authorization.slice(6).trim() : undefined;
};

const unauthorized = (detail: string) => new DomainError('unauthorized', detail);
const tokenRefused = (detail: string) => new DomainError('unauthorized', detail, { reason: 'invalid_token' });

/** The project of the request's `X-Api-Key`, for the APIs that servers call. */
export async function apiKeyProject(deps: CoreDeps, req: FastifyRequest): Promise<string> {
  const key = req.headers['x-api-key'];
  if (typeof key === 'string' && key !== '') {
    const projectId = await authenticateApiKey(deps.db, key);
    if (projectId) return projectId;
    throw unauthorized('the X-Api-Key header is not a valid API key');
  }
  if (bearerToken(req) !== undefined)
    throw unauthorized(
      "bearer tokens (JWT) are taken by the Platform API's browser operations only; send an X-Api-Key",
    );
  throw unauthorized('the X-Api-Key header is required');
}

/**
 * A claim naming whom the token acts for: a string that is not empty, within the length the
 * document allows a `groupRef` or `consumerRef` in a request, since it stands in for one.
 */
function refClaim(claims: Record<string, unknown>, name: 'groupRef' | 'consumerRef'): string {
  const value = claims[name];
  const max = AMPERSAND_CONTRACT.limits.maxLength;
  if (typeof value !== 'string' || value.trim() === '' || value.length > max)
    throw tokenRefused(`the bearer token has no ${name} claim (a string of 1 to ${max} characters)`);
  return value;
}

/**
 * The Platform API's credentials: an API key, or a browser token, which is remembered for the
 * request so that its scope can be enforced. A request carrying both is refused rather than
 * guessed at.
 */
export async function platformProject(deps: CoreDeps, req: FastifyRequest): Promise<string> {
  const token = bearerToken(req);
  if (token === undefined) return apiKeyProject(deps, req);
  if (req.headers['x-api-key']) throw unauthorized('send either an X-Api-Key or a bearer token, not both');
  if (token === '') throw tokenRefused('the Authorization header names no bearer token');
  const verified = await verifyBrowserToken(deps, token);
  browserTokens.set(req, {
    keyId: verified.keyId,
    groupRef: refClaim(verified.claims, 'groupRef'),
    consumerRef: refClaim(verified.claims, 'consumerRef'),
  });
  return verified.projectId;
}
