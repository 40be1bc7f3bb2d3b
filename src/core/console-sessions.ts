import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { hashApiKey } from '../auth/api-keys.ts';
import type { CoreDeps } from './deps.ts';
import { DomainError } from './errors.ts';

/**
 * Sessions of the admin console: an API key is exchanged once for a random session token, which
 * the browser keeps in an HttpOnly cookie; only its digest is stored. A session ends when it is
 * signed out, when it expires, and when the key it was made with is revoked.
 */

/** How long a console session lasts. */
export const SESSION_SECONDS = 12 * 3600;

export interface ConsoleSession {
  projectId: string;
  projectName: string;
  apiKeyId: string;
}

const digest = (token: string) => createHash('sha256').update(token).digest('hex');

/** Signs in with a project API key; answers the session's token (for the cookie) or refuses the key. */
export async function openConsoleSession(
  deps: CoreDeps,
  apiKey: string,
): Promise<{ token: string; session: ConsoleSession }> {
  const { rows } = await deps.db.query<ConsoleSession>(
    `select k.id as "apiKeyId", k.project_id as "projectId", p.name as "projectName"
       from api_keys k join projects p on p.id = k.project_id
      where k.key_hash = $1 and k.revoked_at is null`,
    [hashApiKey(apiKey)],
  );
  const session = rows[0];
  if (!session) throw new DomainError('unauthorized', 'this is not an active API key of any project');
  const token = randomBytes(32).toString('base64url');
  await deps.db.query(
    `insert into console_sessions (token_hash, project_id, api_key_id, expires_at)
     values ($1, $2, $3, now() + make_interval(secs => $4))`,
    [digest(token), session.projectId, session.apiKeyId, SESSION_SECONDS],
  );
  // Sessions that ended are removed as new ones start (no timer of its own for so little).
  await deps.db.query('delete from console_sessions where expires_at < now()');
  return { token, session };
}

/** The session a token names, while it lasts and its key is not revoked. */
export async function consoleSession(deps: CoreDeps, token: string): Promise<ConsoleSession | undefined> {
  const { rows } = await deps.db.query<ConsoleSession>(
    `select s.project_id as "projectId", p.name as "projectName", s.api_key_id as "apiKeyId"
       from console_sessions s join api_keys k on k.id = s.api_key_id and k.revoked_at is null
       join projects p on p.id = s.project_id
      where s.token_hash = $1 and s.expires_at > now()`,
    [digest(token)],
  );
  return rows[0];
}

export async function closeConsoleSession(deps: CoreDeps, token: string): Promise<void> {
  await deps.db.query('delete from console_sessions where token_hash = $1', [digest(token)]);
}

/**
 * The session's CSRF token: the page reads it from the session's JSON and sends it back in a
 * header with every change, which a page of another site can neither read nor make.
 */
export function csrfTokenOf(deps: CoreDeps, sessionToken: string): string {
  return createHmac('sha256', deps.vault.deriveKey('console-csrf')).update(sessionToken).digest('base64url');
}

export function isCsrfTokenOf(deps: CoreDeps, sessionToken: string, given: string): boolean {
  const expected = Buffer.from(csrfTokenOf(deps, sessionToken));
  const actual = Buffer.from(given);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
