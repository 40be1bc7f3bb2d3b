import { createHash, randomBytes } from 'node:crypto';
import type { SimClock } from './clock.ts';
import type { FaultInjector } from './faults.ts';

export const TEST_CLIENT = { id: 'sim-client-id', secret: 'sim-client-secret' } as const;

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  scopes: string[];
  /** The account (portal, org, company) the tokens belong to. */
  accountId: string;
  userId: string;
}

interface AccessGrant {
  expiresAt: number;
  grant: RefreshGrant;
}

interface RefreshGrant {
  clientId: string;
  scopes: string[];
  accountId: string;
  userId: string;
}

interface AuthCode {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  codeChallenge?: string;
  codeChallengeMethod?: string;
  expiresAt: number;
}

export class OAuthError extends Error {
  constructor(
    readonly error: 'invalid_grant' | 'invalid_client' | 'invalid_request',
    readonly description: string,
  ) {
    super(description);
  }
}

/**
 * The provider side of OAuth 2.0: authorization codes (single use, PKCE-checked), access tokens
 * with a lifetime, refresh tokens that can rotate. Also API keys for key-based providers.
 */
export class TokenStore {
  readonly #access = new Map<string, AccessGrant>();
  readonly #refresh = new Map<string, RefreshGrant>();
  readonly #codes = new Map<string, AuthCode>();
  readonly clients = new Map<string, string>([[TEST_CLIENT.id, TEST_CLIENT.secret]]);
  refreshCount = 0;

  constructor(
    private readonly clock: SimClock,
    private readonly faults: FaultInjector,
    private readonly account: { accountId: string; userId: string },
  ) {}

  checkClient(clientId: string | undefined, clientSecret: string | undefined): void {
    if (!clientId || this.clients.get(clientId) !== clientSecret) {
      throw new OAuthError('invalid_client', 'unknown client or wrong client secret');
    }
  }

  createCode(c: Omit<AuthCode, 'expiresAt'>): string {
    const code = randomBytes(16).toString('hex');
    this.#codes.set(code, { ...c, expiresAt: this.clock.now() + 10 * 60_000 });
    return code;
  }

  #issue(refreshToken: string, grant: RefreshGrant): IssuedTokens {
    const accessToken = `sim-at-${randomBytes(18).toString('base64url')}`;
    const ttl = this.faults.current.token_ttl_seconds;
    this.#access.set(accessToken, { expiresAt: this.clock.now() + ttl * 1000, grant });
    return {
      accessToken,
      refreshToken,
      expiresIn: ttl,
      scopes: grant.scopes,
      accountId: grant.accountId,
      userId: grant.userId,
    };
  }

  /** Tokens for a client without the browser dance (`POST /__sim/tokens`). */
  grant(clientId: string, scopes: string[] = []): IssuedTokens {
    const refreshToken = `sim-rt-${randomBytes(18).toString('base64url')}`;
    const grant = { clientId, scopes, ...this.account };
    this.#refresh.set(refreshToken, grant);
    return this.#issue(refreshToken, grant);
  }

  exchangeCode(p: {
    code: string;
    clientId: string;
    redirectUri?: string;
    codeVerifier?: string;
  }): IssuedTokens {
    const code = this.#codes.get(p.code);
    this.#codes.delete(p.code);
    if (!code || code.expiresAt < this.clock.now())
      throw new OAuthError('invalid_grant', 'authorization code is invalid or expired');
    if (code.clientId !== p.clientId)
      throw new OAuthError('invalid_grant', 'code was issued to another client');
    if (p.redirectUri !== undefined && p.redirectUri !== code.redirectUri) {
      throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
    }
    if (code.codeChallenge) {
      if (!p.codeVerifier) throw new OAuthError('invalid_grant', 'code_verifier is required');
      const computed =
        code.codeChallengeMethod === 'plain'
          ? p.codeVerifier
          : createHash('sha256').update(p.codeVerifier).digest('base64url');
      if (computed !== code.codeChallenge)
        throw new OAuthError('invalid_grant', 'code_verifier does not match');
    }
    return this.grant(p.clientId, code.scopes);
  }

  refresh(p: { refreshToken: string; clientId: string }): IssuedTokens {
    this.refreshCount++;
    const grant = this.#refresh.get(p.refreshToken);
    if (!grant || grant.clientId !== p.clientId)
      throw new OAuthError('invalid_grant', 'refresh token is invalid');
    if (!this.faults.current.rotate_refresh_tokens) return this.#issue(p.refreshToken, grant);
    this.#refresh.delete(p.refreshToken);
    const rotated = `sim-rt-${randomBytes(18).toString('base64url')}`;
    this.#refresh.set(rotated, grant);
    return this.#issue(rotated, grant);
  }

  revokeRefreshToken(token: string): boolean {
    return this.#refresh.delete(token);
  }

  /** 'ok', or why a bearer token is not accepted. */
  check(accessToken: string | undefined): 'ok' | 'missing' | 'expired' | 'invalid' {
    if (!accessToken) return 'missing';
    const grant = this.#access.get(accessToken);
    if (!grant) return 'invalid';
    if (grant.expiresAt <= this.clock.now()) return 'expired';
    return 'ok';
  }

  infoFor(accessToken: string): (RefreshGrant & { expiresAt: number }) | undefined {
    const access = this.#access.get(accessToken);
    return access && { ...access.grant, expiresAt: access.expiresAt };
  }

  /** Makes every current access token expired (fault: token expiry). */
  expireAll(): void {
    for (const grant of this.#access.values()) grant.expiresAt = 0;
  }
}
