import type { CommonModel, UnifiedBase } from './model.ts';

/**
 * Supaglue's engagement common objects that syncs write (engagement_accounts, engagement_contacts,
 * engagement_users, engagement_sequences, engagement_sequence_states, engagement_mailboxes), with
 * their SQL types. Fields Supaglue kept only in `_supaglue_unified_data` have no column (null).
 * Sequence steps were never synced by Supaglue (they come with a sequence) and have no model here.
 */

export interface EngagementAddress {
  street_1: string | null;
  street_2: string | null;
  city: string | null;
  state: string | null;
  postal_code: string | null;
  country: string | null;
}

export interface EngagementEmailAddress {
  email_address: string;
  email_address_type: 'primary' | 'personal' | 'work' | null;
}

export type EngagementPhoneType = 'primary' | 'work' | 'home' | 'mobile' | 'other';

export interface EngagementPhoneNumber {
  phone_number: string | null;
  phone_number_type: EngagementPhoneType | null;
}

export interface EngagementAccount extends UnifiedBase {
  name: string | null;
  domain: string | null;
  owner_id: string | null;
}

export interface EngagementContact extends UnifiedBase {
  first_name: string | null;
  last_name: string | null;
  job_title: string | null;
  address: EngagementAddress | null;
  email_addresses: EngagementEmailAddress[];
  phone_numbers: EngagementPhoneNumber[];
  owner_id: string | null;
  account_id: string | null;
  open_count: number;
  click_count: number;
  reply_count: number;
  bounced_count: number;
}

export interface EngagementUser extends UnifiedBase {
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  is_locked: boolean | null;
}

export interface EngagementSequence extends UnifiedBase {
  owner_id: string | null;
  name: string | null;
  tags: string[];
  num_steps: number;
  metrics: Record<string, number>;
  is_enabled: boolean;
  share_type: 'team' | 'private';
  is_archived: boolean | null;
}

export interface EngagementSequenceState extends UnifiedBase {
  sequence_id: string | null;
  contact_id: string | null;
  mailbox_id: string | null;
  user_id: string | null;
  state: string | null;
}

export interface EngagementMailbox extends UnifiedBase {
  email: string | null;
  user_id: string | null;
  is_disabled: boolean | null;
}

export const engagementAccount: CommonModel<EngagementAccount> = {
  category: 'engagement',
  name: 'account',
  table: 'engagement_accounts',
  columns: { name: 'text', domain: 'text', owner_id: 'text' },
};

export const engagementContact: CommonModel<EngagementContact> = {
  category: 'engagement',
  name: 'contact',
  table: 'engagement_contacts',
  columns: {
    first_name: 'text',
    last_name: 'text',
    job_title: 'text',
    address: 'jsonb',
    email_addresses: 'jsonb not null',
    phone_numbers: 'jsonb not null',
    owner_id: 'text',
    account_id: 'text',
    open_count: 'integer not null',
    click_count: 'integer not null',
    reply_count: 'integer not null',
    bounced_count: 'integer not null',
  },
};

export const engagementUser: CommonModel<EngagementUser> = {
  category: 'engagement',
  name: 'user',
  table: 'engagement_users',
  columns: { first_name: 'text', last_name: 'text', email: 'text', is_locked: null },
};

export const engagementSequence: CommonModel<EngagementSequence> = {
  category: 'engagement',
  name: 'sequence',
  table: 'engagement_sequences',
  columns: {
    owner_id: 'text',
    name: 'text',
    tags: 'jsonb',
    num_steps: 'integer not null',
    metrics: 'jsonb',
    is_enabled: 'boolean not null',
    share_type: null,
    is_archived: null,
  },
};

export const engagementSequenceState: CommonModel<EngagementSequenceState> = {
  category: 'engagement',
  name: 'sequence_state',
  table: 'engagement_sequence_states',
  columns: { sequence_id: 'text', contact_id: 'text', mailbox_id: 'text', user_id: 'text', state: 'text' },
};

export const engagementMailbox: CommonModel<EngagementMailbox> = {
  category: 'engagement',
  name: 'mailbox',
  table: 'engagement_mailboxes',
  columns: { email: 'text', user_id: 'text', is_disabled: null },
};

/** The engagement models by their names in a sync config. */
export const ENGAGEMENT_MODELS = {
  account: engagementAccount,
  contact: engagementContact,
  user: engagementUser,
  sequence: engagementSequence,
  sequence_state: engagementSequenceState,
  mailbox: engagementMailbox,
} as const;
