import { createHash, randomBytes } from 'node:crypto';

const PREFIX = 'trls_';

/** API keys are 192-bit random tokens, so a fast SHA-256 digest is a sufficient at-rest hash. */
export function generateApiKey(): string {
  return PREFIX + randomBytes(24).toString('base64url');
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** The part of a key that is safe to show in listings. */
export function keyHint(key: string): string {
  return `${key.slice(0, 9)}…${key.slice(-4)}`;
}
