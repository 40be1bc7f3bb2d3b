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

export interface ProviderDefinition {
  name: ProviderName;
  displayName: string;
  category: Category;
  /** Auth schemes the provider accepts, the first being the one its connect page offers. */
  authTypes: AuthType[];
}

const def = (name: ProviderName, displayName: string, category: Category, authTypes: AuthType[]) => ({
  name,
  displayName,
  category,
  authTypes,
});

export const CATALOG: Record<ProviderName, ProviderDefinition> = {
  hubspot: def('hubspot', 'HubSpot', 'crm', ['oauth2']),
  salesforce: def('salesforce', 'Salesforce', 'crm', ['oauth2']),
  pipedrive: def('pipedrive', 'Pipedrive', 'crm', ['oauth2']),
  zendesk_sell: def('zendesk_sell', 'Zendesk Sell', 'crm', ['oauth2']),
  ms_dynamics_365_sales: def('ms_dynamics_365_sales', 'Microsoft Dynamics 365 Sales', 'crm', ['oauth2']),
  zoho_crm: def('zoho_crm', 'Zoho CRM', 'crm', ['oauth2']),
  capsule: def('capsule', 'Capsule', 'crm', ['oauth2']),
  outreach: def('outreach', 'Outreach', 'engagement', ['oauth2']),
  apollo: def('apollo', 'Apollo', 'engagement', ['api_key', 'oauth2']),
  salesloft: def('salesloft', 'Salesloft', 'engagement', ['oauth2']),
  gong: def('gong', 'Gong', 'no_category', ['access_key_secret', 'oauth2', 'api_key']),
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
