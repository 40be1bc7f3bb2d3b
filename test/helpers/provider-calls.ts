/**
 * Run as its own process by tests: opens a connection's connector the way a worker does and makes
 * `count` provider calls at once, then one more, printing a JSON summary. Several of these at once
 * are several Trellis processes sharing one connection.
 */

import { Vault } from '../../src/auth/vault.ts';
import { loadConfig } from '../../src/config.ts';
import { openConnector } from '../../src/core/provider-access.ts';
import { createPool } from '../../src/db/pool.ts';
import { startQueue } from '../../src/engine/queue.ts';
import { createLogger } from '../../src/logger.ts';

const [connectionId, countArg] = process.argv.slice(2);
const config = loadConfig();
const log = createLogger('warn');
const db = createPool(config.databaseUrl!, 25);
const queue = await startQueue({ databaseUrl: config.databaseUrl!, log, worker: false });
const deps = { config, db, vault: new Vault(config.encryptionKey!), queue, log };
const { ctx } = await openConnector(deps, connectionId!);
const results = await Promise.allSettled(
  Array.from({ length: Number(countArg) }, () =>
    ctx.http.request({ path: '/crm/v3/owners', query: { limit: 1 } }),
  ),
);
const after = await ctx.http.request({ path: '/crm/v3/owners', query: { limit: 1 } }).then(
  (r) => r.status,
  (e: Error) => e.message,
);
process.stdout.write(
  `${JSON.stringify({ ok: results.filter((r) => r.status === 'fulfilled').length, failed: results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)), after })}\n`,
);
await queue.stop();
await db.end();
