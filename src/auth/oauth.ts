import { type OutboundPolicy, type OutboundResponse, readCapped } from '../net/outbound.ts';

/** A token response is a small JSON document; anything larger is not one. */
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;

/** The client side of OAuth 2.0 token requests (authorization code exchange and refresh). */
export interface TokenEndpoint {
  tokenUrl: string;
  /** How the client authenticates: form fields, or HTTP Basic (some providers require Basic). */
  clientAuth: 'body' | 'basic';
  /**
   * The OAuth error code a failed token response means, for providers that say it otherwise than
   * in RFC 6749's `error` field; undefined when the body does not tell.
   */
  errorCode?(body: Record<string, unknown>): string | undefined;
}

/** An OAuth error code as RFC 6749 spells them; anything else is not taken from a response. */
const ERROR_CODE = /^[a-z_]{1,64}$/;

/** A failed token request; its message holds the status and OAuth error code, never provider text. */
export class TokenRequestError extends Error {
  constructor(
    /** The OAuth error code (`invalid_grant` means the grant was revoked or already used). */
    readonly error: string,
    message: string,
    readonly status: number,
    /** The provider's own description, for logs only. */
    readonly description?: string,
  ) {
    super(message);
  }

  get revoked(): boolean {
    return (
      this.error === 'invalid_grant' ||
      this.error === 'invalid_client' ||
      this.error === 'unauthorized_client'
    );
  }
}

export async function requestTokens(
  outbound: OutboundPolicy,
  endpoint: TokenEndpoint,
  client: { id: string; secret: string },
  params: Record<string, string>,
): Promise<Record<string, unknown>> {
  const form = new URLSearchParams(params);
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  if (endpoint.clientAuth === 'basic') {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`;
  } else {
    form.set('client_id', client.id);
    form.set('client_secret', client.secret);
  }
  let res: OutboundResponse;
  try {
    res = await outbound.request('provider', endpoint.tokenUrl, {
      method: 'POST',
      headers,
      body: form.toString(),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new TokenRequestError(
      'temporarily_unavailable',
      'token endpoint unreachable',
      0,
      (err as Error).message,
    );
  }
  const text = await readCapped(res, MAX_TOKEN_RESPONSE_BYTES).catch(() => '');
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Not JSON: an HTML error page or a truncated answer; described below by status.
  }
  if (!res.ok || typeof body.access_token !== 'string') {
    const providerCode = endpoint.errorCode?.(body);
    const error =
      typeof body.error === 'string' && ERROR_CODE.test(body.error)
        ? body.error
        : providerCode !== undefined && ERROR_CODE.test(providerCode)
          ? providerCode
          : res.status >= 500
            ? 'temporarily_unavailable'
            : 'invalid_request';
    const description =
      typeof body.error_description === 'string' ? body.error_description : text.slice(0, 200);
    throw new TokenRequestError(
      error,
      `token request failed (${res.status} ${error})`,
      res.status,
      description,
    );
  }
  return body;
}
