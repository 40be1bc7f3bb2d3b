type Node = Record<string, unknown>;

/**
 * OpenAPI 3.0 schemas differ from JSON Schema 2020-12 (OpenAPI 3.1) in two keywords that change
 * what a value may be: `nullable: true` (3.1: `null` among the types) and boolean
 * `exclusiveMaximum`/`exclusiveMinimum` that qualify `maximum`/`minimum` (3.1: the bound itself).
 * Each schema is rewritten in place, so that a 2020-12 validator reads it as 3.0 meant.
 */
function rewriteSchema(node: Node): void {
  if (node.nullable === true && node.type !== undefined) {
    node.type = [...new Set([...([] as unknown[]).concat(node.type), 'null'])];
  }
  if (typeof node.nullable === 'boolean') delete node.nullable;
  for (const [flag, bound] of [
    ['exclusiveMaximum', 'maximum'],
    ['exclusiveMinimum', 'minimum'],
  ] as const) {
    if (typeof node[flag] !== 'boolean') continue;
    if (node[flag] === true && typeof node[bound] === 'number') {
      node[flag] = node[bound];
      delete node[bound];
    } else delete node[flag];
  }
}

function visit(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) visit(item);
    return;
  }
  if (!node || typeof node !== 'object') return;
  rewriteSchema(node as Node);
  for (const value of Object.values(node)) visit(value);
}

/**
 * A copy of an OpenAPI document as 3.1: a 3.0 document has its schemas rewritten (see
 * `rewriteSchema`; the keywords are only ever rewritten where their values are the 3.0 forms, so a
 * property that happens to be named `nullable` is left alone) and says 3.1.0; a 3.1 document is
 * copied as it is.
 */
export function asOpenApi31<D extends Node>(document: D): D {
  const copy = structuredClone(document);
  if (typeof copy.openapi === 'string' && copy.openapi.startsWith('3.0')) {
    visit(copy);
    (copy as Node).openapi = '3.1.0';
  }
  return copy;
}
