import { generateApiKey, hashApiKey, keyHint } from '../auth/api-keys.ts';
import type { Db } from '../db/pool.ts';
import { transaction } from '../db/pool.ts';
import { createBuiltInDestination } from './destinations.ts';
import { conflict, notFound } from './errors.ts';
import { isUuid } from './ids.ts';

export interface Project {
  id: string;
  name: string;
  createdAt: Date;
}

export interface ApiKeyInfo {
  id: string;
  projectId: string;
  name: string;
  hint: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

async function insertKey(db: Pick<Db, 'query'>, projectId: string, name: string, key = generateApiKey()) {
  const { rows } = await db.query<{ id: string }>(
    'insert into api_keys (project_id, name, key_hash, key_hint) values ($1, $2, $3, $4) returning id',
    [projectId, name, hashApiKey(key), keyHint(key)],
  );
  return { id: rows[0]!.id, key };
}

export async function createProject(
  db: Db,
  name: string,
  key?: string,
): Promise<{ project: Project; apiKey: string }> {
  return transaction(db, async (client) => {
    const { rows } = await client.query<Project>(
      `insert into projects (name) values ($1) on conflict (name) do nothing
       returning id, name, created_at as "createdAt"`,
      [name],
    );
    if (!rows[0]) throw conflict(`a project named "${name}" already exists`);
    const { key: apiKey } = await insertKey(client, rows[0].id, 'default', key);
    await createBuiltInDestination(client, rows[0].id);
    return { project: rows[0], apiKey };
  });
}

export async function findProject(db: Db, idOrName: string): Promise<Project> {
  const { rows } = await db.query<Project>(
    `select id, name, created_at as "createdAt" from projects
      where name = $1 or ($2::uuid is not null and id = $2::uuid)`,
    [idOrName, isUuid(idOrName) ? idOrName : null],
  );
  if (!rows[0]) throw notFound(`project "${idOrName}"`);
  return rows[0];
}

export async function listProjects(db: Db): Promise<Project[]> {
  const { rows } = await db.query<Project>(
    'select id, name, created_at as "createdAt" from projects order by created_at',
  );
  return rows;
}

export async function createApiKey(
  db: Db,
  projectId: string,
  name: string,
): Promise<{ id: string; key: string }> {
  return insertKey(db, projectId, name);
}

export async function listApiKeys(db: Db, projectId?: string): Promise<ApiKeyInfo[]> {
  const { rows } = await db.query<ApiKeyInfo>(
    `select id, project_id as "projectId", name, key_hint as hint, created_at as "createdAt",
            last_used_at as "lastUsedAt", revoked_at as "revokedAt"
       from api_keys where $1::uuid is null or project_id = $1 order by created_at`,
    [projectId ?? null],
  );
  return rows;
}

/** Revokes a key; of `projectId` only, when given (another project's key is not found). */
export async function revokeApiKey(db: Db, id: string, projectId?: string): Promise<void> {
  if (!isUuid(id)) throw notFound('api key');
  const { rowCount } = await db.query(
    `update api_keys set revoked_at = now()
      where id = $1 and revoked_at is null and ($2::uuid is null or project_id = $2)`,
    [id, projectId ?? null],
  );
  if (!rowCount) throw notFound('active api key');
}

/** Resolves an API key to its project, or undefined when the key is unknown or revoked. */
export async function authenticateApiKey(db: Db, key: string): Promise<string | undefined> {
  const { rows } = await db.query<{ projectId: string; stale: boolean; id: string }>(
    `select id, project_id as "projectId",
            (last_used_at is null or last_used_at < now() - interval '1 minute') as stale
       from api_keys where key_hash = $1 and revoked_at is null`,
    [hashApiKey(key)],
  );
  const row = rows[0];
  if (!row) return undefined;
  // Usage is recorded at most once a minute per key, so authentication stays a read.
  if (row.stale) await db.query('update api_keys set last_used_at = now() where id = $1', [row.id]);
  return row.projectId;
}

/**
 * On the first start of a fresh database, creates the default project and its key (the configured
 * TRELLIS_API_KEY when given). Returns the key only when it was created now.
 */
export async function bootstrapDefaultProject(
  db: Db,
  configuredKey: string | undefined,
): Promise<{ project: Project; apiKey?: string }> {
  const existing = await db.query<Project>(
    `select id, name, created_at as "createdAt" from projects where name = 'default'`,
  );
  if (existing.rows[0]) return { project: existing.rows[0] };
  try {
    return await createProject(db, 'default', configuredKey);
  } catch (err) {
    // Another process bootstrapped at the same moment.
    const again = await db.query<Project>(
      `select id, name, created_at as "createdAt" from projects where name = 'default'`,
    );
    if (again.rows[0]) return { project: again.rows[0] };
    throw err;
  }
}
