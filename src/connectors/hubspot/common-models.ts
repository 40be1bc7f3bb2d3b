import type {
  Address,
  CrmAccount,
  CrmContact,
  CrmOpportunity,
  CrmUser,
  EmailAddress,
  OpportunityStatus,
  PhoneNumber,
} from '../common-models/crm.ts';
import { lifecycleStage } from '../common-models/crm.ts';
import { float, int4, type ModelMapping, objectField, text, timeOf } from '../common-models/model.ts';
import type { ProviderRecord } from '../types.ts';

/**
 * HubSpot's records as Supaglue's CRM models: contacts, companies (accounts), deals (opportunities)
 * and owners (users), from the CRM v3 objects as the connector reads them (`properties`, and
 * `associations` as HubSpot returns them). Which provider object each model reads, and the
 * associations a mapping needs, are in the catalog entry (definition.ts).
 */

type Properties = Record<string, unknown>;

const propertiesOf = (r: ProviderRecord): Properties => objectField(r.raw, 'properties');

/**
 * The record's associated companies' ids, the primary one first, from `associations.companies` as
 * HubSpot lists them (an association with several labels is listed once per label).
 */
function companyIds(r: ProviderRecord, primaryType: string): string[] {
  const results = objectField(objectField(r.raw, 'associations'), 'companies').results;
  if (!Array.isArray(results)) return [];
  const links = results.filter(
    (l): l is { id: unknown; type?: unknown } => l !== null && typeof l === 'object' && 'id' in l,
  );
  const ordered = [
    ...links.filter((l) => l.type === primaryType),
    ...links.filter((l) => l.type !== primaryType),
  ];
  return [...new Set(ordered.map((l) => text(l.id)).filter((id): id is string => id !== null))];
}

const created = (r: ProviderRecord) => timeOf(r.raw.createdAt);
const updated = (r: ProviderRecord) => timeOf(r.raw.updatedAt);

/** One primary address from the record's address properties, when any is set. */
function addressOf(p: Properties, street2: unknown): Address[] {
  const parts = [p.address, street2, p.city, p.state, p.zip, p.country];
  if (!parts.some((v) => text(v) !== null)) return [];
  return [
    {
      street_1: text(p.address),
      street_2: text(street2),
      city: text(p.city),
      state: text(p.state),
      postal_code: text(p.zip),
      country: text(p.country),
      address_type: 'primary',
    },
  ];
}

function phones(p: Properties, kinds: [string, PhoneNumber['phone_number_type']][]): PhoneNumber[] {
  return kinds.flatMap(([property, type]) => {
    const phone = text(p[property]);
    return phone === null ? [] : [{ phone_number: phone, phone_number_type: type }];
  });
}

export const hubspotContact: ModelMapping<CrmContact> = {
  map(r) {
    const p = propertiesOf(r);
    const emails: EmailAddress[] = [];
    const email = text(p.email);
    const workEmail = text(p.work_email);
    if (email) emails.push({ email_address: email, email_address_type: 'primary' });
    if (workEmail) emails.push({ email_address: workEmail, email_address_type: 'work' });
    return {
      created_at: created(r),
      updated_at: updated(r),
      first_name: text(p.firstname),
      last_name: text(p.lastname),
      // Contacts have no second street line in HubSpot.
      addresses: addressOf(p, null),
      email_addresses: emails,
      phone_numbers: phones(p, [
        ['phone', 'primary'],
        ['mobilephone', 'mobile'],
        ['fax', 'fax'],
      ]),
      lifecycle_stage: lifecycleStage(p.lifecyclestage),
      account_id: companyIds(r, 'contact_to_company')[0] ?? null,
      owner_id: text(p.hubspot_owner_id),
      last_activity_at: timeOf(p.notes_last_updated),
    };
  },
};

export const hubspotAccount: ModelMapping<CrmAccount> = {
  map(r) {
    const p = propertiesOf(r);
    return {
      created_at: created(r),
      updated_at: updated(r),
      name: text(p.name),
      description: text(p.description),
      industry: text(p.industry),
      website: text(p.website),
      number_of_employees: int4(p.numberofemployees),
      addresses: addressOf(p, p.address2),
      phone_numbers: phones(p, [['phone', 'primary']]),
      last_activity_at: timeOf(p.notes_last_updated),
      lifecycle_stage: lifecycleStage(p.lifecyclestage),
      owner_id: text(p.hubspot_owner_id),
    };
  },
};

function dealStatus(p: Properties): OpportunityStatus {
  if (p.hs_is_closed_won === 'true') return 'WON';
  if (p.hs_is_closed === 'true') return 'LOST';
  return 'OPEN';
}

export const hubspotOpportunity: ModelMapping<CrmOpportunity> = {
  map(r) {
    const p = propertiesOf(r);
    return {
      created_at: created(r),
      updated_at: updated(r),
      name: text(p.dealname),
      description: text(p.description),
      amount: float(p.amount),
      // The pipeline's and stage's ids: their labels are the pipelines API's, not the deal's.
      stage: text(p.dealstage),
      status: dealStatus(p),
      close_date: timeOf(p.closedate),
      pipeline: text(p.pipeline),
      account_id: companyIds(r, 'deal_to_company')[0] ?? null,
      owner_id: text(p.hubspot_owner_id),
      last_activity_at: timeOf(p.notes_last_updated),
    };
  },
};

export const hubspotUser: ModelMapping<CrmUser> = {
  map(r) {
    const o = r.raw;
    const name = [text(o.firstName), text(o.lastName)].filter((v) => v !== null).join(' ');
    return {
      created_at: timeOf(o.createdAt),
      updated_at: timeOf(o.updatedAt),
      name: name === '' ? null : name,
      email: text(o.email),
      is_active: o.archived !== true,
    };
  },
};

export const hubspotCommonModels: Record<string, ModelMapping> = {
  contact: hubspotContact,
  account: hubspotAccount,
  opportunity: hubspotOpportunity,
  user: hubspotUser,
};
