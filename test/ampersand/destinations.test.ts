import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signWebhook } from '../../src/auth/webhook-signature.ts';
import { getDestinationSecretConfig } from '../../src/core/destinations.ts';
import { createIntegration } from '../../src/core/integrations.ts';
import { createProject } from '../../src/core/projects.ts';
import { expectProblem } from '../helpers/ampersand.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';
import { contractClient } from './contract-check.ts';

/**
 * Webhook destinations through the Platform API, by id or by name: their URL shown, their headers
 * sealed and never shown, their signing key only on request (`includeSecrets`) and replaced on
 * request (`rotate`). Destinations of other kinds do not exist for this API, and webhooks do not
 * exist for the Management API. Every answer is validated against the document.
 */

const OPERATIONS = [
  'listDestinations',
  'createDestination',
  'getDestination',
  'updateDestination',
  'deleteDestination',
];
const HEADER_SECRETS = ['Bearer hook-token-1', 'Bearer hook-token-2'];
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const URL_1 = 'http://127.0.0.1:9/hooks/contacts';

describe('Platform API destinations', () => {
  let t: TestTrellis;
  let mgmt: Client;
  let projectId: string;
  let hooksId: string;
  const { api, neverSucceeded } = contractClient(
    () => t.baseUrl,
    () => t.apiKey,
    HEADER_SECRETS,
  );
  const secretConfig = (id: string) => getDestinationSecretConfig(t.runtime.deps, projectId, id);

  beforeAll(async () => {
    t = await startTrellis({ roles: { api: true, worker: false } });
    mgmt = client(t.baseUrl, t.apiKey);
    const warehouse = await mgmt('POST', '/destinations', {
      body: {
        name: 'warehouse',
        type: 'postgres',
        config: { host: '127.0.0.1', port: 5432, database: 'd', schema: 's', user: 'u', password: 'p' },
      },
    });
    expect(warehouse.status).toBe(201);
    projectId = warehouse.body.application_id;
  });
  afterAll(() => t?.stop());

  it('create: a webhook destination with its URL shown and its headers sealed', async () => {
    const made = await api('POST', '/projects/default/destinations', {
      name: 'contactsWebhook',
      type: 'webhook',
      metadata: { url: URL_1, headers: { Authorization: HEADER_SECRETS[0] } },
    });
    expect(made.status).toBe(201);
    expect(made.body).toEqual({
      id: expect.any(String),
      name: 'contactsWebhook',
      type: 'webhook',
      metadata: { url: URL_1 },
      createTime: expect.stringMatching(ISO_TIME),
      updateTime: expect.stringMatching(ISO_TIME),
    });
    hooksId = made.body.id;
    expect(await secretConfig(hooksId)).toMatchObject({
      url: URL_1,
      headers: { Authorization: HEADER_SECRETS[0] },
    });
    const { rows } = await t.runtime.deps.db.query(
      'select config, secrets_sealed from destinations where id = $1',
      [hooksId],
    );
    expect(rows[0].config).toEqual({ url: URL_1 });
    expect(rows[0].secrets_sealed).not.toContain('hook-token');
  });

  it('list and get (by id or name) show webhook destinations only; the Management API shows none of them', async () => {
    const listed = (await api('GET', '/projects/default/destinations')).body;
    expect(listed.map((d: { name: string }) => d.name)).toEqual(['contactsWebhook']);
    expect((await api('GET', `/projects/default/destinations/${hooksId}`)).body).toEqual(listed[0]);
    expect((await api('GET', '/projects/default/destinations/contactsWebhook')).body).toEqual(listed[0]);
    expect(
      (await mgmt('GET', '/destinations')).body.map((d: { name?: string; type: string }) => d.name ?? d.type),
    ).toEqual(['supaglue', 'warehouse']);
    expect((await mgmt('GET', `/destinations/${hooksId}`)).status).toBe(404);
    for (const named of ['warehouse', 'Supaglue Managed Destination', 'nothing']) {
      const path = `/projects/default/destinations/${encodeURIComponent(named)}`;
      expect(expectProblem(await api('GET', path), 404).detail).toBe(`destination "${named}" not found`);
      expectProblem(await api('DELETE', path), 404);
    }
  });

  it('the signing key only with includeSecrets; rotate replaces it, and messages are signed with the new one', async () => {
    const path = `/projects/default/destinations/${hooksId}`;
    expect((await api('GET', `${path}?includeSecrets=false`)).body.secrets).toBeUndefined();
    const withKey = await api('GET', `${path}?includeSecrets=true`);
    const key = withKey.body.secrets.webhookSigningKey;
    expect(key).toMatch(/^whsec_/);
    expect((await api('GET', `${path}?includeSecrets=true`)).body.secrets.webhookSigningKey).toBe(key);
    // Rotated without asking to see it: the answer has no key, and the stored one changed.
    const rotatedQuietly = await api('GET', `${path}?rotate=true`);
    expect(rotatedQuietly.body.secrets).toBeUndefined();
    const afterQuiet = (await secretConfig(hooksId)).signingSecret;
    expect(afterQuiet).not.toBe(key);
    const rotated = await api('GET', `${path}?rotate=true&includeSecrets=true`);
    const newKey = rotated.body.secrets.webhookSigningKey;
    expect(newKey).not.toBe(afterQuiet);
    expect((await secretConfig(hooksId)).signingSecret).toBe(newKey);
    // The key verifies what Trellis signs (Standard Webhooks).
    const mac = createHmac('sha256', Buffer.from(newKey.replace(/^whsec_/, ''), 'base64'))
      .update('msg_1.1700000000.{}')
      .digest('base64');
    expect(
      signWebhook(String((await secretConfig(hooksId)).signingSecret), 'msg_1', 1700000000, '{}'),
    ).toContain(`v1,${mac}`);
    // Headers survive rotation.
    expect((await secretConfig(hooksId)).headers).toEqual({ Authorization: HEADER_SECRETS[0] });
  });

  it('update changes what the mask names: headers replaced or removed, the URL and signing key kept otherwise', async () => {
    const path = '/projects/default/destinations/contactsWebhook';
    const key = (await secretConfig(hooksId)).signingSecret;
    const renamed = await api('PATCH', path, {
      updateMask: ['name', 'metadata.headers'],
      destination: {
        name: 'contacts-hook',
        metadata: { url: 'http://ignored.test/', headers: { Authorization: HEADER_SECRETS[1] } },
      },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id: hooksId, name: 'contacts-hook', metadata: { url: URL_1 } });
    expect(await secretConfig(hooksId)).toMatchObject({
      url: URL_1,
      headers: { Authorization: HEADER_SECRETS[1] },
      signingSecret: key,
    });
    const moved = await api('PATCH', `/projects/default/destinations/${hooksId}`, {
      updateMask: ['metadata.url'],
      destination: { metadata: { url: 'http://127.0.0.1:9/hooks/v2' } },
    });
    expect(moved.body.metadata).toEqual({ url: 'http://127.0.0.1:9/hooks/v2' });
    expect((await secretConfig(hooksId)).headers).toEqual({ Authorization: HEADER_SECRETS[1] });
    await api('PATCH', `/projects/default/destinations/${hooksId}`, {
      updateMask: ['metadata.headers'],
      destination: { metadata: { headers: null } },
    });
    expect((await secretConfig(hooksId)).headers).toEqual({});
  });

  it('refuses what a webhook destination cannot be, and names already taken', async () => {
    const create: [unknown, number, string][] = [
      [
        { name: 'q', type: 'sqs', metadata: { queueUrl: 'https://sqs.test/q' } },
        400,
        'webhook destinations only',
      ],
      [{ name: 'bad name!', type: 'webhook', metadata: { url: URL_1 } }, 400, 'letters, digits and dashes'],
      [{ name: 'x', type: 'webhook', metadata: { url: URL_1, region: 'eu' } }, 400, 'metadata.region'],
      [{ name: 'x', type: 'webhook', metadata: {} }, 400, 'metadata.url is required'],
      [{ name: 'x', type: 'webhook', metadata: { url: 'ftp://h.test/x' } }, 400, 'http or https'],
      [{ name: 'x', type: 'webhook', metadata: { url: 'http://169.254.169.254/x' } }, 400, 'not reachable'],
      [
        { name: 'x', type: 'webhook', metadata: { url: URL_1, headers: { 'Webhook-Signature': 'v1,x' } } },
        400,
        'set by Trellis',
      ],
      [{ name: 'x', type: 'webhook', metadata: { url: URL_1 }, secrets: { password: 'p' } }, 400, 'secrets'],
      [{ name: 'contacts-hook', type: 'webhook', metadata: { url: URL_1 } }, 409, 'already exists'],
      [{ name: 'warehouse', type: 'webhook', metadata: { url: URL_1 } }, 409, 'already exists'],
    ];
    for (const [body, status, says] of create)
      expect(
        expectProblem(await api('POST', '/projects/default/destinations', body), status).detail,
      ).toContain(says);
    const path = `/projects/default/destinations/${hooksId}`;
    const update: [unknown, number, string][] = [
      [
        { updateMask: ['metadata.region'], destination: { metadata: { region: 'eu' } } },
        400,
        'metadata.region',
      ],
      [{ updateMask: [], destination: {} }, 400, 'at least one field'],
      [{ updateMask: ['name'], destination: {} }, 400, 'destination.name'],
      [{ updateMask: ['metadata.url'], destination: { metadata: {} } }, 400, 'metadata.url is required'],
      [{ updateMask: ['name'], destination: { name: 'warehouse' } }, 409, 'already exists'],
    ];
    for (const [body, status, says] of update)
      expect(expectProblem(await api('PATCH', path, body), status).detail).toContain(says);
    expect((await api('GET', '/projects/default/destinations')).body).toHaveLength(1);
  });

  it("another project's destinations are not found", async () => {
    const { apiKey } = await createProject(t.runtime.deps.db, 'other');
    const theirs = await client(t.baseUrl, apiKey, '/v1')('POST', '/projects/other/destinations', {
      body: { name: 'contacts-hook', type: 'webhook', metadata: { url: URL_1 } },
    });
    expect(theirs.status).toBe(201);
    const path = `/projects/default/destinations/${theirs.body.id}`;
    expectProblem(await api('GET', path), 404);
    expectProblem(await api('PATCH', path, { updateMask: ['name'], destination: { name: 'mine' } }), 404);
    expectProblem(await api('DELETE', path), 404);
  });

  it('delete: a destination an integration sends records to is kept (409); an unused one goes', async () => {
    const app = await api('POST', '/projects/default/provider-apps', {
      provider: 'hubspot',
      clientId: 'hs',
      clientSecret: 'hs-secret',
    });
    expect(app.status).toBe(200);
    const perObject = await api('POST', '/projects/default/destinations', {
      name: 'companies-hook',
      type: 'webhook',
      metadata: { url: URL_1 },
    });
    const read = (destinationId?: string) => ({
      defaults: { schedule: { everyMs: 3_600_000 }, mode: 'incremental' as const },
      objects: [
        {
          target: { kind: 'standard' as const, object: 'contacts' },
          ...(destinationId ? { destinationId } : {}),
        },
      ],
    });
    await createIntegration(t.runtime.deps, projectId, {
      name: 'hubspot-contacts',
      installs: 'on_request',
      destinationName: 'contacts-hook',
      providerName: 'hubspot',
      read: read(),
    });
    await createIntegration(t.runtime.deps, projectId, {
      name: 'hubspot-companies',
      installs: 'on_request',
      providerName: 'hubspot',
      read: read(perObject.body.id),
    });
    for (const [named, integration] of [
      ['contacts-hook', 'hubspot-contacts'],
      ['companies-hook', 'hubspot-companies'],
    ]) {
      const refused = await api('DELETE', `/projects/default/destinations/${named}`);
      expect(expectProblem(refused, 409).detail).toBe(
        `integration "${integration}" sends records to destination "${named}"; change it first`,
      );
    }
    const unused = await api('POST', '/projects/default/destinations', {
      name: 'spare',
      type: 'webhook',
      metadata: { url: URL_1 },
    });
    expect((await api('DELETE', `/projects/default/destinations/${unused.body.id}`)).status).toBe(204);
    expectProblem(await api('GET', '/projects/default/destinations/spare'), 404);
    expect(
      (await api('GET', '/projects/default/destinations')).body.map((d: { name: string }) => d.name),
    ).toEqual(['contacts-hook', 'companies-hook']);
  });

  it('exercised each operation with a success', () => {
    expect(neverSucceeded(OPERATIONS)).toEqual([]);
  });
});
