import fs from 'node:fs';
import { CONNECTION_HEADER } from '../ampersand/connection-header.ts';
import {
  compileContract,
  type Json,
  type OpenApiDocument,
  servedDocument as served,
} from '../surface/contract.ts';

/**
 * The Write API contract (Ampersand dialect): Ampersand's published Write API document, bundled
 * beside this file unchanged, validates every request and is served as this surface's document,
 * with Trellis's extension (a connection the project owns as the target). Ampersand serves it on a
 * host of its own; Trellis mounts it under /write/v1.
 */
export const WRITE_PREFIX = '/write/v1';
export const WRITE_TITLE = 'Trellis Write API (v1, Ampersand dialect)';

const spec = JSON.parse(
  fs.readFileSync(new URL('./write.openapi.json', import.meta.url), 'utf8'),
) as OpenApiDocument;

const WRITE_PATH = '/projects/{projectIdOrName}/integrations/{integrationId}/objects/{objectName}';

/**
 * Trellis extension: `x-trellis-connection-id` names a connection the project owns instead of the
 * installation `groupRef` names. Then the path's integration is the connection's provider, which
 * no integration governs, and `groupRef` is not sent: the body requires `type` only, and the route
 * requires `groupRef` when the header is absent.
 */
const CONNECTION_PARAMETER = {
  name: CONNECTION_HEADER,
  in: 'header' as const,
  required: false,
  description:
    "Trellis extension: instead of the installation `groupRef` names, a connection the project owns itself (a Connectors API connector, by its id). The path's `integrationId` is then the connection's provider (its system in the Connectors API, e.g. `hubspot`), the object one the provider's connector writes, and `groupRef` is not sent. A customer's connection is written through its installation only.",
  schema: { type: 'string' },
};

/** A copy of the document's write request without `groupRef` among the required properties. */
function withConnectionTarget(request: Json): Json {
  const properties = request.properties as Record<string, Json>;
  return {
    ...request,
    required: (request.required as string[]).filter((name) => name !== 'groupRef'),
    properties: {
      ...properties,
      groupRef: {
        ...properties.groupRef,
        description: `${String(properties.groupRef?.description)} Required, unless the Trellis extension \`${CONNECTION_HEADER}\` names a connection the project owns (then it is not sent).`,
      },
    },
  };
}

function withExtension(doc: OpenApiDocument): OpenApiDocument {
  const extended = structuredClone(doc);
  const write = extended.paths[WRITE_PATH]?.post;
  if (!write || Array.isArray(write) || !write.requestBody)
    throw new Error(`the Write API document has no write operation at ${WRITE_PATH}`);
  write.parameters = [...(write.parameters ?? []), CONNECTION_PARAMETER];
  const body = write.requestBody.content['application/json'];
  body.schema = withConnectionTarget(body.schema);
  const { schemas } = extended.components as { schemas: Record<string, Json> };
  schemas.WriteRequest = withConnectionTarget(schemas.WriteRequest!);
  return extended;
}

export const WRITE_CONTRACT = compileContract(withExtension(spec));

/** The document served at /write/v1/openapi.json, pointed at this server. */
export function servedDocument(publicUrl: string): OpenApiDocument {
  return served(WRITE_CONTRACT, { url: `${publicUrl}${WRITE_PREFIX}`, title: WRITE_TITLE });
}
