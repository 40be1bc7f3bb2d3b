import type { ProviderModule } from '../provider.ts';
import { salesforceCommonModels } from './common-models.ts';
import { salesforceConnector, salesforcePolicy } from './connector.ts';
import { salesforceDefinition } from './definition.ts';

export const salesforce: ProviderModule = {
  definition: salesforceDefinition,
  connector: salesforceConnector,
  policy: salesforcePolicy,
  commonModels: salesforceCommonModels,
};
