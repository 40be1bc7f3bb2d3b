import fs from 'node:fs';
import { compileContract, type OpenApiDocument, servedDocument as served } from '../surface/contract.ts';

/**
 * The Write API contract (Ampersand dialect): Ampersand's published Write API document, bundled
 * beside this file unchanged, validates every request and is served as this surface's document.
 * Ampersand serves it on a host of its own; Trellis mounts it under /write/v1.
 */
export const WRITE_PREFIX = '/write/v1';
export const WRITE_TITLE = 'Trellis Write API (v1, Ampersand dialect)';

const spec = JSON.parse(
  fs.readFileSync(new URL('./write.openapi.json', import.meta.url), 'utf8'),
) as OpenApiDocument;

export const WRITE_CONTRACT = compileContract(spec);

/** The document served at /write/v1/openapi.json, pointed at this server. */
export function servedDocument(publicUrl: string): OpenApiDocument {
  return served(WRITE_CONTRACT, { url: `${publicUrl}${WRITE_PREFIX}`, title: WRITE_TITLE });
}
