import type { ProviderDefinition } from '../catalog.ts';

export const hubspotDefinition: ProviderDefinition = {
  name: 'hubspot',
  displayName: 'HubSpot',
  category: 'crm',
  authTypes: ['oauth2'],
  api: {
    baseUrl: 'https://api.hubapi.com',
    authorizeUrl: 'https://app.hubspot.com/oauth/authorize',
    tokenUrl: 'https://api.hubapi.com/oauth/v1/token',
    clientAuth: 'body',
    scopeSeparator: ' ',
    defaultScopes: [
      'oauth',
      'crm.objects.contacts.read',
      'crm.objects.companies.read',
      'crm.objects.deals.read',
    ],
    accountField: 'hub_id',
    accountInfoPath: '/oauth/v1/access-tokens/{access_token}',
    accountUrl: 'https://app.hubspot.com/contacts/{account}',
    // 100 requests per 10 s for most apps; search has its own 5 per second.
    requestsPerSecond: 9,
    laneRates: { search: 4 },
  },
  objects: {
    read: ['contacts', 'companies', 'deals', 'owners'],
    write: ['contacts', 'companies', 'deals'],
    fieldValues: { under: 'properties' },
  },
};
