import fs from 'node:fs';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { badRequest } from '../../core/errors.ts';
import { EVENT_TYPES } from './webhook-events.ts';

/**
 * The Management API v2 contract: the published Supaglue OpenAPI document (bundled beside this
 * file) is the single source of request validation, and is served, with Trellis's extensions, as
 * this surface's API document.
 */
type Json = Record<string, unknown>;
interface Parameter {
  name: string;
  in: 'query' | 'header' | 'path';
  required?: boolean;
  schema?: Json;
  $ref?: string;
}
interface Operation {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { content: { 'application/json': { schema: Json } } };
}

const spec = JSON.parse(fs.readFileSync(new URL('./mgmt-v2.openapi.json', import.meta.url), 'utf8')) as {
  paths: Record<string, Record<string, Operation | Parameter[]>>;
  components: { parameters: Record<string, Parameter> };
} & Json;

/**
 * Where the spec's `oneOf` branches overlap (e.g. `{object}` and `{object, table}`), a valid body
 * matches two branches and strict `oneOf` would reject it; for requests we read `oneOf` as
 * `anyOf`, which is the same wherever the branches are disjoint.
 */
function oneOfAsAnyOf(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(oneOfAsAnyOf);
  if (node && typeof node === 'object') {
    const out: Json = {};
    for (const [k, v] of Object.entries(node)) out[k === 'oneOf' ? 'anyOf' : k] = oneOfAsAnyOf(v);
    return out;
  }
  return node;
}

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

const contract = { ...spec, paths: { ...spec.paths, ...EXTENSION_PATHS } } as typeof spec;

/**
 * Limits on what a request may carry, for the values the vendor document leaves unbounded: every
 * cost of handling a request (validation, duplicate checks, storage) then has a bound besides the
 * 5 MB body limit. They are generous: the largest real lists (Salesforce allows 3,000 custom
 * objects and 800 custom fields per object) fit many times over.
 */
export const REQUEST_LIMITS = {
  /** Names, ids, types: at most 2 KiB of UTF-8, so that any of them fits a Postgres index entry. */
  maxLength: 512,
  /** Secrets, keys, certificates, tokens, cursors and URLs, which are long by nature. */
  maxLongTextLength: 16_384,
  maxItems: 10_000,
  /** Request objects may carry properties the document does not name; this many at most. */
  maxProperties: 1_000,
  /**
   * JSON Schema cannot say these two; they are checked on the body's text, before it is parsed.
   * Parsing is the one step that cannot be bounded otherwise: on a 2-core machine a 5 MB body of
   * small values takes up to 300 ms, a million nested arrays as long, while the event loop waits.
   * A megabyte holds 10,000 items of 100 characters.
   */
  maxBodyBytes: 1024 * 1024,
  maxDepth: 32,
} as const;

const [QUOTE, BACKSLASH, LOWER_U] = [0x22, 0x5c, 0x75];
const [OPEN_ARRAY, CLOSE_ARRAY, OPEN_OBJECT, CLOSE_OBJECT] = [0x5b, 0x5d, 0x7b, 0x7d];
/** The UTF-16 unit of the `\uXXXX` escape at `at` (NaN when malformed, which the parser refuses). */
const escapedUnit = (text: string, at: number) =>
  text.charCodeAt(at + 1) === LOWER_U ? Number.parseInt(text.slice(at + 2, at + 6), 16) : Number.NaN;
const isHighSurrogate = (unit: number) => unit >= 0xd800 && unit <= 0xdbff;
const isLowSurrogate = (unit: number) => unit >= 0xdc00 && unit <= 0xdfff;

/**
 * What makes JSON text unfit before it is parsed: nesting deeper than `REQUEST_LIMITS.maxDepth`,
 * or an escaped lone UTF-16 surrogate, which is no character (Postgres refuses it in JSON). One
 * pass that follows only brackets, strings and escapes; other malformed text is left to the parser.
 */
export function jsonTextProblem(text: string): string | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === QUOTE) inString = false;
      else if (c === BACKSLASH) {
        const unit = escapedUnit(text, i);
        if (isLowSurrogate(unit)) return LONE_SURROGATE;
        if (isHighSurrogate(unit)) {
          if (!isLowSurrogate(escapedUnit(text, i + 6))) return LONE_SURROGATE;
          i += 6;
        }
        i += Number.isNaN(unit) ? 1 : 5;
      }
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > REQUEST_LIMITS.maxDepth)
        return `body nests deeper than ${REQUEST_LIMITS.maxDepth} levels`;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
  return undefined;
}
const LONE_SURROGATE = 'body has a \\u escape of a lone surrogate (D800-DFFF), which is not a character';

/** The string properties and parameters that take the long-text limit. */
const LONG_TEXT = new Set([
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
]);

/**
 * Adds the default limits to every schema a request reaches (bodies and query and header
 * parameters, through their `$ref`s) that does not set its own. Path parameters are left to the
 * router's limit: they are only ever looked up, never stored.
 */
function addRequestLimits(doc: typeof contract): void {
  const seen = new Set<object>();
  const longTextSeen = new Set<string>();
  const resolve = (node: Json): Json => {
    let target = node;
    while (typeof target.$ref === 'string') target = pointerInto(doc, target.$ref);
    return target;
  };
  const visit = (node: unknown, name: string | undefined): void => {
    if (!node || typeof node !== 'object' || Array.isArray(node)) return;
    const schema = resolve(node as Json);
    if (seen.has(schema)) return;
    seen.add(schema);
    const types = ([] as unknown[]).concat(schema.type ?? (schema.properties ? 'object' : []));
    const bounded = schema.enum !== undefined || schema.const !== undefined;
    if (types.includes('string') && !bounded && schema.maxLength === undefined) {
      const long = name !== undefined && LONG_TEXT.has(name);
      if (long) longTextSeen.add(name);
      schema.maxLength = long ? REQUEST_LIMITS.maxLongTextLength : REQUEST_LIMITS.maxLength;
    }
    if (types.includes('array')) schema.maxItems ??= REQUEST_LIMITS.maxItems;
    if (types.includes('object')) schema.maxProperties ??= REQUEST_LIMITS.maxProperties;
    for (const [key, value] of Object.entries((schema.properties as Json | undefined) ?? {}))
      visit(value, key);
    visit(schema.items, name);
    visit(schema.additionalProperties, undefined);
    for (const key of ['oneOf', 'anyOf', 'allOf'])
      for (const branch of (schema[key] as unknown[] | undefined) ?? []) visit(branch, name);
  };
  for (const item of Object.values(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const params = method === 'parameters' ? (op as Parameter[]) : ((op as Operation).parameters ?? []);
      for (const p of params) {
        const param = resolve(p as unknown as Json) as unknown as Parameter;
        if (param.in !== 'path') visit(param.schema, param.name);
      }
      if (method !== 'parameters')
        visit((op as Operation).requestBody?.content['application/json'].schema, undefined);
    }
  }
  const unused = [...LONG_TEXT].filter((name) => !longTextSeen.has(name));
  if (unused.length > 0) throw new Error(`long-text names no request string: ${unused.join(', ')}`);
  const l = REQUEST_LIMITS;
  const info = doc.info as Json;
  info.description = `${info.description ?? ''}
#### Request limits

Where this document sets no limit of its own, a request's strings are at most ${l.maxLength} characters (secrets, keys, certificates, tokens, cursors and URLs: ${l.maxLongTextLength}), its arrays at most ${l.maxItems} items, its objects at most ${l.maxProperties} properties, and JSON bodies nest at most ${l.maxDepth} levels deep. Bodies are at most ${l.maxBodyBytes / 1024 / 1024} MB (413 above). A request over another limit is answered with 400.
`;
}

function pointerInto(doc: unknown, ref: string): Json {
  return ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>(
      (node, key) => (node as Json)[key.replaceAll('~1', '/').replaceAll('~0', '~')],
      doc,
    ) as Json;
}

addRequestLimits(contract);

/** A schema fragment whose local `$ref`s point into the contract document. */
function inContract(node: unknown): Json {
  return JSON.parse(JSON.stringify(node).replaceAll('"$ref":"#/', '"$ref":"mgmt#/')) as Json;
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;
// Not `allErrors`: its cost grows with the number of errors, which one 5 MB body can make
// millions of (Ajv's own security notes say so). The first error of each `anyOf` branch is reported.
const ajv = new Ajv2020({ strict: false, allErrors: false, coerceTypes: false });
addFormats(ajv);
ajv.addSchema(oneOfAsAnyOf(contract) as Json, 'mgmt');

interface CompiledOperation {
  body?: ValidateFunction;
  params: { name: string; in: Parameter['in']; required: boolean; validate?: ValidateFunction }[];
}

const operations = new Map<string, CompiledOperation>();
for (const [path, item] of Object.entries(contract.paths)) {
  const shared = (item.parameters as Parameter[] | undefined) ?? [];
  for (const [method, op] of Object.entries(item)) {
    if (method === 'parameters') continue;
    const operation = op as Operation;
    const pointer = `mgmt#/paths/${path.replaceAll('~', '~0').replaceAll('/', '~1')}/${method}`;
    const params = [...shared, ...(operation.parameters ?? [])].map((p) => {
      const param = p.$ref ? spec.components.parameters[p.$ref.split('/').pop() ?? '']! : p;
      return {
        name: param.name,
        in: param.in,
        required: param.required === true,
        validate: param.schema ? ajv.compile(inContract(oneOfAsAnyOf(param.schema))) : undefined,
      };
    });
    operations.set(operation.operationId, {
      body: operation.requestBody
        ? ajv.compile({ $ref: `${pointer}/requestBody/content/application~1json/schema` })
        : undefined,
      params,
    });
  }
}

export const OPERATION_IDS = [...operations.keys()];

function describe(errors: ErrorObject[] | null | undefined, where: string): string {
  const messages = (errors ?? [])
    .filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'if')
    .map((e) => {
      const at = `${where}${e.instancePath}`;
      if (e.keyword === 'enum')
        return `${at} must be one of: ${(e.params.allowedValues as unknown[]).join(', ')}`;
      if (e.keyword === 'additionalProperties')
        return `${at} has unknown property "${e.params.additionalProperty}"`;
      return `${at} ${e.message}`;
    });
  return [...new Set(messages)].slice(0, 6).join('; ') || `${where} is invalid`;
}

/** Validates a request's body, headers and query against its operation in the spec; throws 400. */
export function validateRequest(
  operationId: string,
  req: { body: unknown; headers: Record<string, unknown>; query: Record<string, unknown> },
): void {
  const op = operations.get(operationId);
  if (!op) throw new Error(`unknown operation ${operationId}`);
  for (const param of op.params) {
    if (param.in === 'path') continue;
    const value = param.in === 'header' ? req.headers[param.name.toLowerCase()] : req.query[param.name];
    if (value === undefined || value === '') {
      if (param.required) throw badRequest(`${param.in} parameter ${param.name} is required`);
      continue;
    }
    if (Array.isArray(value)) throw badRequest(`${param.in} parameter ${param.name} must be given once`);
    const typed = param.validate && isBooleanSchema(param.validate) ? parseBoolean(param.name, value) : value;
    if (param.validate && !param.validate(typed)) {
      throw badRequest(
        describe(param.validate.errors, `${param.in} parameter ${param.name}`),
        'VALIDATION_ERROR',
      );
    }
  }
  if (op.body) {
    if (req.body === undefined) throw badRequest('a JSON request body is required');
    if (!op.body(req.body)) throw badRequest(describe(op.body.errors, 'body'), 'VALIDATION_ERROR');
  }
}

function isBooleanSchema(validate: ValidateFunction): boolean {
  return (validate.schema as Json | undefined)?.type === 'boolean';
}

function parseBoolean(name: string, value: unknown): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw badRequest(`query parameter ${name} must be true or false`);
}

/** The document served at /mgmt/v2/openapi.json: the contract with extensions, pointed at this server. */
export function servedDocument(publicUrl: string): Json {
  const doc = structuredClone(contract) as unknown as Json & { info: Json };
  doc.servers = [{ url: `${publicUrl}/mgmt/v2`, description: 'This Trellis server' }];
  doc.info = { ...doc.info, title: 'Trellis Management API (v2, Supaglue dialect)' };
  return doc;
}
