import pg from 'pg';
import type { CoreDeps } from '../core/deps.ts';
import { type Destination, getDestinationSecretConfig } from '../core/destinations.ts';
import { badRequest } from '../core/errors.ts';
import { PostgresWriter } from './postgres.ts';

export { PostgresWriter, type RowOwner, type TableRef, type WriteRecord } from './postgres.ts';

export interface OpenDestination {
  writer: PostgresWriter;
  /** Where tables go unless a connection overrides it. */
  defaultSchema: string;
}

/** One pool per destination version: updating a destination's config starts a new pool. */
const writers = new Map<string, { writer: PostgresWriter; pool: pg.Pool }>();

function sslOption(config: Record<string, unknown>): pg.PoolConfig['ssl'] {
  switch (config.ssl_mode) {
    case undefined:
    case 'disable':
      return false;
    case 'verify-ca':
    case 'verify-full':
      return {
        rejectUnauthorized: true,
        ca: config.server_ca_cert as string | undefined,
        cert: config.client_cert as string | undefined,
        key: config.client_key as string | undefined,
        servername: (config.server_name as string | undefined) ?? undefined,
        ...(config.ssl_mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
      };
    default:
      return { rejectUnauthorized: false };
  }
}

/** The built-in destination keeps each project's tables in a schema of its own. */
export function builtInSchema(projectId: string): string {
  return `trellis_${projectId.replaceAll('-', '').slice(0, 16)}`;
}

export async function openDestination(deps: CoreDeps, destination: Destination): Promise<OpenDestination> {
  if (destination.type === 'supaglue') {
    const key = 'built-in';
    let entry = writers.get(key);
    if (!entry) {
      entry = { writer: new PostgresWriter(deps.db), pool: deps.db };
      writers.set(key, entry);
    }
    return { writer: entry.writer, defaultSchema: builtInSchema(destination.projectId) };
  }
  if (destination.type !== 'postgres') {
    throw badRequest(`syncing into ${destination.type} destinations is not supported; use postgres`);
  }
  const key = `${destination.id}:${destination.version}`;
  let entry = writers.get(key);
  if (!entry) {
    const config = await getDestinationSecretConfig(deps, destination.projectId, destination.id);
    // Runs of one destination start together (a connection's first runs): the first back from
    // reading the config opens the pool, and the others use it instead of replacing (ending) it.
    const opened = writers.get(key);
    if (opened) return { writer: opened.writer, defaultSchema: String(destination.config.schema) };
    const pool = new pg.Pool({
      host: config.host as string,
      port: config.port as number,
      database: config.database as string,
      user: config.user as string,
      password: config.password as string | undefined,
      ssl: sslOption(config),
      max: 4,
      connectionTimeoutMillis: 10_000,
      application_name: 'trellis-sync',
    });
    // An idle client's error (the destination restarting) must not crash the worker, nor a checked-out
    // client's between two queries (pg would throw it as uncaught): its next query fails instead.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    for (const [old, stale] of writers) {
      if (old.startsWith(`${destination.id}:`)) {
        writers.delete(old);
        void stale.pool.end();
      }
    }
    entry = { writer: new PostgresWriter(pool), pool };
    writers.set(key, entry);
  }
  return { writer: entry.writer, defaultSchema: String(destination.config.schema) };
}

/** Closes every destination pool this process opened (shutdown). */
export async function closeDestinations(): Promise<void> {
  for (const [key, entry] of writers) {
    writers.delete(key);
    if (key !== 'built-in') await entry.pool.end();
  }
}
