import { createPublicKey } from 'node:crypto';
import { type JsonObject, JwtRefused, rsaPublicKeyProblem, verifyRs256Jwt } from '../auth/jwt.ts';
import type { CoreDeps } from './deps.ts';
import { badRequest, DomainError, notFound } from './errors.ts';
import { isUuid } from './ids.ts';

/**
 * A project's JWT keys: RSA public keys its own server signs browser tokens with (RS256). A token
 * names its key by id (`kid`), and the key decides the token's project; only active keys verify.
 * Public keys are not secret, so they are stored and shown as given.
 */
export interface JwtKey {
  id: string;
  projectId: string;
  label: string;
  algorithm: 'RS256';
  publicKeyPem: string;
  active: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface JwtKeyChanges {
  label?: string;
  active?: boolean;
}

/**
 * The longest a browser token may be valid for, and how far clocks may disagree. Ten minutes is
 * Ampersand's documented maximum; its UI library asks for a new token when one expires.
 */
export const BROWSER_TOKEN_MAX_LIFETIME_SECONDS = 600;
export const BROWSER_TOKEN_CLOCK_SKEW_SECONDS = 60;

const LABEL_MAX_LENGTH = 255;

const columns = `id, project_id as "projectId", label, algorithm, public_key_pem as "publicKeyPem", active,
  created_at as "createdAt", updated_at as "updatedAt"`;

function checkLabel(label: string): string {
  if (label.trim() === '') throw badRequest('the label of a JWT key must not be empty');
  if (label.length > LABEL_MAX_LENGTH)
    throw badRequest(`the label of a JWT key is at most ${LABEL_MAX_LENGTH} characters`);
  return label;
}

export async function createJwtKey(
  deps: CoreDeps,
  projectId: string,
  input: { label: string; publicKeyPem: string },
): Promise<JwtKey> {
  const problem = rsaPublicKeyProblem(input.publicKeyPem);
  if (problem) throw badRequest(`the public key ${problem}`);
  const { rows } = await deps.db.query<JwtKey>(
    `insert into jwt_keys (project_id, label, algorithm, public_key_pem) values ($1, $2, 'RS256', $3)
     returning ${columns}`,
    [projectId, checkLabel(input.label), input.publicKeyPem],
  );
  return rows[0]!;
}

export async function listJwtKeys(
  deps: CoreDeps,
  projectId: string,
  filter: { activeOnly?: boolean } = {},
): Promise<JwtKey[]> {
  const { rows } = await deps.db.query<JwtKey>(
    `select ${columns} from jwt_keys where project_id = $1 and (active or not $2) order by created_at, id`,
    [projectId, filter.activeOnly ?? false],
  );
  return rows;
}

export async function getJwtKey(deps: CoreDeps, projectId: string, id: string): Promise<JwtKey> {
  if (!isUuid(id)) throw notFound('JWT key');
  const { rows } = await deps.db.query<JwtKey>(
    `select ${columns} from jwt_keys where project_id = $1 and id = $2`,
    [projectId, id],
  );
  if (!rows[0]) throw notFound('JWT key');
  return rows[0];
}

/** Renames a key, or turns it off or on again: tokens it signed verify only while it is active. */
export async function updateJwtKey(
  deps: CoreDeps,
  projectId: string,
  id: string,
  changes: JwtKeyChanges,
): Promise<JwtKey> {
  const current = await getJwtKey(deps, projectId, id);
  const { rows } = await deps.db.query<JwtKey>(
    `update jwt_keys set label = coalesce($3, label), active = coalesce($4, active), updated_at = now()
     where project_id = $1 and id = $2 returning ${columns}`,
    [
      projectId,
      current.id,
      changes.label === undefined ? null : checkLabel(changes.label),
      changes.active ?? null,
    ],
  );
  if (!rows[0]) throw notFound('JWT key');
  return rows[0];
}

export async function deleteJwtKey(deps: CoreDeps, projectId: string, id: string): Promise<void> {
  if (!isUuid(id)) throw notFound('JWT key');
  const { rowCount } = await deps.db.query('delete from jwt_keys where project_id = $1 and id = $2', [
    projectId,
    id,
  ]);
  if (!rowCount) throw notFound('JWT key');
}

/** A browser token whose signature, key and times hold: its project (its key's) and its claims. */
export interface VerifiedBrowserToken {
  projectId: string;
  keyId: string;
  claims: JsonObject;
}

/**
 * Verifies a browser token (an RS256 JWT) with the active JWT key its `kid` header names, whatever
 * the project: the key decides the project, so a token can act on no other. Refusals are
 * `unauthorized`, saying what is wrong without quoting the token.
 */
export async function verifyBrowserToken(
  deps: CoreDeps,
  token: string,
  now = Date.now(),
): Promise<VerifiedBrowserToken> {
  try {
    const { claims, key } = await verifyRs256Jwt(
      token,
      async (header) => {
        const kid = header.kid;
        if (typeof kid !== 'string' || kid === '')
          throw new JwtRefused('has no kid header: it must name the JWT key (its id) it is signed with');
        const { rows } = isUuid(kid)
          ? await deps.db.query<{ id: string; projectId: string; publicKeyPem: string }>(
              `select id, project_id as "projectId", public_key_pem as "publicKeyPem" from jwt_keys
                where id = $1 and active`,
              [kid],
            )
          : { rows: [] };
        const found = rows[0];
        if (!found) throw new JwtRefused('names (kid) no active JWT key');
        return { publicKey: createPublicKey(found.publicKeyPem), key: found };
      },
      {
        now: Math.floor(now / 1000),
        clockSkewSeconds: BROWSER_TOKEN_CLOCK_SKEW_SECONDS,
        maxLifetimeSeconds: BROWSER_TOKEN_MAX_LIFETIME_SECONDS,
      },
    );
    return { projectId: key.projectId, keyId: key.id, claims };
  } catch (err) {
    if (err instanceof JwtRefused)
      throw new DomainError('unauthorized', `the bearer token ${err.message}`, { reason: 'invalid_token' });
    throw err;
  }
}
