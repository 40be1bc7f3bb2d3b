import type {
  EngagementAccount,
  EngagementContact,
  EngagementMailbox,
  EngagementPhoneNumber,
  EngagementPhoneType,
  EngagementSequence,
  EngagementSequenceState,
  EngagementUser,
} from '../common-models/engagement.ts';
import { bool, type ModelMapping, text, timeOf } from '../common-models/model.ts';
import type { ProviderRecord } from '../types.ts';

/**
 * Apollo's records as Supaglue's engagement models: contacts, accounts, users, sequences (Apollo's
 * emailer campaigns), mailboxes (its email accounts) and sequence states (the campaign statuses
 * each contact carries: one contact holds the states of the sequences it is in).
 */

type Fields = Record<string, unknown>;

const PHONE_TYPES: Record<string, EngagementPhoneType> = {
  home: 'home',
  mobile: 'mobile',
  work: 'work',
  work_hq: 'work',
  work_direct: 'work',
  other: 'other',
};

function phoneNumbers(r: Fields): EngagementPhoneNumber[] {
  if (!Array.isArray(r.phone_numbers)) return [];
  return (r.phone_numbers as Fields[])
    .filter((p) => p !== null && typeof p === 'object')
    .map((p) => ({
      phone_number: text(p.sanitized_number) ?? text(p.raw_number),
      phone_number_type: PHONE_TYPES[String(p.type)] ?? null,
    }));
}

export const apolloContact: ModelMapping<EngagementContact> = {
  map({ raw: r }: ProviderRecord) {
    const email = text(r.email);
    return {
      created_at: timeOf(r.created_at),
      updated_at: timeOf(r.updated_at),
      first_name: text(r.first_name),
      last_name: text(r.last_name),
      job_title: text(r.title),
      address: {
        street_1: text(r.street_address),
        street_2: null,
        city: text(r.city),
        state: text(r.state),
        postal_code: text(r.postal_code),
        country: text(r.country),
      },
      email_addresses: email === null ? [] : [{ email_address: email, email_address_type: 'primary' }],
      phone_numbers: phoneNumbers(r),
      owner_id: text(r.owner_id),
      account_id: text(r.account_id),
      // Apollo's contacts carry no engagement counts.
      open_count: 0,
      click_count: 0,
      reply_count: 0,
      bounced_count: 0,
    };
  },
};

export const apolloAccount: ModelMapping<EngagementAccount> = {
  map({ raw: r }: ProviderRecord) {
    return {
      created_at: timeOf(r.created_at),
      updated_at: timeOf(r.updated_at),
      name: text(r.name),
      domain: text(r.domain),
      owner_id: text(r.owner_id),
    };
  },
};

export const apolloUser: ModelMapping<EngagementUser> = {
  map({ raw: r }: ProviderRecord) {
    return {
      created_at: timeOf(r.created_at),
      updated_at: null,
      first_name: text(r.first_name),
      last_name: text(r.last_name),
      email: text(r.email),
      // Apollo has no locked users.
      is_locked: null,
    };
  },
};

/** The emailer campaign's statistics Supaglue kept as a sequence's metrics (camelCase, as it had them). */
const METRICS = [
  'unique_scheduled',
  'unique_delivered',
  'unique_bounced',
  'unique_opened',
  'unique_replied',
  'unique_demoed',
  'unique_clicked',
  'unique_unsubscribed',
  'bounce_rate',
  'open_rate',
  'click_rate',
  'reply_rate',
  'spam_blocked_rate',
  'opt_out_rate',
  'demo_rate',
];
const camelCase = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

export const apolloSequence: ModelMapping<EngagementSequence> = {
  map({ raw: r }: ProviderRecord) {
    const metrics: Record<string, number> = {};
    for (const name of METRICS) {
      const v = r[name];
      if (typeof v === 'number') metrics[camelCase(name)] = v;
    }
    const archived = bool(r.archived);
    return {
      created_at: timeOf(r.created_at),
      updated_at: null,
      owner_id: text(r.user_id),
      name: text(r.name),
      tags: Array.isArray(r.label_ids) ? r.label_ids.map(String) : [],
      num_steps: typeof r.num_steps === 'number' ? r.num_steps : 0,
      metrics,
      is_enabled: r.active === true,
      share_type: r.permissions === 'private' ? 'private' : 'team',
      is_archived: archived,
      // An archived sequence is gone from Supaglue's point of view.
      is_deleted: archived === true,
    };
  },
};

export const apolloMailbox: ModelMapping<EngagementMailbox> = {
  map({ raw: r }: ProviderRecord) {
    const active = bool(r.active);
    return {
      created_at: null,
      updated_at: timeOf(r.last_synced_at),
      email: text(r.email),
      user_id: text(r.user_id),
      is_disabled: active === null ? null : !active,
    };
  },
};

/**
 * A contact's campaign statuses, each a record of its own. A state changes when its contact does,
 * so it is dated by the contact's last change (its `added_at` says only when it began).
 */
export const apolloSequenceState: ModelMapping<EngagementSequenceState> = {
  split(contact) {
    const statuses = contact.raw.contact_campaign_statuses;
    if (!Array.isArray(statuses)) return [];
    return (statuses as Fields[])
      .filter((s) => s !== null && typeof s === 'object' && text(s.id) !== null)
      .map((s) => ({
        id: text(s.id)!,
        lastModifiedAt: contact.lastModifiedAt,
        isDeleted: contact.isDeleted,
        raw: s,
      }));
  },
  map({ raw: s }: ProviderRecord, contact: ProviderRecord) {
    return {
      created_at: timeOf(s.added_at),
      updated_at: null,
      sequence_id: text(s.emailer_campaign_id),
      contact_id: contact.id,
      mailbox_id: text(s.send_email_from_email_account_id),
      user_id: text(s.added_by_user_id),
      state: text(s.status),
    };
  },
};

export const apolloCommonModels: Record<string, ModelMapping> = {
  contact: apolloContact,
  account: apolloAccount,
  user: apolloUser,
  sequence: apolloSequence,
  mailbox: apolloMailbox,
  sequence_state: apolloSequenceState,
};
