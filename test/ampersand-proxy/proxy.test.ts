import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateIntegration } from '../../src/core/integrations.ts';
import { createProject } from '../../src/core/projects.ts';
import { expectProblem } from '../helpers/ampersand.ts';
import { type AmpersandData, INTEGRATION, startAmpersandData } from '../helpers/ampersand-data.ts';
import { simControl, simRecords } from '../helpers/simulator.ts';
import type { ApiResponse } from '../helpers/trellis.ts';

/**
 * The proxy (Ampersand dialect) at /proxy over real HTTP: requests reach the HubSpot simulator on
 * the installation's connection (seen through a recording proxy in front of it), and the
 * simulator's answers come back as it gave them.
 */

describe('the proxy', () => {
  let data: AmpersandData;
  let apiKey: string;

  const ampHeaders = (over: Record<string, string> = {}) => ({
    'x-amp-proxy-version': '1',
    'x-amp-project-id': data.projectId,
    'x-amp-integration-name': INTEGRATION,
    'x-amp-group-ref': 'acme',
    ...over,
  });

  const proxy = async (
    method: string,
    providerPath: string,
    opts: { headers?: Record<string, string>; body?: string | Buffer; key?: string } = {},
  ): Promise<ApiResponse> => {
    const res = await fetch(`${data.t.baseUrl}/proxy${providerPath}`, {
      method,
      headers: { 'x-api-key': opts.key ?? apiKey, ...(opts.headers ?? ampHeaders()) },
      body: opts.body,
    });
    const text = await res.text();
    const json = res.headers.get('content-type')?.includes('json') && text ? JSON.parse(text) : text;
    return { status: res.status, body: json, headers: res.headers };
  };

  /** The requests that reached the provider since `from`, on its API (not its token endpoint). */
  const reached = (from: number) =>
    data.recorder.exchanges.slice(from).filter((e) => !e.path.startsWith('/oauth/'));

  beforeAll(async () => {
    data = await startAmpersandData();
    apiKey = data.t.apiKey;
  });
  afterAll(async () => {
    await data?.stop();
  });

  it("passes a call through with the connection's token, and none of the caller's own headers", async () => {
    const from = data.recorder.exchanges.length;
    const res = await proxy('GET', '/crm/v3/objects/contacts?limit=2&properties=email', {
      headers: {
        ...ampHeaders(),
        authorization: 'Bearer callers-own-token',
        cookie: 'session=callers-cookie',
        'x-forwarded-for': '10.1.2.3',
        'x-trellis-test': 'kept',
        accept: 'application/json',
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.results).toHaveLength(2);
    expect(Object.keys(res.body.results[0].properties).sort()).toEqual(['email']);
    const [call] = reached(from);
    expect(call).toMatchObject({ method: 'GET', path: '/crm/v3/objects/contacts?limit=2&properties=email' });
    const sent = call!.requestHeaders;
    expect(Object.keys(sent).filter((name) => name.startsWith('x-amp-') || name === 'x-api-key')).toEqual([]);
    expect(sent.cookie).toBeUndefined();
    expect(sent['x-forwarded-for']).toBeUndefined();
    expect(sent.authorization).toMatch(/^Bearer /);
    expect(sent.authorization).not.toContain('callers-own-token');
    expect(sent['x-trellis-test']).toBe('kept');
    // The provider's rate-limit headers come back with its answer.
    expect(res.headers.get('x-hubspot-ratelimit-max')).toBeTruthy();
  });

  it('passes bodies through, and the provider answers as it answered, errors included', async () => {
    const created = await proxy('POST', '/crm/v3/objects/contacts', {
      headers: { ...ampHeaders(), 'content-type': 'application/json' },
      body: JSON.stringify({ properties: { email: 'proxied@example.test', firstname: 'Proxied' } }),
    });
    expect(created.status).toBe(201);
    const contact = (await simRecords(data.sim.url, 'contacts')).find((r) => r.id === created.body.id);
    expect(contact?.record.properties).toMatchObject({ email: 'proxied@example.test' });

    const missing = await proxy('GET', '/crm/v3/objects/contacts/999999');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ status: 'error', category: 'OBJECT_NOT_FOUND' });
    const invalid = await proxy('PATCH', `/crm/v3/objects/contacts/${created.body.id}`, {
      headers: { ...ampHeaders(), 'content-type': 'application/json' },
      body: JSON.stringify({ properties: { email: 'not an address' } }),
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.category).toBe('VALIDATION_ERROR');

    const deleted = await proxy('DELETE', `/crm/v3/objects/contacts/${created.body.id}`, {
      headers: ampHeaders({ 'x-amp-installation-id': data.installation.id }),
    });
    expect(deleted.status).toBe(204);
    expect((await simRecords(data.sim.url, 'contacts')).find((r) => r.id === created.body.id)?.deleted).toBe(
      true,
    );
  });

  it('renews an expired token and sends the call again, once', async () => {
    await simControl(data.sim.url, 'faults', { expire_tokens_now: true });
    const from = data.recorder.exchanges.length;
    const res = await proxy('GET', '/crm/v3/objects/companies?limit=1');
    expect(res.status).toBe(200);
    const calls = data.recorder.exchanges.slice(from).map((e) => [e.method, e.path.split('?')[0], e.status]);
    expect(calls).toEqual([
      ['GET', '/crm/v3/objects/companies', 401],
      ['POST', '/oauth/v1/token', 200],
      ['GET', '/crm/v3/objects/companies', 200],
    ]);
    const [expired, , renewed] = data.recorder.exchanges.slice(from);
    expect(renewed!.requestHeaders.authorization).not.toBe(expired!.requestHeaders.authorization);
  });

  it('finds the installation by its id, and refuses one the other headers do not name', async () => {
    const byId = await proxy('GET', '/crm/v3/objects/contacts?limit=1', {
      headers: ampHeaders({
        'x-amp-installation-id': data.otherInstallation.id,
        'x-amp-group-ref': 'globex',
      }),
    });
    expect(byId.status).toBe(200);
    const refusals: [string, Record<string, string>, number][] = [
      [
        "another group's installation",
        ampHeaders({ 'x-amp-installation-id': data.otherInstallation.id }),
        404,
      ],
      [
        'another integration',
        ampHeaders({ 'x-amp-installation-id': data.installation.id, 'x-amp-integration-name': 'other' }),
        404,
      ],
      ['an unknown group', ampHeaders({ 'x-amp-group-ref': 'nobody' }), 404],
      ['an unknown installation', ampHeaders({ 'x-amp-installation-id': crypto.randomUUID() }), 404],
      ['another project', ampHeaders({ 'x-amp-project-id': crypto.randomUUID() }), 404],
      ['no installation', { 'x-amp-proxy-version': '1', 'x-amp-project-id': data.projectId }, 400],
      ['no version', { ...ampHeaders(), 'x-amp-proxy-version': '' }, 400],
      ['another version', ampHeaders({ 'x-amp-proxy-version': '2' }), 400],
    ];
    const from = data.recorder.exchanges.length;
    for (const [what, headers, status] of refusals) {
      const res = await proxy('GET', '/crm/v3/objects/contacts?limit=1', { headers });
      expect(res.status, what).toBe(status);
      expectProblem(res, status);
    }
    const intruder = await createProject(data.t.runtime.deps.db, 'intruder');
    const foreign = await proxy('GET', '/crm/v3/objects/contacts?limit=1', {
      key: intruder.apiKey,
      headers: ampHeaders({
        'x-amp-project-id': intruder.project.id,
        'x-amp-installation-id': data.installation.id,
      }),
    });
    expectProblem(foreign, 404);
    expectProblem(await proxy('GET', '/crm/v3/objects/contacts', { key: 'not-a-key' }), 401);
    expect(reached(from)).toEqual([]);
  });

  it("refuses calls when the installation's integration does not enable the proxy", async () => {
    const deps = data.t.runtime.deps;
    const { read } = data.integration;
    await updateIntegration(deps, data.projectId, data.integration.id, { read, proxyEnabled: false }, false);
    const from = data.recorder.exchanges.length;
    const refused = await proxy('GET', '/crm/v3/objects/contacts?limit=1');
    expect(expectProblem(refused, 403).detail).toBe(`integration "${INTEGRATION}" does not enable the proxy`);
    expect(reached(from)).toEqual([]);
    await updateIntegration(deps, data.projectId, data.integration.id, { read, proxyEnabled: true }, false);
    expect((await proxy('GET', '/crm/v3/objects/contacts?limit=1')).status).toBe(200);
  });

  it('refuses bodies over its limit', async () => {
    const from = data.recorder.exchanges.length;
    const large = await proxy('POST', '/crm/v3/objects/contacts', {
      headers: { ...ampHeaders(), 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(5 * 1024 * 1024 + 1),
    });
    expectProblem(large, 413);
    expect(reached(from)).toEqual([]);
  });
});
