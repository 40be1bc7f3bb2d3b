import type {
  Address,
  AddressType,
  CrmAccount,
  CrmContact,
  CrmLead,
  CrmOpportunity,
  CrmUser,
  OpportunityStatus,
  PhoneNumber,
} from '../common-models/crm.ts';
import { bool, float, int4, type ModelMapping, text, timeOf } from '../common-models/model.ts';
import type { ProviderRecord } from '../types.ts';

/**
 * Salesforce's records as Supaglue's CRM models: Contact, Account, Lead, Opportunity and User, as
 * the connector reads them (REST's JSON values, which Bulk results are converted to). Salesforce
 * has no lifecycle stage and no opportunity pipeline: those stay null.
 */

type Fields = Record<string, unknown>;

const created = (r: Fields) => timeOf(r.CreatedDate);
const updated = (r: Fields) => timeOf(r.SystemModstamp);

/** The address in the fields named `<prefix>Street`, `<prefix>City`… when any of them is set. */
function addressOf(r: Fields, prefix: string, type: AddressType): Address[] {
  const part = (name: string) => text(r[`${prefix}${name}`]);
  const parts = ['Street', 'City', 'State', 'PostalCode', 'Country'].map(part);
  if (parts.every((v) => v === null)) return [];
  return [
    {
      street_1: part('Street'),
      street_2: null,
      city: part('City'),
      state: part('State'),
      postal_code: part('PostalCode'),
      country: part('Country'),
      address_type: type,
    },
  ];
}

function phones(r: Fields, kinds: [string, PhoneNumber['phone_number_type']][]): PhoneNumber[] {
  return kinds.flatMap(([field, type]) => {
    const phone = text(r[field]);
    return phone === null ? [] : [{ phone_number: phone, phone_number_type: type }];
  });
}

const primaryEmail = (r: Fields) => {
  const email = text(r.Email);
  return email === null ? [] : [{ email_address: email, email_address_type: 'primary' as const }];
};

export const salesforceContact: ModelMapping<CrmContact> = {
  map({ raw: r }: ProviderRecord) {
    return {
      created_at: created(r),
      updated_at: updated(r),
      first_name: text(r.FirstName),
      last_name: text(r.LastName),
      addresses: [...addressOf(r, 'Mailing', 'mailing'), ...addressOf(r, 'Other', 'other')],
      email_addresses: primaryEmail(r),
      phone_numbers: phones(r, [
        ['Phone', 'primary'],
        ['MobilePhone', 'mobile'],
        ['Fax', 'fax'],
      ]),
      lifecycle_stage: null,
      account_id: text(r.AccountId),
      owner_id: text(r.OwnerId),
      last_activity_at: timeOf(r.LastActivityDate),
    };
  },
};

export const salesforceAccount: ModelMapping<CrmAccount> = {
  map({ raw: r }: ProviderRecord) {
    return {
      created_at: created(r),
      updated_at: updated(r),
      name: text(r.Name),
      description: text(r.Description),
      industry: text(r.Industry),
      website: text(r.Website),
      number_of_employees: int4(r.NumberOfEmployees),
      addresses: [...addressOf(r, 'Billing', 'billing'), ...addressOf(r, 'Shipping', 'shipping')],
      phone_numbers: phones(r, [
        ['Phone', 'primary'],
        ['Fax', 'fax'],
      ]),
      last_activity_at: timeOf(r.LastActivityDate),
      lifecycle_stage: null,
      owner_id: text(r.OwnerId),
    };
  },
};

export const salesforceLead: ModelMapping<CrmLead> = {
  map({ raw: r }: ProviderRecord) {
    return {
      created_at: created(r),
      updated_at: updated(r),
      lead_source: text(r.LeadSource),
      title: text(r.Title),
      company: text(r.Company),
      first_name: text(r.FirstName),
      last_name: text(r.LastName),
      addresses: addressOf(r, '', 'primary'),
      email_addresses: primaryEmail(r),
      phone_numbers: phones(r, [['Phone', 'primary']]),
      // A converted lead names the contact and account it became, and when.
      converted_date: timeOf(r.ConvertedDate),
      converted_contact_id: text(r.ConvertedContactId),
      converted_account_id: text(r.ConvertedAccountId),
      owner_id: text(r.OwnerId),
    };
  },
};

function opportunityStatus(r: Fields): OpportunityStatus {
  if (bool(r.IsWon)) return 'WON';
  if (bool(r.IsClosed)) return 'LOST';
  return 'OPEN';
}

export const salesforceOpportunity: ModelMapping<CrmOpportunity> = {
  map({ raw: r }: ProviderRecord) {
    return {
      created_at: created(r),
      updated_at: updated(r),
      name: text(r.Name),
      description: text(r.Description),
      amount: float(r.Amount),
      stage: text(r.StageName),
      status: opportunityStatus(r),
      close_date: timeOf(r.CloseDate),
      pipeline: null,
      account_id: text(r.AccountId),
      owner_id: text(r.OwnerId),
      last_activity_at: timeOf(r.LastActivityDate),
    };
  },
};

export const salesforceUser: ModelMapping<CrmUser> = {
  map({ raw: r }: ProviderRecord) {
    return {
      created_at: created(r),
      updated_at: updated(r),
      name: text(r.Name),
      email: text(r.Email),
      is_active: bool(r.IsActive),
    };
  },
};

export const salesforceCommonModels: Record<string, ModelMapping> = {
  contact: salesforceContact,
  account: salesforceAccount,
  lead: salesforceLead,
  opportunity: salesforceOpportunity,
  user: salesforceUser,
};
