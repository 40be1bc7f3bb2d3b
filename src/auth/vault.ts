import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** A column that holds sealed values, and how its rows are named in the associated data. */
export interface SealedColumn {
  table: string;
  column: string;
  /** The column naming the row (`id` unless said). */
  rowKey?: string;
  /** Only rows matching this condition hold sealed values (`settings` holds plain ones too). */
  where?: string;
}

/** Every place Trellis keeps a secret; key rotation walks exactly these. */
export const SEALED_COLUMNS = {
  connectionCredentials: { table: 'connections', column: 'credentials_sealed' },
  connectionSecretSettings: { table: 'connections', column: 'secret_settings_sealed' },
  providerAppSecret: { table: 'provider_apps', column: 'client_secret_sealed' },
  destinationSecrets: { table: 'destinations', column: 'secrets_sealed' },
  oauthCodeVerifier: { table: 'oauth_states', column: 'code_verifier_sealed' },
  webhookSecret: { table: 'webhook_endpoints', column: 'secret_sealed' },
  vaultCanary: { table: 'settings', column: 'value', rowKey: 'key', where: "key = 'vault_canary'" },
} as const satisfies Record<string, SealedColumn>;

/** A key's public name: the first bytes of its digest, so a value says which key sealed it. */
function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('trellis-vault-key-id').update(key).digest('base64url').slice(0, 8);
}

/**
 * Encrypts every secret Trellis stores (AES-256-GCM). A sealed value is
 * `v2.<key id>.<iv>.<tag>.<ciphertext>` (base64url): the key id lets values sealed with a previous
 * key be read during a rotation, and the associated data — table, column and row — means a value
 * decrypts only where it was sealed: copied to another row or column, it fails.
 * Values of the first format (`v1.<iv>.<tag>.<ciphertext>`, no key id, no associated data) are
 * still read, and rotation rewrites them.
 */
export class Vault {
  readonly #key: Buffer;
  readonly #keys = new Map<string, Buffer>();
  readonly keyId: string;

  constructor(key: Buffer, previousKeys: Buffer[] = []) {
    for (const k of [key, ...previousKeys]) {
      if (k.length !== 32) throw new Error('a vault key must be 32 bytes');
      this.#keys.set(keyIdOf(k), k);
    }
    this.#key = key;
    this.keyId = keyIdOf(key);
  }

  seal(plaintext: string, place: SealedColumn, row: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(associatedData(place, row));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [
      'v2',
      this.keyId,
      ...[iv, cipher.getAuthTag(), ciphertext].map((b) => b.toString('base64url')),
    ].join('.');
  }

  open(sealed: string, place: SealedColumn, row: string): string {
    const parts = sealed.split('.');
    if (parts[0] === 'v2' && parts.length === 5) {
      const key = this.#keys.get(parts[1]!);
      if (!key) throw new Error('sealed with a key this process does not have');
      return decrypt(key, parts.slice(2) as [string, string, string], associatedData(place, row));
    }
    if (parts[0] === 'v1' && parts.length === 4) {
      for (const key of this.#keys.values()) {
        try {
          return decrypt(key, parts.slice(1) as [string, string, string]);
        } catch {
          // Try the next key: v1 values do not say which key sealed them.
        }
      }
      throw new Error('sealed with a key this process does not have');
    }
    throw new Error('not a sealed value');
  }

  sealJson(value: unknown, place: SealedColumn, row: string): string {
    return this.seal(JSON.stringify(value), place, row);
  }

  openJson<T>(sealed: string, place: SealedColumn, row: string): T {
    return JSON.parse(this.open(sealed, place, row)) as T;
  }

  /** Whether `sealed` is in the current format under the current key (rotation skips those). */
  isCurrent(sealed: string): boolean {
    return sealed.startsWith(`v2.${this.keyId}.`);
  }

  /** A key for another purpose (e.g. signing OAuth states), derived so that it never equals this one. */
  deriveKey(purpose: string): Buffer {
    return createHmac('sha256', this.#key).update(`trellis:${purpose}`).digest();
  }
}

function associatedData(place: SealedColumn, row: string): Buffer {
  return Buffer.from(`trellis.${place.table}.${place.column}.${row}`);
}

function decrypt(key: Buffer, [iv, tag, ciphertext]: [string, string, string], aad?: Buffer): string {
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  if (aad) decipher.setAAD(aad);
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString(
    'utf8',
  );
}

/** Reads the key generated for the embedded default, creating it (0600) on first start. */
export function loadOrCreateKeyFile(dataDir: string): Buffer {
  const file = path.join(dataDir, 'encryption.key');
  if (fs.existsSync(file)) return Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'hex');
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  fs.writeFileSync(file, `${key.toString('hex')}\n`, { mode: 0o600 });
  return key;
}
