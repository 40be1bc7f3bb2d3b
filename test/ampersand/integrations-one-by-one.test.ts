import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem } from '../helpers/ampersand.ts';
import { client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';
import { contractClient } from './contract-check.ts';

/**
 * Integrations made one at a time, besides whole manifests: createIntegration takes one manifest
 * entry as the first revision, createRevision a manifest (sourceYaml or an uploaded zip) of which
 * it deploys only the integration named. Checked and deployed as a manifest's entries are; every
 * answer is validated against the document.
 */

const OPERATIONS = ['createIntegration', 'createRevision'];

const contactsEntry = (destination: string, schedule = '*/10 * * * *') => ({
  name: 'hubspot-contacts',
  provider: 'hubspot',
  read: {
    objects: [{ objectName: 'contacts', destination, schedule, requiredFields: [{ fieldName: 'email' }] }],
  },
});

const manifest = (schedule: string) =>
  [
    'specVersion: 1.0.0',
    'integrations:',
    '  - name: hubspot-contacts',
    '    provider: hubspot',
    '    read:',
    '      objects:',
    '        - objectName: contacts',
    '          destination: contactsWebhook',
    `          schedule: "${schedule}"`,
    '  - name: hubspot-companies',
    '    provider: hubspot',
    '    proxy: { enabled: true }',
  ].join('\n');

describe('Platform API integrations one by one', () => {
  let t: TestTrellis;
  const { api, neverSucceeded } = contractClient(
    () => t.baseUrl,
    () => t.apiKey,
    [],
  );
  const latestContent = async () => {
    const listed = await api('GET', '/projects/default/integrations');
    return listed.body.map((i: { name: string; latestRevision: { id: string; content: object } }) => ({
      name: i.name,
      revision: i.latestRevision.id,
      content: i.latestRevision.content,
    }));
  };

  beforeAll(async () => {
    t = await startTrellis({ roles: { api: true, worker: false } });
    const made = await client(t.baseUrl, t.apiKey, '/v1')('POST', '/projects/default/destinations', {
      body: { name: 'contactsWebhook', type: 'webhook', metadata: { url: 'http://127.0.0.1:9/hook' } },
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    await client(t.baseUrl, t.apiKey)('POST', '/providers', {
      body: {
        auth_type: 'oauth2',
        category: 'crm',
        name: 'hubspot',
        config: {
          provider_app_id: '',
          oauth: { oauth_scopes: [], credentials: { oauth_client_id: 'c', oauth_client_secret: 's' } },
        },
      },
    });
  });
  afterAll(() => t?.stop());

  it('createIntegration: one entry becomes an integration with its first revision (201, no body)', async () => {
    const created = await api('POST', '/projects/default/integrations', {
      name: 'hubspot-contacts',
      provider: 'hubspot',
      latestRevision: { specVersion: '1.0.0', content: contactsEntry('contactsWebhook') },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toBe('');
    expect(await latestContent()).toEqual([
      { name: 'hubspot-contacts', revision: expect.any(String), content: contactsEntry('contactsWebhook') },
    ]);
  });

  it('createIntegration refuses a name taken (409), an entry for another name (422) and an unknown destination (422)', async () => {
    const again = await api('POST', '/projects/default/integrations', {
      name: 'hubspot-contacts',
      provider: 'hubspot',
      latestRevision: { specVersion: '1.0.0', content: contactsEntry('contactsWebhook') },
    });
    expectProblem(again, 409);
    const mismatched = await api('POST', '/projects/default/integrations', {
      name: 'other',
      provider: 'hubspot',
      latestRevision: { specVersion: '1.0.0', content: contactsEntry('contactsWebhook') },
    });
    expect(expectProblem(mismatched, 422).issues).toEqual([
      { in: 'body', name: '/latestRevision/content/name', detail: expect.stringContaining('"other"') },
    ]);
    const nowhere = await api('POST', '/projects/default/integrations', {
      name: 'hubspot-contacts-2',
      provider: 'hubspot',
      latestRevision: {
        specVersion: '1.0.0',
        content: { ...contactsEntry('nowhere'), name: 'hubspot-contacts-2' },
      },
    });
    expect(expectProblem(nowhere, 422).issues).toEqual([
      {
        in: 'body',
        name: '/latestRevision/content/read/objects/0/destination',
        detail: expect.stringContaining('"nowhere"'),
      },
    ]);
    expect((await latestContent()).map((i: { name: string }) => i.name)).toEqual(['hubspot-contacts']);
  });

  it('createRevision deploys only the named integration of a manifest', async () => {
    const [before] = await latestContent();
    const made = await api('POST', `/projects/default/integrations/${before.name}/revisions`, {
      sourceYaml: manifest('*/30 * * * *'),
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const after = await latestContent();
    // The manifest's other integration is not made: createRevision revises one integration.
    expect(after.map((i: { name: string }) => i.name)).toEqual(['hubspot-contacts']);
    expect(after[0].revision).not.toBe(before.revision);
    expect(after[0].content.read.objects[0].schedule).toBe('*/30 * * * *');
  });

  it('createRevision refuses a manifest without the integration (422) and an unknown integration (404)', async () => {
    const without = await api('POST', '/projects/default/integrations/hubspot-contacts/revisions', {
      sourceYaml: manifest('*/30 * * * *').replace('name: hubspot-contacts', 'name: renamed'),
    });
    expect(expectProblem(without, 422).issues).toEqual([
      { in: 'body', name: '/sourceYaml/integrations', detail: expect.stringContaining('"hubspot-contacts"') },
    ]);
    const unknown = await api('POST', '/projects/default/integrations/no-such-integration/revisions', {
      sourceYaml: manifest('*/30 * * * *'),
    });
    expectProblem(unknown, 404);
    const broken = await api('POST', '/projects/default/integrations/hubspot-contacts/revisions', {
      sourceYaml: 'specVersion: 1.0.0\nintegrations: 7',
    });
    expect((expectProblem(broken, 422).issues as object[])[0]).toMatchObject({
      name: '/sourceYaml/integrations',
    });
  });

  it('exercised each operation with a success', () => {
    expect(neverSucceeded(OPERATIONS)).toEqual([]);
  });
});
