import fs from 'node:fs';
import {
  compileContract,
  type Json,
  type OpenApiDocument,
  servedDocument as served,
} from '../surface/contract.ts';
import { EVENT_TYPES } from './webhook-events.ts';

/**
 * The Management API v2 contract: the published Supaglue OpenAPI document (bundled beside this
 * file) is the single source of request validation, and is served, with Trellis's extensions, as
 * this surface's API document.
 */
export const MGMT_V2_PREFIX = '/mgmt/v2';
export const MGMT_V2_TITLE = 'Trellis Management API (v2, Supaglue dialect)';

const spec = JSON.parse(
  fs.readFileSync(new URL('./mgmt-v2.openapi.json', import.meta.url), 'utf8'),
) as OpenApiDocument;

/** Trellis extensions to the surface: webhook endpoint registration (Supaglue kept it in its dashboard). */
const ref = (name: string) => ({ $ref: `#/components/responses/${name}` });
const endpoint = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    url: { type: 'string' },
    event_types: { type: 'array', items: { type: 'string' } },
    enabled: { type: 'boolean' },
    created_at: { type: 'string', format: 'date-time' },
  },
  required: ['id', 'url', 'event_types', 'enabled', 'created_at'],
};
const EXTENSION_PATHS: Json = {
  '/webhooks': {
    get: {
      operationId: 'trellisListWebhooks',
      summary: 'List webhook endpoints (Trellis extension)',
      tags: ['Webhooks (Trellis)'],
      responses: {
        200: {
          description: 'Endpoints',
          content: { 'application/json': { schema: { type: 'array', items: endpoint } } },
        },
        401: ref('unauthorized'),
      },
    },
    post: {
      operationId: 'trellisCreateWebhook',
      summary: 'Register a webhook endpoint (Trellis extension)',
      description:
        'Deliveries are signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`) with the `secret` returned once here.',
      tags: ['Webhooks (Trellis)'],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              properties: {
                url: { type: 'string' },
                event_types: { type: 'array', items: { type: 'string', enum: [...EVENT_TYPES, '*'] } },
              },
              required: ['url'],
            },
          },
        },
      },
      responses: {
        201: {
          description: 'Created',
          content: {
            'application/json': {
              schema: {
                allOf: [
                  endpoint,
                  { type: 'object', properties: { secret: { type: 'string' } }, required: ['secret'] },
                ],
              },
            },
          },
        },
        400: ref('badRequest'),
      },
    },
  },
  '/webhooks/{webhook_id}': {
    delete: {
      operationId: 'trellisDeleteWebhook',
      summary: 'Delete a webhook endpoint (Trellis extension)',
      tags: ['Webhooks (Trellis)'],
      parameters: [{ name: 'webhook_id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { 204: { description: 'Deleted' }, 404: ref('notFound') },
    },
  },
  '/webhooks/{webhook_id}/deliveries': {
    get: {
      operationId: 'trellisListWebhookDeliveries',
      summary: 'Delivery attempts of an endpoint, newest first (Trellis extension)',
      tags: ['Webhooks (Trellis)'],
      parameters: [{ name: 'webhook_id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { 200: { description: 'Attempts' }, 404: ref('notFound') },
    },
  },
};

/**
 * Trellis extension to sync runs: a running run's progress (only on IN_PROGRESS runs), read from
 * the checkpoint the engine saves with each batch.
 */
const RUN_PROGRESS: Json = {
  type: 'object',
  description:
    'Trellis extension, present on IN_PROGRESS runs: how far the run has come. Updated as each batch of records is written.',
  properties: {
    records: { type: 'integer', description: 'records written so far' },
    pages: { type: 'integer', description: 'provider pages read so far (over every partition of the read)' },
    records_per_second: { type: 'number', description: 'records written per second since the run started' },
    elapsed_seconds: { type: 'number' },
    reported_at: { type: 'string', format: 'date-time', description: "when the run's worker last reported" },
    expected_records: {
      type: 'integer',
      nullable: true,
      description:
        'the most records a succeeded run of this sync wrote (what a full run may come to); null before any',
    },
  },
  required: ['records', 'pages', 'records_per_second', 'elapsed_seconds', 'reported_at', 'expected_records'],
};

/** The document's schemas, each sync run shape with the extension. */
function schemasWithRunProgress(schemas: Record<string, Json>): Record<string, Json> {
  const run = schemas.sync_run as { oneOf: { properties: Record<string, Json> }[] };
  return {
    ...schemas,
    sync_run: {
      ...run,
      oneOf: run.oneOf.map((shape) => ({
        ...shape,
        properties: { ...shape.properties, trellis_progress: RUN_PROGRESS },
      })),
    },
  };
}

/** The string properties and parameters of this document that take the long-text limit. */
const LONG_TEXT = [
  'password',
  'server_ca_cert',
  'client_cert',
  'client_key',
  'private_key',
  's3_access_key',
  'oauth_client_secret',
  'api_key',
  'access_key',
  'access_key_secret',
  'refresh_token',
  'return_url',
  'url',
  'instance_url',
  'login_url',
  'cursor',
];

const components = spec.components as { schemas: Record<string, Json> };
export const MGMT_V2_CONTRACT = compileContract(
  {
    ...spec,
    paths: { ...spec.paths, ...EXTENSION_PATHS },
    components: { ...components, schemas: schemasWithRunProgress(components.schemas) },
  } as OpenApiDocument,
  { longText: LONG_TEXT },
);

/** The limits requests to this surface are held to (the kit's defaults). */
export const REQUEST_LIMITS = MGMT_V2_CONTRACT.limits;
export const OPERATION_IDS = MGMT_V2_CONTRACT.operationIds;

/** The document served at /mgmt/v2/openapi.json: the contract with extensions, pointed at this server. */
export function servedDocument(publicUrl: string): OpenApiDocument {
  return served(MGMT_V2_CONTRACT, { url: `${publicUrl}${MGMT_V2_PREFIX}`, title: MGMT_V2_TITLE });
}
