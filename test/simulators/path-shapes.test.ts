import { Client } from '@hubspot/api-client';
import { afterAll, describe, expect, it } from 'vitest';
import { apollo } from '../../simulators/apollo/index.ts';
import type { ProviderSimulator } from '../../simulators/core/server.ts';
import { gong } from '../../simulators/gong/index.ts';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { pipedrive } from '../../simulators/pipedrive/index.ts';
import { salesforce } from '../../simulators/salesforce/index.ts';
import { simControl } from '../helpers/simulator.ts';

/**
 * Paths as the providers and their SDKs spell them beyond the one form each route is registered
 * under: with a trailing slash (the framework's, for every simulator), and under an older base path
 * a provider still serves. Each is answered exactly as the registered form is.
 */
describe('simulators answer every spelling of a path the provider answers', () => {
  const running: RunningSimulator[] = [];
  afterAll(() => Promise.all(running.map((sim) => sim.close())));

  /** A simulator with a fresh credential, and a request carrying it in the provider's header. */
  const open = async (provider: ProviderSimulator, credential: (issued: any) => Record<string, string>) => {
    const sim = await startSimulator(provider, { records: 5 });
    running.push(sim);
    const issued = await simControl(sim.url, 'tokens', {});
    const call = (path: string, init: { method?: string; body?: unknown } = {}) =>
      fetch(`${sim.url}${path}`, {
        method: init.method ?? 'GET',
        headers: { ...credential(issued), 'content-type': 'application/json' },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
    return { sim, issued, call };
  };
  const bearer = (issued: { access_token: string }) => ({ authorization: `Bearer ${issued.access_token}` });

  /** Both spellings answer 200 with the same body (`part` of it, where answers carry a request id). */
  const expectSameAnswer = async (
    registered: Promise<Response>,
    other: Promise<Response>,
    part = (body: any) => body,
  ) => {
    const [a, b] = await Promise.all([registered, other]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(part(await b.json())).toEqual(part(await a.json()));
  };

  it("HubSpot: the official SDK's owners list, which asks for /crm/v3/owners/", async () => {
    const { sim, issued, call } = await open(hubspot, bearer);
    const sdk = new Client({
      accessToken: issued.access_token,
      basePath: sim.url,
      numberOfApiCallRetries: 0,
    });
    // GET /crm/v3/owners/?limit=100&archived=false
    const owners = await sdk.crm.owners.ownersApi.getPage(undefined, undefined, 100, false);
    expect(owners.results.length).toBeGreaterThan(0);
    expect(owners.results[0]).toMatchObject({ id: expect.any(String), email: expect.stringContaining('@') });
    await expectSameAnswer(
      call('/crm/v3/owners?limit=100&archived=false'),
      call('/crm/v3/owners/?limit=100&archived=false'),
      (body) => body.results.map((owner: { id: string }) => owner.id),
    );
  });

  it('Salesforce: REST resources with a trailing slash, as its reference writes them', async () => {
    const { call } = await open(salesforce, bearer);
    const q = encodeURIComponent('SELECT Id FROM Account');
    await expectSameAnswer(
      call(`/services/data/v59.0/query?q=${q}`),
      call(`/services/data/v59.0/query/?q=${q}`),
    );
    await expectSameAnswer(call('/services/data/v59.0/sobjects'), call('/services/data/v59.0/sobjects/'));
    await expectSameAnswer(call('/services/data'), call('/services/data/'));
  });

  it('Pipedrive: v1 at /v1 (api.pipedrive.com, the SDK) and /api/v1 (company domains); a trailing slash', async () => {
    const { call } = await open(pipedrive, bearer);
    await expectSameAnswer(call('/api/v1/users/me'), call('/v1/users/me'));
    await expectSameAnswer(call('/api/v2/persons?limit=2'), call('/api/v2/persons/?limit=2'));
  });

  it("Apollo: the API at /api/v1 and at its earlier reference's /v1; a trailing slash", async () => {
    const { call } = await open(apollo, (issued: { api_key: string }) => ({ 'x-api-key': issued.api_key }));
    const search = (path: string) => call(path, { method: 'POST', body: { page: 1, per_page: 5 } });
    await expectSameAnswer(search('/api/v1/contacts/search'), search('/v1/contacts/search'));
    await expectSameAnswer(search('/api/v1/contacts/search'), search('/api/v1/contacts/search/'));
  });

  it('Gong: a trailing slash', async () => {
    const { call } = await open(gong, (pair: { access_key: string; access_key_secret: string }) => ({
      authorization: `Basic ${Buffer.from(`${pair.access_key}:${pair.access_key_secret}`).toString('base64')}`,
    }));
    await expectSameAnswer(call('/v2/users'), call('/v2/users/'), (body) => body.users);
  });
});
