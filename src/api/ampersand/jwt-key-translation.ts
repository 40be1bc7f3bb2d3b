import { rsaPublicKeyProblem } from '../../auth/jwt.ts';
import type { JwtKey, JwtKeyChanges } from '../../core/jwt-keys.ts';
import { RequestRefused } from '../surface/errors.ts';

/**
 * JWT keys in the Platform API's shape. The document registers a key with `algorithm: "RS256"`
 * (the tokens it verifies) and shows it with `algorithm: "RSA"` (the key's type); its update mask
 * names `active` and `label`.
 */

export interface CreateJwtKeyBody {
  label: string;
  algorithm: 'RS256';
  publicKeyPem: string;
}

export interface UpdateJwtKeyBody {
  updateMask: ('active' | 'label')[];
  jwtKey: { active?: unknown; label?: unknown; [other: string]: unknown };
}

export function ampersandJwtKey(key: JwtKey) {
  return {
    id: key.id,
    projectId: key.projectId,
    label: key.label,
    algorithm: 'RSA',
    publicKeyPem: key.publicKeyPem,
    active: key.active,
    createTime: key.createdAt.toISOString(),
    updateTime: key.updatedAt.toISOString(),
  };
}

/** The key to register; a PEM that is not an RSA public key of an accepted size is named in issues. */
export function jwtKeyInputOf(body: CreateJwtKeyBody): { label: string; publicKeyPem: string } {
  const problem = rsaPublicKeyProblem(body.publicKeyPem);
  if (problem)
    throw new RequestRefused('invalid_input', `publicKeyPem ${problem}`, {
      issues: [{ in: 'body', name: '/publicKeyPem', detail: problem }],
    });
  return { label: body.label, publicKeyPem: body.publicKeyPem };
}

/**
 * The changes the update mask names, each with its value from `jwtKey`; a masked field without a
 * value of its type is unprocessable (422), as the document says.
 */
export function jwtKeyChangesOf(body: UpdateJwtKeyBody): JwtKeyChanges {
  const changes: JwtKeyChanges = {};
  const missing = (field: string, type: string) =>
    new RequestRefused('invalid_input', `jwtKey.${field} must be a ${type}: updateMask names it`, {
      status: 422,
      issues: [{ in: 'body', name: `/jwtKey/${field}`, detail: `must be a ${type}: updateMask names it` }],
    });
  for (const field of body.updateMask) {
    const value = body.jwtKey[field];
    if (field === 'active') {
      if (typeof value !== 'boolean') throw missing(field, 'boolean');
      changes.active = value;
    } else {
      if (typeof value !== 'string') throw missing(field, 'string');
      changes.label = value;
    }
  }
  return changes;
}
