import http from 'node:http';
import type { ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ApiResponse } from './trellis.ts';

/**
 * Bad requests generated from an OpenAPI document, for the surfaces' bad-input tests: each
 * operation's parameters and body schema decide which bad requests it gets (wrong types, missing
 * required values, values past their enum or bounds, broken JSON, other media types). Each case is
 * otherwise valid, so that its one bad part is the reason it is refused.
 */

export interface Schema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  example?: unknown;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  oneOf?: Schema[];
  anyOf?: Schema[];
}
export interface Parameter {
  $ref?: string;
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema?: Schema;
}
export interface Document {
  paths: Record<string, Record<string, { operationId?: string; parameters?: Parameter[] } & object>>;
}
export interface Operation {
  id: string;
  method: string;
  path: string;
  params: Parameter[];
  body?: Schema;
  /** The document requires the body (OpenAPI's default is optional). */
  bodyRequired: boolean;
  doc: Document;
  /** Validates a body against the document (oneOf read as anyOf, so "invalid" is certain). */
  validBody?: ValidateFunction;
}

/** The status a case must get: exact, any 4xx, or (where several answers are right) anything but a 5xx. */
export type Expected = number | '4xx' | 'not-5xx';

export const HOSTILE = `'; drop table x; --`;
export const NUL = 'a\u0000b';
/** Ids that name nothing; with NUL, which no stored text can hold, 400 is as right as 404. */
export const BAD_IDS: [string, Expected][] = [
  ['not-a-uuid', 404],
  [HOSTILE, 404],
  ['x'.repeat(2000), 404],
  [NUL, '4xx'],
];
export const WRONG_TYPED = ['a string', 12345, 1.5, true, [], {}, null];

/** API keys that are not the project's (`undefined`: none sent), each answered 401. */
export const badApiKeys = (apiKey: string): [string, string | undefined][] => [
  ['no x-api-key', undefined],
  ['empty x-api-key', ''],
  ['wrong x-api-key', 'trls_not-a-key-of-this-server'],
  ['x-api-key with its last character changed', apiKey.slice(0, -1) + (apiKey.endsWith('A') ? 'B' : 'A')],
];

/** The methods a document's path item may hold operations under. */
export const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
export const isObject = (v: unknown): v is Record<string, unknown> =>
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
export function resolve(doc: Document, schema: Schema | undefined): Schema {
  let s = schema ?? {};
  for (;;) {
    if (s.$ref) s = pointer(doc, s.$ref) as Schema;
    else if (s.oneOf?.[0] ?? s.anyOf?.[0]) s = (s.oneOf?.[0] ?? s.anyOf?.[0])!;
    else return s;
  }
}

export function typesOf(s: Schema): string[] {
  if (s.type) return Array.isArray(s.type) ? s.type : [s.type];
  return s.properties ? ['object'] : [];
}

const jsonType = (v: unknown) =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v;
const hasType = (v: unknown, types: string[]) =>
  types.includes(jsonType(v)) || (jsonType(v) === 'integer' && types.includes('number'));

/** A minimal valid instance: required properties only, from enums and examples where given. */
export function sample(doc: Document, schema: Schema | undefined): unknown {
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
export function setAt(
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

/** The schemas under `schema` a few levels deep (array items included), each with its path. */
function nodesOf(
  doc: Document,
  schema: Schema | undefined,
  depth = 5,
  seen = new Set<Schema>(),
): { path: Key[]; schema: Schema }[] {
  const s = resolve(doc, schema);
  const out: { path: Key[]; schema: Schema }[] = [{ path: [], schema: s }];
  if (s.enum || depth === 0 || seen.has(s)) return out;
  const inner = new Set(seen).add(s);
  for (const [name, prop] of Object.entries(s.properties ?? {}))
    for (const n of nodesOf(doc, prop, depth - 1, inner)) out.push({ ...n, path: [name, ...n.path] });
  if (s.items)
    for (const n of nodesOf(doc, s.items, depth - 1, inner)) out.push({ ...n, path: [0, ...n.path] });
  return out;
}

/** Paths of the enum-valued nodes under `schema`, a few levels deep (array items included). */
export const enumPaths = (doc: Document, schema: Schema | undefined): Key[][] =>
  nodesOf(doc, schema)
    .filter((n) => n.schema.enum)
    .map((n) => n.path);

/**
 * Values just past the bounds a node's schema sets, by name: strings one character too long or
 * short, arrays one item too many or few, objects one property too many, numbers out of range.
 */
function pastBounds(doc: Document, s: Schema): [string, unknown][] {
  const types = typesOf(s);
  const out: [string, unknown][] = [];
  if (types.includes('string') && !s.enum) {
    if (s.maxLength !== undefined) out.push([`${s.maxLength + 1} characters`, 'x'.repeat(s.maxLength + 1)]);
    if (s.minLength) out.push([`${s.minLength - 1} characters`, 'x'.repeat(s.minLength - 1)]);
  }
  if (types.includes('array')) {
    const item = sample(doc, s.items);
    if (s.maxItems !== undefined)
      out.push([`${s.maxItems + 1} items`, Array.from({ length: s.maxItems + 1 }, () => item)]);
    if (s.minItems) out.push([`${s.minItems - 1} items`, Array.from({ length: s.minItems - 1 }, () => item)]);
  }
  if (types.includes('object') && s.maxProperties !== undefined) {
    const base = sample(doc, s) as Record<string, unknown>;
    const extra = Object.fromEntries(
      Array.from({ length: s.maxProperties + 1 }, (_, i) => [`extra${i}`, 'x'] as const),
    );
    out.push([`${s.maxProperties + 1} properties`, { ...extra, ...base }]);
  }
  if (types.includes('integer') || types.includes('number')) {
    if (s.minimum !== undefined) out.push([`${s.minimum - 1}`, s.minimum - 1]);
    if (s.maximum !== undefined) out.push([`${s.maximum + 1}`, s.maximum + 1]);
  }
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

/** The operations of a document (but those in `skip`), with their parameters and body schemas. */
export function documentOperations(doc: Document, skip: ReadonlySet<string> = new Set()): Operation[] {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(oneOfAsAnyOf(doc) as object, 'doc');
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    const shared = (item.parameters as Parameter[] | undefined) ?? [];
    for (const method of METHODS) {
      const op = item[method] as
        | { operationId: string; parameters?: Parameter[]; requestBody?: { required?: boolean } }
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
        bodyRequired: op.requestBody?.required === true,
        ...(op.requestBody
          ? { body: { $ref: bodyRef }, validBody: ajv.compile({ $ref: `doc${bodyRef}` }) }
          : {}),
      });
    }
  }
  return ops;
}

/** Whether a body schema is (or refers to) a oneOf/anyOf, whose errors then come from every branch. */
function isUnion(doc: Document, schema: Schema): boolean {
  let s = schema;
  while (s.$ref) s = pointer(doc, s.$ref) as Schema;
  return !!(s.oneOf ?? s.anyOf);
}

/** A bad body: JSON (`json`), text (`raw`), or none when neither is set. */
export interface BodyCase {
  name: string;
  json?: unknown;
  raw?: string;
  /** Sent as this content-type; without one, JSON's when there is a body. */
  contentType?: string;
  expect: Expected;
  /** A body property the error detail must name. */
  names?: string;
}

/**
 * The bad bodies of an operation, each a change to `base` (a body it accepts): text that is not
 * JSON or not JSON's media type, no body where one is required, bodies and properties of the
 * wrong type, required properties left out, enum values it does not have, values past their
 * bounds, and NUL in strings. A body without a schema's property errors (a union) names none.
 * `accepted` is what the operation answers to an acceptable request (an optional body left out).
 */
export function bodyCases(op: Operation, base: unknown, accepted: Expected): BodyCase[] {
  if (!op.body || !op.validBody) return [];
  const valid = op.validBody;
  if (!valid(base))
    throw new Error(
      `${op.id}: the body ${JSON.stringify(base)} is not valid: ${JSON.stringify(valid.errors)}`,
    );
  const cases: BodyCase[] = [
    { name: 'malformed JSON', raw: '{"a":', expect: 400 },
    { name: 'JSON with a trailing comma', raw: '{"a": 1,}', expect: 400 },
    { name: 'single-quoted JSON', raw: "{'a': 1}", expect: 400 },
    { name: 'empty JSON body', raw: '', expect: op.bodyRequired ? 400 : accepted },
    { name: 'no body', expect: op.bodyRequired ? 400 : accepted },
    // Fastify reads text/plain as a string, which is not the object the document asks for.
    { name: 'a text/plain body', raw: JSON.stringify(base), contentType: 'text/plain', expect: 400 },
    { name: 'an application/xml body', raw: '<customer/>', contentType: 'application/xml', expect: 415 },
  ];
  // Only what the document refuses is bad input (a body that matches another oneOf branch is not).
  const invalid = (name: string, json: unknown, names?: string) => {
    if (!valid(json)) cases.push({ name, json, expect: 400, ...(names ? { names } : {}) });
  };
  for (const v of [[], [base], 42, 'text', null, true])
    invalid(`body of the wrong type: ${JSON.stringify(v)}`, v);
  invalid('body {} (required fields missing)', {});

  const { doc } = op;
  const named = !isUnion(doc, op.body);
  const top = resolve(doc, op.body);
  for (const [name, prop] of Object.entries(top.properties ?? {})) {
    const types = typesOf(resolve(doc, prop));
    if (types.length === 0) continue;
    for (const v of WRONG_TYPED.filter((v) => !hasType(v, types))) {
      const json = { ...(base as object), [name]: v };
      invalid(`body.${name} of the wrong type: ${JSON.stringify(v)}`, json, named ? name : undefined);
    }
    // Valid per the document, but no stored text can hold it: a 4xx, and nothing is changed.
    if (types.includes('string'))
      cases.push({
        name: `body.${name} with a NUL character`,
        json: { ...(base as object), [name]: NUL },
        expect: '4xx',
      });
  }
  for (const name of top.required ?? []) {
    const { [name]: _, ...json } = base as Record<string, unknown>;
    invalid(`body.${name} (required) left out`, json);
  }
  for (const p of enumPaths(doc, op.body)) {
    const json = setAt(doc, op.body, base, p, 'bogus-enum-value');
    invalid(
      `unknown enum value at body.${p.join('.')}`,
      json,
      named && p.length === 1 ? String(p[0]) : undefined,
    );
  }
  for (const node of nodesOf(doc, op.body)) {
    if (node.path.length === 0) continue;
    for (const [what, v] of pastBounds(doc, node.schema))
      invalid(`body.${node.path.join('.')} of ${what}`, setAt(doc, op.body, base, node.path, v));
  }
  return cases;
}

/**
 * The bad values of an operation's header parameters (`headers`: the valid ones it is sent with):
 * a required one left out or empty, a value its enum does not have, one over its length.
 */
export function headerCases(
  op: Operation,
): { name: string; header: string; value: string | undefined; expect: Expected }[] {
  const cases: { name: string; header: string; value: string | undefined; expect: Expected }[] = [];
  for (const p of op.params.filter((param) => param.in === 'header')) {
    const s = resolve(op.doc, p.schema);
    if (p.required) {
      cases.push({ name: `missing header ${p.name}`, header: p.name, value: undefined, expect: 400 });
      cases.push({ name: `empty header ${p.name}`, header: p.name, value: '', expect: 400 });
    }
    if (s.enum)
      cases.push({ name: `header ${p.name} not in its enum`, header: p.name, value: 'bogus', expect: 400 });
    else if (s.maxLength !== undefined)
      cases.push({
        name: `header ${p.name} over its length`,
        header: p.name,
        value: 'h'.repeat(s.maxLength + 1),
        expect: 400,
      });
  }
  return cases;
}

/** Whether a status is the one expected. */
export function statusIs(expected: Expected, status: number): boolean {
  if (expected === '4xx') return status >= 400 && status < 500;
  if (expected === 'not-5xx') return status < 500;
  return status === expected;
}

export async function inPool<T, R>(items: T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
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

/**
 * Sends a request with its path exactly as given (`fetch` would resolve `..` and encode what it
 * finds unsafe) and reads the answer: JSON where it says so, else text.
 */
export function sendRaw(
  baseUrl: string,
  req: { method: string; path: string; headers: Record<string, string>; body?: string | Buffer },
): Promise<ApiResponse> {
  return new Promise((resolveAnswer, reject) => {
    const url = new URL(baseUrl);
    const headers = {
      ...req.headers,
      ...(req.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(req.body)) }),
    };
    const outgoing = http.request(
      { host: url.hostname, port: url.port, method: req.method, path: req.path, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const answerHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers))
            if (value !== undefined) answerHeaders.set(name, Array.isArray(value) ? value.join(', ') : value);
          const json = (res.headers['content-type'] ?? '').includes('json') && text !== '';
          resolveAnswer({
            status: res.statusCode ?? 0,
            headers: answerHeaders,
            body: json ? JSON.parse(text) : text,
          });
        });
      },
    );
    outgoing.on('error', reject);
    outgoing.end(req.body);
  });
}

/** A document's path template with its parameters' values, percent-encoded. */
export const fillPath = (template: string, values: Record<string, string>): string =>
  template.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for path parameter ${name}`);
    return encodeURIComponent(value);
  });

/** A bad request as the data surfaces' tests send it, with the status it must get. */
export interface RequestCase {
  name: string;
  method: string;
  /** From the server's root, query included, sent as it is. */
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  expect: Expected;
}

/** A body case as a change to a request: its body and content-type (none when it has no body). */
export function withBody(req: RequestCase, c: BodyCase): RequestCase {
  const { 'content-type': _, ...headers } = req.headers;
  const body = c.raw ?? ('json' in c ? JSON.stringify(c.json) : undefined);
  const contentType = c.contentType ?? (body === undefined ? undefined : 'application/json');
  return {
    ...req,
    name: c.name,
    expect: c.expect,
    headers: contentType === undefined ? headers : { ...headers, 'content-type': contentType },
    body,
  };
}

/**
 * Sends the cases (eight at a time) and lists what is wrong with their answers: a status other
 * than expected, or an error answer `checkShape` finds not in the surface's shape (it throws).
 */
export async function sendCases(
  baseUrl: string,
  cases: RequestCase[],
  checkShape: (res: ApiResponse) => void,
): Promise<{ wrong: string[]; outcomes: { c: RequestCase; res: ApiResponse }[] }> {
  const wrong: string[] = [];
  const outcomes = await inPool(cases, 8, async (c) => {
    const res = await sendRaw(baseUrl, c);
    const what = `${c.method} ${c.path.slice(0, 100)} "${c.name}": ${res.status} ${JSON.stringify(res.body).slice(0, 240)}`;
    if (!statusIs(c.expect, res.status)) wrong.push(`${what} (expected ${c.expect})`);
    else if (res.status >= 400) {
      try {
        checkShape(res);
      } catch (err) {
        wrong.push(`${what}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    return { c, res };
  });
  return { wrong, outcomes };
}
