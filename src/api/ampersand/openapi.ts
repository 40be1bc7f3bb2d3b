import fs from 'node:fs';
import { compileContract, type OpenApiDocument, servedDocument as served } from '../surface/contract.ts';

/**
 * The Platform API contract (Ampersand dialect): Ampersand's published OpenAPI document, bundled
 * beside this file unchanged, is the single source of request validation and is served as this
 * surface's API document. It is OpenAPI 3.0; the kit reads it as 3.1.
 */
export const AMPERSAND_PREFIX = '/v1';
export const AMPERSAND_TITLE = 'Trellis Platform API (v1, Ampersand dialect)';

const spec = JSON.parse(
  fs.readFileSync(new URL('./platform.openapi.json', import.meta.url), 'utf8'),
) as OpenApiDocument;

/** The string properties and parameters of this document that take the long-text limit. */
const LONG_TEXT = [
  'apiKey',
  'password',
  'clientSecret',
  'secretAccessKey',
  'awsSecretKey',
  'awsSessionToken',
  'privateKey',
  'publicKeyPem',
  'credentials',
  'connectionString',
  'token',
  'pageToken',
  'sourceYaml',
  'sourceZipUrl',
  'url',
  'redirectUrl',
  'endpointUrl',
  'serverUrl',
  'queueUrl',
];

export const AMPERSAND_CONTRACT = compileContract(spec, {
  longText: LONG_TEXT,
  // JWT public keys: PEM text, one or more blocks.
  formats: { pem: /^\s*-----BEGIN [A-Z0-9 ]+-----[\s\S]+-----END [A-Z0-9 ]+-----\s*$/ },
});

/** The document served at /v1/openapi.json, pointed at this server. */
export function servedDocument(publicUrl: string): OpenApiDocument {
  return served(AMPERSAND_CONTRACT, { url: `${publicUrl}${AMPERSAND_PREFIX}`, title: AMPERSAND_TITLE });
}
