import pg from 'pg';

export type Db = pg.Pool;
export type DbClient = pg.PoolClient | pg.Pool;

// bigint columns (counts) come back as numbers; values above 2^53 do not occur in them.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export function createPool(connectionString: string, max = 10): Db {
  const pool = new pg.Pool({
    connectionString,
    max,
    application_name: 'trellis',
    // Control-plane tables live in the `trellis` schema; destinations always name their schema.
    options: '-c search_path=trellis,public',
  });
  // An idle client's error (e.g. the server restarting) must not crash the process.
  pool.on('error', () => {});
  // Nor may a checked-out client's between two queries (pg would throw it as uncaught exception):
  // its next query fails instead.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/** Runs `fn` in one transaction, committing on success and rolling back on any error. */
export async function transaction<T>(db: Db, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  let broken = false;
  try {
    await client.query('begin');
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => {
      broken = true;
    });
    throw err;
  } finally {
    // A session whose rollback failed may still be inside the transaction (and any role it set
    // locally): it is closed rather than handed to the next caller.
    client.release(broken);
  }
}
