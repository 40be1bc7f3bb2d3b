import { apolloConnector, apolloPolicy } from './apollo/index.ts';
import type { ProviderName } from './catalog.ts';
import { gongConnector, gongPolicy } from './gong/index.ts';
import type { ProviderPolicy } from './http.ts';
import { hubspotAuth } from './hubspot/auth.ts';
import { hubspotConnector, hubspotPolicy } from './hubspot/index.ts';
import { pipedriveConnector, pipedrivePolicy } from './pipedrive/index.ts';
import type { ProviderAuthHooks } from './provider.ts';
import { salesforceConnector, salesforcePolicy } from './salesforce/index.ts';
import type { Connector } from './types.ts';

/** A provider's capability code and how its API signals limits and failures. */
export interface ConnectorModule {
  connector: Connector;
  policy: ProviderPolicy;
  auth?: ProviderAuthHooks;
}

/** Capability code by provider; a provider with no entry here is known only through its catalog entry. */
const CONNECTORS: Partial<Record<ProviderName, ConnectorModule>> = {
  apollo: { connector: apolloConnector, policy: apolloPolicy },
  gong: { connector: gongConnector, policy: gongPolicy },
  hubspot: { connector: hubspotConnector, policy: hubspotPolicy, auth: hubspotAuth },
  pipedrive: { connector: pipedriveConnector, policy: pipedrivePolicy },
  salesforce: { connector: salesforceConnector, policy: salesforcePolicy },
};

export function connectorFor(provider: ProviderName): ConnectorModule | undefined {
  return CONNECTORS[provider];
}
