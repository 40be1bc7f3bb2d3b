import type { ProviderModule } from '../provider.ts';
import { gongConnector, gongPolicy } from './connector.ts';
import { gongDefinition } from './definition.ts';

export const gong: ProviderModule = {
  definition: gongDefinition,
  connector: gongConnector,
  policy: gongPolicy,
};
