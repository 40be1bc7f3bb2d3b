import type { ProviderModule } from '../provider.ts';
import { salesforceConnector, salesforcePolicy } from './connector.ts';
import { salesforceDefinition } from './definition.ts';

export const salesforce: ProviderModule = {
  definition: salesforceDefinition,
  connector: salesforceConnector,
  policy: salesforcePolicy,
};
