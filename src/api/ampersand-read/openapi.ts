import fs from 'node:fs';
import { compileContract, type OpenApiDocument, servedDocument as served } from '../surface/contract.ts';

/**
 * The Read API contract (Ampersand dialect): Ampersand's published Read API document, bundled
 * beside this file unchanged, validates every request and is served as this surface's document.
 * Ampersand serves it on a host of its own; Trellis mounts it under /read/v1.
 */
export const READ_PREFIX = '/read/v1';
export const READ_TITLE = 'Trellis Read API (v1, Ampersand dialect)';

const spec = JSON.parse(
  fs.readFileSync(new URL('./read.openapi.json', import.meta.url), 'utf8'),
) as OpenApiDocument;

export const READ_CONTRACT = compileContract(spec);

/** The document served at /read/v1/openapi.json, pointed at this server. */
export function servedDocument(publicUrl: string): OpenApiDocument {
  return served(READ_CONTRACT, { url: `${publicUrl}${READ_PREFIX}`, title: READ_TITLE });
}
