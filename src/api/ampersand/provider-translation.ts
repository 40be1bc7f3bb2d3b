import type { AuthType, ProviderApi, ProviderDefinition } from '../../connectors/catalog.ts';
import { CATALOG, providerModule } from '../../connectors/index.ts';

/** The catalog's auth schemes in Ampersand's words (an access key with its secret is basic auth). */
export const AUTH_TYPE: Record<AuthType, 'oauth2' | 'apiKey' | 'basic'> = {
  oauth2: 'oauth2',
  api_key: 'apiKey',
  access_key_secret: 'basic',
};

/** The providers Trellis connects to: those with a folder. Name-only entries have no API to call. */
export const connectableProviders = (): ProviderDefinition[] =>
  Object.values(CATALOG).filter((entry): entry is ProviderDefinition => entry.api !== undefined);

export const connectableProvider = (name: string): ProviderDefinition | undefined =>
  connectableProviders().find((p) => p.name === name);

/**
 * A base URL in Ampersand's template words: an API on the account's own host (Trellis's
 * `{instance_url}`) is on the connection's workspace, which is that host (see `workspaceRefOf`).
 */
const baseUrlOf = (api: ProviderApi) => api.baseUrl.replace('{instance_url}', 'https://{{.workspace}}');

function oauth2Opts(api: ProviderApi) {
  if (!api.tokenUrl) return undefined;
  return {
    grantType: api.pkce ? ('authorizationCodePKCE' as const) : ('authorizationCode' as const),
    ...(api.authorizeUrl ? { authURL: api.authorizeUrl } : {}),
    tokenURL: api.tokenUrl,
    // The provider's authorize step takes scopes: the provider app's, else the catalog's defaults.
    explicitScopesRequired: (api.defaultScopes?.length ?? 0) > 0,
    // The account's host comes back with the tokens; nobody has to know it beforehand.
    explicitWorkspaceRequired: false,
    tokenMetadataFields: api.instanceUrlField ? { workspaceRefField: api.instanceUrlField } : {},
  };
}

/** A key goes in the provider's own header, or as a bearer token. */
const apiKeyOpts = (api: ProviderApi) => ({
  attachmentType: 'header' as const,
  header: api.apiKeyHeader ? { name: api.apiKeyHeader } : { name: 'Authorization', valuePrefix: 'Bearer ' },
});

/**
 * What the Platform API tells of a provider (its `ProviderInfo`), from the catalog entry and the
 * provider's connector: the auth scheme its connect flow offers (the catalog's first), how that
 * scheme works, and what the connector can do. Trellis asks nothing of the user before
 * authorizing (`metadata.input` is empty), and has no provider modules (`defaultModule` is '').
 * Proxy and subscriptions are not offered by this API yet, and neither are bulk writes or search.
 */
export function providerInfo(provider: ProviderDefinition) {
  const { api, objects } = provider;
  const authType = AUTH_TYPE[provider.authTypes[0]!];
  const connector = providerModule(provider.name)?.connector;
  const oauth2 = authType === 'oauth2' ? oauth2Opts(api) : undefined;
  return {
    name: provider.name,
    displayName: provider.displayName,
    authType,
    baseURL: baseUrlOf(api),
    defaultModule: '',
    ...(oauth2 ? { oauth2Opts: oauth2 } : {}),
    ...(authType === 'apiKey' ? { apiKeyOpts: apiKeyOpts(api) } : {}),
    support: {
      read: connector?.read !== undefined && objects.read.length > 0,
      write: connector?.create !== undefined && objects.write.length > 0,
      delete: connector?.delete !== undefined && objects.write.length > 0,
      // Every provider with a folder is reached through the proxy (/proxy) on its connection.
      proxy: true,
      subscribe: false,
      bulkWrite: { insert: false, update: false, upsert: false, delete: false },
      search: { operators: { equals: false } },
    },
    postAuthInfoNeeded: false,
    metadata: { input: [] },
  };
}
