import type { ProviderModule } from '../provider.ts';
import { pipedriveCommonModels } from './common-models.ts';
import { pipedriveConnector, pipedrivePolicy } from './connector.ts';
import { pipedriveDefinition } from './definition.ts';

export const pipedrive: ProviderModule = {
  definition: pipedriveDefinition,
  connector: pipedriveConnector,
  policy: pipedrivePolicy,
  commonModels: pipedriveCommonModels,
};
