import type { ProviderDefinition } from '../catalog.ts';

export const apolloDefinition: ProviderDefinition = {
  name: 'apollo',
  displayName: 'Apollo',
  category: 'engagement',
  authTypes: ['api_key', 'oauth2'],
  api: {
    baseUrl: 'https://api.apollo.io',
    apiKeyHeader: 'x-api-key',
    // Apollo counts each endpoint's requests in minute, hour and day windows sized by the plan
    // (200, 400 and 2,000 on the Basic and Organization plans; its headers say them). The
    // minute window is the budget, shared by all endpoints of the account (the safe side); a spent
    // hour or day shows in the headers and in 429s.
    requestLimits: { default: { requests: 200, windowMs: 60_000 } },
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
