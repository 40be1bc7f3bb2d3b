import { expect } from 'vitest';
import type { Client } from './trellis.ts';

export interface Fixture {
  customerId: string;
  destinationId: string;
  destinationName: string;
  hubspotProviderId: string;
  salesforceProviderId: string;
  schemaId: string;
  entityId: string;
  syncConfigId: string;
  apolloConnectionId: string;
  hubspotConnectionId: string;
  magicLinkId: string;
  webhookId: string;
}

/** Where a Postgres destination points (the password is sealed; the rest reads back). */
export interface WarehouseConfig {
  host: string;
  port: number;
  database: string;
  schema: string;
  user: string;
  password: string;
}

/** A destination config for the database at `databaseUrl`, writing into `schema`. */
export function warehouseAt(databaseUrl: string, schema: string): WarehouseConfig {
  const url = new URL(databaseUrl);
  return {
    host: url.hostname,
    port: Number(url.port),
    database: url.pathname.slice(1),
    schema,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  };
}

async function ok<T = any>(p: Promise<{ status: number; body: T }>, status: number): Promise<T> {
  const res = await p;
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  return res.body;
}

/**
 * One of every Management API resource in a project, created through the API only:
 * a customer with an Apollo (API key) and a HubSpot (refresh token) connection, a Postgres
 * destination, HubSpot and Salesforce providers, a schema attached to HubSpot contacts, an entity
 * mapped by the HubSpot provider, a HubSpot sync config (so the HubSpot connection has syncs), a
 * magic link and a webhook endpoint. `tag` keeps names unique when several fixtures share a project.
 */
export async function createFixture(
  api: Client,
  tag = 'a',
  webhookUrl = 'http://127.0.0.1:9/unused',
  /** A refresh token the HubSpot provider (client `hubspot-client-<tag>`) accepts, e.g. from a simulator. */
  hubspotRefreshToken = `hubspot-refresh-${tag}`,
  /** The Postgres destination's server; by default a made-up one (nothing lands anywhere). */
  warehouse: WarehouseConfig = {
    host: '127.0.0.1',
    port: 5432,
    database: 'wh',
    schema: 'public',
    user: 'loader',
    password: `pg-password-${tag}`,
  },
): Promise<Fixture> {
  const customerId = `customer-${tag}`;
  await ok(
    api('PUT', '/customers', {
      body: { customer_id: customerId, name: `Customer ${tag}`, email: `${tag}@example.test` },
    }),
    200,
  );
  const destinationName = `warehouse-${tag}`;
  const destination = await ok(
    api('POST', '/destinations', {
      body: {
        name: destinationName,
        type: 'postgres',
        config: warehouse,
      },
    }),
    201,
  );
  const schema = await ok(
    api('POST', '/schemas', {
      body: {
        name: `contact-schema-${tag}`,
        config: {
          fields: [{ name: 'email', mapped_name: 'email' }, { name: 'score' }],
          allow_additional_field_mappings: true,
        },
      },
    }),
    201,
  );
  const entity = await ok(
    api('POST', '/entities', {
      body: {
        name: `person-${tag}`,
        config: {
          fields: [{ name: 'full_name' }, { name: 'email' }],
          allow_additional_field_mappings: false,
        },
      },
    }),
    201,
  );
  const oauth = (id: string) => ({
    provider_app_id: '',
    oauth: {
      oauth_scopes: ['crm.objects.contacts.read'],
      credentials: { oauth_client_id: id, oauth_client_secret: `client-secret-${id}` },
    },
  });
  const hubspot = await ok(
    api('POST', '/providers', {
      body: {
        auth_type: 'oauth2',
        category: 'crm',
        name: 'hubspot',
        config: oauth(`hubspot-client-${tag}`),
        objects: { standard: [{ name: 'contacts', schema_id: schema.id }] },
        entity_mappings: [
          {
            entity_id: entity.id,
            object: { type: 'standard', name: 'contacts' },
            field_mappings: [{ entity_field: 'email', mapped_field: 'email' }],
          },
        ],
      },
    }),
    201,
  );
  const salesforce = await ok(
    api('POST', '/providers', {
      body: { auth_type: 'oauth2', category: 'crm', name: 'salesforce', config: oauth(`sf-client-${tag}`) },
    }),
    201,
  );
  const syncConfig = await ok(
    api('POST', '/sync_configs', {
      body: {
        destination_name: destinationName,
        provider_name: 'hubspot',
        config: {
          default_config: {
            period_ms: 3_600_000,
            strategy: 'full then incremental',
            auto_start_on_connection: true,
          },
          standard_objects: [{ object: 'contacts' }, { object: 'companies' }],
        },
      },
    }),
    201,
  );
  const apollo = await ok(
    api('POST', `/customers/${customerId}/connections`, {
      body: { provider_name: 'apollo', type: 'api_key', api_key: `apollo-key-${tag}` },
    }),
    200,
  );
  const hubspotConnection = await ok(
    api('POST', `/customers/${customerId}/connections`, {
      body: { provider_name: 'hubspot', type: 'oauth2', refresh_token: hubspotRefreshToken },
    }),
    200,
  );
  const link = await ok(
    api('POST', '/magic_links', {
      body: {
        customer_id: customerId,
        provider_name: 'salesforce',
        return_url: 'https://app.example.test/done',
        expiration_secs: 3600,
      },
    }),
    201,
  );
  const webhook = await ok(
    api('POST', '/webhooks', { body: { url: webhookUrl, event_types: ['sync.complete'] } }),
    201,
  );
  return {
    customerId,
    destinationId: destination.id,
    destinationName,
    hubspotProviderId: hubspot.id,
    salesforceProviderId: salesforce.id,
    schemaId: schema.id,
    entityId: entity.id,
    syncConfigId: syncConfig.id,
    apolloConnectionId: apollo.id,
    hubspotConnectionId: hubspotConnection.id,
    magicLinkId: link.id,
    webhookId: webhook.id,
  };
}
