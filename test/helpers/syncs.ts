import pg from 'pg';
import { expect } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { startSimulator } from '../../simulators/index.ts';
import { createConnection } from '../../src/core/connections.ts';
import { simControl, simOAuthProvider, simServed, simServedSince } from './simulator.ts';
import {
  type ApiResponse,
  type Client,
  client,
  createTestDatabase,
  startTrellis,
  type TestTrellis,
} from './trellis.ts';

/** A sync config that syncs `objects` every hour, full first and incremental after. */
export function hourlySyncConfig(...objects: string[]) {
  return {
    default_config: { period_ms: 3_600_000, strategy: 'full then incremental' },
    standard_objects: objects.map((object) => ({ object })),
  };
}

/** Checks a response's status and returns its body. */
async function expectStatus(p: Promise<ApiResponse>, status: number) {
  const res = await p;
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  return res.body;
}

/** The Management API's body for Postgres destination `warehouse` writing into schema `crm` of a database. */
export function warehouseDestination(databaseUrl: string) {
  const url = new URL(databaseUrl);
  return {
    name: 'warehouse',
    type: 'postgres',
    config: {
      host: url.hostname,
      port: Number(url.port),
      database: url.pathname.slice(1),
      schema: 'crm',
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
    },
  };
}

/** Adds Postgres destination `warehouse` (schema `crm`), the HubSpot provider and sync config `config`. */
export async function setUpHubspotSync(api: Client, databaseUrl: string, config: object): Promise<string> {
  await expectStatus(api('POST', '/destinations', { body: warehouseDestination(databaseUrl) }), 201);
  await expectStatus(api('POST', '/providers', { body: simOAuthProvider('hubspot', ['oauth']) }), 201);
  const syncConfig = await expectStatus(
    api('POST', '/sync_configs', {
      body: { destination_name: 'warehouse', provider_name: 'hubspot', config },
    }),
    201,
  );
  return syncConfig.id;
}

/** Adds the customer and connects it to HubSpot by hand with `refreshToken`; returns the connection. */
export async function connectHubspot(
  api: Client,
  refreshToken: string,
  customer = { customer_id: 'acme', name: 'Acme', email: 'it@acme.test' },
) {
  await expectStatus(api('PUT', '/customers', { body: customer }), 200);
  return expectStatus(
    api('POST', `/customers/${customer.customer_id}/connections`, {
      body: { provider_name: 'hubspot', type: 'oauth2', refresh_token: refreshToken },
    }),
    200,
  );
}

/** Syncs customer acme's HubSpot `objects` hourly into a fresh test database; returns a client of it. */
export async function syncHubspotIntoTestDatabase(api: Client, simUrl: string, ...objects: string[]) {
  const databaseUrl = await createTestDatabase();
  await setUpHubspotSync(api, databaseUrl, hourlySyncConfig(...objects));
  await connectHubspot(api, (await simControl(simUrl, 'tokens', {})).refresh_token);
  const warehouse = new pg.Client({ connectionString: databaseUrl });
  await warehouse.connect();
  return warehouse;
}

/**
 * Syncs customer acme's Pipedrive `objects` hourly into a fresh test database; returns a client of
 * it. The Management API takes refresh tokens for HubSpot and Salesforce only: the connection is
 * stored as the end of Pipedrive's OAuth flow stores it.
 */
export async function syncPipedriveIntoTestDatabase(t: TestTrellis, simUrl: string, ...objects: string[]) {
  const api = client(t.baseUrl, t.apiKey);
  const databaseUrl = await createTestDatabase();
  await expectStatus(api('POST', '/destinations', { body: warehouseDestination(databaseUrl) }), 201);
  await expectStatus(api('POST', '/providers', { body: simOAuthProvider('pipedrive') }), 201);
  const config = hourlySyncConfig(...objects);
  await expectStatus(
    api('POST', '/sync_configs', {
      body: { destination_name: 'warehouse', provider_name: 'pipedrive', config },
    }),
    201,
  );
  const customer = { customer_id: 'acme', name: 'Acme', email: 'it@acme.test' };
  await expectStatus(api('PUT', '/customers', { body: customer }), 200);
  const { rows } = await t.runtime.deps.db.query<{ projectId: string }>(
    `select project_id as "projectId" from customers where external_id = 'acme'`,
  );
  const issued = await simControl(simUrl, 'tokens', {});
  await createConnection(t.runtime.deps, rows[0]!.projectId, 'acme', {
    providerName: 'pipedrive',
    credentials: { authType: 'oauth2', refreshToken: issued.refresh_token, instanceUrl: simUrl },
  });
  const warehouse = new pg.Client({ connectionString: databaseUrl });
  await warehouse.connect();
  return warehouse;
}

/**
 * Waits until `count` runs of a customer's `object` (a standard object, unless its type is given)
 * have ended, polling (and `whileWaiting`); newest first.
 */
export async function endedRuns(
  api: Client,
  object: string | { object_type: 'standard' | 'custom'; object: string },
  count: number,
  whileWaiting?: () => Promise<void>,
  customer = 'acme',
): Promise<any[]> {
  const target = typeof object === 'string' ? { object_type: 'standard', object } : object;
  for (let i = 0; i < 600; i++) {
    const runs = await api('GET', '/sync-runs', { query: { customer_id: customer, ...target } });
    const ended = runs.body.results.filter((r: { status: string }) => r.status !== 'IN_PROGRESS');
    if (ended.length >= count) return ended;
    await whileWaiting?.();
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`fewer than ${count} runs of ${target.object} ended`);
}

/**
 * Triggers a run of customer acme's HubSpot `object` sync (a full one if `fullRefresh`) and waits
 * for it, the `nth` run of it to end, to succeed; answers the requests HubSpot served meanwhile,
 * by route.
 */
export async function triggerHubspotRun(
  api: Client,
  simUrl: string,
  object: string,
  nth: number,
  fullRefresh = false,
): Promise<Record<string, number>> {
  const before = await simServed(simUrl);
  const trigger = await api('POST', '/syncs/_trigger', {
    headers: { 'x-customer-id': 'acme', 'x-provider-name': 'hubspot' },
    body: { object_type: 'standard', object, perform_full_refresh: fullRefresh },
  });
  expect(trigger.status).toBe(200);
  const [latest] = await endedRuns(api, object, nth);
  expect(latest.status, latest.error_message).toBe('SUCCESS');
  return simServedSince(simUrl, before);
}

/**
 * Rewrites the state of the sync of `object` (of the only connection syncing it) as `edit` returns
 * it; `edit` sees the connector's state (ReadPage.state) decoded, as `connector`.
 */
export async function editSyncState(
  t: TestTrellis,
  object: string,
  edit: (state: Record<string, any>, connector: Record<string, any>) => Record<string, any>,
): Promise<void> {
  const { rows } = await t.runtime.deps.db.query<{ id: string; state: Record<string, any> }>(
    'select id, state from syncs where object = $1',
    [object],
  );
  expect(rows).toHaveLength(1);
  const { id, state } = rows[0]!;
  const connector =
    state.connectorState === undefined
      ? {}
      : JSON.parse(Buffer.from(state.connectorState, 'base64url').toString());
  const { connectorState, ...edited } = edit(state, connector);
  await t.runtime.deps.db.query('update syncs set state = $2 where id = $1', [
    id,
    connectorState === undefined
      ? edited
      : { ...edited, connectorState: Buffer.from(JSON.stringify(connectorState)).toString('base64url') },
  ]);
}

/**
 * A HubSpot simulator of `records` records an object (its limits raised for tests), Trellis on it,
 * and customer acme's contacts synced hourly into a fresh test database, the full run ended.
 */
export async function hubspotContactsSynced(records: number) {
  const sim = await startSimulator(hubspot, { records });
  await simControl(sim.url, 'limits', { ten_second: 5000, search_per_second: 100 });
  const t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) } });
  const api = client(t.baseUrl, t.apiKey);
  const warehouse = await syncHubspotIntoTestDatabase(api, sim.url, 'contacts');
  const [full] = await endedRuns(api, 'contacts', 1);
  expect(full.status).toBe('SUCCESS');
  return { sim, t, api, warehouse };
}
