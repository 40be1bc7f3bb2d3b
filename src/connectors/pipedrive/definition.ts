import type { ProviderDefinition } from '../catalog.ts';

export const pipedriveDefinition: ProviderDefinition = {
  name: 'pipedrive',
  displayName: 'Pipedrive',
  category: 'crm',
  authTypes: ['oauth2'],
  api: {
    baseUrl: '{instance_url}',
    authorizeUrl: 'https://oauth.pipedrive.com/oauth/authorize',
    tokenUrl: 'https://oauth.pipedrive.com/oauth/token',
    // Pipedrive's token endpoint takes the client only as HTTP Basic.
    clientAuth: 'basic',
    scopeSeparator: ' ',
    defaultScopes: ['base', 'contacts:read', 'deals:read', 'leads:read', 'users:read'],
    instanceUrlField: 'api_domain',
    instanceDomains: ['pipedrive.com'],
    requestsPerSecond: 20,
  },
  objects: {
    read: ['persons', 'organizations', 'deals', 'leads', 'users'],
    write: ['persons', 'organizations', 'deals'],
    common: {
      contact: { object: 'persons' },
      account: { object: 'organizations' },
      lead: { object: 'leads' },
      opportunity: { object: 'deals' },
      user: { object: 'users' },
    },
  },
  logo: { monogram: 'Pd', background: '#15803d' },
};
