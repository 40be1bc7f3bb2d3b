import { CONNECTION_HEADER } from '../ampersand/connection-header.ts';
import { compileContract, type OpenApiDocument, servedDocument as served } from '../surface/contract.ts';

/**
 * The proxy's contract. Ampersand publishes no document for its proxy, only its headers: the rules
 * are written here as one, so that requests are checked like every other surface's and the
 * reference lists the proxy too.
 */
export const PROXY_PREFIX = '/proxy';
export const PROXY_TITLE = 'Trellis Proxy (Ampersand dialect)';

/** The methods passed through, each an operation of the document. */
export const PROXIED_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export const proxyOperationId = (method: string) => `proxy${method[0]}${method.slice(1).toLowerCase()}`;

const header = (name: string, description: string, schema: Record<string, unknown>, required = false) => ({
  name,
  in: 'header' as const,
  required,
  description,
  schema,
});

const PARAMETERS = [
  {
    name: 'providerPath',
    in: 'path' as const,
    required: true,
    description:
      "The provider API's path below its base URL (the provider's `baseURL` in /v1/providers), with its query string; it may contain slashes.",
    schema: { type: 'string' },
  },
  header('x-amp-proxy-version', 'The proxy protocol version.', { type: 'string', enum: ['1'] }, true),
  header(
    'x-amp-project-id',
    "The project's id (or name); it must be the API key's.",
    { type: 'string' },
    true,
  ),
  header('x-amp-installation-id', 'The installation whose connection calls the provider.', {
    type: 'string',
  }),
  header('x-amp-integration-name', "The installation's integration (with x-amp-group-ref).", {
    type: 'string',
  }),
  header('x-amp-group-ref', "The installation's group: the customer's ref (with x-amp-integration-name).", {
    type: 'string',
  }),
  header(
    CONNECTION_HEADER,
    "Trellis extension: instead of an installation, a connection the project owns itself (a connector of the Connectors API, by its id). A customer's connection is reached through its installation only.",
    { type: 'string' },
  ),
];

const PROXY_DOCUMENT: OpenApiDocument = {
  openapi: '3.1.0',
  info: {
    title: PROXY_TITLE,
    version: '1',
    description: `Calls a provider's API on an installation's connection. The method, path, query, headers and body are passed through (Trellis removes \`x-amp-*\`, \`x-api-key\`, \`authorization\`, \`cookie\`, \`host\`, forwarding and hop-by-hop headers and sends the connection's credentials), and the provider's status, headers and body come back as the provider answered, redirects included. The installation is named by \`x-amp-installation-id\`, or by \`x-amp-integration-name\` and \`x-amp-group-ref\`; whatever else names it must agree. Its integration must enable the proxy. Trellis extension: \`x-trellis-connection-id\` names a connection the project owns (a Connectors API connector) instead of an installation, and is removed like the \`x-amp-*\` headers. Request bodies are at most 5 MB, answers at most 20 MB (502 above). Trellis's own refusals are problem+json, as the Platform API's.`,
  },
  security: [{ APIKeyHeader: [] }],
  components: { securitySchemes: { APIKeyHeader: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  paths: {
    '/{providerPath}': Object.fromEntries(
      PROXIED_METHODS.map((method) => [
        method.toLowerCase(),
        {
          operationId: proxyOperationId(method),
          summary: `${method} a provider path`,
          parameters: PARAMETERS,
          responses: {
            default: {
              description: "The provider's answer, or Trellis's refusal as application/problem+json.",
            },
          },
        },
      ]),
    ),
  },
};

export const PROXY_CONTRACT = compileContract(PROXY_DOCUMENT);

/** The document served at /proxy/openapi.json, pointed at this server. */
export function servedDocument(publicUrl: string): OpenApiDocument {
  return served(PROXY_CONTRACT, { url: `${publicUrl}${PROXY_PREFIX}`, title: PROXY_TITLE });
}
