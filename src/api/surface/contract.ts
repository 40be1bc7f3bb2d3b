import type { ErrorObject, ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { missingBody, type RequestIssue, RequestRefused } from './errors.ts';
import { asOpenApi31 } from './openapi-30.ts';

/**
 * A surface's contract: its OpenAPI document, compiled once into request validators per operation.
 * The document is the single source of what a request may carry; the limits below bound whatever
 * the document leaves unbounded.
 */

export type Json = Record<string, unknown>;
type ParameterLocation = 'query' | 'header' | 'path';
interface Parameter {
  name: string;
  in: ParameterLocation | 'cookie';
  required?: boolean;
  schema?: Json;
  $ref?: string;
}
interface Operation {
  operationId: string;
  parameters?: Parameter[];
  /** OpenAPI's default: a body is optional unless `required` says otherwise. */
  requestBody?: { required?: boolean; content: { 'application/json': { schema: Json } } };
  security?: Json[];
}
/** The parts of an OpenAPI 3.1 document a contract reads; the rest is kept as it is. */
export interface OpenApiDocument extends Json {
  info: Json;
  paths: Record<string, Record<string, Operation | Parameter[]>>;
}

/** Limits on what a request may carry, for the values a document leaves unbounded. */
export interface RequestLimits {
  /** Names, ids, types: 512 characters are at most 2 KiB of UTF-8, which fits a Postgres index entry. */
  maxLength: number;
  /** The strings named long text (secrets, keys, certificates, tokens, cursors, URLs). */
  maxLongTextLength: number;
  maxItems: number;
  /** Request objects may carry properties the document does not name; this many at most. */
  maxProperties: number;
  /**
   * JSON Schema cannot say these two; they are checked on the body's text, before it is parsed.
   * Parsing is the one step that cannot be bounded otherwise: on a 2-core machine a 5 MB body of
   * small values takes up to 300 ms, a million nested arrays as long, while the event loop waits.
   */
  maxBodyBytes: number;
  maxDepth: number;
}

/**
 * Every cost of handling a request (validation, duplicate checks, storage) then has a bound. They
 * are generous: the largest real lists (Salesforce allows 3,000 custom objects and 800 custom
 * fields per object) fit many times over, and a megabyte holds 10,000 items of 100 characters.
 */
export const DEFAULT_REQUEST_LIMITS: RequestLimits = {
  maxLength: 512,
  maxLongTextLength: 16_384,
  maxItems: 10_000,
  maxProperties: 1_000,
  maxBodyBytes: 1024 * 1024,
  maxDepth: 32,
};

export interface ContractOptions {
  /** Property and parameter names whose strings are long by nature; each must occur in a request. */
  longText?: readonly string[];
  limits?: Partial<RequestLimits>;
  /** String formats the document names beyond JSON Schema's own, each with the pattern it means. */
  formats?: Record<string, RegExp>;
}

export interface ContractOperation {
  operationId: string;
  /** Upper case, as on the request line. */
  method: string;
  /** The document's path template, e.g. `/customers/{customer_id}`. */
  path: string;
  /** The names of the template's path parameters, in the order they appear in it. */
  pathParameters: readonly string[];
  /**
   * The document opens it to everyone (`security: []` on it, or on the document with none of its
   * own). An operation that says nothing about security takes the surface's credentials.
   */
  public: boolean;
}

/** What a request carries, as the validators read it. */
export interface RequestInput {
  /** Undefined when the request has none (an empty body is none). */
  body: unknown;
  headers: Record<string, unknown>;
  query: Record<string, unknown>;
  /** The path parameters, decoded, by the document's names. */
  path: Record<string, unknown>;
}

export interface Contract {
  /** The document with the request limits written into its schemas and its description. */
  readonly document: OpenApiDocument;
  readonly limits: RequestLimits;
  readonly operationIds: readonly string[];
  operation(operationId: string): ContractOperation | undefined;
  /** The methods the document declares on the path (relative to the surface's prefix) a URL names. */
  methodsAt(path: string): string[];
  /** Checks a request's path, query, headers and body against its operation; throws RequestRefused. */
  validateRequest(operationId: string, input: RequestInput): void;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/**
 * Where a document's `oneOf` branches overlap (e.g. `{object}` and `{object, table}`), a valid
 * body matches two branches and strict `oneOf` would reject it; for requests `oneOf` is read as
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

function pointerInto(doc: unknown, ref: string): Json {
  return ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>(
      (node, key) => (node as Json)[key.replaceAll('~1', '/').replaceAll('~0', '~')],
      doc,
    ) as Json;
}

/** Follows `$ref`s within the document to the node they name. */
function resolveIn(doc: OpenApiDocument, node: Json): Json {
  let target = node;
  while (typeof target.$ref === 'string') target = pointerInto(doc, target.$ref);
  return target;
}

/** The operations of a path item, with the parameters they share. */
function* operationsOf(doc: OpenApiDocument) {
  for (const [path, item] of Object.entries(doc.paths)) {
    const shared = (item.parameters as Parameter[] | undefined) ?? [];
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue;
      const operation = op as Operation;
      const parameters = [...shared, ...(operation.parameters ?? [])].map(
        (p) => resolveIn(doc, p as unknown as Json) as unknown as Parameter,
      );
      yield { path, method, operation, parameters };
    }
  }
}

/**
 * Adds the limits to every schema a request reaches (bodies and query and header parameters,
 * through their `$ref`s) that does not set its own. Path parameters are left to the router's
 * limit: they are only ever looked up, never stored (their schemas are still checked).
 */
function addRequestLimits(doc: OpenApiDocument, limits: RequestLimits, longText: ReadonlySet<string>): void {
  const seen = new Set<object>();
  const longTextSeen = new Set<string>();
  const visit = (node: unknown, name: string | undefined): void => {
    if (!node || typeof node !== 'object' || Array.isArray(node)) return;
    const schema = resolveIn(doc, node as Json);
    if (seen.has(schema)) return;
    seen.add(schema);
    const types = ([] as unknown[]).concat(schema.type ?? (schema.properties ? 'object' : []));
    const bounded = schema.enum !== undefined || schema.const !== undefined;
    if (types.includes('string') && !bounded && schema.maxLength === undefined) {
      const long = name !== undefined && longText.has(name);
      if (long) longTextSeen.add(name);
      schema.maxLength = long ? limits.maxLongTextLength : limits.maxLength;
    }
    if (types.includes('array')) schema.maxItems ??= limits.maxItems;
    if (types.includes('object')) schema.maxProperties ??= limits.maxProperties;
    for (const [key, value] of Object.entries((schema.properties as Json | undefined) ?? {}))
      visit(value, key);
    visit(schema.items, name);
    visit(schema.additionalProperties, undefined);
    for (const key of ['oneOf', 'anyOf', 'allOf'])
      for (const branch of (schema[key] as unknown[] | undefined) ?? []) visit(branch, name);
  };
  for (const { operation, parameters } of operationsOf(doc)) {
    for (const param of parameters) if (param.in !== 'path') visit(param.schema, param.name);
    visit(operation.requestBody?.content['application/json'].schema, undefined);
  }
  const unused = [...longText].filter((name) => !longTextSeen.has(name));
  if (unused.length > 0) throw new Error(`long-text names no request string: ${unused.join(', ')}`);
  const l = limits;
  doc.info.description = `${doc.info.description ?? ''}
#### Request limits

Where this document sets no limit of its own, a request's strings are at most ${l.maxLength} characters (secrets, keys, certificates, tokens, cursors and URLs: ${l.maxLongTextLength}), its arrays at most ${l.maxItems} items, its objects at most ${l.maxProperties} properties, and JSON bodies nest at most ${l.maxDepth} levels deep. Bodies are at most ${sizeInWords(l.maxBodyBytes)} (413 above). A request over another limit is answered with 400.
`;
}

const sizeInWords = (bytes: number) =>
  bytes % (1024 * 1024) === 0 ? `${bytes / 1024 / 1024} MB` : `${Math.round(bytes / 1024)} KB`;

/** What a value's schema errors say, as issues (the first six distinct ones). */
function issuesOf(
  errors: ErrorObject[] | null | undefined,
  at: { in: RequestIssue['in']; name: string },
): RequestIssue[] {
  const issues = (errors ?? [])
    .filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'if')
    .map((e): RequestIssue => {
      const name = `${at.name}${e.instancePath}`;
      if (e.keyword === 'enum')
        return { ...at, name, detail: `must be one of: ${(e.params.allowedValues as unknown[]).join(', ')}` };
      if (e.keyword === 'additionalProperties')
        return { ...at, name, detail: `has unknown property "${e.params.additionalProperty}"` };
      return { ...at, name, detail: e.message ?? 'is invalid' };
    });
  const distinct = new Map(issues.map((issue) => [describeIssue(issue), issue]));
  return distinct.size > 0 ? [...distinct.values()].slice(0, 6) : [{ ...at, detail: 'is invalid' }];
}

/** An issue in words: "query parameter limit must be integer", "body/name must be string". */
export function describeIssue(issue: RequestIssue): string {
  const where = issue.in === 'body' ? `body${issue.name}` : `${issue.in} parameter ${issue.name}`;
  return `${where} ${issue.detail}`;
}

const refusedFor = (
  reason: 'missing_input' | 'malformed_request' | 'invalid_input',
  issues: RequestIssue[],
) => new RequestRefused(reason, issues.map(describeIssue).join('; '), { issues });

interface CompiledOperation extends ContractOperation {
  body?: ValidateFunction;
  /** The document requires a body; else a request without one is valid. */
  bodyRequired: boolean;
  params: {
    name: string;
    in: ParameterLocation;
    required: boolean;
    /** The schema's type, when it names one. */
    type?: string;
    validate?: ValidateFunction;
  }[];
}

const typeName = (type: unknown) => (typeof type === 'string' ? type : undefined);

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;
const SCHEMA_ID = 'contract';

/**
 * Compiles one JSON schema that is not a request of the contract (a document carried inside a
 * request, say) into a check that lists what a value breaks, as issues at `at`; none when valid.
 */
export function compileSchema(
  schema: Json,
  at: { in: RequestIssue['in']; name: string },
): (value: unknown) => RequestIssue[] {
  const ajv = new Ajv2020({ strict: false, allErrors: false, coerceTypes: false });
  addFormats(ajv);
  const validate = ajv.compile(oneOfAsAnyOf(schema) as Json);
  return (value) => (validate(value) ? [] : issuesOf(validate.errors, at));
}

/**
 * Compiles a surface's OpenAPI document, 3.1 or 3.0 (read as 3.1; see `asOpenApi31`). The
 * document passed in is not changed; the contract keeps its own copy.
 */
export function compileContract(openapiDocument: OpenApiDocument, options: ContractOptions = {}): Contract {
  const limits = { ...DEFAULT_REQUEST_LIMITS, ...options.limits };
  const document = asOpenApi31(openapiDocument);
  addRequestLimits(document, limits, new Set(options.longText ?? []));

  // Not `allErrors`: its cost grows with the number of errors, which one large body can make
  // millions of (Ajv's own security notes say so). The first error of each `anyOf` branch is reported.
  const ajv = new Ajv2020({ strict: false, allErrors: false, coerceTypes: false });
  addFormats(ajv);
  for (const [name, pattern] of Object.entries(options.formats ?? {})) ajv.addFormat(name, pattern);
  ajv.addSchema(oneOfAsAnyOf(document) as Json, SCHEMA_ID);
  /** A schema fragment whose local `$ref`s point into the document. */
  const inDocument = (node: unknown): Json =>
    JSON.parse(JSON.stringify(oneOfAsAnyOf(node)).replaceAll('"$ref":"#/', `"$ref":"${SCHEMA_ID}#/`)) as Json;

  const operations = new Map<string, CompiledOperation>();
  for (const { path, method, operation, parameters } of operationsOf(document)) {
    if (operations.has(operation.operationId))
      throw new Error(`operationId ${operation.operationId} is used twice`);
    const pointer = `${SCHEMA_ID}#/paths/${path.replaceAll('~', '~0').replaceAll('/', '~1')}/${method}`;
    const security = operation.security ?? (document.security as Json[] | undefined);
    operations.set(operation.operationId, {
      operationId: operation.operationId,
      method: method.toUpperCase(),
      path,
      pathParameters: [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!),
      public: security?.length === 0,
      body: operation.requestBody
        ? ajv.compile({ $ref: `${pointer}/requestBody/content/application~1json/schema` })
        : undefined,
      bodyRequired: operation.requestBody?.required === true,
      params: parameters
        .filter((p): p is Parameter & { in: ParameterLocation } => p.in !== 'cookie')
        .map((param) => ({
          name: param.name,
          in: param.in,
          required: param.required === true,
          type: param.schema ? typeName(resolveIn(document, param.schema).type) : undefined,
          validate: param.schema ? ajv.compile(inDocument(param.schema)) : undefined,
        })),
    });
  }

  const templates = Object.keys(document.paths).map((path) => ({
    pattern: new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]*\}/g, '[^/]+')}$`),
    methods: Object.keys(document.paths[path] ?? {})
      .filter((m) => METHODS.includes(m))
      .map((m) => m.toUpperCase()),
  }));

  return {
    document,
    limits,
    operationIds: [...operations.keys()],
    operation: (operationId) => {
      const op = operations.get(operationId);
      return (
        op && {
          operationId: op.operationId,
          method: op.method,
          path: op.path,
          pathParameters: op.pathParameters,
          public: op.public,
        }
      );
    },
    methodsAt: (path) => {
      const methods = new Set(templates.filter((t) => t.pattern.test(path)).flatMap((t) => t.methods));
      if (methods.has('GET')) methods.add('HEAD');
      return [...methods];
    },
    validateRequest: (operationId, input) => {
      const op = operations.get(operationId);
      if (!op) throw new Error(`unknown operation ${operationId}`);
      for (const param of op.params) {
        const at = { in: param.in, name: param.name };
        const value =
          param.in === 'header'
            ? input.headers[param.name.toLowerCase()]
            : param.in === 'path'
              ? input.path[param.name]
              : input.query[param.name];
        // An empty path segment is a value the schema judges; an empty query or header is none.
        if (value === undefined || (value === '' && param.in !== 'path')) {
          if (param.required) throw refusedFor('missing_input', [{ ...at, detail: 'is required' }]);
          continue;
        }
        if (Array.isArray(value))
          throw refusedFor('malformed_request', [{ ...at, detail: 'must be given once' }]);
        const read = readParameter(param.type, String(value));
        if ('unreadable' in read) throw refusedFor('malformed_request', [{ ...at, detail: read.unreadable }]);
        if (param.validate && !param.validate(read.value))
          throw refusedFor('invalid_input', issuesOf(param.validate.errors, at));
      }
      if (!op.body) return;
      if (input.body === undefined) {
        if (op.bodyRequired) throw missingBody();
        return;
      }
      if (!op.body(input.body))
        throw refusedFor('invalid_input', issuesOf(op.body.errors, { in: 'body', name: '' }));
    },
  };
}

const NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

/**
 * Query and header values are text: a parameter whose schema is a boolean or a number is read as
 * one, so that its schema can check it.
 */
function readParameter(type: string | undefined, text: string): { value: unknown } | { unreadable: string } {
  if (type === 'boolean') {
    if (text === 'true' || text === 'false') return { value: text === 'true' };
    return { unreadable: 'must be true or false' };
  }
  if (type === 'integer' || type === 'number')
    return NUMBER.test(text) ? { value: Number(text) } : { unreadable: 'must be a number' };
  return { value: text };
}

/** A contract's document as a server publishes it: titled, and pointed at where it is served. */
export function servedDocument(contract: Contract, server: { url: string; title: string }): OpenApiDocument {
  const doc = structuredClone(contract.document);
  doc.servers = [{ url: server.url, description: 'This Trellis server' }];
  doc.info = { ...doc.info, title: server.title };
  return doc;
}
