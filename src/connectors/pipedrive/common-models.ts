import type {
  Address,
  CrmAccount,
  CrmContact,
  CrmLead,
  CrmOpportunity,
  CrmUser,
  EmailAddress,
  OpportunityStatus,
  PhoneNumber,
} from '../common-models/crm.ts';
import { bool, float, int4, type ModelMapping, objectField, text, timeOf } from '../common-models/model.ts';
import type { ProviderRecord } from '../types.ts';

/**
 * Pipedrive's records as Supaglue's CRM models: persons (contacts), organizations (accounts),
 * leads, deals (opportunities) and users, from API v2's persons, organizations and deals and API
 * v1's leads and users. Pipedrive persons have no address and no lifecycle stage; leads carry no
 * contact details of their own (they point at a person and an organization).
 */

type Fields = Record<string, unknown>;

/** `[{value, primary, label}]`, Pipedrive's list of a person's emails or phones. */
function contactList(value: unknown): { value: string; primary: boolean; label: string | null }[] {
  if (!Array.isArray(value)) return [];
  return (value as Fields[]).flatMap((item) => {
    const v = item && typeof item === 'object' ? text(item.value) : null;
    return v === null ? [] : [{ value: v, primary: item.primary === true, label: text(item.label) }];
  });
}

/** The primary email first, then the work ones and the others. */
function emailAddresses(person: Fields): EmailAddress[] {
  return contactList(person.emails).map((e) => ({
    email_address: e.value,
    email_address_type: e.primary ? 'primary' : e.label === 'work' ? 'work' : 'other',
  }));
}

function phoneNumbers(person: Fields): PhoneNumber[] {
  return contactList(person.phones).map((p) => ({
    phone_number: p.value,
    phone_number_type: p.primary
      ? 'primary'
      : p.label === 'mobile'
        ? 'mobile'
        : p.label === 'fax'
          ? 'fax'
          : 'other',
  }));
}

/** An organization's address from API v2's parts (street number and route make the first line). */
function addresses(org: Fields): Address[] {
  const a = objectField(org, 'address');
  const route = text(a.route);
  const number = text(a.street_number);
  const street = number && route ? `${number} ${route}` : (route ?? number);
  const parts = [street, a.subpremise, a.locality, a.admin_area_level_1, a.postal_code, a.country];
  if (parts.every((v) => text(v) === null)) return [];
  return [
    {
      street_1: street,
      street_2: text(a.subpremise),
      city: text(a.locality),
      state: text(a.admin_area_level_1),
      postal_code: text(a.postal_code),
      country: text(a.country),
      address_type: 'primary',
    },
  ];
}

const created = (r: Fields) => timeOf(r.add_time);
const updated = (r: Fields) => timeOf(r.update_time);

export const pipedriveContact: ModelMapping<CrmContact> = {
  map({ raw: r }: ProviderRecord) {
    return {
      created_at: created(r),
      updated_at: updated(r),
      first_name: text(r.first_name),
      last_name: text(r.last_name),
      addresses: [],
      email_addresses: emailAddresses(r),
      phone_numbers: phoneNumbers(r),
      lifecycle_stage: null,
      account_id: text(r.org_id),
      owner_id: text(r.owner_id),
      // API v2 names a person's last activity by its id only.
      last_activity_at: null,
    };
  },
};

export const pipedriveAccount: ModelMapping<CrmAccount> = {
  map({ raw: r }: ProviderRecord) {
    return {
      created_at: created(r),
      updated_at: updated(r),
      name: text(r.name),
      description: null,
      industry: text(r.industry),
      website: text(r.website),
      number_of_employees: int4(r.employee_count),
      addresses: addresses(r),
      phone_numbers: [],
      last_activity_at: null,
      lifecycle_stage: null,
      owner_id: text(r.owner_id),
    };
  },
};

export const pipedriveLead: ModelMapping<CrmLead> = {
  map({ raw: r }: ProviderRecord) {
    return {
      created_at: created(r),
      updated_at: updated(r),
      lead_source: text(r.source_name),
      title: text(r.title),
      company: null,
      first_name: null,
      last_name: null,
      addresses: [],
      email_addresses: [],
      phone_numbers: [],
      converted_date: null,
      // The person and organization the lead is about, as Supaglue took them.
      converted_contact_id: text(r.person_id),
      converted_account_id: text(r.organization_id),
      owner_id: text(r.owner_id),
      // An archived lead is gone from Supaglue's point of view.
      is_deleted: bool(r.is_archived) === true,
    };
  },
};

const STATUSES: Record<string, OpportunityStatus> = { open: 'OPEN', won: 'WON', lost: 'LOST' };

export const pipedriveOpportunity: ModelMapping<CrmOpportunity> = {
  map({ raw: r }: ProviderRecord) {
    return {
      created_at: created(r),
      updated_at: updated(r),
      name: text(r.title),
      description: null,
      amount: float(r.value),
      // The pipeline's and stage's ids: their names are the pipelines and stages APIs'.
      stage: text(r.stage_id),
      status: STATUSES[String(r.status)] ?? null,
      close_date: timeOf(r.close_time),
      pipeline: text(r.pipeline_id),
      account_id: text(r.org_id),
      owner_id: text(r.owner_id),
      last_activity_at: null,
    };
  },
};

/** API v1 times are `YYYY-MM-DD HH:MM:SS` in UTC. */
const v1Time = (value: unknown) => {
  const t = text(value);
  return t === null ? null : timeOf(`${t.replace(' ', 'T')}Z`);
};

export const pipedriveUser: ModelMapping<CrmUser> = {
  map({ raw: r }: ProviderRecord) {
    return {
      created_at: v1Time(r.created),
      updated_at: v1Time(r.modified),
      name: text(r.name),
      email: text(r.email),
      is_active: bool(r.active_flag),
    };
  },
};

export const pipedriveCommonModels: Record<string, ModelMapping> = {
  contact: pipedriveContact,
  account: pipedriveAccount,
  lead: pipedriveLead,
  opportunity: pipedriveOpportunity,
  user: pipedriveUser,
};
