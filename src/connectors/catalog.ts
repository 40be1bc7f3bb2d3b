/**
 * The provider catalog: what Trellis knows about each provider, as data. Capability code (read,
 * write, proxy...) lives beside it in src/connectors/<provider>/ and is looked up by name.
 */
export const PROVIDER_NAMES = [
  'hubspot',
  'salesforce',
  'pipedrive',
  'zendesk_sell',
  'ms_dynamics_365_sales',
  'zoho_crm',
  'capsule',
  'outreach',
  'gong',
  'apollo',
  'salesloft',
  'intercom',
  'linear',
  'clearbit',
  '6sense',
  'marketo',
  'salesforce_marketing_cloud_account_engagement',
  'slack',
] as const;

export type ProviderName = (typeof PROVIDER_NAMES)[number];
export type Category = 'crm' | 'engagement' | 'enrichment' | 'marketing_automation' | 'no_category';
export type AuthType = 'oauth2' | 'api_key' | 'access_key_secret';

/** How to reach a provider's API and authorize against it. URLs may use `{instance_url}`. */
export interface ProviderApi {
  baseUrl: string;
  authorizeUrl?: string;
  /** Salesforce sandboxes authorize and exchange tokens on their own login host. */
  sandboxAuthorizeUrl?: string;
  tokenUrl?: string;
  /**
   * The token endpoint of a connection that signs in on a login host of its own (Salesforce
   * sandboxes and My Domains), with `{login_url}` for that host. Without it, connections cannot
   * have a login host of their own.
   */
  loginTokenUrl?: string;
  clientAuth?: 'body' | 'basic';
  pkce?: boolean;
  scopeSeparator?: string;
  defaultScopes?: string[];
  /** Token-response field with the account's own API host (Salesforce `instance_url`, Pipedrive `api_domain`). */
  instanceUrlField?: string;
  /**
   * Domains an account's own host must be under, when the host comes from a user or a token
   * response (Salesforce instance and My Domain login URLs, Pipedrive's company domain).
   */
  instanceDomains?: string[];
  /** Token-response field naming the account (HubSpot `hub_id`). */
  accountField?: string;
  /** Where to read `accountField` when the token response lacks it; `{access_token}` is filled in. */
  accountInfoPath?: string;
  /** The connection's instance URL built from the account (HubSpot's portal URL). */
  accountUrl?: string;
  /** Header carrying an API key (key-based auth); otherwise keys go as a bearer token. */
  apiKeyHeader?: string;
  /** Starting request rate per connection, under the provider's documented limits (budget headers refine it). */
  requestsPerSecond: number;
  /** Rates of request lanes with limits of their own (e.g. HubSpot search: 5 per second). */
  laneRates?: Record<string, number>;
}

export interface ProviderDefinition {
  name: ProviderName;
  displayName: string;
  category: Category;
  /** Auth schemes the provider accepts, the first being the one its connect page offers. */
  authTypes: AuthType[];
  api?: ProviderApi;
}

const def = (
  name: ProviderName,
  displayName: string,
  category: Category,
  authTypes: AuthType[],
  api?: ProviderApi,
): ProviderDefinition => ({ name, displayName, category, authTypes, ...(api ? { api } : {}) });

export const CATALOG: Record<ProviderName, ProviderDefinition> = {
  hubspot: def('hubspot', 'HubSpot', 'crm', ['oauth2'], {
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
  }),
  salesforce: def('salesforce', 'Salesforce', 'crm', ['oauth2'], {
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
  }),
  pipedrive: def('pipedrive', 'Pipedrive', 'crm', ['oauth2'], {
    baseUrl: '{instance_url}',
    authorizeUrl: 'https://oauth.pipedrive.com/oauth/authorize',
    tokenUrl: 'https://oauth.pipedrive.com/oauth/token',
    clientAuth: 'basic',
    scopeSeparator: ' ',
    defaultScopes: ['base', 'contacts:read', 'deals:read', 'users:read'],
    instanceUrlField: 'api_domain',
    instanceDomains: ['pipedrive.com'],
    requestsPerSecond: 20,
  }),
  zendesk_sell: def('zendesk_sell', 'Zendesk Sell', 'crm', ['oauth2']),
  ms_dynamics_365_sales: def('ms_dynamics_365_sales', 'Microsoft Dynamics 365 Sales', 'crm', ['oauth2']),
  zoho_crm: def('zoho_crm', 'Zoho CRM', 'crm', ['oauth2']),
  capsule: def('capsule', 'Capsule', 'crm', ['oauth2']),
  outreach: def('outreach', 'Outreach', 'engagement', ['oauth2']),
  apollo: def('apollo', 'Apollo', 'engagement', ['api_key', 'oauth2'], {
    baseUrl: 'https://api.apollo.io',
    apiKeyHeader: 'x-api-key',
    requestsPerSecond: 3,
  }),
  salesloft: def('salesloft', 'Salesloft', 'engagement', ['oauth2']),
  gong: def('gong', 'Gong', 'no_category', ['access_key_secret', 'oauth2', 'api_key'], {
    baseUrl: 'https://api.gong.io',
    authorizeUrl: 'https://app.gong.io/oauth2/authorize',
    tokenUrl: 'https://app.gong.io/oauth2/generate-customer-token',
    clientAuth: 'basic',
    // Gong allows 3 calls per second per company.
    requestsPerSecond: 2.5,
  }),
  intercom: def('intercom', 'Intercom', 'no_category', ['oauth2', 'api_key']),
  linear: def('linear', 'Linear', 'no_category', ['oauth2', 'api_key']),
  clearbit: def('clearbit', 'Clearbit', 'enrichment', ['api_key']),
  '6sense': def('6sense', '6sense', 'enrichment', ['api_key']),
  marketo: def('marketo', 'Marketo', 'marketing_automation', ['oauth2']),
  salesforce_marketing_cloud_account_engagement: def(
    'salesforce_marketing_cloud_account_engagement',
    'Salesforce Marketing Cloud Account Engagement (Pardot)',
    'marketing_automation',
    ['oauth2'],
  ),
  slack: def('slack', 'Slack', 'no_category', ['oauth2']),
};

export function isProviderName(name: string): name is ProviderName {
  return Object.hasOwn(CATALOG, name);
}

/**
 * A provider URL with the connection's instance filled in and, when TRELLIS_PROVIDER_OVERRIDES
 * names the provider, every host replaced by the override's origin (simulators, sandboxes,
 * regional hosts).
 */
export function providerUrl(template: string, opts: { instanceUrl?: string; override?: string }): string {
  const filled = template.replace('{instance_url}', (opts.instanceUrl ?? '').replace(/\/$/, ''));
  if (!opts.override) return filled;
  const url = new URL(filled);
  const origin = new URL(opts.override);
  url.protocol = origin.protocol;
  url.host = origin.host;
  return url.toString().replace(/\/$/, '');
}

/**
 * The token endpoint of a connection: on its own login host when it signed in on one and the
 * provider has such hosts, else the provider's. Overrides are applied by the caller (`providerUrl`).
 */
export function tokenUrlOf(api: ProviderApi, loginUrl: string | undefined): string | undefined {
  if (loginUrl && api.loginTokenUrl)
    return api.loginTokenUrl.replace('{login_url}', loginUrl.replace(/\/$/, ''));
  return api.tokenUrl;
}

/**
 * The origin of an account's host that came from a user or a token response, when it is the
 * provider's own (https, under one of its `instanceDomains`) or the provider's override origin;
 * throws otherwise. Only the origin is kept: a path, query or fragment cannot steer requests.
 */
export function providerHostOrigin(provider: ProviderDefinition, raw: string, override?: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`"${raw}" is not a URL`);
  }
  if (override && url.origin === new URL(override).origin) return url.origin;
  const host = url.hostname.toLowerCase();
  const domains = provider.api?.instanceDomains ?? [];
  const own = domains.some((d) => host === d || host.endsWith(`.${d}`));
  if (url.protocol !== 'https:' || !own || url.username || url.password || url.port) {
    throw new Error(
      `${url.origin} is not a ${provider.displayName} host (https on ${domains.map((d) => `*.${d}`).join(', ') || 'no known domain'})`,
    );
  }
  return url.origin;
}
