import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Vault } from './vault.ts';

/**
 * The `state` of an OAuth authorization request: `<state id>.<project id>.<signature>`. The
 * signature uses a key derived per project, so a state cannot be moved to another project, and the
 * id names a single-use row (with its expiry) in `oauth_states`.
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
