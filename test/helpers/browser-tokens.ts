import { type KeyObject, sign } from 'node:crypto';

/** Browser tokens as a project's server signs them for the Platform API (decision 0017). */

export const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A compact JWT signed with RS256 by `privateKey`: any header and claims, for refusals too. */
export function rs256Token(privateKey: string | KeyObject, header: object, claims: object): string {
  const input = `${base64url({ alg: 'RS256', typ: 'JWT', ...header })}.${base64url(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

/** The claims Ampersand's documentation has a server sign, valid for five minutes. */
export const browserClaims = (groupRef: string, consumerRef: string, more: object = {}) => ({
  sub: 'someone@example.test',
  groupRef,
  consumerRef,
  iat: nowSeconds(),
  exp: nowSeconds() + 300,
  ...more,
});
