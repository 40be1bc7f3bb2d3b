import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATION_IDS, REQUEST_LIMITS, servedDocument } from '../../src/api/mgmt-v2/openapi.ts';
import { createFixture, type Fixture } from '../helpers/mgmt-fixtures.ts';
import { client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

/**
 * Bad input against every operation of the Management API, generated from the spec: each
 * operation's parameters and request body schema decide which bad requests it gets, and each must
 * be answered with a 4xx in the Supaglue error shape, never a 5xx. The requests address the
 * fixture's real resources (real ids in the path, its HubSpot connection in the x-customer-id /
 * x-provider-name headers), so that only the one bad part of a request can be the reason it fails.
 * Afterwards nothing may have answered 5xx, the server may have logged no error, and everything the
 * API shows of the fixture must be as it was.
 */

interface Schema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  example?: unknown;
  format?: string;
  minimum?: number;
  minItems?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  oneOf?: Schema[];
  anyOf?: Schema[];
}
interface Parameter {
  $ref?: string;
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema?: Schema;
}
interface Document {
  paths: Record<string, Record<string, { operationId?: string; parameters?: Parameter[] } & object>>;
}
interface Operation {
  id: string;
  method: string;
  path: string;
  params: Parameter[];
  body?: Schema;
  doc: Document;
  /** Validates a body against the spec (oneOf read as anyOf, so "invalid" is certain). */
  validBody?: ValidateFunction;
}

// The seed spec, as bundled with the server (a byte-identical copy of the seed file).
const SEED = JSON.parse(
  fs.readFileSync(new URL('../../src/api/mgmt-v2/mgmt-v2.openapi.json', import.meta.url), 'utf8'),
) as Document;
// The served document adds Trellis's extensions (webhook endpoints); they get the same treatment.
const SERVED = servedDocument('http://trellis.test') as unknown as Document;

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

function pointer(doc: Document, ref: string): unknown {
  return ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>(
      (node, key) => (node as Record<string, unknown>)[key.replaceAll('~1', '/').replaceAll('~0', '~')],
      doc,
    );
}

/** The schema a `$ref` names, and the first branch of a `oneOf`/`anyOf` (what a client would send). */
function resolve(doc: Document, schema: Schema | undefined): Schema {
  let s = schema ?? {};
  for (;;) {
    if (s.$ref) s = pointer(doc, s.$ref) as Schema;
    else if (s.oneOf?.[0] ?? s.anyOf?.[0]) s = (s.oneOf?.[0] ?? s.anyOf?.[0])!;
    else return s;
  }
}

function typesOf(s: Schema): string[] {
  if (s.type) return Array.isArray(s.type) ? s.type : [s.type];
  return s.properties ? ['object'] : [];
}

const jsonType = (v: unknown) =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v;
const hasType = (v: unknown, types: string[]) =>
  types.includes(jsonType(v)) || (jsonType(v) === 'integer' && types.includes('number'));

/** A minimal valid instance: required properties only, from enums and examples where given. */
function sample(doc: Document, schema: Schema | undefined): unknown {
  const s = resolve(doc, schema);
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum[0];
  const [type] = typesOf(s).filter((t) => t !== 'null');
  if (s.example !== undefined && type !== 'object' && type !== 'array' && hasType(s.example, [type ?? '']))
    return s.example;
  switch (type) {
    case 'object':
      return Object.fromEntries((s.required ?? []).map((k) => [k, sample(doc, s.properties?.[k])]));
    case 'array':
      return Array.from({ length: s.minItems ?? 0 }, () => sample(doc, s.items));
    case 'integer':
    case 'number':
      return s.minimum ?? 1;
    case 'boolean':
      return true;
    default:
      return s.format === 'date-time' ? '2024-01-01T00:00:00Z' : 'sample';
  }
}

type Key = string | number;

/** `value` with the node at `path` replaced by `leaf`, creating the containers on the way from the schema. */
function setAt(
  doc: Document,
  schema: Schema | undefined,
  value: unknown,
  path: Key[],
  leaf: unknown,
): unknown {
  const [key, ...rest] = path;
  if (key === undefined) return leaf;
  const s = resolve(doc, schema);
  if (typeof key === 'number') {
    const list = Array.isArray(value) && value.length > 0 ? [...value] : [sample(doc, s.items)];
    list[0] = setAt(doc, s.items, list[0], rest, leaf);
    return list;
  }
  const obj = isObject(value) ? { ...value } : (sample(doc, s) as Record<string, unknown>);
  obj[key] = setAt(doc, s.properties?.[key], obj[key] ?? sample(doc, s.properties?.[key]), rest, leaf);
  return obj;
}

/** Paths of the enum-valued nodes under `schema`, a few levels deep (array items included). */
function enumPaths(doc: Document, schema: Schema | undefined, depth = 5, seen = new Set<Schema>()): Key[][] {
  const s = resolve(doc, schema);
  if (s.enum) return [[]];
  if (depth === 0 || seen.has(s)) return [];
  const inner = new Set(seen).add(s);
  const out: Key[][] = [];
  for (const [name, prop] of Object.entries(s.properties ?? {}))
    for (const p of enumPaths(doc, prop, depth - 1, inner)) out.push([name, ...p]);
  if (s.items) for (const p of enumPaths(doc, s.items, depth - 1, inner)) out.push([0, ...p]);
  return out;
}

function oneOfAsAnyOf(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(oneOfAsAnyOf);
  if (!isObject(node)) return node;
  return Object.fromEntries(
    Object.entries(node).map(([k, v]) => [k === 'oneOf' ? 'anyOf' : k, oneOfAsAnyOf(v)]),
  );
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(oneOfAsAnyOf(SEED) as object, 'seed');
ajv.addSchema(oneOfAsAnyOf(SERVED) as object, 'served');

function operationsOf(doc: Document, docId: string, skip: Set<string>): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    const shared = (item.parameters as Parameter[] | undefined) ?? [];
    for (const method of METHODS) {
      const op = item[method] as
        | { operationId: string; parameters?: Parameter[]; requestBody?: { $ref?: string } }
        | undefined;
      if (!op || skip.has(op.operationId)) continue;
      const params = [...shared, ...(op.parameters ?? [])].map((p) =>
        p.$ref ? (pointer(doc, p.$ref) as Parameter) : p,
      );
      const escaped = path.replaceAll('~', '~0').replaceAll('/', '~1');
      const bodyRef = `#/paths/${escaped}/${method}/requestBody/content/application~1json/schema`;
      ops.push({
        id: op.operationId,
        method: method.toUpperCase(),
        path,
        params,
        doc,
        ...(op.requestBody
          ? {
              body: { $ref: bodyRef },
              validBody: ajv.compile({ $ref: `${docId}${bodyRef}` }),
            }
          : {}),
      });
    }
  }
  return ops;
}

const SEED_OPERATIONS = operationsOf(SEED, 'seed', new Set());
const OPERATIONS = [
  ...SEED_OPERATIONS,
  ...operationsOf(SERVED, 'served', new Set(SEED_OPERATIONS.map((o) => o.id))),
];

/** Real values for the path parameters, by name: the fixture's resources. */
function pathValue(name: string, fx: Fixture): string {
  const values: Record<string, string> = {
    customer_id: fx.customerId,
    provider_name: 'hubspot',
    destination_id: fx.destinationId,
    magic_link_id: fx.magicLinkId,
    entity_id: fx.entityId,
    schema_id: fx.schemaId,
    provider_id: fx.hubspotProviderId,
    sync_config_id: fx.syncConfigId,
    webhook_id: fx.webhookId,
  };
  const value = values[name];
  if (value === undefined) throw new Error(`no fixture value for path parameter ${name}; add one`);
  return value;
}

/** The fixture's HubSpot connection, for the operations that name a connection in headers. */
const connectionHeaders = (fx: Fixture): Record<string, string> => ({
  'x-customer-id': fx.customerId,
  'x-provider-name': 'hubspot',
});

interface Request {
  method: string;
  path: Record<string, string>;
  headers: Record<string, string>;
  query: Record<string, string>;
  json?: unknown;
  raw?: string;
  contentType?: string;
  /** Put the path values into the URL as they are, not percent-encoded. */
  rawPath?: boolean;
}

interface Case {
  op: Operation;
  name: string;
  req: Request;
  /** The status the case must get; '4xx' or 'not-5xx' where several answers are right. */
  expect: number | '4xx' | 'not-5xx';
  /** A body property the error detail must name. */
  names?: string;
}

interface Outcome {
  c: Case;
  status: number;
  body: unknown;
  contentType: string | null;
}

const HOSTILE = `'; drop table x; --`;
const NUL = 'a\u0000b';
/** Ids that name nothing; with NUL, which no stored text can hold, 400 is as right as 404. */
const BAD_IDS: [string, Case['expect']][] = [
  ['not-a-uuid', 404],
  [HOSTILE, 404],
  ['x'.repeat(2000), 404],
  [NUL, '4xx'],
];
const WRONG_TYPED = ['a string', 12345, 1.5, true, [], {}, null];
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** Whether a body schema is (or refers to) a oneOf/anyOf, whose errors then come from every branch. */
function isUnion(doc: Document, schema: Schema): boolean {
  let s = schema;
  while (s.$ref) s = pointer(doc, s.$ref) as Schema;
  return !!(s.oneOf ?? s.anyOf);
}

/** The bad requests for one operation, each otherwise valid and addressing the fixture's resources. */
function casesFor(op: Operation, fx: Fixture, apiKey: string): Case[] {
  const pathParams = op.params.filter((p) => p.in === 'path');
  const headerParams = op.params.filter((p) => p.in === 'header');
  const queryParams = op.params.filter((p) => p.in === 'query');
  const conn = connectionHeaders(fx);

  // A body property named like a path parameter must agree with it (e.g. entity_id).
  const bodyFor = (path: Record<string, string>) => {
    if (!op.body) return undefined;
    const body = sample(op.doc, op.body);
    if (isObject(body)) for (const [k, v] of Object.entries(path)) if (k in body) body[k] = v;
    return body;
  };
  const path = Object.fromEntries(pathParams.map((p) => [p.name, pathValue(p.name, fx)]));
  const requiredHeaders = headerParams.filter((p) => p.required);
  const base: Request = {
    method: op.method,
    path,
    headers: {
      'x-api-key': apiKey,
      ...Object.fromEntries(
        requiredHeaders.map((p) => [p.name, conn[p.name] ?? String(sample(op.doc, p.schema))]),
      ),
    },
    query: Object.fromEntries(
      queryParams.filter((p) => p.required).map((p) => [p.name, String(sample(op.doc, p.schema))]),
    ),
    json: bodyFor(path),
  };

  const cases: Case[] = [];
  const add = (name: string, expect: Case['expect'], change: (r: Request) => void, names?: string) => {
    const req = structuredClone(base);
    change(req);
    cases.push({ op, name, req, expect, ...(names ? { names } : {}) });
  };

  add('no x-api-key', 401, (r) => delete r.headers['x-api-key']);
  add('empty x-api-key', 401, (r) => {
    r.headers['x-api-key'] = '';
  });
  add('wrong x-api-key', 401, (r) => {
    r.headers['x-api-key'] = 'trls_not-a-key-of-this-server';
  });
  add('x-api-key with its last character changed', 401, (r) => {
    r.headers['x-api-key'] = apiKey.slice(0, -1) + (apiKey.endsWith('A') ? 'B' : 'A');
  });

  for (const p of headerParams) {
    const s = resolve(op.doc, p.schema);
    const set = (value: string) => (r: Request) => {
      r.headers[p.name] = value;
    };
    if (p.required) {
      add(`missing header ${p.name}`, 400, (r) => delete r.headers[p.name]);
      add(`empty header ${p.name}`, 400, set(''));
    }
    if (s.enum) add(`header ${p.name} not in its enum`, 400, set('bogus'));
    else if (p.name in conn) {
      add(`unknown ${p.name}`, 404, set(`unknown-${p.name}`));
      add(`hostile ${p.name}`, 404, set(HOSTILE));
    }
  }
  // A provider the project has, but this customer has not connected.
  if ('x-provider-name' in base.headers)
    add('x-provider-name of an unconnected provider', 404, (r) => {
      r.headers['x-provider-name'] = 'salesforce';
    });

  for (const p of queryParams) {
    const s = resolve(op.doc, p.schema);
    const set = (value: string) => (r: Request) => {
      r.query[p.name] = value;
    };
    if (p.required) add(`missing query ${p.name}`, 400, (r) => delete r.query[p.name]);
    if (s.enum) add(`query ${p.name} not in its enum`, 400, set('bogus'));
    if (typesOf(s).includes('boolean')) add(`query ${p.name} not a boolean`, 400, set('maybe'));
    if (p.name === 'page_size') {
      for (const v of ['abc', '0', '-5', '2.5', '1001', '99999999999999999999', '0x10'])
        add(`page_size=${v}`, 400, set(v));
    }
    if (p.name === 'cursor') {
      for (const v of ['garbage!!', b64('not json'), b64({ k: 'x', r: false }), b64([1, 2])])
        add(`cursor=${v}`, 400, set(v));
      // Well-formed cursors this server never issued, of every arity, with values that may not fit
      // the sort keys' types: a 200 (nothing after them) or a 400 are both right.
      for (let n = 1; n <= 5; n++) {
        for (const v of ['garbage', HOSTILE, '2024-01-01T00:00:00Z', 42, { a: 1 }])
          add(
            `forged cursor of ${n} key(s) ${JSON.stringify(v)}`,
            'not-5xx',
            set(b64({ k: Array(n).fill(v), r: false })),
          );
      }
    }
    add(`hostile query ${p.name}`, 'not-5xx', set(HOSTILE));
    add(`query ${p.name} with a NUL character`, '4xx', set(NUL));
  }

  for (const p of pathParams) {
    // A body property named like the path parameter gets its value too, and is held to the body's limits.
    const copiedIntoBody = isObject(base.json) && p.name in base.json;
    for (const [v, expected] of [...BAD_IDS, [randomUUID(), 404] as const]) {
      const shown = JSON.stringify(v.length > 40 ? `${v.slice(0, 10)}…` : v);
      const expect = copiedIntoBody && v.length > REQUEST_LIMITS.maxLength ? 400 : expected;
      add(`path ${p.name}=${shown}`, expect, (r) => {
        r.path[p.name] = v;
        r.json = bodyFor(r.path);
      });
    }
    add(`path ${p.name} with malformed percent-encoding`, '4xx', (r) => {
      r.path[p.name] = '%E0%A4%A';
      r.rawPath = true;
    });
  }

  // Once per path: a method the spec does not declare there.
  const declared = METHODS.filter((m) => op.doc.paths[op.path]?.[m]).map((m) => m.toUpperCase());
  if (declared[0] === op.method && !declared.includes('PATCH'))
    add('undeclared method PATCH', 404, (r) => {
      r.method = 'PATCH';
    });

  if (op.body && op.validBody) {
    const valid = op.validBody;
    if (!valid(base.json)) {
      throw new Error(
        `${op.id}: the generated body ${JSON.stringify(base.json)} is not valid: ${ajv.errorsText(valid.errors)}`,
      );
    }
    const raw = (name: string, body: string | undefined, contentType: string | undefined, expect = 400) =>
      add(name, expect, (r) => {
        delete r.json;
        if (body !== undefined) r.raw = body;
        if (contentType !== undefined) r.contentType = contentType;
      });
    raw('malformed JSON', '{"a":', 'application/json');
    raw('JSON with a trailing comma', '{"a": 1,}', 'application/json');
    raw('single-quoted JSON', "{'a': 1}", 'application/json');
    raw('empty JSON body', '', 'application/json');
    raw('no body', undefined, undefined);
    // Fastify reads text/plain as a string, which is not the object the spec asks for.
    raw('a text/plain body', JSON.stringify(base.json), 'text/plain');
    raw('an application/xml body', '<customer/>', 'application/xml', 415);

    // Only what the spec rejects is bad input (a body that matches another oneOf branch is not).
    const invalid = (name: string, json: unknown, names?: string) => {
      if (valid(json)) return;
      const set = (r: Request) => {
        r.json = json;
      };
      add(name, 400, set, names);
    };
    for (const v of [[], [base.json], 42, 'text', null, true])
      invalid(`body of the wrong type: ${JSON.stringify(v)}`, v);
    invalid('body {} (required fields missing)', {});

    const named = !isUnion(op.doc, op.body);
    for (const [name, prop] of Object.entries(resolve(op.doc, op.body).properties ?? {})) {
      const types = typesOf(resolve(op.doc, prop));
      if (types.length === 0) continue;
      for (const v of WRONG_TYPED.filter((v) => !hasType(v, types))) {
        const json = { ...(base.json as object), [name]: v };
        invalid(`body.${name} of the wrong type: ${JSON.stringify(v)}`, json, named ? name : undefined);
      }
      // Valid per the spec, but no stored text can hold it: a 4xx, and nothing is changed.
      if (types.includes('string')) {
        add(`body.${name} with a NUL character`, '4xx', (r) => {
          r.json = { ...(base.json as object), [name]: NUL };
        });
      }
    }
    for (const p of enumPaths(op.doc, op.body)) {
      const json = setAt(op.doc, op.body, base.json, p, 'bogus-enum-value');
      invalid(
        `unknown enum value at body.${p.join('.')}`,
        json,
        named && p.length === 1 ? String(p[0]) : undefined,
      );
    }
  }
  return cases;
}

async function send(baseUrl: string, c: Case): Promise<Outcome> {
  let path = c.op.path;
  for (const [k, v] of Object.entries(c.req.path))
    path = path.replace(`{${k}}`, c.req.rawPath ? v : encodeURIComponent(v));
  const url = new URL(`/mgmt/v2${path}`, baseUrl);
  for (const [k, v] of Object.entries(c.req.query)) url.searchParams.set(k, v);
  const headers = { ...c.req.headers };
  const body = c.req.raw ?? (c.req.json === undefined ? undefined : JSON.stringify(c.req.json));
  if (c.req.contentType ?? body !== undefined)
    headers['content-type'] = c.req.contentType ?? 'application/json';
  const res = await fetch(url, { method: c.req.method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: reported as text
  }
  return { c, status: res.status, body: parsed, contentType: res.headers.get('content-type') };
}

/** What is wrong with an outcome, as a line naming the operation and case; empty when right. */
function problems(o: Outcome): string[] {
  const { c, status, body } = o;
  const found: string[] = [];
  const error =
    isObject(body) && Array.isArray(body.errors) ? ((body.errors[0] ?? {}) as Record<string, unknown>) : {};
  const detail = typeof error.detail === 'string' ? error.detail : '';
  const expected = { '4xx': status >= 400 && status < 500, 'not-5xx': status < 500 };
  if (typeof c.expect === 'number' ? status !== c.expect : !expected[c.expect])
    found.push(`expected ${c.expect}`);
  if (status >= 400) {
    if (!o.contentType?.includes('application/json')) found.push(`content-type ${o.contentType}`);
    for (const key of ['id', 'title', 'detail', 'problem_type', 'code'])
      if (typeof error[key] !== 'string' || error[key] === '') found.push(`errors[0].${key} missing`);
    if (error.status !== String(status)) found.push(`errors[0].status ${JSON.stringify(error.status)}`);
    const meta = error.meta as { origin?: unknown } | undefined;
    if (typeof meta?.origin !== 'string') found.push('errors[0].meta.origin missing');
  }
  // The route's own 404, not the catch-all for paths no operation matches.
  if (status === 404 && c.name !== 'undeclared method PATCH' && detail.startsWith('no operation'))
    found.push('the request reached no operation');
  if (c.names && status === 400 && !detail.includes(`body/${c.names}`))
    found.push(`detail does not name body/${c.names}`);
  if (found.length === 0) return [];
  const shown = JSON.stringify(body).slice(0, 600);
  return [
    `${c.op.id} (${c.op.method} ${c.op.path}) "${c.name}": got ${status} ${shown} — ${found.join('; ')}`,
  ];
}

async function inPool<T, R>(items: T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  let next = 0;
  const work = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: size }, work));
  return out;
}

/** Everything a client can read about the fixture, by request; compared before and after. */
async function snapshot(
  t: TestTrellis,
  fx: Fixture,
): Promise<Record<string, { status: number; body?: unknown }>> {
  const api = client(t.baseUrl, t.apiKey);
  const c = `/customers/${fx.customerId}`;
  const conn = connectionHeaders(fx);
  const reads: [string, string, Record<string, string>?][] = [
    ['customers', '/customers'],
    ['customer', c],
    ['connections', `${c}/connections`],
    ['hubspot connection', `${c}/connections/hubspot`],
    ['apollo connection', `${c}/connections/apollo`],
    ['destinations', '/destinations'],
    ['destination', `/destinations/${fx.destinationId}`],
    ['providers', '/providers'],
    ['hubspot provider', `/providers/${fx.hubspotProviderId}`],
    ['salesforce provider', `/providers/${fx.salesforceProviderId}`],
    ['schemas', '/schemas'],
    ['schema', `/schemas/${fx.schemaId}`],
    ['entities', '/entities'],
    ['entity', `/entities/${fx.entityId}`],
    ['sync configs', '/sync_configs'],
    ['sync config', `/sync_configs/${fx.syncConfigId}`],
    ['magic links', '/magic_links'],
    ['webhooks', '/webhooks'],
    ['syncs', '/syncs'],
    ['field mappings', '/field_mappings', conn],
    ['entity mappings', '/entity_mappings', conn],
    ['connection sync config', '/connection_sync_configs', conn],
  ];
  const out: Record<string, { status: number; body?: unknown }> = {};
  for (const [name, path, headers] of reads) {
    const res = await api('GET', path, headers ? { headers } : {});
    // An error body is compared by status only: its id is new every time.
    out[name] = res.status === 200 ? { status: res.status, body: res.body } : { status: res.status };
  }
  return out;
}

describe('Management API v2 rejects bad input (cases generated from the spec)', () => {
  let t: TestTrellis;
  let fx: Fixture;
  let before: Awaited<ReturnType<typeof snapshot>>;
  const outcomes: Outcome[] = [];

  beforeAll(async () => {
    t = await startTrellis();
    fx = await createFixture(client(t.baseUrl, t.apiKey));
    before = await snapshot(t, fx);
  });
  afterAll(() => t?.stop());

  it('covers every operation the server implements', () => {
    expect(OPERATIONS.map((o) => o.id).sort()).toEqual([...OPERATION_IDS].sort());
  });

  for (const op of OPERATIONS) {
    it(`${op.id} (${op.method} ${op.path})`, async () => {
      const results = await inPool(casesFor(op, fx, t.apiKey), 8, (c) => send(t.baseUrl, c));
      outcomes.push(...results);
      const failures = results.flatMap(problems);
      expect(failures, `${failures.length} of ${results.length} cases failed`).toEqual([]);
    });
  }

  it('answered nothing with a 5xx, logged no error and kept the fixture intact', async () => {
    expect(outcomes.length).toBeGreaterThan(0);
    const fivexx = outcomes
      .filter((o) => o.status >= 500)
      .map((o) => `${o.c.op.id} "${o.c.name}": ${o.status}`);
    expect.soft(fivexx, 'requests answered with a 5xx').toEqual([]);

    const errors = t.logs
      .filter((l) => l.level >= 50)
      .map((l) => ({
        msg: l.msg,
        err: (l.err as { message?: string } | undefined)?.message,
        url: (l.req as { url?: string } | undefined)?.url,
      }));
    expect.soft(errors, 'server log entries at level error or fatal').toEqual([]);

    const after = await snapshot(t, fx);
    expect.soft(after, 'what the API shows of the fixture changed').toEqual(before);

    // What the fixture created is all there.
    const body = (name: string) => {
      expect(after[name]?.status, `GET ${name}`).toBe(200);
      return after[name]?.body;
    };
    expect(body('customer')).toEqual({
      application_id: expect.any(String),
      customer_id: fx.customerId,
      name: 'Customer a',
      email: 'a@example.test',
    });
    expect(body('destination')).toMatchObject({
      id: fx.destinationId,
      name: fx.destinationName,
      type: 'postgres',
      config: { host: '127.0.0.1', port: 5432, database: 'wh', schema: 'public', user: 'loader' },
      version: 1,
    });
    // Apollo's provider was made by its (API key) connection.
    expect((body('providers') as { name: string }[]).map((p) => p.name).sort()).toEqual([
      'apollo',
      'hubspot',
      'salesforce',
    ]);
    expect(body('hubspot provider')).toMatchObject({
      name: 'hubspot',
      category: 'crm',
      objects: { standard: [{ name: 'contacts', schema_id: fx.schemaId }] },
      entity_mappings: [{ entity_id: fx.entityId }],
    });
    expect(body('salesforce provider')).toMatchObject({ name: 'salesforce', category: 'crm' });
    expect(body('schema')).toMatchObject({ id: fx.schemaId, name: 'contact-schema-a' });
    expect(body('entity')).toMatchObject({ id: fx.entityId, name: 'person-a' });
    expect(body('sync config')).toEqual({
      id: fx.syncConfigId,
      application_id: expect.any(String),
      destination_name: fx.destinationName,
      provider_name: 'hubspot',
      config: {
        default_config: {
          period_ms: 3_600_000,
          strategy: 'full then incremental',
          auto_start_on_connection: true,
        },
        standard_objects: [{ object: 'contacts' }, { object: 'companies' }],
      },
    });
    expect((body('connections') as { id: string }[]).map((c) => c.id)).toEqual([
      fx.apolloConnectionId,
      fx.hubspotConnectionId,
    ]);
    expect((body('magic links') as { id: string }[]).map((m) => m.id)).toEqual([fx.magicLinkId]);
    expect((body('webhooks') as { id: string }[]).map((w) => w.id)).toEqual([fx.webhookId]);
    expect((body('syncs') as { total_count: number }).total_count).toBe(2);
    expect(after['connection sync config']?.status).toBe(404);
  });
});
