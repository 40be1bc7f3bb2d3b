import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProject } from '../../src/core/projects.ts';
import { getClientSecret } from '../../src/core/provider-apps.ts';
import { expectProblem } from '../helpers/ampersand.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';
import { contractClient } from './contract-check.ts';

/**
 * Provider apps through the Platform API: a project's OAuth clients, several per provider, the
 * first of a provider its default. The Management API keeps seeing one app per provider (the
 * default) as before; client secrets are write-only. Every answer is validated against the document.
 */

const OPERATIONS = ['listProviderApps', 'createProviderApp', 'updateProviderApp', 'deleteProviderApp'];
const SECRETS = ['sf-secret-1', 'sf-secret-2', 'sf-secret-3', 'hs-secret-1', 'hs-secret-2'];
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('Platform API provider apps', () => {
  let t: TestTrellis;
  let mgmt: Client;
  let projectId: string;
  let defaultSalesforce: string;
  const { api, neverSucceeded } = contractClient(
    () => t.baseUrl,
    () => t.apiKey,
    SECRETS,
  );
  const apps = async () => (await api('GET', '/projects/default/provider-apps')).body;
  const mgmtProviders = async () => (await mgmt('GET', '/providers')).body;

  beforeAll(async () => {
    t = await startTrellis({ roles: { api: true, worker: false } });
    mgmt = client(t.baseUrl, t.apiKey);
    const salesforce = await mgmt('POST', '/providers', {
      body: {
        auth_type: 'oauth2',
        category: 'crm',
        name: 'salesforce',
        config: {
          provider_app_id: 'sf-ref',
          oauth: {
            oauth_scopes: ['api'],
            credentials: { oauth_client_id: 'sf-client-1', oauth_client_secret: 'sf-secret-1' },
          },
        },
      },
    });
    expect(salesforce.status).toBe(201);
    defaultSalesforce = salesforce.body.id;
    projectId = salesforce.body.application_id;
    await mgmt('PUT', '/customers', { body: { customer_id: 'acme', name: 'Acme', email: 'a@x.test' } });
    // A key-based connection: Trellis keeps an app for it, which is no OAuth client of the project.
    await mgmt('POST', '/customers/acme/connections', {
      body: { provider_name: 'apollo', type: 'api_key', api_key: 'apollo-key-1' },
    });
  });
  afterAll(() => t?.stop());

  it("lists the project's OAuth clients, never with their secrets", async () => {
    expect(await apps()).toEqual([
      {
        id: defaultSalesforce,
        projectId,
        externalRef: 'sf-ref',
        provider: 'salesforce',
        clientId: 'sf-client-1',
        scopes: ['api'],
        createTime: expect.stringMatching(ISO_TIME),
        updateTime: expect.stringMatching(ISO_TIME),
      },
    ]);
  });

  it('a second app of a provider is not its default: the Management API still sees the first', async () => {
    const before = await mgmtProviders();
    const second = await api('POST', '/projects/default/provider-apps', {
      provider: 'salesforce',
      clientId: 'sf-client-2',
      clientSecret: 'sf-secret-2',
      scopes: ['api', 'refresh_token'],
      externalRef: 'sf-ref-2',
    });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({
      provider: 'salesforce',
      clientId: 'sf-client-2',
      externalRef: 'sf-ref-2',
    });
    expect((await apps()).map((a: { clientId: string }) => a.clientId)).toEqual([
      'sf-client-1',
      'sf-client-2',
    ]);
    expect(await mgmtProviders()).toEqual(before);
    // The other app does not exist for the Management API.
    for (const [method, body] of [
      ['GET', undefined],
      ['DELETE', undefined],
      [
        'PUT',
        {
          auth_type: 'oauth2',
          category: 'crm',
          name: 'salesforce',
          config: {
            provider_app_id: '',
            oauth: { oauth_scopes: [], credentials: { oauth_client_id: 'x', oauth_client_secret: 'y' } },
          },
        },
      ],
    ] as const) {
      const res = await mgmt(method, `/providers/${second.body.id}`, body ? { body } : {});
      expect(res.status, `${method} ${JSON.stringify(res.body)}`).toBe(404);
    }
    expect(await getClientSecret(t.runtime.deps, second.body.id)).toBe('sf-secret-2');
  });

  it("a provider's first app is its default, which the Management API shows by the provider's name", async () => {
    const made = await api('POST', '/projects/default/provider-apps', {
      provider: 'hubspot',
      clientId: 'hs-client-1',
      clientSecret: 'hs-secret-1',
    });
    expect(made.body).toMatchObject({ provider: 'hubspot', scopes: [] });
    expect(made.body.externalRef).toBeUndefined();
    const hubspot = (await mgmtProviders()).find((p: { name: string }) => p.name === 'hubspot');
    expect(hubspot).toMatchObject({
      id: made.body.id,
      config: { oauth: { credentials: { oauth_client_id: 'hs-client-1', oauth_client_secret: '' } } },
    });
  });

  it('update changes what the mask names, the secret sealed and never shown', async () => {
    const [, second] = await apps();
    const path = `/projects/default/provider-apps/${second.id}`;
    const updated = await api('PATCH', path, {
      updateMask: ['clientId', 'clientSecret', 'scopes'],
      providerApp: {
        clientId: 'sf-client-2b',
        clientSecret: 'sf-secret-3',
        scopes: ['full'],
        externalRef: 'ignored',
      },
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({
      id: second.id,
      clientId: 'sf-client-2b',
      scopes: ['full'],
      externalRef: 'sf-ref-2',
    });
    expect(await getClientSecret(t.runtime.deps, second.id)).toBe('sf-secret-3');
    const cleared = await api('PATCH', path, { updateMask: ['externalRef'], providerApp: {} });
    expect(cleared.body.externalRef).toBeUndefined();
    const same = await api('PATCH', path, {
      updateMask: ['provider', 'metadata'],
      providerApp: { provider: 'salesforce', metadata: {} },
    });
    expect(same.body).toMatchObject({ clientId: 'sf-client-2b', scopes: ['full'] });

    const refused: [unknown, string][] = [
      [{ updateMask: ['provider'], providerApp: { provider: 'hubspot' } }, 'cannot change'],
      [{ updateMask: ['clientSecret'], providerApp: {} }, 'providerApp.clientSecret must not be empty'],
      [{ updateMask: ['redirectUrl'], providerApp: {} }, 'redirectUrl'],
      [{ updateMask: [], providerApp: {} }, 'at least one field'],
      [
        {
          updateMask: ['metadata'],
          providerApp: { metadata: { providerParams: { packageInstallURL: 'x' } } },
        },
        'packageInstallURL',
      ],
    ];
    for (const [body, says] of refused)
      expect(expectProblem(await api('PATCH', path, body), 400).detail).toContain(says);
    expect(await getClientSecret(t.runtime.deps, second.id)).toBe('sf-secret-3');
  });

  it('refuses apps Trellis cannot use', async () => {
    const refused: [unknown, string][] = [
      [{ provider: 'zendesk_sell', clientId: 'a', clientSecret: 'b' }, 'does not connect to'],
      [{ provider: 'salesforce', clientId: ' ', clientSecret: 'b' }, 'clientId must not be empty'],
      [
        {
          provider: 'salesforce',
          clientId: 'a',
          clientSecret: 'b',
          metadata: { authQueryParams: { x: ['y'] } },
        },
        'metadata',
      ],
    ];
    for (const [body, says] of refused)
      expect(expectProblem(await api('POST', '/projects/default/provider-apps', body), 400).detail).toContain(
        says,
      );
    expect(await apps()).toHaveLength(3);
  });

  it("another project's apps, and apps that are no OAuth client, are not found", async () => {
    const { apiKey } = await createProject(t.runtime.deps.db, 'other');
    const otherApp = await client(t.baseUrl, apiKey, '/v1')('POST', '/projects/other/provider-apps', {
      body: { provider: 'hubspot', clientId: 'o', clientSecret: 'o-secret' },
    });
    expect(otherApp.status).toBe(200);
    const { rows } = await t.runtime.deps.db.query<{ id: string }>(
      `select id from provider_apps where provider_name = 'apollo'`,
    );
    for (const id of [otherApp.body.id, rows[0]!.id, 'not-an-id']) {
      const path = `/projects/default/provider-apps/${id}`;
      expect(expectProblem(await api('DELETE', path), 404).detail).toBe(`provider app "${id}" not found`);
      expectProblem(await api('PATCH', path, { updateMask: ['scopes'], providerApp: { scopes: [] } }), 404);
    }
  });

  it('delete: an app in use is kept (409); a deleted default hands its place to the next app', async () => {
    const [first, second] = await apps();
    const connection = await mgmt('POST', '/customers/acme/connections', {
      body: {
        provider_name: 'salesforce',
        type: 'oauth2',
        refresh_token: 'sf-refresh-1',
        instance_url: 'https://acme.my.salesforce.com',
      },
    });
    expect(connection.status).toBe(200);
    const inUse = await api('DELETE', `/projects/default/provider-apps/${first.id}`);
    expect(expectProblem(inUse, 409).detail).toContain('1 connection(s)');
    expect(await apps()).toHaveLength(3);

    await mgmt('DELETE', '/customers/acme/connections/salesforce');
    expect((await api('DELETE', `/projects/default/provider-apps/${first.id}`)).status).toBe(204);
    const salesforce = (await mgmtProviders()).filter((p: { name: string }) => p.name === 'salesforce');
    expect(salesforce).toMatchObject([
      { id: second.id, config: { oauth: { credentials: { oauth_client_id: 'sf-client-2b' } } } },
    ]);
    expect((await api('DELETE', `/projects/default/provider-apps/${second.id}`)).status).toBe(204);
    expect((await mgmtProviders()).map((p: { name: string }) => p.name)).toEqual(['apollo', 'hubspot']);
    expect((await apps()).map((a: { provider: string }) => a.provider)).toEqual(['hubspot']);
  });

  it('exercised each operation with a success', () => {
    expect(neverSucceeded(OPERATIONS)).toEqual([]);
  });
});
