import type { ProviderModule } from '../provider.ts';
import { hubspotAuth } from './auth.ts';
import { hubspotCommonModels } from './common-models.ts';
import { hubspotConnector, hubspotPolicy } from './connector.ts';
import { hubspotDefinition } from './definition.ts';

export const hubspot: ProviderModule = {
  definition: hubspotDefinition,
  connector: hubspotConnector,
  policy: hubspotPolicy,
  auth: hubspotAuth,
  commonModels: hubspotCommonModels,
};
