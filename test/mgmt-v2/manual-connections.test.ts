import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { simControl, simOAuthProvider, simServed, simServedSince } from '../helpers/simulator.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

/**
 * HubSpot connections a project creates from a refresh token it already holds (POST
 * /customers/{id}/connections): nothing but the refresh token is known until Trellis first uses it.
 */
describe('Management API: a HubSpot connection made from a refresh token', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let hubId: number;

  const connect = async (customer: string, refreshToken: string) => {
    await api('PUT', '/customers', { body: { customer_id: customer, name: customer, email: 'it@x.test' } });
    const created = await api('POST', `/customers/${customer}/connections`, {
      body: { provider_name: 'hubspot', type: 'oauth2', refresh_token: refreshToken },
    });
    expect(created.status).toBe(200);
    return created.body;
  };

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: 5 });
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) } });
    api = client(t.baseUrl, t.apiKey);
    await api('POST', '/providers', { body: simOAuthProvider('hubspot', ['oauth']) });
  });
  afterAll(async () => {
    await t?.stop();
    await sim?.close();
  });

  it('answers the connected user and learns its portal, as an authorized connection knows it', async () => {
    const tokens = await simControl(sim.url, 'tokens', {});
    hubId = tokens.hub_id;
    const created = await connect('manual', tokens.refresh_token);
    expect(created).toMatchObject({ instance_url: '', status: 'created' });

    const user = await api('GET', '/customers/manual/connections/_provider_user_id', {
      query: { provider_name: 'hubspot' },
    });
    expect(user.status).toBe(200);
    expect(user.body.user_id).toBe('41000001');
    expect(user.body.additional_raw_details.hub_id).toBe(hubId);

    const after = await api('GET', '/customers/manual/connections/hubspot');
    expect(after.body).toMatchObject({
      instance_url: `https://app.hubspot.com/contacts/${hubId}`,
      status: 'working',
    });
  });

  it('a refresh token HubSpot refuses is said to need re-authorizing; no token-info call goes out without a token', async () => {
    await connect('refused', 'a-refresh-token-hubspot-never-issued');
    const before = await simServed(sim.url);
    const user = await api('GET', '/customers/refused/connections/_provider_user_id', {
      query: { provider_name: 'hubspot' },
    });
    expect(user.status).toBe(499);
    expect(user.body.errors[0]).toMatchObject({ code: 'REMOTE_PROVIDER_AUTH' });
    expect(user.body.errors[0].detail).toMatch(/refresh token.*authorized again/);
    const served = await simServedSince(sim.url, before);
    expect(Object.keys(served)).toEqual(['POST /oauth/v1/token']);

    const after = await api('GET', '/customers/refused/connections/hubspot');
    expect(after.body).toMatchObject({ instance_url: '', status: 'bad_credentials' });
  });
});
