import type { ProviderDefinition } from '../catalog.ts';

export const salesforceDefinition: ProviderDefinition = {
  name: 'salesforce',
  displayName: 'Salesforce',
  category: 'crm',
  authTypes: ['oauth2'],
  api: {
    baseUrl: '{instance_url}',
    authorizeUrl: 'https://login.salesforce.com/services/oauth2/authorize',
    sandboxAuthorizeUrl: 'https://test.salesforce.com/services/oauth2/authorize',
    tokenUrl: 'https://login.salesforce.com/services/oauth2/token',
    loginTokenUrl: '{login_url}/services/oauth2/token',
    clientAuth: 'body',
    pkce: true,
    scopeSeparator: ' ',
    defaultScopes: ['api', 'refresh_token'],
    instanceUrlField: 'instance_url',
    instanceDomains: ['salesforce.com', 'force.com', 'cloudforce.com', 'salesforce.mil'],
    // Salesforce limits by a daily request budget, not by rate; keep a polite pace.
    requestsPerSecond: 20,
  },
  // The connector reads and writes any object its describe lists; these are the standard objects
  // Trellis syncs (and the simulator serves), and an org's custom objects by their API names.
  objects: {
    read: ['Account', 'Contact', 'Opportunity', 'Lead', 'User'],
    write: ['Account', 'Contact', 'Opportunity', 'Lead'],
    custom: { names: /^[A-Za-z][A-Za-z0-9_]*__c$/, rule: 'custom object API names end in __c' },
    fieldValues: { omit: ['attributes'] },
    common: {
      contact: { object: 'Contact' },
      account: { object: 'Account' },
      lead: { object: 'Lead' },
      opportunity: { object: 'Opportunity' },
      user: { object: 'User' },
    },
  },
  logo: { monogram: 'Sf', background: '#0369a1' },
};
