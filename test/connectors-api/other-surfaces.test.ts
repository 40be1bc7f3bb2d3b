import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markBadCredentials } from '../../src/core/provider-access.ts';
import {
  type ConnectorsSetup,
  simCredentials,
  startConnectorsApi,
  storeBody,
} from '../helpers/connectors-api.ts';
import { hourlySyncConfig } from '../helpers/syncs.ts';
import { type Client, client } from '../helpers/trellis.ts';

/**
 * A connector is a connection the project owns: it has no customer, so the surfaces that speak of
 * customers' connections (the Management API's, the Platform API's) neither list it nor reach it
 * by id, nothing of theirs fails because of it, and no automatic integration is installed on it.
 * A customer's connection stays out of the Connectors API in turn.
 */

describe('connectors beside the other surfaces', () => {
  let s: ConnectorsSetup;
  let mgmt: Client;
  let platform: Client;
  let connectorId: string;
  let customerConnectionId: string;

  beforeAll(async () => {
    s = await startConnectorsApi();
    mgmt = client(s.t.baseUrl, s.t.apiKey);
    platform = client(s.t.baseUrl, s.t.apiKey, '/v1');
    const connector = await s.api('POST', '/', {
      body: storeBody({
        authentication_implementation_id: 'hubspot:oauth2',
        variables: [{ key: 'refresh_token', value: (await simCredentials(s.sims.hubspot)).refresh_token }],
      }),
    });
    expect(connector.status).toBe(200);
    connectorId = connector.body.data.id;

    // A Supaglue sync config, installed automatically on every connection of the provider's app.
    const url = new URL(s.t.databaseUrl);
    const destination = await mgmt('POST', '/destinations', {
      body: {
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
      },
    });
    expect(destination.status, JSON.stringify(destination.body)).toBe(201);
    const syncConfig = await mgmt('POST', '/sync_configs', {
      body: { destination_name: 'warehouse', provider_name: 'hubspot', config: hourlySyncConfig('contacts') },
    });
    expect(syncConfig.status, JSON.stringify(syncConfig.body)).toBe(201);
    expect(
      (
        await mgmt('PUT', '/customers', {
          body: { customer_id: 'acme', name: 'Acme', email: 'it@acme.test' },
        })
      ).status,
    ).toBe(200);
    const connection = await mgmt('POST', '/customers/acme/connections', {
      body: {
        provider_name: 'hubspot',
        type: 'oauth2',
        refresh_token: (await simCredentials(s.sims.hubspot)).refresh_token,
      },
    });
    expect(connection.status, JSON.stringify(connection.body)).toBe(200);
    customerConnectionId = connection.body.id;
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('installs no automatic integration on it, while the customer connection syncs', async () => {
    const { rows } = await s.t.runtime.deps.db.query<{ connectionId: string }>(
      'select connection_id as "connectionId" from syncs',
    );
    expect(rows.map((r) => r.connectionId)).toEqual([customerConnectionId]);
  });

  it("is not one of the Management API's connections, and leaves its answers whole", async () => {
    const listed = await mgmt('GET', '/customers/acme/connections');
    expect(listed.status).toBe(200);
    expect(listed.body.map((c: { id: string }) => c.id)).toEqual([customerConnectionId]);
    for (const path of ['/customers', '/sync-runs', '/syncs?customer_id=acme&provider_name=hubspot']) {
      const res = await mgmt('GET', path);
      expect(res.status, `${path} ${JSON.stringify(res.body)}`).toBeLessThan(300);
    }
  });

  it("is not one of the Platform API's connections, by list or by id", async () => {
    const listed = await platform('GET', `/projects/${s.projectId}/connections`);
    expect(listed.status).toBe(200);
    expect(listed.body.map((c: { id: string }) => c.id)).toEqual([customerConnectionId]);
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { updateMask: ['providerWorkspaceRef'], connection: { providerWorkspaceRef: 'x' } }],
      ['DELETE', undefined],
    ] as const) {
      const res = await platform(method, `/projects/${s.projectId}/connections/${connectorId}`, { body });
      expect(res.status, `${method} ${JSON.stringify(res.body)}`).toBe(404);
    }
    expect((await s.api('GET', `/${connectorId}`)).status).toBe(200);
  });

  it("does not list or reach a customer's connection", async () => {
    expect((await s.api('GET', '/')).body.data.map((c: { id: string }) => c.id)).toEqual([connectorId]);
    expect((await s.api('GET', `/${customerConnectionId}`)).status).toBe(404);
    expect((await s.api('POST', `/${customerConnectionId}/test`)).status).toBe(404);
    expect((await s.api('DELETE', `/${customerConnectionId}`)).status).toBe(404);
  });

  it('is marked when its provider refuses its credentials, as a customer connection is', async () => {
    await markBadCredentials(s.t.runtime.deps, connectorId, 'refused in a test');
    expect((await s.api('GET', `/${connectorId}`)).body.data.status).toBe('bad_credentials');
  });
});
