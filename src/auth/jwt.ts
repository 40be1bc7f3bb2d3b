import { createPublicKey, type KeyObject, verify } from 'node:crypto';

/**
 * JSON Web Tokens signed with RS256 (RFC 7515's compact form, RFC 7519's claims), verified with
 * node:crypto. The verifier fixes the algorithm, never the token: `none`, HMAC keyed with the
 * public key, and every other `alg` are refused before any key is looked at.
 */

/** Why a token is refused, worded to follow "the token"; it never quotes the token. */
export class JwtRefused extends Error {}

export type JsonObject = Record<string, unknown>;

export interface VerifiedJwt<K> {
  header: JsonObject;
  claims: JsonObject;
  /** What `keyFor` found for the token's header. */
  key: K;
}

/** What a token's times must satisfy. */
export interface JwtTimeRules {
  /** Now, in seconds since 1970. */
  now: number;
  /** How far the signer's clock and this one may disagree, in seconds. */
  clockSkewSeconds: number;
  /** The longest a token may be valid for (`exp` − `iat`), in seconds. */
  maxLifetimeSeconds: number;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

function jsonPart(part: string, what: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new JwtRefused(`has a ${what} that is not a base64url-encoded JSON object`);
  return value as JsonObject;
}

/** An `alg` named in a refusal: short names as they are, anything else described. */
const algName = (alg: unknown) =>
  typeof alg === 'string' && /^[A-Za-z0-9_-]{1,16}$/.test(alg) ? `alg "${alg}"` : 'no usable alg';

/** A NumericDate claim (seconds since 1970), if present. */
function numericDate(claims: JsonObject, name: string): number | undefined {
  const value = claims[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new JwtRefused(`has a ${name} claim that is not a NumericDate (seconds since 1970)`);
  return value;
}

const when = (seconds: number) => {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? `${seconds}` : date.toISOString();
};

/**
 * `exp` and `iat` are required: a token says when it was issued and when it ends, and lives at
 * most `maxLifetimeSeconds`; `nbf` is honoured when present. Each check allows the clock skew.
 */
function checkTimes(claims: JsonObject, rules: JwtTimeRules): void {
  const { now, clockSkewSeconds: skew, maxLifetimeSeconds: max } = rules;
  const exp = numericDate(claims, 'exp');
  const iat = numericDate(claims, 'iat');
  const nbf = numericDate(claims, 'nbf');
  if (exp === undefined) throw new JwtRefused('has no exp claim: every token must expire');
  if (iat === undefined) throw new JwtRefused('has no iat claim: every token must say when it was issued');
  if (exp <= iat) throw new JwtRefused('expires (exp) before it is issued (iat)');
  if (exp - iat > max)
    throw new JwtRefused(`is valid for ${exp - iat} seconds (exp − iat), more than the ${max} allowed`);
  if (iat > now + skew) throw new JwtRefused(`is issued in the future (iat ${when(iat)})`);
  if (nbf !== undefined && nbf > now + skew) throw new JwtRefused(`is not valid before ${when(nbf)} (nbf)`);
  if (now >= exp + skew) throw new JwtRefused(`expired at ${when(exp)}`);
}

/**
 * Verifies a compact RS256 JWT: its form, its algorithm, its signature with the public key
 * `keyFor` finds for its header (it throws JwtRefused when there is none), then its times. The
 * claims are read only once the signature holds. Throws JwtRefused.
 */
export async function verifyRs256Jwt<K>(
  token: string,
  keyFor: (header: JsonObject) => Promise<{ publicKey: KeyObject; key: K }>,
  rules: JwtTimeRules,
): Promise<VerifiedJwt<K>> {
  const parts = token.split('.');
  const [headerPart = '', payloadPart = '', signaturePart = ''] = parts;
  if (parts.length !== 3 || !BASE64URL.test(headerPart) || !BASE64URL.test(payloadPart))
    throw new JwtRefused('is not a JWT: three base64url parts separated by dots');
  const header = jsonPart(headerPart, 'header');
  if (header.alg !== 'RS256')
    throw new JwtRefused(`is signed with ${algName(header.alg)}: only RS256 is accepted`);
  if (header.crit !== undefined)
    throw new JwtRefused('names critical header parameters (crit), which are not understood here');
  if (!BASE64URL.test(signaturePart)) throw new JwtRefused('has no signature');
  const { publicKey, key } = await keyFor(header);
  const signingInput = Buffer.from(`${headerPart}.${payloadPart}`);
  if (!verify('sha256', signingInput, publicKey, Buffer.from(signaturePart, 'base64url')))
    throw new JwtRefused('has a signature that does not verify with its key');
  const claims = jsonPart(payloadPart, 'payload');
  checkTimes(claims, rules);
  return { header, claims, key };
}

/** The sizes of RSA keys taken for RS256: NIST's minimum, and a bound on the cost of a verification. */
export const RSA_KEY_BITS = { min: 2048, max: 8192 };

const PUBLIC_KEY_LABELS = ['PUBLIC KEY', 'RSA PUBLIC KEY'];

/**
 * What is wrong with text given as an RSA public key for RS256, worded to follow its name; none
 * when it is one PEM block of an RSA public key (SPKI or PKCS#1) of an accepted size. Private keys
 * and certificates are refused: only the public key is kept, and it is shown back.
 */
export function rsaPublicKeyProblem(pem: string): string | undefined {
  const labels = [...pem.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((m) => m[1]!);
  if (labels.length !== 1) return 'must be one PEM block (-----BEGIN PUBLIC KEY-----)';
  if (!PUBLIC_KEY_LABELS.includes(labels[0]!))
    return `is a PEM "${labels[0]}" block: give the RSA public key (-----BEGIN PUBLIC KEY-----)`;
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    return 'is not a valid RSA public key in PEM format';
  }
  if (key.asymmetricKeyType !== 'rsa')
    return `is a key of type ${key.asymmetricKeyType ?? 'unknown'}: only RSA keys verify RS256 tokens`;
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < RSA_KEY_BITS.min || bits > RSA_KEY_BITS.max)
    return `is an RSA key of ${bits} bits: RSA keys of ${RSA_KEY_BITS.min} to ${RSA_KEY_BITS.max} bits are taken`;
  return undefined;
}
