import type { CommonModel, UnifiedBase } from './model.ts';

/**
 * Supaglue's CRM common objects: the fields of each unified model, snake_case as in its tables
 * (crm_accounts, crm_contacts, crm_leads, crm_opportunities, crm_users), with their SQL types.
 */

export type AddressType = 'primary' | 'billing' | 'mailing' | 'other' | 'shipping';

export interface Address {
  street_1: string | null;
  street_2: string | null;
  city: string | null;
  state: string | null;
  postal_code: string | null;
  country: string | null;
  address_type: AddressType;
}

export interface PhoneNumber {
  phone_number: string | null;
  phone_number_type: 'primary' | 'mobile' | 'fax' | 'other';
}

export interface EmailAddress {
  email_address: string;
  email_address_type: 'primary' | 'work' | 'other';
}

export type LifecycleStage =
  | 'subscriber'
  | 'lead'
  | 'marketingqualifiedlead'
  | 'salesqualifiedlead'
  | 'opportunity'
  | 'customer'
  | 'evangelist'
  | 'other';

export const LIFECYCLE_STAGES: readonly LifecycleStage[] = [
  'subscriber',
  'lead',
  'marketingqualifiedlead',
  'salesqualifiedlead',
  'opportunity',
  'customer',
  'evangelist',
  'other',
];

export type OpportunityStatus = 'OPEN' | 'WON' | 'LOST';

export interface CrmAccount extends UnifiedBase {
  name: string | null;
  description: string | null;
  industry: string | null;
  website: string | null;
  number_of_employees: number | null;
  addresses: Address[];
  phone_numbers: PhoneNumber[];
  last_activity_at: Date | null;
  lifecycle_stage: LifecycleStage | null;
  owner_id: string | null;
}

export interface CrmContact extends UnifiedBase {
  first_name: string | null;
  last_name: string | null;
  addresses: Address[];
  email_addresses: EmailAddress[];
  phone_numbers: PhoneNumber[];
  lifecycle_stage: LifecycleStage | null;
  account_id: string | null;
  owner_id: string | null;
  last_activity_at: Date | null;
}

export interface CrmLead extends UnifiedBase {
  lead_source: string | null;
  title: string | null;
  company: string | null;
  first_name: string | null;
  last_name: string | null;
  addresses: Address[];
  email_addresses: EmailAddress[];
  phone_numbers: PhoneNumber[];
  converted_date: Date | null;
  converted_contact_id: string | null;
  converted_account_id: string | null;
  owner_id: string | null;
}

export interface CrmOpportunity extends UnifiedBase {
  name: string | null;
  description: string | null;
  amount: number | null;
  stage: string | null;
  status: OpportunityStatus | null;
  close_date: Date | null;
  pipeline: string | null;
  account_id: string | null;
  owner_id: string | null;
  last_activity_at: Date | null;
}

export interface CrmUser extends UnifiedBase {
  name: string | null;
  email: string | null;
  is_active: boolean | null;
}

export const crmAccount: CommonModel<CrmAccount> = {
  category: 'crm',
  name: 'account',
  table: 'crm_accounts',
  columns: {
    name: 'text',
    description: 'text',
    industry: 'text',
    website: 'text',
    number_of_employees: 'integer',
    addresses: 'jsonb',
    phone_numbers: 'jsonb',
    last_activity_at: 'timestamp(3)',
    lifecycle_stage: 'text',
    owner_id: 'text',
  },
};

export const crmContact: CommonModel<CrmContact> = {
  category: 'crm',
  name: 'contact',
  table: 'crm_contacts',
  columns: {
    first_name: 'text',
    last_name: 'text',
    addresses: 'jsonb not null',
    email_addresses: 'jsonb not null',
    phone_numbers: 'jsonb not null',
    lifecycle_stage: 'text',
    account_id: 'text',
    owner_id: 'text',
    last_activity_at: 'timestamp(3)',
  },
};

export const crmLead: CommonModel<CrmLead> = {
  category: 'crm',
  name: 'lead',
  table: 'crm_leads',
  columns: {
    lead_source: 'text',
    title: 'text',
    company: 'text',
    first_name: 'text',
    last_name: 'text',
    addresses: 'jsonb',
    email_addresses: 'jsonb',
    phone_numbers: 'jsonb',
    converted_date: 'timestamp(3)',
    converted_contact_id: 'text',
    converted_account_id: 'text',
    owner_id: 'text',
  },
};

export const crmOpportunity: CommonModel<CrmOpportunity> = {
  category: 'crm',
  name: 'opportunity',
  table: 'crm_opportunities',
  columns: {
    name: 'text',
    description: 'text',
    amount: 'float',
    stage: 'text',
    status: 'text',
    close_date: 'timestamp(3)',
    pipeline: 'text',
    account_id: 'text',
    owner_id: 'text',
    last_activity_at: 'timestamp(3)',
  },
};

export const crmUser: CommonModel<CrmUser> = {
  category: 'crm',
  name: 'user',
  table: 'crm_users',
  columns: { name: 'text', email: 'text', is_active: 'boolean' },
};

/** The CRM models by their names in a sync config. */
export const CRM_MODELS = {
  account: crmAccount,
  contact: crmContact,
  lead: crmLead,
  opportunity: crmOpportunity,
  user: crmUser,
} as const;

/** A lifecycle stage Supaglue's model knows, else null. */
export function lifecycleStage(value: unknown): LifecycleStage | null {
  return LIFECYCLE_STAGES.includes(value as LifecycleStage) ? (value as LifecycleStage) : null;
}
