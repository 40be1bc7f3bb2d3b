/**
 * What every provider's catalog entry is made of, and the catalog's generic part: the provider
 * names the Management API accepts and the entries of the providers Trellis has no folder for.
 * A provider Trellis connects to keeps its entry in its own folder (src/connectors/<provider>/
 * definition.ts); src/connectors/index.ts puts the catalog together.
 */

/** Every provider name Supaglue's API accepts, in its order. */
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
  /**
   * Where sandbox accounts authorize (Salesforce's test.salesforce.com), offered on the connect
   * page; such a connection keeps this URL's origin as its login host (see `loginTokenUrl`).
   */
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
  /**
   * The provider's documented request limits per account: `default` for every request, and lanes
   * with limits of their own (a request names its lane, e.g. HubSpot search). One budget per lane
   * of an account is shared by all of Trellis; the provider's budget headers replace these once it
   * sends them.
   */
  requestLimits: { default: RequestWindow; [lane: string]: RequestWindow };
}

/** At most `requests` requests in any `windowMs` milliseconds. */
export interface RequestWindow {
  requests: number;
  windowMs: number;
}

/**
 * The objects a provider's connector reads and writes, by the provider's own names. The suite
 * reads every object of `read` from the provider's simulator, so a listed object is one the
 * connector really reads.
 */
export interface ProviderObjects {
  /** Objects a sync can read. */
  read: string[];
  /** Objects whose records can be created and updated. */
  write: string[];
  /**
   * Objects each account defines for itself, beyond the lists (Salesforce's `__c` objects, HubSpot's
   * custom object types): read and written like the listed ones. `names` is the rule their names
   * follow wherever an object is named; `internalNames`, where names given by the account can look
   * like a standard object's (HubSpot's internal names), the further names accepted only for an
   * object said to be custom. `rule` says it in words, for messages.
   */
  custom?: { names: RegExp; internalNames?: RegExp; rule: string };
  /**
   * Where a record's field values sit in what the provider answers: under one key in the objects
   * that have it (HubSpot's `properties`), else at the top level less the provider's own keys
   * (Salesforce's `attributes`).
   */
  fieldValues?: { under?: string; omit?: string[] };
  /**
   * The common objects (Supaglue's unified models of the provider's category) a sync can write,
   * by model name: the listed object each is read from, and the associated objects (HubSpot's)
   * its mapping needs. The mappings themselves are code, in the folder's common-models.ts.
   */
  common?: Record<string, CommonObjectSource>;
}

/** Where a common object's records come from in one provider. */
export interface CommonObjectSource {
  object: string;
  associations?: string[];
}

/** What the Management API shows of any provider it accepts. */
export interface ProviderListing {
  name: ProviderName;
  displayName: string;
  category: Category;
  /** Auth schemes the provider accepts, the first being the one its connect page offers. */
  authTypes: AuthType[];
}

/**
 * How Trellis draws a provider's logo: its own monogram on a tile of one colour (never the
 * provider's brand mark).
 */
export interface ProviderLogo {
  /** One or two characters. */
  monogram: string;
  /** The tile's colour, `#rrggbb`; the monogram is white on it. */
  background: string;
}

/** The catalog entry of a provider Trellis connects to: it lives in the provider's folder, as data. */
export interface ProviderDefinition extends ProviderListing {
  api: ProviderApi;
  objects: ProviderObjects;
  logo: ProviderLogo;
}

/** A value a connection of one auth scheme is made with, by the name Trellis gives it. */
export interface CredentialSetting {
  key: string;
  label: string;
  /** Sealed at rest and never shown once saved. */
  secret: boolean;
  required: boolean;
}

/**
 * The values a connection with `authType` to `provider` is made with: the secret its scheme
 * carries (an API key, an access key pair, an OAuth refresh token; the OAuth client comes from
 * the project's provider app), and the account's own hosts where the provider has them.
 */
export function credentialSettings(provider: ProviderDefinition, authType: AuthType): CredentialSetting[] {
  switch (authType) {
    case 'api_key':
      return [{ key: 'api_key', label: 'API key', secret: true, required: true }];
    case 'access_key_secret':
      return [
        { key: 'access_key', label: 'Access key', secret: true, required: true },
        { key: 'access_key_secret', label: 'Access key secret', secret: true, required: true },
      ];
    case 'oauth2':
      return [
        { key: 'refresh_token', label: 'Refresh token', secret: true, required: true },
        ...(provider.api.baseUrl.includes('{instance_url}')
          ? [{ key: 'instance_url', label: 'Instance URL', secret: false, required: true }]
          : []),
        ...(provider.api.loginTokenUrl
          ? [{ key: 'login_url', label: 'Login URL', secret: false, required: false }]
          : []),
      ];
  }
}

/** Any provider of the catalog: only those with a folder have an `api`. */
export type CatalogEntry = ProviderListing & { api?: ProviderApi };

/**
 * Providers whose names Supaglue's API accepts but Trellis has no folder for. A project can
 * register a provider app for one and make magic links to it, but nothing can connect to it,
 * read from it or write to it: these are names and categories, not providers with a connector
 * missing. A provider moves out of this list when its folder is added.
 */
export const NAME_ONLY_PROVIDERS: readonly ProviderListing[] = [
  { name: 'zendesk_sell', displayName: 'Zendesk Sell', category: 'crm', authTypes: ['oauth2'] },
  {
    name: 'ms_dynamics_365_sales',
    displayName: 'Microsoft Dynamics 365 Sales',
    category: 'crm',
    authTypes: ['oauth2'],
  },
  { name: 'zoho_crm', displayName: 'Zoho CRM', category: 'crm', authTypes: ['oauth2'] },
  { name: 'capsule', displayName: 'Capsule', category: 'crm', authTypes: ['oauth2'] },
  { name: 'outreach', displayName: 'Outreach', category: 'engagement', authTypes: ['oauth2'] },
  { name: 'salesloft', displayName: 'Salesloft', category: 'engagement', authTypes: ['oauth2'] },
  { name: 'intercom', displayName: 'Intercom', category: 'no_category', authTypes: ['oauth2', 'api_key'] },
  { name: 'linear', displayName: 'Linear', category: 'no_category', authTypes: ['oauth2', 'api_key'] },
  { name: 'clearbit', displayName: 'Clearbit', category: 'enrichment', authTypes: ['api_key'] },
  { name: '6sense', displayName: '6sense', category: 'enrichment', authTypes: ['api_key'] },
  { name: 'marketo', displayName: 'Marketo', category: 'marketing_automation', authTypes: ['oauth2'] },
  {
    name: 'salesforce_marketing_cloud_account_engagement',
    displayName: 'Salesforce Marketing Cloud Account Engagement (Pardot)',
    category: 'marketing_automation',
    authTypes: ['oauth2'],
  },
  { name: 'slack', displayName: 'Slack', category: 'no_category', authTypes: ['oauth2'] },
];

export function isProviderName(name: string): name is ProviderName {
  return (PROVIDER_NAMES as readonly string[]).includes(name);
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
export function providerHostOrigin(provider: CatalogEntry, raw: string, override?: string): string {
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
