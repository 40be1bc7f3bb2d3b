import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProject } from '../../src/core/projects.ts';
import { expectProblem } from '../helpers/ampersand.ts';
import {
  type ConnectorsSetup,
  simCredentials,
  startConnectorsApi,
  storeBody,
} from '../helpers/connectors-api.ts';
import { type ApiResponse, client } from '../helpers/trellis.ts';

/**
 * A connector made with the Connectors API reaches its provider through the proxy (/proxy), named
 * by `x-trellis-connection-id`: with its own credentials and pace, the header itself never passed
 * on. Only the project's own connections are reached so; a customer's goes through its
 * installation.
 */

describe('connectors through the proxy', () => {
  let s: ConnectorsSetup;
  let apolloId: string;
  let hubspotId: string;
  let apolloKey: string;

  const proxy = async (
    providerPath: string,
    headers: Record<string, string | undefined>,
    method = 'GET',
  ): Promise<ApiResponse> => {
    const sent = Object.fromEntries(
      Object.entries({
        'x-api-key': s.t.apiKey,
        'x-amp-proxy-version': '1',
        'x-amp-project-id': s.projectId,
        ...headers,
      }).filter((entry): entry is [string, string] => entry[1] !== undefined),
    );
    const res = await fetch(`${s.t.baseUrl}/proxy${providerPath}`, { method, headers: sent });
    const text = await res.text();
    const json = res.headers.get('content-type')?.includes('json') && text !== '';
    return { status: res.status, body: json ? JSON.parse(text) : text, headers: res.headers };
  };

  beforeAll(async () => {
    s = await startConnectorsApi();
    apolloKey = (await simCredentials(s.sims.apollo)).api_key!;
    apolloId = (
      await s.api('POST', '/', {
        body: storeBody({
          authentication_implementation_id: 'apollo:api_key',
          variables: [{ key: 'api_key', value: apolloKey }],
        }),
      })
    ).body.data.id;
    hubspotId = (
      await s.api('POST', '/', {
        body: storeBody({
          authentication_implementation_id: 'hubspot:oauth2',
          variables: [{ key: 'refresh_token', value: (await simCredentials(s.sims.hubspot)).refresh_token }],
        }),
      })
    ).body.data.id;
  });
  afterAll(async () => {
    await s?.stop();
  });

  it("calls the provider with the connector's credentials, and keeps the header to itself", async () => {
    const from = s.apolloRecorder.exchanges.length;
    const res = await proxy('/api/v1/auth/health', { 'x-trellis-connection-id': apolloId });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ is_logged_in: true });
    const [call, ...more] = s.apolloRecorder.exchanges.slice(from);
    expect(more).toEqual([]);
    expect(call).toMatchObject({ method: 'GET', path: '/api/v1/auth/health' });
    expect(call!.requestHeaders['x-api-key']).toBe(apolloKey);
    expect(call!.requestHeaders['x-trellis-connection-id']).toBeUndefined();

    const contacts = await proxy('/crm/v3/objects/contacts?limit=2', {
      'x-trellis-connection-id': hubspotId,
    });
    expect(contacts.status, JSON.stringify(contacts.body)).toBe(200);
    expect(contacts.body.results).toHaveLength(2);
  });

  it("paces the connector's proxied calls as its rate limit says", async () => {
    await s.api('PUT', `/${apolloId}`, { body: { rate_limit_unit: 'second', rate_limit_duration: 2 } });
    const started = Date.now();
    const answers = await Promise.all(
      [1, 2, 3].map(() => proxy('/api/v1/auth/health', { 'x-trellis-connection-id': apolloId })),
    );
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it("reaches only the project's own connections, named alone", async () => {
    const mgmt = client(s.t.baseUrl, s.t.apiKey);
    await mgmt('PUT', '/customers', { body: { customer_id: 'acme', name: 'Acme', email: 'it@acme.test' } });
    const customerConnection = await mgmt('POST', '/customers/acme/connections', {
      body: { provider_name: 'apollo', type: 'api_key', api_key: apolloKey },
    });
    expect(customerConnection.status, JSON.stringify(customerConnection.body)).toBe(200);
    const other = await createProject(s.t.runtime.deps.db, 'other');
    const doomed = await s.api('POST', '/', {
      body: storeBody({
        authentication_implementation_id: 'apollo:api_key',
        variables: [{ key: 'api_key', value: 'k' }],
      }),
    });
    await s.api('DELETE', `/${doomed.body.data.id}`);

    const from = s.apolloRecorder.exchanges.length;
    for (const [what, headers, status] of [
      ["a customer's connection", { 'x-trellis-connection-id': customerConnection.body.id }, 404],
      ['a deleted connector', { 'x-trellis-connection-id': doomed.body.data.id }, 404],
      ['no connection', { 'x-trellis-connection-id': 'not-a-connection' }, 404],
      [
        "another project's key, on this project's connector",
        {
          'x-api-key': other.apiKey,
          'x-amp-project-id': other.project.id,
          'x-trellis-connection-id': apolloId,
        },
        404,
      ],
      [
        'a connector and an installation',
        { 'x-trellis-connection-id': apolloId, 'x-amp-installation-id': 'x' },
        400,
      ],
      ['a connector and a group', { 'x-trellis-connection-id': apolloId, 'x-amp-group-ref': 'acme' }, 400],
    ] as const) {
      const res = await proxy('/api/v1/auth/health', headers);
      expect(res.status, what).toBe(status);
      expectProblem(res, status);
    }
    expect(s.apolloRecorder.exchanges.slice(from)).toEqual([]);
  });
});
