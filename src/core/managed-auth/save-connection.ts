import { randomUUID } from 'node:crypto';
import type { Credentials } from '../../auth/connection-auth.ts';
import { SEALED_COLUMNS } from '../../auth/vault.ts';
import type { AuthType, ProviderName } from '../../connectors/catalog.ts';
import { CATALOG } from '../../connectors/index.ts';
import { transaction } from '../../db/pool.ts';
import { type Consumer, ensureConsumer } from '../consumers.ts';
import type { CoreDeps } from '../deps.ts';
import { emitEvent } from '../events.ts';
import { reconcileConnectionSyncs } from '../syncs.ts';
import { ConnectFailure } from './links.ts';

/**
 * Creates the connection, or re-authorizes the existing one (new credentials, status working, and
 * the syncs that bad credentials paused resume), and consumes the magic link, all in one
 * transaction: a link opened in two tabs connects once. Returns the connection's id.
 */
export async function saveAuthorizedConnection(
  deps: CoreDeps,
  c: {
    projectId: string;
    customerId: string;
    providerAppId: string;
    providerName: ProviderName;
    authType: AuthType;
    credentials: Credentials;
    instanceUrl: string;
    tokenExpiresAt: Date | null;
    magicLinkId: string | null;
    /** The end user who connected, where the flow names one; otherwise the connection keeps its own. */
    consumer?: Consumer | null;
    /** The connection a re-authorization is for: it must still be the customer's for the provider. */
    renewsConnectionId?: string | null;
  },
): Promise<string> {
  return transaction(deps.db, async (client) => {
    if (c.magicLinkId) {
      const consumed = await client.query(
        `update magic_links set status = 'consumed', consumed_at = now()
          where id = $1 and status = 'new' and expires_at > now()`,
        [c.magicLinkId],
      );
      if (!consumed.rowCount)
        throw new ConnectFailure('This link was already used or has expired. Ask for a new one.');
    }
    // Credentials are sealed for their row: the existing connection's, or the one inserted now.
    const { rows: existing } = await client.query<{ id: string }>(
      'select id from connections where customer_id = $1 and provider_name = $2 for update',
      [c.customerId, c.providerName],
    );
    if (c.renewsConnectionId && existing[0]?.id !== c.renewsConnectionId)
      throw new ConnectFailure('The connection to re-authorize was deleted in the meantime.');
    const id = existing[0]?.id ?? randomUUID();
    const consumerId = c.consumer
      ? await ensureConsumer(client, c.projectId, c.customerId, c.consumer)
      : null;
    const seal = (rowId: string) =>
      deps.vault.sealJson(c.credentials, SEALED_COLUMNS.connectionCredentials, rowId);
    const { rows } = await client.query<{ id: string; inserted: boolean; customerRef: string }>(
      `insert into connections (id, project_id, customer_id, provider_app_id, provider_name, category, status, auth_type,
         credentials_sealed, instance_url, token_expires_at, consumer_id)
       values ($10, $1, $2, $3, $4, $5, 'working', $6, $7, $8, $9, $11)
       on conflict (customer_id, provider_name) do update set provider_app_id = excluded.provider_app_id,
         status = 'working', auth_type = excluded.auth_type, credentials_sealed = excluded.credentials_sealed,
         instance_url = excluded.instance_url, token_expires_at = excluded.token_expires_at,
         consumer_id = coalesce(excluded.consumer_id, connections.consumer_id), updated_at = now()
       returning id, (xmax = 0) as inserted,
         (select external_id from customers where id = $2) as "customerRef"`,
      [
        c.projectId,
        c.customerId,
        c.providerAppId,
        c.providerName,
        CATALOG[c.providerName].category,
        c.authType,
        seal(id),
        c.instanceUrl,
        c.tokenExpiresAt,
        id,
        consumerId,
      ],
    );
    const connection = rows[0]!;
    // Another flow inserted the row between the look-up and the insert: seal for that row.
    if (connection.id !== id) {
      await client.query('update connections set credentials_sealed = $2 where id = $1', [
        connection.id,
        seal(connection.id),
      ]);
    }
    if (connection.inserted) {
      await reconcileConnectionSyncs(client, connection.id);
      await emitEvent(deps, client, c.projectId, {
        type: 'connection.created',
        connection: {
          connectionId: connection.id,
          customerRef: connection.customerRef,
          providerAppId: c.providerAppId,
          providerName: c.providerName,
          category: CATALOG[c.providerName].category,
        },
      });
    } else {
      await client.query(
        `update syncs set paused = false, pause_reason = null, next_run_at = now(), updated_at = now()
          where connection_id = $1 and pause_reason = 'credentials'`,
        [connection.id],
      );
    }
    return connection.id;
  });
}
