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
    // A portal's burst limit: 100 requests per 10 s on Free and Starter (more on higher tiers and
    // for public apps; the X-HubSpot-RateLimit headers say which). CRM search has a limit of its
    // own, 5 requests per second, and counts against the burst limit not at all.
    requestLimits: {
      default: { requests: 100, windowMs: 10_000 },
      search: { requests: 5, windowMs: 1_000 },
    },
  },
  objects: {
    read: ['contacts', 'companies', 'deals', 'owners'],
    write: ['contacts', 'companies', 'deals'],
    // A portal's custom object types, by the identifiers HubSpot's API takes: the objectTypeId
    // (meta-type 2, portal-specific), the fully qualified name and its short form. Their internal
    // names, which Supaglue's sync configs used, look like any object's: taken for custom objects only.
    custom: {
      names: /^(?:2-\d+|p\d*_[A-Za-z][A-Za-z0-9_]*)$/,
      internalNames: /^[A-Za-z][A-Za-z0-9_]*$/,
      rule: 'custom object types go by their objectTypeId (2-<number>), their fully qualified name (p<portal>_<name> or p_<name>) or, listed as custom objects, their internal name',
    },
    fieldValues: { under: 'properties' },
    // A contact's and a deal's account is their associated company.
    common: {
      contact: { object: 'contacts', associations: ['companies'] },
      account: { object: 'companies' },
      opportunity: { object: 'deals', associations: ['companies'] },
      user: { object: 'owners' },
    },
  },
  logo: { monogram: 'Hs', background: '#c2410c' },
};
