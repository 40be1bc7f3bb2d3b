import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Vault } from '../../src/auth/vault.ts';

describe('vault', () => {
  const vault = new Vault(randomBytes(32));

  it('round-trips text and JSON, with a fresh IV each time', () => {
    const a = vault.encrypt('s3cret');
    const b = vault.encrypt('s3cret');
    expect(a).not.toBe(b);
    expect(a).not.toContain('s3cret');
    expect(vault.decrypt(a)).toBe('s3cret');
    expect(vault.decryptJson(vault.encryptJson({ k: [1, 'ü'] }))).toEqual({ k: [1, 'ü'] });
  });

  it('rejects tampered values and other keys', () => {
    const sealed = vault.encrypt('payload');
    const [v, iv, tag, ct] = sealed.split('.');
    const flipped = Buffer.from(ct!, 'base64url');
    flipped[0]! ^= 1;
    expect(() => vault.decrypt([v, iv, tag, flipped.toString('base64url')].join('.'))).toThrow();
    expect(() => new Vault(randomBytes(32)).decrypt(sealed)).toThrow();
    expect(() => vault.decrypt('plaintext')).toThrow('not a sealed value');
  });
});
