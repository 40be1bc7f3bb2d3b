import type { CoreDeps } from '../core/deps.ts';
import { openConnector } from '../core/provider-access.ts';
import { transaction } from '../db/pool.ts';
import { QUEUES } from '../db/queue.ts';

/** Tokens expiring within this window are refreshed ahead of use. */
const AHEAD_MS = 10 * 60_000;

/**
 * Finds OAuth connections whose access token expires soon and queues a refresh for each, so that
 * idle connections stay usable and a revoked grant is noticed (and reported) without waiting for
 * the next sync. One job per connection at a time (singleton key).
 */
export async function queueKeepAlives(deps: CoreDeps): Promise<number> {
  return transaction(deps.db, async (client) => {
    const { rows } = await client.query<{ id: string }>(
      `select id from connections
        where status <> 'bad_credentials' and token_expires_at is not null
          and token_expires_at < now() + make_interval(secs => $1)
        limit 500`,
      [AHEAD_MS / 1000],
    );
    for (const { id } of rows) {
      await deps.queue.send(
        QUEUES.connectionKeepAlive,
        { connectionId: id },
        { singletonKey: id, retryLimit: 0 },
        client,
      );
    }
    return rows.length;
  });
}

/** Refreshes one connection's token if it is about to expire (the authenticator decides). */
export async function keepAlive(deps: CoreDeps, connectionId: string): Promise<void> {
  const { auth } = await openConnector(deps, connectionId);
  await auth.accessToken(AHEAD_MS);
}
