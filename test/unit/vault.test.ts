import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SEALED_COLUMNS, Vault } from '../../src/auth/vault.ts';

const CREDENTIALS = SEALED_COLUMNS.connectionCredentials;
const ROW = '8f8e9a2c-1b7d-4c3e-9a51-0d2b6c1e4f70';

/** A value in the first format (`v1.<iv>.<tag>.<ciphertext>`, no associated data), as older databases hold. */
function sealV1(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv, cipher.getAuthTag(), ciphertext]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

describe('vault', () => {
  const key = randomBytes(32);
  const vault = new Vault(key);

  it('round-trips text and JSON with a fresh IV each time, naming its key', () => {
    const a = vault.seal('s3cret', CREDENTIALS, ROW);
    const b = vault.seal('s3cret', CREDENTIALS, ROW);
    expect(a).not.toBe(b);
    expect(a).not.toContain('s3cret');
    expect(a.startsWith(`v2.${vault.keyId}.`)).toBe(true);
    expect(vault.open(a, CREDENTIALS, ROW)).toBe('s3cret');
    expect(vault.openJson(vault.sealJson({ k: [1, 'ü'] }, CREDENTIALS, ROW), CREDENTIALS, ROW)).toEqual({
      k: [1, 'ü'],
    });
  });

  it('opens a value only in the row and column it was sealed for', () => {
    const sealed = vault.seal('payload', CREDENTIALS, ROW);
    expect(() => vault.open(sealed, CREDENTIALS, '00000000-0000-4000-8000-000000000000')).toThrow();
    expect(() => vault.open(sealed, SEALED_COLUMNS.providerAppSecret, ROW)).toThrow();
    expect(() => vault.open(sealed, { ...CREDENTIALS, table: 'other' }, ROW)).toThrow();
  });

  it('rejects tampered values, unknown keys and plaintext', () => {
    const sealed = vault.seal('payload', CREDENTIALS, ROW);
    const parts = sealed.split('.');
    const flipped = Buffer.from(parts[4]!, 'base64url');
    flipped[0]! ^= 1;
    parts[4] = flipped.toString('base64url');
    expect(() => vault.open(parts.join('.'), CREDENTIALS, ROW)).toThrow();
    expect(() => new Vault(randomBytes(32)).open(sealed, CREDENTIALS, ROW)).toThrow('does not have');
    expect(() => vault.open('plaintext', CREDENTIALS, ROW)).toThrow('not a sealed value');
  });

  it('reads values of a previous key and of the first format, and says they need re-sealing', () => {
    const next = new Vault(randomBytes(32), [key]);
    const old = vault.seal('before rotation', CREDENTIALS, ROW);
    const legacy = sealV1(key, 'first format');
    expect(next.open(old, CREDENTIALS, ROW)).toBe('before rotation');
    expect(next.open(legacy, CREDENTIALS, ROW)).toBe('first format');
    expect(next.isCurrent(old)).toBe(false);
    expect(next.isCurrent(legacy)).toBe(false);
    expect(next.isCurrent(next.seal('x', CREDENTIALS, ROW))).toBe(true);
    // Without the previous key, neither can be read.
    expect(() => new Vault(randomBytes(32)).open(legacy, CREDENTIALS, ROW)).toThrow();
  });
});
