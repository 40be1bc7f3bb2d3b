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
    // Salesforce sets no rate: an org has a request allocation per rolling 24 hours (15,000 on
    // Developer Edition, 100,000 and more on Enterprise; Sforce-Limit-Info reports it, and a spent
    // one answers REQUEST_LIMIT_EXCEEDED) and at most 25 long-running requests at once. 20 requests
    // a second keeps bursts below that concurrency and a runaway from spending a small org's day in
    // minutes, while a read, at 2,000 (REST) to 10,000 (Bulk) records a request, is never held back.
    requestLimits: { default: { requests: 20, windowMs: 1_000 } },
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
