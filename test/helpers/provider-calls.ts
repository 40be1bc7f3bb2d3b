/**
 * Run as its own process by tests: opens a connection's connector the way a worker does, prints
 * `ready`, waits for a line on stdin (so that several of these start their calls together), makes
 * `count` provider calls at once, then one more, and prints a JSON summary. Several of these at
 * once are several Trellis processes sharing one connection.
 */

import { createHash } from 'node:crypto';
import { supaglueWebhooks } from '../../src/api/mgmt-v2/webhook-events.ts';
import { Vault } from '../../src/auth/vault.ts';
import { loadConfig } from '../../src/config.ts';
import { openConnector } from '../../src/core/provider-access.ts';
import { createPool } from '../../src/db/pool.ts';
import { startQueue } from '../../src/db/queue.ts';
import { createLogger } from '../../src/logger.ts';
import { outboundPolicyFor } from '../../src/runtime.ts';

const [connectionId, countArg] = process.argv.slice(2);
const config = loadConfig();
const log = createLogger('warn');
const db = createPool(config.databaseUrl!, 25);
const queue = await startQueue({ databaseUrl: config.databaseUrl!, log, worker: false });
const deps = {
  config,
  db,
  vault: new Vault(config.encryptionKey!),
  queue,
  log,
  outbound: outboundPolicyFor(config),
  webhookFormat: supaglueWebhooks,
};
const { ctx, auth } = await openConnector(deps, connectionId!);

process.stdout.write('ready\n');
await new Promise((resolve) => process.stdin.once('data', resolve));

const startedAt = Date.now();
const results = await Promise.allSettled(
  Array.from({ length: Number(countArg) }, () =>
    ctx.http.request({ path: '/crm/v3/owners', query: { limit: 1 } }),
  ),
);
const finishedAt = Date.now();
const after = await ctx.http.request({ path: '/crm/v3/owners', query: { limit: 1 } }).then(
  (r) => r.status,
  (e: Error) => e.message,
);
const token = (await auth.accessToken()) ?? '';
process.stdout.write(
  `${JSON.stringify({
    ok: results.filter((r) => r.status === 'fulfilled').length,
    failed: results
      .filter((r) => r.status === 'rejected')
      .map((r) => String((r as PromiseRejectedResult).reason)),
    after,
    startedAt,
    finishedAt,
    // A digest, so the token itself never reaches the test's output.
    token: createHash('sha256').update(token).digest('hex'),
  })}\n`,
);
await queue.stop();
await db.end();
process.stdin.destroy();
