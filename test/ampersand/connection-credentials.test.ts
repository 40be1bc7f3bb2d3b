import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apollo } from '../../simulators/apollo/index.ts';
import { gong } from '../../simulators/gong/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import type { Credentials } from '../../src/auth/connection-auth.ts';
import { SEALED_COLUMNS } from '../../src/auth/vault.ts';
import { markBadCredentials } from '../../src/core/provider-access.ts';
import { expectProblem } from '../helpers/ampersand.ts';
import { simControl, simServed, simServedSince } from '../helpers/simulator.ts';
import { hourlySyncConfig } from '../helpers/syncs.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';
import { contractClient } from './contract-check.ts';

/**
 * Connections made and changed with credentials through the Platform API, against the Apollo and
 * Gong simulators: `connections:generate` (an API key, basic auth) and the update with its
 * `updateMask` (credentials rotated, a workspace changed). The provider is asked before anything
 * is saved; a refused key leaves no trace. Every answer is validated against the document.
 */

const OPERATIONS = ['generateConnection', 'updateConnection'];
const WRONG_KEY = 'apollo-wrong-key-1';
const WRONG_SECRET = 'gong-wrong-secret-1';

describe('Platform API connections with credentials (generate, update)', () => {
  let t: TestTrellis;
  let apolloSim: RunningSimulator;
  let gongSim: RunningSimulator;
  let mgmt: Client;
  /** Keys the simulators issued: no answer may show one. */
  const secrets: string[] = [WRONG_KEY, WRONG_SECRET];
  const { api, neverSucceeded } = contractClient(
    () => t.baseUrl,
    () => t.apiKey,
    secrets,
  );

  const apolloKey = async () => {
    const key = (await simControl(apolloSim.url, 'tokens', {})).api_key as string;
    secrets.push(key);
    return key;
  };
  const gongPair = async () => {
    const pair = (await simControl(gongSim.url, 'tokens', {})) as {
      access_key: string;
      access_key_secret: string;
    };
    secrets.push(pair.access_key_secret);
    return { username: pair.access_key, password: pair.access_key_secret };
  };
  const generate = (body: Record<string, unknown>) =>
    api('POST', '/projects/default/connections:generate', {
      groupRef: 'acme',
      groupName: 'Acme Corp',
      consumerRef: 'user-1',
      consumerName: 'Ursula',
      ...body,
    });
  const storedCredentials = async (id: string) => {
    const { rows } = await t.runtime.deps.db.query<{ sealed: string }>(
      'select credentials_sealed as sealed from connections where id = $1',
      [id],
    );
    return t.runtime.deps.vault.openJson<Credentials>(
      rows[0]!.sealed,
      SEALED_COLUMNS.connectionCredentials,
      id,
    );
  };
  /** Everything a refused request must leave as it was. */
  const snapshot = async () => {
    const { rows } = await t.runtime.deps.db.query(
      `select (select json_agg(c order by c.id) from (select id, external_id, name, email, updated_at from customers) c) as customers,
              (select json_agg(c order by c.id) from (select id, status, credentials_sealed, instance_url, updated_at from connections) c) as connections,
              (select json_agg(c order by c.id) from (select id, ref, name from consumers) c) as consumers,
              (select count(*) from webhook_events)::int as events`,
    );
    return rows[0];
  };

  beforeAll(async () => {
    apolloSim = await startSimulator(apollo, { records: 20 });
    gongSim = await startSimulator(gong, { records: 20 });
    t = await startTrellis({
      roles: { api: true, worker: false },
      env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ apollo: apolloSim.url, gong: gongSim.url }) },
    });
    mgmt = client(t.baseUrl, t.apiKey);
    const globex = await mgmt('PUT', '/customers', {
      body: { customer_id: 'globex', name: 'Globex', email: 'ops@globex.test' },
    });
    expect(globex.status).toBe(200);
  });
  afterAll(async () => {
    await t?.stop();
    await apolloSim?.close();
    await gongSim?.close();
  });

  it('generate with an API key the provider accepts: a working connection, its group and consumer made', async () => {
    const key = await apolloKey();
    const before = await simServed(apolloSim.url);
    const made = await generate({ provider: 'apollo', apiKey: key });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({
      provider: 'apollo',
      authScheme: 'apiKey',
      status: 'working',
      group: { groupRef: 'acme', groupName: 'Acme Corp' },
      consumer: { consumerRef: 'user-1', consumerName: 'Ursula' },
      providerMetadata: {},
    });
    expect(made.body.providerApp).toBeUndefined();
    // The provider was asked who the key belongs to before it was saved.
    expect(Object.keys(await simServedSince(apolloSim.url, before)).length).toBeGreaterThan(0);
    expect(await storedCredentials(made.body.id)).toEqual({ type: 'api_key', api_key: key });
    // One core: the Management API sees the customer and the connection.
    const customer = await mgmt('GET', '/customers/acme');
    expect(customer.body).toMatchObject({ customer_id: 'acme', name: 'Acme Corp', email: '' });
    const seen = await mgmt('GET', '/customers/acme/connections/apollo');
    expect(seen.body).toMatchObject({ id: made.body.id, status: 'working' });
    const listed = await api('GET', '/projects/default/connections?consumerRef=user-1');
    expect(listed.body).toEqual([made.body]);
    const { rows } = await t.runtime.deps.db.query(
      `select payload from webhook_events where type = 'connection.created'`,
    );
    expect(rows.map((r) => r.payload.connection_id)).toEqual([made.body.id]);
  });

  it('generate with a key the provider refuses: a 422, and nothing saved', async () => {
    const before = await snapshot();
    const refused = await generate({
      groupRef: 'newco',
      groupName: 'NewCo',
      provider: 'apollo',
      apiKey: WRONG_KEY,
    });
    expect(expectProblem(refused, 422).detail).toBe('Apollo did not accept these credentials');
    expect(await snapshot()).toEqual(before);
    expect((await mgmt('GET', '/customers/newco')).status).toBe(404);
  });

  it('generate with basic auth for Gong: its access key and secret; a wrong secret is refused', async () => {
    const pair = await gongPair();
    const before = await snapshot();
    const wrong = await generate({
      provider: 'gong',
      basicAuth: { username: pair.username, password: WRONG_SECRET },
    });
    expectProblem(wrong, 422);
    expect(await snapshot()).toEqual(before);
    const made = await generate({ provider: 'gong', basicAuth: pair });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ provider: 'gong', authScheme: 'basic', status: 'working' });
    expect(await storedCredentials(made.body.id)).toEqual({
      type: 'access_key_secret',
      access_key: pair.username,
      access_key_secret: pair.password,
    });
  });

  it('a group the Management API made keeps its email; it is renamed only when a name is sent', async () => {
    const key = await apolloKey();
    const made = await api('POST', '/projects/default/connections:generate', {
      groupRef: 'globex',
      consumerRef: 'user-2',
      provider: 'apollo',
      apiKey: key,
    });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({
      group: { groupRef: 'globex', groupName: 'Globex' },
      consumer: { consumerRef: 'user-2', consumerName: '' },
    });
    expect((await mgmt('GET', '/customers/globex')).body).toMatchObject({
      name: 'Globex',
      email: 'ops@globex.test',
    });
    await api('DELETE', `/projects/default/connections/${made.body.id}`);
    const renamed = await generate({
      groupRef: 'globex',
      groupName: 'Globex Ltd',
      provider: 'apollo',
      apiKey: key,
    });
    expect(renamed.body.group.groupName).toBe('Globex Ltd');
    expect((await mgmt('GET', '/customers/globex')).body).toMatchObject({
      name: 'Globex Ltd',
      email: 'ops@globex.test',
    });
  });

  it('refuses what Trellis cannot make, saying why, before asking the provider, and saves nothing', async () => {
    const key = await apolloKey();
    const before = await snapshot();
    const served = await simServed(apolloSim.url);
    const cases: [Record<string, unknown>, number, string][] = [
      [
        { provider: 'apollo', oauth2ClientCredentials: { clientId: 'a', clientSecret: 'b' } },
        400,
        'oauth2ClientCredentials',
      ],
      [{ provider: 'apollo', basicAuth: { username: 'a', password: 'b' } }, 400, 'basicAuth'],
      [{ provider: 'hubspot', apiKey: key }, 400, 'OAuth'],
      [{ provider: 'apollo' }, 400, 'none'],
      [
        { provider: 'apollo', apiKey: key, basicAuth: { username: 'a', password: 'b' } },
        400,
        'apiKey, basicAuth',
      ],
      [{ provider: 'apollo', apiKey: '  ' }, 400, 'apiKey must not be empty'],
      [{ provider: 'zendesk_sell', apiKey: key }, 400, 'does not connect to'],
      [{ provider: 'apollo', apiKey: key, providerWorkspaceRef: 'acme' }, 400, 'workspace'],
      [
        { provider: 'apollo', apiKey: key, providerMetadata: { region: { value: 'eu', source: 'input' } } },
        400,
        'region',
      ],
      [{ provider: 'apollo', apiKey: key, groupRef: 'newco' }, 201, ''],
      // The group already has an Apollo connection: the update rotates its key instead.
      [{ provider: 'apollo', apiKey: key }, 409, 'already has'],
    ];
    for (const [body, status, says] of cases) {
      const res = await generate(body);
      if (status === 201) {
        expect(res.status, JSON.stringify(res.body)).toBe(201);
        await api('DELETE', `/projects/default/connections/${res.body.id}`);
        await mgmt('DELETE', '/customers/newco');
        continue;
      }
      expect(expectProblem(res, status).detail, JSON.stringify(body)).toContain(says);
    }
    // Only the two requests that got past these checks asked Apollo (the 201 and the 409).
    expect(await simServedSince(apolloSim.url, served)).toEqual({
      'GET /api/v1/auth/health': 2,
      'GET /api/v1/users/search': 2,
    });
    const after = await snapshot();
    expect({ ...after, events: 0 }).toEqual({ ...before, events: 0 });
  });

  it('update rotates credentials after the provider accepts them: working again, paused syncs resume', async () => {
    const [connection] = (await api('GET', '/projects/default/connections?groupRef=acme&provider=apollo'))
      .body;
    const syncConfig = await mgmt('POST', '/sync_configs', {
      body: {
        destination_name: 'Supaglue Managed Destination',
        provider_name: 'apollo',
        config: hourlySyncConfig('contacts'),
      },
    });
    expect(syncConfig.status, JSON.stringify(syncConfig.body)).toBe(201);
    await markBadCredentials(t.runtime.deps, connection.id, 'the provider refused the key');
    const paused = () =>
      t.runtime.deps.db.query<{ paused: boolean; pause_reason: string | null }>(
        'select paused, pause_reason from syncs where connection_id = $1',
        [connection.id],
      );
    expect((await paused()).rows).toEqual([{ paused: true, pause_reason: 'credentials' }]);
    const path = `/projects/default/connections/${connection.id}`;
    expect((await api('GET', path)).body.status).toBe('bad_credentials');

    const before = await snapshot();
    const refused = await api('PATCH', path, { updateMask: ['apiKey'], connection: { apiKey: WRONG_KEY } });
    expectProblem(refused, 422);
    expect(await snapshot()).toEqual(before);

    const key = await apolloKey();
    const rotated = await api('PATCH', path, { updateMask: ['apiKey'], connection: { apiKey: key } });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ id: connection.id, status: 'working', authScheme: 'apiKey' });
    expect(await storedCredentials(connection.id)).toEqual({ type: 'api_key', api_key: key });
    expect((await paused()).rows).toEqual([{ paused: false, pause_reason: null }]);
    // Fields not in the mask are ignored; an empty metadata is no change.
    const unchanged = await api('PATCH', path, {
      updateMask: ['providerMetadata'],
      connection: { providerMetadata: {}, apiKey: WRONG_KEY },
    });
    expect(unchanged.status).toBe(200);
    expect(await storedCredentials(connection.id)).toEqual({ type: 'api_key', api_key: key });
  });

  it('update rotates basic auth for Gong', async () => {
    const [connection] = (await api('GET', '/projects/default/connections?provider=gong')).body;
    const pair = await gongPair();
    const rotated = await api('PATCH', `/projects/default/connections/${connection.id}`, {
      updateMask: ['basicAuth'],
      connection: { basicAuth: pair },
    });
    expect(rotated.status).toBe(200);
    expect(await storedCredentials(connection.id)).toEqual({
      type: 'access_key_secret',
      access_key: pair.username,
      access_key_secret: pair.password,
    });
  });

  it('update refuses credentials of another kind, a mask without its value, and a workspace where there is none', async () => {
    const [apolloConnection] = (
      await api('GET', '/projects/default/connections?groupRef=acme&provider=apollo')
    ).body;
    const path = `/projects/default/connections/${apolloConnection.id}`;
    const before = await snapshot();
    const cases: [unknown, number, string][] = [
      [
        { updateMask: ['basicAuth'], connection: { basicAuth: { username: 'a', password: 'b' } } },
        400,
        'basicAuth',
      ],
      [{ updateMask: ['apiKey'], connection: {} }, 400, 'connection.apiKey is required'],
      [{ updateMask: [], connection: {} }, 400, 'at least one field'],
      [
        { updateMask: ['providerWorkspaceRef'], connection: { providerWorkspaceRef: 'acme.example.com' } },
        400,
        'no host',
      ],
      [
        {
          updateMask: ['oauth2ClientCredentials'],
          connection: { oauth2ClientCredentials: { clientId: 'a', clientSecret: 'b' } },
        },
        400,
        'not supported',
      ],
      [{ updateMask: ['nonsense'], connection: {} }, 400, 'updateMask'],
    ];
    for (const [body, status, says] of cases) {
      const res = await api('PATCH', path, body);
      expect(expectProblem(res, status).detail, JSON.stringify(body)).toContain(says);
    }
    expectProblem(
      await api('PATCH', '/projects/default/connections/00000000-0000-0000-0000-000000000000', {
        updateMask: ['apiKey'],
        connection: { apiKey: 'x' },
      }),
      404,
    );
    expect(await snapshot()).toEqual(before);
  });

  it('update changes the workspace of a provider whose accounts have their own host, only to its own', async () => {
    await mgmt('POST', '/providers', {
      body: {
        auth_type: 'oauth2',
        category: 'crm',
        name: 'salesforce',
        config: {
          provider_app_id: '',
          oauth: {
            oauth_scopes: [],
            credentials: { oauth_client_id: 'sf', oauth_client_secret: 'sf-secret' },
          },
        },
      },
    });
    const made = await mgmt('POST', '/customers/acme/connections', {
      body: {
        provider_name: 'salesforce',
        type: 'oauth2',
        refresh_token: 'sf-refresh-1',
        instance_url: 'https://acme.my.salesforce.com',
      },
    });
    expect(made.status).toBe(200);
    const path = `/projects/default/connections/${made.body.id}`;
    const moved = await api('PATCH', path, {
      updateMask: ['providerWorkspaceRef'],
      connection: { providerWorkspaceRef: 'acme-2.my.salesforce.com' },
    });
    expect(moved.body.providerWorkspaceRef).toBe('acme-2.my.salesforce.com');
    const elsewhere = await api('PATCH', path, {
      updateMask: ['providerWorkspaceRef'],
      connection: { providerWorkspaceRef: 'evil.example.com' },
    });
    expect(expectProblem(elsewhere, 400).detail).toContain('not a Salesforce host');
    expect((await api('GET', path)).body.providerWorkspaceRef).toBe('acme-2.my.salesforce.com');
    // An OAuth connection's credentials change through re-authorization, not here.
    const keyed = await api('PATCH', path, { updateMask: ['apiKey'], connection: { apiKey: 'k' } });
    expect(expectProblem(keyed, 400).detail).toContain('apiKey');
  });

  it('exercised each operation with a success', () => {
    expect(neverSucceeded(OPERATIONS)).toEqual([]);
  });
});
