import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getWriteOperation, type WriteOperation } from '../../src/core/operations.ts';
import { createProject } from '../../src/core/projects.ts';
import { expectAnswer, writeSchemas } from '../helpers/ampersand-data.ts';
import {
  type ConnectorsSetup,
  connectorsClient,
  simCredentials,
  startConnectorsApi,
  storeBody,
} from '../helpers/connectors-api.ts';
import { simRecords } from '../helpers/simulator.ts';
import { type ApiResponse, client } from '../helpers/trellis.ts';
import { until } from '../helpers/wait.ts';

/**
 * A connector made with the Connectors API writes records through the Write API (/write/v1),
 * named by `x-trellis-connection-id` (a Trellis extension) instead of a group: the path's
 * integration is then the connector's provider, and the object one its provider's connector
 * writes. Synchronous and asynchronous, single records and batches, at the connector's own pace.
 * Only the project's own connections are written to so; a customer's goes through its
 * installation.
 */

interface HubSpotContact {
  properties: Record<string, string | null>;
}

describe('connectors through the Write API', () => {
  let s: ConnectorsSetup;
  let apolloKey: string;
  let apolloId: string;
  let hubspotId: string;

  const path = (provider: string, object: string, project = 'default') =>
    `/projects/${project}/integrations/${provider}/objects/${object}`;
  const write = (
    provider: string,
    object: string,
    body: unknown,
    headers: Record<string, string>,
    opts: { apiKey?: string; project?: string } = {},
  ): Promise<ApiResponse> =>
    client(s.t.baseUrl, opts.apiKey ?? s.t.apiKey, '/write/v1')(
      'POST',
      path(provider, object, opts.project),
      {
        body,
        headers,
      },
    );
  /** Writes through a connector and checks the answer against the Write API's document. */
  const post = async (connectorId: string, provider: string, body: unknown, status: number) => {
    const res = await write(provider, 'contacts', body, { 'x-trellis-connection-id': connectorId });
    return expectAnswer(writeSchemas, 'POST', path(provider, 'contacts'), res, status) as Record<string, any>;
  };
  const hubspotContact = async (id: string) => {
    const record = (await simRecords<HubSpotContact>(s.sims.hubspot.url, 'contacts')).find(
      (r) => r.id === id,
    );
    expect(record, `contact ${id} at the HubSpot simulator`).toBeDefined();
    return record!;
  };
  const operation = (id: string) => getWriteOperation(s.t.runtime.deps, s.projectId, id);

  beforeAll(async () => {
    s = await startConnectorsApi();
    apolloKey = (await simCredentials(s.sims.apollo)).api_key!;
    const apollo = await s.api('POST', '/', {
      body: storeBody({
        authentication_implementation_id: 'apollo:api_key',
        rate_limit_unit: 'second',
        rate_limit_duration: 2,
        variables: [{ key: 'api_key', value: apolloKey }],
      }),
    });
    expect(apollo.status, JSON.stringify(apollo.body)).toBe(200);
    apolloId = apollo.body.data.id;
    const hubspot = await s.api('POST', '/', {
      body: storeBody({
        authentication_implementation_id: 'hubspot:oauth2',
        variables: [{ key: 'refresh_token', value: (await simCredentials(s.sims.hubspot)).refresh_token }],
      }),
    });
    expect(hubspot.status, JSON.stringify(hubspot.body)).toBe(200);
    hubspotId = hubspot.body.data.id;
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('creates, updates and deletes a record at the provider, each an operation of the connector', async () => {
    const created = await post(
      hubspotId,
      'hubspot',
      { type: 'create', record: { email: 'ada@example.test', firstname: 'Ada' } },
      200,
    );
    expect(created.result).toMatchObject({ success: true, recordId: expect.any(String) });
    const id = created.result.recordId as string;
    expect((await hubspotContact(id)).record.properties).toMatchObject({
      email: 'ada@example.test',
      firstname: 'Ada',
    });

    const updated = await post(
      hubspotId,
      'hubspot',
      { type: 'update', record: { id, firstname: 'Augusta' } },
      200,
    );
    expect(updated.result).toMatchObject({ success: true, recordId: id });
    expect((await hubspotContact(id)).record.properties).toMatchObject({ firstname: 'Augusta' });

    const deleted = await post(hubspotId, 'hubspot', { type: 'delete', record: { id } }, 200);
    expect(deleted.result).toEqual({ success: true, recordId: id });
    expect((await hubspotContact(id)).deleted).toBe(true);

    for (const [answer, type] of [
      [created, 'create'],
      [updated, 'update'],
      [deleted, 'delete'],
    ] as const)
      expect(await operation(answer.operationId)).toMatchObject({
        type,
        status: 'succeeded',
        installationId: null,
        integrationId: null,
        projectOwnedConnectionId: hubspotId,
      } satisfies Partial<WriteOperation>);

    // The Platform API's operations are installations': a connector's is not one of them.
    const platform = client(s.t.baseUrl, s.t.apiKey, '/v1');
    expect((await platform('GET', `/projects/default/operations/${created.operationId}`)).status).toBe(404);
  });

  it('writes a batch, and asynchronously, answering the operation at once', async () => {
    const batch = await post(
      hubspotId,
      'hubspot',
      {
        type: 'create',
        batch: [{ record: { email: 'grace@example.test' } }, { record: { email: 'broken' } }],
      },
      200,
    );
    expect(batch).toMatchObject({ successCount: 1, failureCount: 1 });
    expect(batch.errors).toEqual([
      { message: expect.stringMatching(/^record 2: HubSpot refused the record/) },
    ]);
    expect((await hubspotContact(batch.results[0].recordId)).record.properties.email).toBe(
      'grace@example.test',
    );

    const accepted = await post(
      hubspotId,
      'hubspot',
      { type: 'create', mode: 'asynchronous', record: { email: 'later@example.test' } },
      200,
    );
    expect(Object.keys(accepted)).toEqual(['operationId']);
    const done = await until('the asynchronous write to end', async () => {
      const op = await operation(accepted.operationId);
      return op.endedAt ? op : undefined;
    });
    expect(done).toMatchObject({
      asynchronous: true,
      status: 'succeeded',
      projectOwnedConnectionId: hubspotId,
    });
    expect((await hubspotContact(done.results?.[0]?.recordId ?? 'none')).record.properties.email).toBe(
      'later@example.test',
    );
  });

  it("writes with the connector's credentials at the connector's pace", async () => {
    const from = s.apolloRecorder.exchanges.length;
    const started = Date.now();
    const answer = await post(
      apolloId,
      'apollo',
      {
        type: 'create',
        batch: [1, 2, 3].map((i) => ({ record: { first_name: 'Paced', last_name: `No ${i}` } })),
      },
      200,
    );
    // Two requests a second: the third waits for the next second.
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(answer).toMatchObject({ successCount: 3, failureCount: 0 });
    const calls = s.apolloRecorder.exchanges.slice(from);
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(Array(3).fill('POST /api/v1/contacts'));
    for (const call of calls) {
      expect(call.requestHeaders['x-api-key']).toBe(apolloKey);
      expect(call.requestHeaders['x-trellis-connection-id']).toBeUndefined();
    }
    const atApollo = new Set((await simRecords(s.sims.apollo.url, 'contacts')).map((r) => r.id));
    for (const result of answer.results) expect(atApollo.has(result.recordId)).toBe(true);
  });

  it("writes to the project's own connections only, named alone, and nothing else", async () => {
    const mgmt = client(s.t.baseUrl, s.t.apiKey);
    await mgmt('PUT', '/customers', { body: { customer_id: 'acme', name: 'Acme', email: 'it@acme.test' } });
    const customerConnection = await mgmt('POST', '/customers/acme/connections', {
      body: { provider_name: 'apollo', type: 'api_key', api_key: apolloKey },
    });
    expect(customerConnection.status, JSON.stringify(customerConnection.body)).toBe(200);
    const other = await createProject(s.t.runtime.deps.db, 'other');
    const othersConnector = await connectorsClient(s.t.baseUrl, other.apiKey)('POST', '/', {
      body: storeBody({
        authentication_implementation_id: 'apollo:api_key',
        variables: [{ key: 'api_key', value: apolloKey }],
      }),
    });
    expect(othersConnector.status, JSON.stringify(othersConnector.body)).toBe(200);
    const doomed = await s.api('POST', '/', {
      body: storeBody({
        authentication_implementation_id: 'apollo:api_key',
        variables: [{ key: 'api_key', value: apolloKey }],
      }),
    });
    await s.api('DELETE', `/${doomed.body.data.id}`);

    const record = { first_name: 'Nobody' };
    const named = (connectionId: string) => ({ 'x-trellis-connection-id': connectionId });
    const refusals: [string, () => Promise<ApiResponse>, number, RegExp][] = [
      [
        "a customer's connection",
        () => write('apollo', 'contacts', { type: 'create', record }, named(customerConnection.body.id)),
        404,
        /not found/,
      ],
      [
        "another project's connector",
        () => write('apollo', 'contacts', { type: 'create', record }, named(othersConnector.body.data.id)),
        404,
        /not found/,
      ],
      [
        "this project's connector, with another project's key",
        () =>
          write('apollo', 'contacts', { type: 'create', record }, named(apolloId), {
            apiKey: other.apiKey,
            project: 'other',
          }),
        404,
        /not found/,
      ],
      [
        'a deleted connector',
        () => write('apollo', 'contacts', { type: 'create', record }, named(doomed.body.data.id)),
        404,
        /not found/,
      ],
      [
        'no connection',
        () => write('apollo', 'contacts', { type: 'create', record }, named('not-a-connection')),
        404,
        /not found/,
      ],
      [
        'another provider in the path',
        () => write('hubspot', 'contacts', { type: 'create', record }, named(apolloId)),
        404,
        /hubspot connection .* not found/,
      ],
      [
        'a connector and a group',
        () => write('apollo', 'contacts', { groupRef: 'acme', type: 'create', record }, named(apolloId)),
        400,
        /not both/,
      ],
      [
        'an object its provider does not write',
        () => write('apollo', 'accounts', { type: 'create', record }, named(apolloId)),
        400,
        /does not write "accounts" \(Apollo connections write contacts\)/,
      ],
      [
        'a write its provider cannot take',
        () => write('apollo', 'contacts', { type: 'delete', record: { id: '1' } }, named(apolloId)),
        400,
        /cannot delete Apollo records/,
      ],
      [
        'neither a connector nor a group',
        () => write('apollo', 'contacts', { type: 'create', record }, {}),
        400,
        /groupRef is required/,
      ],
    ];
    const written = async () => {
      const { rows } = await s.t.runtime.deps.db.query<{ n: number }>(
        'select count(*)::int as n from write_operations where connection_id = any($1)',
        [[customerConnection.body.id, othersConnector.body.data.id, apolloId]],
      );
      return rows[0]!.n;
    };
    const operationsBefore = await written();
    const from = s.apolloRecorder.exchanges.length;
    for (const [what, send, status, detail] of refusals) {
      const res = await send();
      expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBe(status);
      expect(res.headers.get('content-type'), what).toMatch(/^application\/problem\+json/);
      expect(res.body.detail, what).toMatch(detail);
    }
    expect(s.apolloRecorder.exchanges.slice(from)).toEqual([]);
    // A refused write is no operation.
    expect(await written()).toBe(operationsBefore);
  });
});
