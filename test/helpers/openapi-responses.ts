import type { ErrorObject, ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { asOpenApi31 } from '../../src/api/surface/openapi-30.ts';

/**
 * A surface's OpenAPI document as contract tests read it: which operation a request names, and
 * the schema its answer must meet for its status and media type (3.0 documents read as 3.1).
 */

interface ResponseObject {
  $ref?: string;
  content?: Record<string, { schema?: unknown }>;
}
interface Spec {
  paths: Record<string, Record<string, { operationId?: string; responses?: Record<string, ResponseObject> }>>;
  components?: { responses?: Record<string, ResponseObject> };
}

export interface SpecOperation {
  id: string;
  method: string;
  template: string;
  pattern: RegExp;
  literals: number;
  responses: Record<string, ResponseObject>;
}

export interface ResponseSchemas {
  operations: SpecOperation[];
  /**
   * The operation a request names; segments with literal text beat parameters
   * (`_provider_user_id`, `{connectionId}:oauth-update`).
   */
  operationOf(method: string, urlPath: string): SpecOperation | undefined;
  /**
   * The compiled schema of an operation's answer with `status` (or the document's `default`
   * answer) in `mediaType`; null when the document gives that answer no schema in that media
   * type, undefined when it documents no such answer at all.
   */
  validator(op: SpecOperation, status: number, mediaType?: string): ValidateFunction | null | undefined;
  /** The compiled schema of one of the document's components, e.g. `schemas/ApiProblem`. */
  component(name: string): ValidateFunction;
  errorsText(errors: ErrorObject[] | null | undefined): string;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch'];
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;
const pointer = (s: string) => s.replaceAll('~', '~0').replaceAll('/', '~1');
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A copy of a schema tree in which the `oneOf` of schemas with one of these titles reads as `anyOf`. */
function anyOfIn(node: unknown, titles: ReadonlySet<string>): unknown {
  if (Array.isArray(node)) return node.map((n) => anyOfIn(n, titles));
  if (node === null || typeof node !== 'object') return node;
  const loosened = titles.has((node as { title?: string }).title ?? '');
  return Object.fromEntries(
    Object.entries(node).map(([k, v]) => [k === 'oneOf' && loosened ? 'anyOf' : k, anyOfIn(v, titles)]),
  );
}

export function responseSchemas(
  document: object,
  options: {
    formats?: Record<string, RegExp>;
    /**
     * Titles of schemas whose `oneOf` branches overlap in the document itself, so that a valid
     * value matches two of them: these are read as `anyOf`.
     */
    overlappingOneOf?: string[];
  } = {},
): ResponseSchemas {
  const spec = anyOfIn(
    asOpenApi31(document as Record<string, unknown>),
    new Set(options.overlappingOneOf ?? []),
  ) as Spec;
  const operations: SpecOperation[] = Object.entries(spec.paths).flatMap(([template, item]) =>
    Object.entries(item)
      .filter(([method]) => HTTP_METHODS.includes(method))
      .map(([method, op]) => {
        const segments = template.split('/').slice(1);
        // A parameter stops at a colon verb (`{connectionId}:oauth-update`).
        const source = segments
          .map((s) => escapeRegExp(s).replace(/\\\{[^}]*\\\}/g, s.includes(':') ? '[^/:]+' : '[^/]+'))
          .join('/');
        return {
          id: op.operationId!,
          method: method.toUpperCase(),
          template,
          pattern: new RegExp(`^/${source}$`),
          literals: segments.filter((s) => s.replace(/\{[^}]*\}/g, '') !== '').length,
          responses: op.responses ?? {},
        };
      }),
  );

  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  for (const [name, pattern] of Object.entries(options.formats ?? {})) ajv.addFormat(name, pattern);
  ajv.addSchema(spec as object, 'spec');
  const validators = new Map<string, ValidateFunction | null | undefined>();

  return {
    operations,
    operationOf: (method, urlPath) =>
      operations
        .filter((o) => o.method === method && o.pattern.test(urlPath))
        .sort((a, b) => b.literals - a.literals)[0],
    validator: (op, status, mediaType = 'application/json') => {
      const key = `${op.id} ${status} ${mediaType}`;
      if (validators.has(key)) return validators.get(key);
      const documented = op.responses[String(status)] ? String(status) : 'default';
      let response = op.responses[documented];
      let ref = `spec#/paths/${pointer(op.template)}/${op.method.toLowerCase()}/responses/${documented}`;
      if (response?.$ref) {
        const name = response.$ref.replace('#/components/responses/', '');
        response = spec.components?.responses?.[name];
        ref = `spec#/components/responses/${pointer(name)}`;
      }
      const validate = !response
        ? undefined
        : response.content?.[mediaType]?.schema
          ? ajv.compile({ $ref: `${ref}/content/${pointer(mediaType)}/schema` })
          : null;
      validators.set(key, validate);
      return validate;
    },
    component: (name) => ajv.compile({ $ref: `spec#/components/${name}` }),
    errorsText: (errors) => ajv.errorsText(errors),
  };
}
