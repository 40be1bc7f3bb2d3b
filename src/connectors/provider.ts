import type { ProviderDefinition } from './catalog.ts';
import type { ModelMapping } from './common-models/model.ts';
import type { ProviderPolicy } from './http.ts';
import type { Connector } from './types.ts';

/** Code a provider's authorization needs beyond its catalog data. Every hook is optional. */
export interface ProviderAuthHooks {
  /**
   * The OAuth error code a failed token response means, for a provider that does not put it in
   * RFC 6749's `error` field; undefined when the body does not tell.
   */
  tokenErrorCode?(body: Record<string, unknown>): string | undefined;
}

/** Everything Trellis knows about one provider: what its folder in src/connectors exports. */
export interface ProviderModule {
  /** Its catalog entry: data only. */
  definition: ProviderDefinition;
  /** Its capability code. */
  connector: Connector;
  /** How its API signals limits and failures beyond plain status codes. */
  policy: ProviderPolicy;
  auth?: ProviderAuthHooks;
  /** How its records map into the common objects its catalog entry lists (`objects.common`), by model name. */
  commonModels?: Record<string, ModelMapping>;
}
