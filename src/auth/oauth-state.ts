import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Vault } from './vault.ts';

/**
 * The `state` of an OAuth authorization request: `<state id>.<project id>.<signature>`. The
 * signature uses a key derived per project, so a state cannot be moved to another project, and the
 * id names a single-use row (with its expiry) in `oauth_states`.
 *
 * A state is also bound to the browser that started the flow: that browser holds a random nonce in
 * a cookie, the row holds its SHA-256, and the callback must bring the nonce. A link holder who
 * sends the authorize URL to someone else cannot complete the flow in that person's browser.
 */
function signature(vault: Vault, projectId: string, stateId: string): Buffer {
  return createHmac('sha256', vault.deriveKey(`oauth-state:${projectId}`))
    .update(stateId)
    .digest();
}

export function signState(vault: Vault, projectId: string, stateId: string): string {
  return `${stateId}.${projectId}.${signature(vault, projectId, stateId).toString('base64url')}`;
}

/** The state id and project of a genuine state, or undefined for anything forged or malformed. */
export function verifyState(vault: Vault, raw: string): { stateId: string; projectId: string } | undefined {
  const [stateId, projectId, mac] = raw.split('.');
  if (!stateId || !projectId || !mac) return undefined;
  const given = Buffer.from(mac, 'base64url');
  const expected = signature(vault, projectId, stateId);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  return { stateId, projectId };
}

/** A fresh nonce for the browser that starts a flow, and the hash the state row keeps of it. */
export function newBrowserBinding(): { nonce: string; hash: Buffer } {
  const nonce = randomBytes(32).toString('base64url');
  return { nonce, hash: browserBindingHash(nonce) };
}

function browserBindingHash(nonce: string): Buffer {
  return createHash('sha256').update(nonce).digest();
}

/** Whether the nonce a callback brought is the one the state was bound to (constant time). */
export function isSameBrowser(storedHash: Buffer | null, nonce: string | undefined): boolean {
  if (!storedHash || !nonce) return false;
  const given = browserBindingHash(nonce);
  return given.length === storedHash.length && timingSafeEqual(given, storedHash);
}
