import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnection } from '../../src/core/connections.ts';
import { createProject } from '../../src/core/projects.ts';
import {
  expectProblem,
  platformSchemas,
  SERVED,
  SERVED_ELSEWHERE,
  seedConnectionsExample,
  seedIntegrationsExample,
} from '../helpers/ampersand.ts';
import { type ApiResponse, type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';
import { answerChecker } from './contract-check.ts';

/**
 * Contract test of the Platform API (Ampersand dialect) against Ampersand's published document:
 * every operation Trellis serves is driven over real HTTP and every answer is validated against
 * the document's schema for its operation, status and media type; every other operation of the
 * document must answer 501 naming itself. Data is made through the Management API, the way a
 * project has it today. The last test fails if any operation of the document was never called.
 */

const CONNECTABLE = ['apollo', 'gong', 'hubspot', 'pipedrive', 'salesforce'];

/** Values sent as secrets; no answer may contain one. */
const SECRETS = [
  'sf-refresh-token-1',
  'hs-refresh-token-1',
  'hs-refresh-token-2',
  'apollo-key-1',
  'gong-secret-1',
  'sf-client-secret',
  'hs-client-secret',
];

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Every answer is checked against the document; `exercised` records what each operation answered. */
const { check, exercised } = answerChecker(SECRETS);

/** The keys of a JSON value, all the way down, in order: its shape without its values. */
function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.length > 0 ? [shapeOf(value[0])] : [];
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shapeOf(v)]));
  return typeof value;
}

describe('Platform API v1 contract (Ampersand document)', () => {
  let t: TestTrellis;
  let mgmt: Client;
  let projectId: string;
  let other: { id: string; name: string; connectionId: string };

  async function api(method: string, urlPath: string, opts: { key?: string | null; body?: unknown } = {}) {
    const [pathPart, query] = urlPath.split('?');
    const call = client(t.baseUrl, opts.key === undefined ? t.apiKey : (opts.key ?? ''), '/v1');
    const res = await call(method, pathPart!, {
      query: Object.fromEntries(new URLSearchParams(query ?? '')),
      ...(opts.body === undefined ? {} : { body: opts.body }),
      ...(opts.key === null ? { headers: { 'x-api-key': '' } } : {}),
    });
    check(method, urlPath, res);
    return res;
  }

  async function ok(p: Promise<ApiResponse>, status: number) {
    const res = await p;
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    return res.body;
  }

  beforeAll(async () => {
    t = await startTrellis({ roles: { api: true, worker: false } });
    mgmt = client(t.baseUrl, t.apiKey);
    for (const [ref, name] of [
      ['acme', 'Acme Corp'],
      ['globex', 'Globex'],
    ])
      await ok(
        mgmt('PUT', '/customers', { body: { customer_id: ref, name, email: `ops@${ref}.test` } }),
        200,
      );
    const oauth = (clientId: string, secret: string, externalRef: string, scopes: string[]) => ({
      provider_app_id: externalRef,
      oauth: {
        oauth_scopes: scopes,
        credentials: { oauth_client_id: clientId, oauth_client_secret: secret },
      },
    });
    await ok(
      mgmt('POST', '/providers', {
        body: {
          auth_type: 'oauth2',
          category: 'crm',
          name: 'salesforce',
          config: oauth('sf-client', 'sf-client-secret', 'sf-app-ref', ['api', 'refresh_token']),
        },
      }),
      201,
    );
    await ok(
      mgmt('POST', '/providers', {
        body: {
          auth_type: 'oauth2',
          category: 'crm',
          name: 'hubspot',
          config: oauth('hs-client', 'hs-client-secret', '', ['oauth']),
        },
      }),
      201,
    );
    const connect = (customer: string, body: unknown) =>
      ok(mgmt('POST', `/customers/${customer}/connections`, { body }), 200);
    // Made one after the other, so that the list's order (oldest first) is this order.
    await connect('acme', {
      provider_name: 'salesforce',
      type: 'oauth2',
      refresh_token: 'sf-refresh-token-1',
      instance_url: 'https://acme.my.salesforce.com',
    });
    await connect('acme', { provider_name: 'hubspot', type: 'oauth2', refresh_token: 'hs-refresh-token-1' });
    await connect('acme', { provider_name: 'apollo', type: 'api_key', api_key: 'apollo-key-1' });
    await connect('acme', {
      provider_name: 'gong',
      type: 'access_key_secret',
      access_key: 'gong-access-1',
      access_key_secret: 'gong-secret-1',
    });
    await connect('globex', {
      provider_name: 'hubspot',
      type: 'oauth2',
      refresh_token: 'hs-refresh-token-2',
    });
    projectId = (await ok(mgmt('GET', '/customers/acme'), 200)).application_id;

    // Another project with a connection of its own: nothing of it may show through this key.
    const { project, apiKey } = await createProject(t.runtime.deps.db, 'other-project');
    const otherMgmt = client(t.baseUrl, apiKey);
    await ok(
      otherMgmt('PUT', '/customers', {
        body: { customer_id: 'acme', name: 'Other Acme', email: 'o@x.test' },
      }),
      200,
    );
    const otherConnection = await ok(
      otherMgmt('POST', '/customers/acme/connections', {
        body: { provider_name: 'apollo', type: 'api_key', api_key: 'apollo-key-1' },
      }),
      200,
    );
    other = { id: project.id, name: project.name, connectionId: otherConnection.id };
  });
  afterAll(() => t?.stop());

  it('answers 401 in problem+json without valid credentials, saying what to send', async () => {
    for (const key of [null, 'not-a-key']) {
      const res = await api('GET', '/projects/default/connections', { key });
      expect(expectProblem(res, 401)).toMatchObject({
        type: 'urn:trellis:problem:unauthorized',
        remedy: expect.stringContaining('X-Api-Key'),
      });
    }
    const bearer = await client(t.baseUrl, '', '/v1')('GET', '/projects/default', {
      headers: { 'x-api-key': '', authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig' },
    });
    // A browser token is verified with the project's JWT keys (test/ampersand/jwt.test.ts).
    expect(expectProblem(bearer, 401)).toMatchObject({
      detail: expect.stringContaining('the bearer token'),
      remedy: expect.stringContaining('JWT keys'),
    });
  });

  it('getProject and listProjects: by name and by id, with a stable organization and entitlements on request', async () => {
    const byName = await api('GET', '/projects/default');
    expect(byName.status).toBe(200);
    expect(byName.body).toEqual({
      id: projectId,
      name: 'default',
      appName: 'default',
      orgId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      createTime: expect.stringMatching(ISO_TIME),
    });
    const byId = await api('GET', `/projects/${projectId}`);
    expect(byId.body).toEqual(byName.body);
    const withEntitlements = await api('GET', '/projects/default?includeEntitlements=true');
    expect(withEntitlements.body).toEqual({
      ...byName.body,
      entitlements: { brandingRemoval: { value: true } },
    });
    expect((await api('GET', '/projects/default?includeEntitlements=false')).body).toEqual(byName.body);
    // Credentials are one project's: listing projects shows that one.
    expect((await api('GET', '/projects')).body).toEqual([byName.body]);
  });

  it("another project's id or name, or an unknown one, is not found, before anything else", async () => {
    for (const named of [other.name, other.id, 'no-such-project', '00000000-0000-0000-0000-000000000000']) {
      for (const [method, path] of [
        ['GET', `/projects/${named}`],
        ['GET', `/projects/${named}/connections`],
        ['GET', `/projects/${named}/connections/${other.connectionId}`],
        ['DELETE', `/projects/${named}/connections/${other.connectionId}`],
        // Not served, and still not found first.
        ['GET', `/projects/${named}/integrations`],
        ['POST', `/projects/${named}/connections:generate`],
      ] as const) {
        const body = expectProblem(await api(method, path), 404);
        expect(body).toMatchObject({
          type: 'urn:trellis:problem:not-found',
          detail: `project "${named}" not found`,
        });
      }
    }
  });

  it('listProviders and getProvider: the catalog, open to everyone', async () => {
    const list = await api('GET', '/providers', { key: null });
    expect(list.status).toBe(200);
    expect(Object.keys(list.body).sort()).toEqual(CONNECTABLE);
    for (const [name, info] of Object.entries(list.body)) {
      const one = await api('GET', `/providers/${name}`, { key: null });
      expect(one.body).toEqual(info);
    }
    expect(list.body.hubspot).toEqual({
      name: 'hubspot',
      displayName: 'HubSpot',
      authType: 'oauth2',
      baseURL: 'https://api.hubapi.com',
      defaultModule: '',
      oauth2Opts: {
        grantType: 'authorizationCode',
        authURL: 'https://app.hubspot.com/oauth/authorize',
        tokenURL: 'https://api.hubapi.com/oauth/v1/token',
        explicitScopesRequired: true,
        explicitWorkspaceRequired: false,
        tokenMetadataFields: {},
      },
      support: {
        read: true,
        write: true,
        delete: true,
        proxy: true,
        subscribe: false,
        bulkWrite: { insert: false, update: false, upsert: false, delete: false },
        search: { operators: { equals: false } },
      },
      postAuthInfoNeeded: false,
      metadata: { input: [] },
    });
    expect(list.body.salesforce).toMatchObject({
      authType: 'oauth2',
      baseURL: 'https://{{.workspace}}',
      oauth2Opts: {
        grantType: 'authorizationCodePKCE',
        tokenMetadataFields: { workspaceRefField: 'instance_url' },
      },
    });
    expect(list.body.apollo).toMatchObject({
      authType: 'apiKey',
      apiKeyOpts: { attachmentType: 'header', header: { name: 'x-api-key' } },
      support: { read: true, write: true, delete: false },
    });
    expect(list.body.apollo.oauth2Opts).toBeUndefined();
    expect(list.body.gong).toMatchObject({ authType: 'basic', support: { read: true, write: false } });
    // A name the catalog knows but Trellis cannot connect to, and a name it does not know.
    for (const name of ['zendesk_sell', 'myspace']) {
      const missing = await api('GET', `/providers/${name}`, { key: null });
      expect(expectProblem(missing, 404).detail).toBe(`provider "${name}" not found`);
    }
  });

  it('listConnections: every connection of the project, in the shape of seed 004, no credentials', async () => {
    const all = await api('GET', '/projects/default/connections');
    expect(all.status).toBe(200);
    expect(
      all.body.map(
        (c: { provider: string; group: { groupRef: string } }) => `${c.group.groupRef}/${c.provider}`,
      ),
    ).toEqual(['acme/salesforce', 'acme/hubspot', 'acme/apollo', 'acme/gong', 'globex/hubspot']);
    const [salesforce, hubspot, apollo, gong] = all.body;
    const group = {
      groupRef: 'acme',
      groupName: 'Acme Corp',
      projectId,
      createTime: expect.stringMatching(ISO_TIME),
      updateTime: expect.stringMatching(ISO_TIME),
    };
    expect(salesforce).toEqual({
      id: expect.any(String),
      projectId,
      provider: 'salesforce',
      providerApp: {
        id: expect.any(String),
        projectId,
        externalRef: 'sf-app-ref',
        provider: 'salesforce',
        clientId: 'sf-client',
        scopes: ['api', 'refresh_token'],
        createTime: expect.stringMatching(ISO_TIME),
        updateTime: expect.stringMatching(ISO_TIME),
      },
      group,
      consumer: {
        consumerRef: 'acme',
        consumerName: 'Acme Corp',
        projectId,
        createTime: group.createTime,
        updateTime: group.updateTime,
      },
      providerWorkspaceRef: 'acme.my.salesforce.com',
      createTime: expect.stringMatching(ISO_TIME),
      updateTime: expect.stringMatching(ISO_TIME),
      authScheme: 'oauth2/authorizationCodePKCE',
      status: 'created',
      providerMetadata: {},
    });
    expect(salesforce.consumer.createTime).toBe(salesforce.group.createTime);
    expect(hubspot).toMatchObject({
      authScheme: 'oauth2/authorizationCode',
      providerApp: { clientId: 'hs-client' },
    });
    expect(hubspot.providerApp.externalRef).toBeUndefined();
    expect(hubspot.providerWorkspaceRef).toBeUndefined();
    expect(apollo).toMatchObject({ authScheme: 'apiKey' });
    expect(apollo.providerApp).toBeUndefined();
    expect(gong).toMatchObject({ authScheme: 'basic' });
  });

  it("matches seed 004's shape exactly, key by key and in order", async () => {
    const seed = seedConnectionsExample();
    if (!seed) return;
    const expected = structuredClone(seed[0]!) as Record<string, unknown>;
    // Never returned: credentials (decision 0004), and the user's id at the provider, which Trellis does not know.
    for (const key of ['oauth2AuthorizationCode', 'apiKey', 'providerConsumerRef']) delete expected[key];
    // The page renders the scopes array as an array of arrays; the document says strings.
    (expected.providerApp as { scopes: unknown }).scopes = ['oauth'];
    const [salesforce] = (await api('GET', '/projects/default/connections?provider=salesforce')).body;
    expect(JSON.stringify(shapeOf(salesforce))).toBe(JSON.stringify(shapeOf(expected)));
  });

  it('listConnections filters by provider, groupRef and consumerRef', async () => {
    const refs = async (query: string) =>
      (await api('GET', `/projects/default/connections?${query}`)).body.map(
        (c: { provider: string; group: { groupRef: string } }) => `${c.group.groupRef}/${c.provider}`,
      );
    expect(await refs('provider=hubspot')).toEqual(['acme/hubspot', 'globex/hubspot']);
    expect(await refs('groupRef=globex')).toEqual(['globex/hubspot']);
    expect(await refs('consumerRef=acme&provider=gong')).toEqual(['acme/gong']);
    expect(await refs('groupRef=acme&consumerRef=globex')).toEqual([]);
    expect(await refs('provider=zendesk_sell')).toEqual([]);
    expect(await refs('groupRef=nobody')).toEqual([]);
  });

  it('a connection whose end user the core knows names that consumer', async () => {
    // No operation of this surface makes such connections yet: the core does, as its flows will.
    const made = await createConnection(
      t.runtime.deps,
      projectId,
      'globex',
      { providerName: 'apollo', credentials: { authType: 'api_key', apiKey: 'apollo-key-1' } },
      { ref: 'user-7', name: 'Wile E.' },
    );
    const [named] = (await api('GET', '/projects/default/connections?consumerRef=user-7')).body;
    expect(named).toMatchObject({
      id: made.id,
      group: { groupRef: 'globex', groupName: 'Globex' },
      consumer: {
        consumerRef: 'user-7',
        consumerName: 'Wile E.',
        projectId,
        createTime: expect.stringMatching(ISO_TIME),
      },
    });
    expect(named.consumer.updateTime).toBeUndefined();
    const globex = (await api('GET', '/projects/default/connections?consumerRef=globex')).body;
    expect(globex.map((c: { provider: string }) => c.provider)).toEqual(['hubspot']);
    expect((await api('GET', '/projects/default/connections?groupRef=globex')).body).toHaveLength(2);
    await ok(mgmt('DELETE', '/customers/globex/connections/apollo'), 204);
  });

  it('getConnection: one connection by id, never with credentials, whatever is asked', async () => {
    const all = (await api('GET', '/projects/default/connections')).body;
    for (const listed of all) {
      const one = await api('GET', `/projects/default/connections/${listed.id}`);
      expect(one.body).toEqual(listed);
    }
    const asked = await api(
      'GET',
      `/projects/${projectId}/connections/${all[1].id}?includeCreds=true&includeRefreshToken=true&refresh=force`,
    );
    expect(asked.body).toEqual(all[1]);
    for (const id of [other.connectionId, '00000000-0000-0000-0000-000000000000', 'not-an-id']) {
      const missing = expectProblem(await api('GET', `/projects/default/connections/${id}`), 404);
      expect(missing.detail).toBe(`connection "${id}" not found`);
    }
  });

  it('deleteConnection: gone from both surfaces, announced like every deletion', async () => {
    const [, , , gong] = (await api('GET', '/projects/default/connections')).body;
    const deleted = await api('DELETE', `/projects/default/connections/${gong.id}`);
    expect(deleted.status).toBe(204);
    expectProblem(await api('GET', `/projects/default/connections/${gong.id}`), 404);
    expectProblem(await api('DELETE', `/projects/default/connections/${gong.id}`), 404);
    expect((await mgmt('GET', '/customers/acme/connections/gong')).status).toBe(404);
    const { rows } = await t.runtime.deps.db.query<{
      payload: { connection_id: string; provider_name: string };
    }>(`select payload from webhook_events where project_id = $1 and type = 'connection.deleted'`, [
      projectId,
    ]);
    const announced = rows.filter((r) => r.payload.connection_id === gong.id);
    expect(announced.map((r) => r.payload.provider_name)).toEqual(['gong']);
    // Another project's connection cannot be deleted through this key.
    expectProblem(await api('DELETE', `/projects/default/connections/${other.connectionId}`), 404);
  });

  it('one core: a customer and its connection made through /mgmt/v2 are a group and its connection in /v1', async () => {
    await ok(
      mgmt('PUT', '/customers', { body: { customer_id: 'initech', name: 'Initech', email: 'i@x.test' } }),
      200,
    );
    const made = await ok(
      mgmt('POST', '/customers/initech/connections', {
        body: { provider_name: 'apollo', type: 'api_key', api_key: 'apollo-key-1' },
      }),
      200,
    );
    const [seen] = (await api('GET', '/projects/default/connections?groupRef=initech')).body;
    expect(seen).toMatchObject({
      id: made.id,
      provider: 'apollo',
      status: made.status,
      group: { groupRef: 'initech', groupName: 'Initech' },
    });
    await ok(
      mgmt('PUT', '/customers', { body: { customer_id: 'initech', name: 'Initech Inc', email: 'i@x.test' } }),
      200,
    );
    expect((await api('GET', `/projects/default/connections/${made.id}`)).body.group.groupName).toBe(
      'Initech Inc',
    );
    await ok(mgmt('DELETE', '/customers/initech'), 204);
    expect((await api('GET', '/projects/default/connections?groupRef=initech')).body).toEqual([]);
  });

  const MANIFEST = `
specVersion: 1.0.0
integrations:
  - name: hubspot-contacts
    displayName: HubSpot contacts
    provider: hubspot
    read:
      objects:
        - objectName: contacts
          destination: Supaglue Managed Destination
          schedule: "*/10 * * * *"
          requiredFields: [{ fieldName: email }]
          optionalFieldsAuto: all
          backfill: { defaultPeriod: { fullHistory: true } }
        - objectName: companies
          destination: Supaglue Managed Destination
          schedule: "0 * * * *"
    write:
      objects: [{ objectName: contacts }]
    proxy:
      enabled: true
`;

  it('integrations: deployed from a manifest, listed in the shape of seed 002, by id or name, hydrated, deleted', async () => {
    const deployed = await api('PUT', '/projects/default/integrations:batch', {
      body: { sourceYaml: MANIFEST },
    });
    expect(deployed.status).toBe(200);
    const [integration] = deployed.body;
    expect(integration).toMatchObject({
      projectId,
      name: 'hubspot-contacts',
      provider: 'hubspot',
      latestRevision: {
        specVersion: '1.0.0',
        content: { name: 'hubspot-contacts', displayName: 'HubSpot contacts' },
      },
    });
    expect(
      integration.latestRevision.content.read.objects.map((o: { objectName: string }) => o.objectName),
    ).toEqual(['contacts', 'companies']);
    expect((await api('GET', '/projects/default/integrations')).body).toEqual([integration]);
    // Seed 002's shape, key by key and in order; a revision's content is the manifest entry as deployed.
    const seed = seedIntegrationsExample();
    if (seed) {
      const expected = {
        ...seed[0]!,
        latestRevision: { ...(seed[0]!.latestRevision as object), content: {} },
      };
      const shown = { ...integration, latestRevision: { ...integration.latestRevision, content: {} } };
      expect(JSON.stringify(shapeOf(shown))).toBe(JSON.stringify(shapeOf(expected)));
    }
    expect((await api('GET', `/projects/default/integrations/${integration.id}`)).body).toEqual(integration);
    expect((await api('GET', '/projects/default/integrations/hubspot-contacts')).body).toEqual(integration);
    // A sync config of the Management API is not one of this API's integrations, and the reverse.
    expect((await mgmt('GET', '/sync_configs')).body).toEqual([]);

    // Deploying again makes a new revision.
    const again = await api('PUT', '/projects/default/integrations:batch', {
      body: { sourceYaml: MANIFEST.replace('"0 * * * *"', '"30 * * * *"') },
    });
    expect(again.body[0].latestRevision.id).not.toBe(integration.latestRevision.id);

    const [hubspot] = (await api('GET', '/projects/default/connections?groupRef=acme&provider=hubspot')).body;
    const hydrated = await api(
      'GET',
      `/projects/default/integrations/${integration.id}/revisions/${again.body[0].latestRevision.id}:hydrate?connectionId=${hubspot.id}`,
    );
    expect(hydrated.status).toBe(200);
    expect(hydrated.body.content.read.objects[0]).toMatchObject({
      objectName: 'contacts',
      displayName: 'contacts',
      requiredFields: [{ fieldName: 'email' }],
    });
    expectProblem(
      await api(
        'GET',
        `/projects/default/integrations/${integration.id}/revisions/${integration.latestRevision.id}:hydrate?connectionId=${other.connectionId}`,
      ),
      404,
    );
  });

  it('integrations:batch names what is wrong with a manifest, in issues, and deploys nothing', async () => {
    const before = (await api('GET', '/projects/default/integrations')).body;
    const cases: [string, string][] = [
      ['specVersion: 1.0.0\nintegrations: [{ name: x }]', '/sourceYaml/integrations/0'],
      ['specVersion: [unclosed', '/sourceYaml'],
      [MANIFEST.replace('"*/10 * * * *"', '"every ten minutes"'), ''],
      [MANIFEST.replace('provider: hubspot', 'provider: nobody'), '/sourceYaml/integrations/0/provider'],
      [
        MANIFEST.replace('destination: Supaglue Managed Destination', 'destination: nowhere'),
        '/sourceYaml/integrations/0/read/objects/0/destination',
      ],
    ];
    for (const [sourceYaml, at] of cases) {
      const res = await api('PUT', '/projects/default/integrations:batch', { body: { sourceYaml } });
      const problem = expectProblem(res, res.status === 400 ? 400 : 422);
      if (at)
        expect(
          (problem.issues as { name: string }[]).map((i) => i.name),
          sourceYaml,
        ).toContain(at);
    }
    expect((await api('GET', '/projects/default/integrations')).body).toEqual(before);
  });

  it('installations: installed on a group, listed, read, reconfigured by update mask, uninstalled', async () => {
    const [integration] = (await api('GET', '/projects/default/integrations')).body;
    const base = `/projects/default/integrations/${integration.id}/installations`;
    const content = {
      provider: 'hubspot',
      read: {
        objects: {
          contacts: { objectName: 'contacts', selectedFields: { email: true }, selectedFieldMappings: {} },
        },
      },
    };
    const created = await api('POST', base, { body: { groupRef: 'acme', config: { content } } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      integrationId: integration.id,
      group: { groupRef: 'acme' },
      healthStatus: 'healthy',
      connection: { provider: 'hubspot', group: { groupRef: 'acme' } },
      config: { revisionId: integration.latestRevision.id, content },
    });
    expectProblem(await api('POST', base, { body: { groupRef: 'acme', config: { content } } }), 409);
    expect((await api('GET', base)).body).toEqual([created.body]);
    expect((await api('GET', `${base}?groupRef=globex`)).body).toEqual([]);
    expect((await api('GET', '/projects/default/installations')).body).toEqual([created.body]);
    expect((await api('GET', `${base}/${created.body.id}`)).body).toEqual(created.body);
    // The installation's syncs are the core's, visible through the Management API too.
    const syncs = (await mgmt('GET', '/syncs', { query: { customer_id: 'acme', provider_name: 'hubspot' } }))
      .body.results;
    expect(syncs.map((x: { object: string }) => x.object)).toContain('contacts');

    const patched = await api('PATCH', `${base}/${created.body.id}`, {
      body: {
        updateMask: ['config.content.write.objects.contacts'],
        installation: {
          config: { content: { write: { objects: { contacts: { objectName: 'contacts' } } } } },
        },
      },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.config.content).toEqual({
      ...content,
      write: { objects: { contacts: { objectName: 'contacts' } } },
    });
    expectProblem(
      await api('PATCH', `${base}/${created.body.id}`, {
        body: {
          updateMask: ['config.content.write.objects.deals'],
          installation: { config: { content: { write: { objects: { deals: { objectName: 'deals' } } } } } },
        },
      }),
      400,
    );
    expect((await api('DELETE', `${base}/${created.body.id}`)).status).toBe(204);
    expectProblem(await api('GET', `${base}/${created.body.id}`), 404);
    expect((await api('DELETE', `/projects/default/integrations/${integration.id}`)).status).toBe(204);
    expect((await api('GET', '/projects/default/integrations')).body).toEqual([]);
  });

  it('every other operation of the document answers 501 naming itself', async () => {
    const unserved = platformSchemas.operations.filter(
      (op) => !SERVED.includes(op.id) && !(op.id in SERVED_ELSEWHERE),
    );
    expect(unserved.length).toBeGreaterThan(30);
    for (const op of unserved) {
      const path = op.template.replace(/\{projectIdOrName\}/, 'default').replace(/\{[^}]+\}/g, 'x');
      const res = await api(
        op.method,
        path,
        ['POST', 'PUT', 'PATCH'].includes(op.method) ? { body: {} } : {},
      );
      const body = expectProblem(res, 501);
      expect(body.detail).toContain(`${op.id} (${op.method} ${op.template})`);
      const notOffered =
        /^\/(orgs|my-info|invites|claimed-domains|billingAccounts)\b|\/(api-keys|topics|notification-event-topic-routes|topic-destination-routes)\b/.test(
          op.template,
        );
      expect(body.type, op.id).toBe(
        notOffered || op.id === 'createProject'
          ? 'urn:trellis:problem:not-offered'
          : 'urn:trellis:problem:not-implemented',
      );
      if (notOffered) expect(body.remedy ?? body.detail, op.id).toMatch(/\S/);
    }
  });

  it("answers the kit's refusals in problem+json", async () => {
    const unknown = expectProblem(await api('GET', '/projects/default/nothing'), 404);
    expect(unknown).toMatchObject({
      type: 'urn:trellis:problem:unknown-operation',
      remedy: expect.stringContaining('/v1/openapi.json'),
    });
    const wrongMethod = await api('PUT', '/projects/default/connections');
    expect(expectProblem(wrongMethod, 405).type).toBe('urn:trellis:problem:method-not-allowed');
    expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD');
    // A body where none is taken is still read, and refused when it cannot be.
    const target = `/projects/default/connections/00000000-0000-0000-0000-000000000000`;
    const raw = (body: string, contentType: string) =>
      fetch(`${t.baseUrl}/v1${target}`, {
        method: 'DELETE',
        headers: { 'x-api-key': t.apiKey, 'content-type': contentType },
        body,
      }).then(async (res) => ({
        status: res.status,
        headers: res.headers,
        body: JSON.parse(await res.text()),
      }));
    expect(expectProblem(await raw('<a/>', 'application/xml'), 415).remedy).toContain('application/json');
    expect(expectProblem(await raw('{"a":', 'application/json'), 400).type).toBe(
      'urn:trellis:problem:malformed-request',
    );
    expectProblem(await raw(JSON.stringify({ a: 'x'.repeat(1_100_000) }), 'application/json'), 413);
    const invalid = expectProblem(await api('GET', '/projects/default/connections/x?refresh=sometimes'), 400);
    expect(invalid).toMatchObject({
      type: 'urn:trellis:problem:invalid-input',
      issues: [{ in: 'query', name: 'refresh', detail: 'must be one of: force, ifExpired' }],
    });
    const malformed = expectProblem(await api('GET', '/projects/default?includeEntitlements=yes'), 400);
    expect(malformed.issues).toEqual([
      { in: 'query', name: 'includeEntitlements', detail: 'must be true or false' },
    ]);
    const bad = await fetch(`${t.baseUrl}/v1/projects/%E0%A4%A`, { headers: { 'x-api-key': t.apiKey } });
    expect(bad.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(bad.status).toBe(400);
  });

  it('exercised every operation of the document, and each served one succeeded', () => {
    const ids = platformSchemas.operations.map((o) => o.id).sort();
    expect(ids.filter((id) => !exercised.has(id) && !(id in SERVED_ELSEWHERE))).toEqual([]);
    expect(SERVED.filter((id) => ![...exercised.get(id)!].some((s) => s < 300))).toEqual([]);
  });
});
