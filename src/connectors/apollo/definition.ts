import type { ProviderDefinition } from '../catalog.ts';

export const apolloDefinition: ProviderDefinition = {
  name: 'apollo',
  displayName: 'Apollo',
  category: 'engagement',
  authTypes: ['api_key', 'oauth2'],
  api: {
    baseUrl: 'https://api.apollo.io',
    apiKeyHeader: 'x-api-key',
    requestsPerSecond: 3,
  },
  objects: {
    // `sequences` is the engagement name of Apollo's `emailer_campaigns`: the same records.
    read: ['contacts', 'accounts', 'emailer_campaigns', 'sequences', 'users', 'email_accounts'],
    write: ['contacts'],
    // Sequence states are the campaign statuses each contact carries.
    common: {
      contact: { object: 'contacts' },
      account: { object: 'accounts' },
      user: { object: 'users' },
      sequence: { object: 'emailer_campaigns' },
      mailbox: { object: 'email_accounts' },
      sequence_state: { object: 'contacts' },
    },
  },
  logo: { monogram: 'Ap', background: '#b45309' },
};
