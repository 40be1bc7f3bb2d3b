import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './pool.ts';

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');
// Any constant works; it only has to be the same in every Trellis process.
const MIGRATION_LOCK = 7_363_611;
const UNDEFINED_TABLE = '42P01';

/**
 * Applies the numbered SQL files in src/db/migrations that this database has not seen yet, each in
 * its own transaction, under an advisory lock so that processes starting together do not race.
 */
/** The migrations this release has, in order. */
function migrationFiles(): string[] {
  return fs
    .readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{4}_.+\.sql$/.test(f))
    .sort();
}

export async function migrate(db: Db): Promise<string[]> {
  const files = migrationFiles();
  const client = await db.connect();
  const applied: string[] = [];
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      'create table if not exists public.trellis_migrations (name text primary key, applied_at timestamptz not null default now())',
    );
    const done = new Set(
      (await client.query<{ name: string }>('select name from public.trellis_migrations')).rows.map(
        (r) => r.name,
      ),
    );
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = fs.readFileSync(path.join(MIGRATIONS_DIR, file), 'utf8');
      await client.query('begin');
      try {
        await client.query(sql);
        await client.query('insert into public.trellis_migrations (name) values ($1)', [file]);
        await client.query('commit');
      } catch (err) {
        await client.query('rollback');
        throw new Error(`migration ${file} failed: ${(err as Error).message}`);
      }
      applied.push(file);
    }
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    client.release();
  }
  return applied;
}

/** The migrations of this release the database has not applied (all of them on a database never migrated). */
export async function pendingMigrations(db: Db): Promise<string[]> {
  const applied = await db
    .query<{ name: string }>('select name from public.trellis_migrations')
    .then(({ rows }) => new Set(rows.map((r) => r.name)))
    .catch((err: { code?: string }) => {
      if (err.code === UNDEFINED_TABLE) return new Set<string>();
      throw err;
    });
  return migrationFiles().filter((file) => !applied.has(file));
}
