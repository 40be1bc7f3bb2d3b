import type { ProviderModule } from '../provider.ts';
import { apolloCommonModels } from './common-models.ts';
import { apolloConnector, apolloPolicy } from './connector.ts';
import { apolloDefinition } from './definition.ts';

export const apollo: ProviderModule = {
  definition: apolloDefinition,
  connector: apolloConnector,
  policy: apolloPolicy,
  commonModels: apolloCommonModels,
};
