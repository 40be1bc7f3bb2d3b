import fs from 'node:fs';
import { authSchemesOf, connectableProviders } from '../../core/provider-catalog.ts';
import { compileContract, type OpenApiDocument, servedDocument as served } from '../surface/contract.ts';
import { INCLUDES } from './query-translation.ts';

/**
 * The Connectors API contract. The vendor publishes its operations one page at a time, without a
 * document of their shapes: this one is written from those pages (seed 003) with the shapes
 * Trellis answers, and is the single source of request validation. Its description lists the
 * includes and the authentication implementations from the code and the catalog that serve them.
 */
export const CONNECTORS_PREFIX = '/api/v1/connectors';
export const CONNECTORS_TITLE = 'Trellis Connectors API (v1, Patchworks Core API dialect)';

const spec = JSON.parse(
  fs.readFileSync(new URL('./connectors.openapi.json', import.meta.url), 'utf8'),
) as OpenApiDocument;

const authImplementations = connectableProviders()
  .flatMap(authSchemesOf)
  .map(
    (scheme) =>
      `\`${scheme.id}\` (${scheme.settings.map((s) => `${s.key}${s.secret ? '*' : ''}${s.required ? '' : ' optional'}`).join(', ')})`,
  )
  .join('; ');

spec.info.description = String(spec.info.description)
  .replace('INCLUDES_PLACEHOLDER', INCLUDES.map((i) => `\`${i}\``).join(', '))
  .replace('AUTH_PLACEHOLDER', authImplementations);

/** Secrets (variables' values) take the long-text limit. */
export const CONNECTORS_CONTRACT = compileContract(spec, { longText: ['value'] });

export function servedDocument(publicUrl: string): OpenApiDocument {
  return served(CONNECTORS_CONTRACT, { url: `${publicUrl}${CONNECTORS_PREFIX}`, title: CONNECTORS_TITLE });
}
