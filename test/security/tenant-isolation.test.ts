import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProject } from '../../src/core/projects.ts';
import { createFixture, type Fixture } from '../helpers/mgmt-fixtures.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

/**
 * A second project's key must not reach any row of the first project: every id of project A,
 * used with project B's key, answers 404, and nothing of A changes.
 */
describe('tenant isolation', () => {
  let t: TestTrellis;
  let a: Client;
  let b: Client;
  let fx: Fixture;

  beforeAll(async () => {
    t = await startTrellis();
    a = client(t.baseUrl, t.apiKey);
    const other = await createProject(t.runtime.deps.db, 'project-b');
    b = client(t.baseUrl, other.apiKey);
    fx = await createFixture(a);
  });
  afterAll(() => t.stop());

  it("answers 404 for every id of another project's resources", async () => {
    const connectionHeaders = (provider: string) => ({
      'x-customer-id': fx.customerId,
      'x-provider-name': provider,
    });
    const body = (value: unknown) => ({ body: value });
    const calls: [string, string, Record<string, unknown>?][] = [
      ['GET', `/customers/${fx.customerId}`],
      ['DELETE', `/customers/${fx.customerId}`],
      ['GET', `/customers/${fx.customerId}/connections`],
      ['GET', `/customers/${fx.customerId}/connections/apollo`],
      ['DELETE', `/customers/${fx.customerId}/connections/apollo`],
      ['GET', `/customers/${fx.customerId}/connections/apollo/_rate_limit_info`],
      [
        'GET',
        `/customers/${fx.customerId}/connections/_provider_user_id`,
        { query: { provider_name: 'hubspot' } },
      ],
      [
        'POST',
        `/customers/${fx.customerId}/connections`,
        body({ provider_name: 'apollo', type: 'api_key', api_key: 'x' }),
      ],
      ['GET', `/destinations/${fx.destinationId}`],
      [
        'PUT',
        `/destinations/${fx.destinationId}`,
        body({
          name: 'stolen',
          type: 'postgres',
          version: 1,
          config: { host: 'h', port: 1, database: 'd', schema: 's', user: 'u' },
        }),
      ],
      ['GET', `/providers/${fx.hubspotProviderId}`],
      [
        'PUT',
        `/providers/${fx.hubspotProviderId}`,
        body({
          auth_type: 'oauth2',
          category: 'crm',
          name: 'hubspot',
          config: {
            provider_app_id: '',
            oauth: { oauth_scopes: [], credentials: { oauth_client_id: 'x', oauth_client_secret: 'y' } },
          },
        }),
      ],
      ['DELETE', `/providers/${fx.salesforceProviderId}`],
      ['GET', `/schemas/${fx.schemaId}`],
      [
        'PUT',
        `/schemas/${fx.schemaId}`,
        body({ name: 'x', config: { fields: [], allow_additional_field_mappings: true } }),
      ],
      ['DELETE', `/schemas/${fx.schemaId}`],
      ['GET', `/entities/${fx.entityId}`],
      [
        'PUT',
        `/entities/${fx.entityId}`,
        body({ name: 'x', config: { fields: [], allow_additional_field_mappings: true } }),
      ],
      ['DELETE', `/entities/${fx.entityId}`],
      ['GET', `/sync_configs/${fx.syncConfigId}`],
      [
        'PUT',
        `/sync_configs/${fx.syncConfigId}`,
        body({ config: { default_config: { period_ms: 60000, strategy: 'full only' } } }),
      ],
      ['DELETE', `/sync_configs/${fx.syncConfigId}`, { query: { force_delete_syncs: 'true' } }],
      ['DELETE', `/magic_links/${fx.magicLinkId}`],
      ['DELETE', `/webhooks/${fx.webhookId}`],
      ['GET', `/webhooks/${fx.webhookId}/deliveries`],
      ['GET', '/connection_sync_configs', { headers: connectionHeaders('hubspot') }],
      [
        'PUT',
        '/connection_sync_configs',
        { headers: connectionHeaders('hubspot'), body: { standard_objects: [] } },
      ],
      ['DELETE', '/connection_sync_configs', { headers: connectionHeaders('hubspot') }],
      ['GET', '/field_mappings', { headers: connectionHeaders('hubspot') }],
      [
        'PUT',
        '/field_mappings/_update_object',
        {
          headers: connectionHeaders('hubspot'),
          body: { name: 'contacts', type: 'standard', field_mappings: [] },
        },
      ],
      ['GET', '/entity_mappings', { headers: connectionHeaders('hubspot') }],
      [
        'PUT',
        `/entity_mappings/${fx.entityId}`,
        { headers: connectionHeaders('hubspot'), body: { entity_id: fx.entityId } },
      ],
      ['DELETE', `/entity_mappings/${fx.entityId}`, { headers: connectionHeaders('hubspot') }],
      [
        'POST',
        '/syncs/_pause',
        { headers: connectionHeaders('hubspot'), body: { object_type: 'standard', object: 'contacts' } },
      ],
      [
        'POST',
        '/syncs/_resume',
        { headers: connectionHeaders('hubspot'), body: { object_type: 'standard', object: 'contacts' } },
      ],
      [
        'POST',
        '/syncs/_trigger',
        { headers: connectionHeaders('hubspot'), body: { object_type: 'standard', object: 'contacts' } },
      ],
      [
        'POST',
        '/magic_links',
        body({
          customer_id: fx.customerId,
          provider_name: 'apollo',
          return_url: 'https://x.test',
          expiration_secs: 60,
        }),
      ],
    ];
    for (const [method, path, opts] of calls) {
      const res = await b(method, path, opts as Parameters<Client>[2]);
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(404);
      expect(res.body.errors?.[0]?.code, `${method} ${path}`).toBe('NOT_FOUND_ERROR');
    }
  });

  it("lists show none of another project's rows", async () => {
    for (const path of [
      '/customers',
      '/destinations',
      '/providers',
      '/schemas',
      '/entities',
      '/sync_configs',
      '/magic_links',
      '/webhooks',
    ]) {
      const list = await b('GET', path);
      expect(list.status).toBe(200);
      const text = JSON.stringify(list.body);
      for (const id of Object.values(fx)) expect(text, `${path} leaks ${id}`).not.toContain(id);
    }
    for (const path of ['/syncs', '/sync-runs']) {
      const page = await b('GET', path);
      expect(page.body.results).toEqual([]);
    }
    const filtered = await b('GET', '/syncs', { query: { customer_id: fx.customerId } });
    expect(filtered.body.results).toEqual([]);
  });

  it('a customer id reused by another project is a different customer', async () => {
    await b('PUT', '/customers', { body: { customer_id: fx.customerId, name: 'B-side', email: 'b@b.test' } });
    expect((await b('GET', `/customers/${fx.customerId}/connections`)).body).toEqual([]);
    expect((await a('GET', `/customers/${fx.customerId}`)).body.name).toBe('Customer a');
  });

  it("leaves the first project's data untouched", async () => {
    expect((await a('GET', `/customers/${fx.customerId}/connections`)).body).toHaveLength(2);
    expect((await a('GET', `/destinations/${fx.destinationId}`)).body.name).toBe(fx.destinationName);
    expect((await a('GET', `/schemas/${fx.schemaId}`)).status).toBe(200);
    expect((await a('GET', `/entities/${fx.entityId}`)).status).toBe(200);
    expect((await a('GET', `/providers/${fx.salesforceProviderId}`)).status).toBe(200);
    expect((await a('GET', `/sync_configs/${fx.syncConfigId}`)).status).toBe(200);
    expect((await a('GET', '/magic_links')).body.map((m: { id: string }) => m.id)).toContain(fx.magicLinkId);
    const syncs = await a('GET', '/syncs');
    expect(syncs.body.results.every((s: { paused: boolean }) => !s.paused)).toBe(true);
  });
});
