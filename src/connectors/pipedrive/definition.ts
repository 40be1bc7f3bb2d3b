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
    // Pipedrive's burst limit: requests per 2-second window and OAuth token, 80 on its smallest
    // plan (up to 480 on Enterprise; x-ratelimit-limit says which). A company's daily token budget
    // is reported by its headers and 429s.
    requestLimits: { default: { requests: 80, windowMs: 2_000 } },
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
