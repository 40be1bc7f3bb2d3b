import type { ProviderDefinition } from '../catalog.ts';

export const gongDefinition: ProviderDefinition = {
  name: 'gong',
  displayName: 'Gong',
  category: 'no_category',
  authTypes: ['access_key_secret', 'oauth2', 'api_key'],
  api: {
    baseUrl: 'https://api.gong.io',
    authorizeUrl: 'https://app.gong.io/oauth2/authorize',
    tokenUrl: 'https://app.gong.io/oauth2/generate-customer-token',
    clientAuth: 'basic',
    // Gong allows a company 3 calls per second (and 10,000 a day, which its 429s report).
    requestLimits: { default: { requests: 3, windowMs: 1_000 } },
  },
  // Read-only: Gong's API adds calls with media uploads, not records.
  objects: { read: ['users', 'calls', 'workspaces'], write: [] },
  logo: { monogram: 'Go', background: '#6d28d9' },
};
