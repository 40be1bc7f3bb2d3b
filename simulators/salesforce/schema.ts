import { fakeAddress, fakeCompany, fakeDeal, fakePerson, hashUnit } from '../core/random.ts';
import type { ObjectDefinition, SimRecord } from '../core/store.ts';

/**
 * The Salesforce side of the simulator's data: 18-character record ids with key prefixes, the
 * standard objects it serves (Account, Contact, Opportunity, Lead, User), one custom object
 * (Invoice__c) and their fields as describe shows them. As in Salesforce, a custom object's or field's API name
 * ends in `__c`, and that is what makes it custom.
 */

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SUFFIX = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
/** Every simulated id carries the same two-character pod after its key prefix. */
const POD = '5g';

/** The three-character case-safe suffix that turns a 15-character id into its 18-character form. */
export function to18(id15: string): string {
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const c = id15[chunk * 5 + i]!;
      if (c >= 'A' && c <= 'Z') bits |= 1 << i;
    }
    suffix += SUFFIX[bits];
  }
  return id15 + suffix;
}

/** The 18-character id of record number `n` with key prefix `prefix` (ids sort like `n`). */
export function sfId(prefix: string, n: number): string {
  let digits = '';
  let v = n;
  do {
    digits = BASE62[v % 62]! + digits;
    v = Math.floor(v / 62);
  } while (v > 0);
  return to18(`${prefix}${POD}${digits.padStart(10, '0')}`);
}

/** The 15-character form of a well-formed 15- or 18-character id, else undefined. */
export function id15Of(id: string): string | undefined {
  if (!/^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/.test(id)) return undefined;
  const short = id.slice(0, 15);
  if (id.length === 18 && to18(short).slice(15).toUpperCase() !== id.slice(15).toUpperCase())
    return undefined;
  return short;
}

/** Record number of an id with key prefix `prefix`, if it is one. */
export function numberOf(prefix: string, id: string): number | undefined {
  const short = id15Of(id);
  if (!short?.startsWith(prefix + POD)) return undefined;
  let n = 0;
  for (const c of short.slice(5)) n = n * 62 + BASE62.indexOf(c);
  return n;
}

export const ORG_ID = sfId('00D', 4_000_123);
export const USER_ID = sfId('005', 1_000_001);
export const USER = {
  username: 'sim.admin@trellis-sim.example',
  firstName: 'Simone',
  lastName: 'Admin',
  email: 'sim.admin@trellis-sim.example',
};

export type FieldType =
  | 'id'
  | 'string'
  | 'textarea'
  | 'email'
  | 'phone'
  | 'url'
  | 'picklist'
  | 'reference'
  | 'boolean'
  | 'int'
  | 'double'
  | 'currency'
  | 'percent'
  | 'date'
  | 'datetime';

export interface FieldDef {
  name: string;
  type: FieldType;
  label: string;
  length?: number;
  createable: boolean;
  updateable: boolean;
  nillable: boolean;
  /** Computed by Salesforce (formula-like or compound): read-only. */
  calculated?: boolean;
  defaultedOnCreate?: boolean;
  picklist?: string[];
  referenceTo?: string[];
  relationshipName?: string;
  precision?: number;
  scale?: number;
  idLookup?: boolean;
  /** Numbered by Salesforce on create (a custom object's Name); read-only. */
  autoNumber?: boolean;
}

/** Custom objects and custom fields: Salesforce marks them by the `__c` ending of their API names. */
export const isCustom = (name: string) => name.endsWith('__c');

export interface ObjectSchema {
  name: SalesforceObject;
  label: string;
  labelPlural: string;
  keyPrefix: string;
  fields: FieldDef[];
  byLowerName: Map<string, FieldDef>;
  /** Required on create: not nillable, createable and not defaulted. */
  required: string[];
}

export const OBJECTS = ['Account', 'Contact', 'Opportunity', 'Lead', 'Invoice__c', 'User'] as const;
export type SalesforceObject = (typeof OBJECTS)[number];

const str = (name: string, label: string, length: number, extra: Partial<FieldDef> = {}): FieldDef => ({
  name,
  type: 'string',
  label,
  length,
  createable: true,
  updateable: true,
  nillable: true,
  ...extra,
});
const typed = (name: string, type: FieldType, label: string, extra: Partial<FieldDef> = {}): FieldDef => ({
  name,
  type,
  label,
  createable: true,
  updateable: true,
  nillable: true,
  ...(['email', 'phone', 'url'].includes(type) ? { length: type === 'url' ? 255 : 80 } : {}),
  ...extra,
});
const readOnly = { createable: false, updateable: false } as const;

function systemFields(label: string): FieldDef[] {
  const user = { referenceTo: ['User'], ...readOnly, nillable: false, defaultedOnCreate: true };
  return [
    {
      name: 'Id',
      type: 'id',
      label: `${label} ID`,
      length: 18,
      ...readOnly,
      nillable: false,
      idLookup: true,
    },
    {
      name: 'IsDeleted',
      type: 'boolean',
      label: 'Deleted',
      ...readOnly,
      nillable: false,
      defaultedOnCreate: true,
    },
    {
      name: 'OwnerId',
      type: 'reference',
      label: 'Owner ID',
      length: 18,
      createable: true,
      updateable: true,
      nillable: false,
      defaultedOnCreate: true,
      referenceTo: ['User'],
      relationshipName: 'Owner',
    },
    typed('CreatedDate', 'datetime', 'Created Date', {
      ...readOnly,
      nillable: false,
      defaultedOnCreate: true,
    }),
    {
      name: 'CreatedById',
      type: 'reference',
      label: 'Created By ID',
      length: 18,
      relationshipName: 'CreatedBy',
      ...user,
    },
    typed('LastModifiedDate', 'datetime', 'Last Modified Date', {
      ...readOnly,
      nillable: false,
      defaultedOnCreate: true,
    }),
    {
      name: 'LastModifiedById',
      type: 'reference',
      label: 'Last Modified By ID',
      length: 18,
      relationshipName: 'LastModifiedBy',
      ...user,
    },
    typed('SystemModstamp', 'datetime', 'System Modstamp', {
      ...readOnly,
      nillable: false,
      defaultedOnCreate: true,
    }),
  ];
}

const INDUSTRIES = ['Technology', 'Retail', 'Finance', 'Healthcare', 'Manufacturing', 'Education'];
const INDUSTRY_OF: Record<string, string> = {
  SOFTWARE: 'Technology',
  RETAIL: 'Retail',
  FINANCE: 'Finance',
  HEALTHCARE: 'Healthcare',
  MANUFACTURING: 'Manufacturing',
  EDUCATION: 'Education',
};
const STAGES: Record<string, number> = {
  Prospecting: 10,
  Qualification: 10,
  'Needs Analysis': 20,
  'Value Proposition': 50,
  'Id. Decision Makers': 60,
  'Perception Analysis': 70,
  'Proposal/Price Quote': 75,
  'Negotiation/Review': 90,
  'Closed Won': 100,
  'Closed Lost': 0,
};
const TIERS = ['Gold', 'Silver', 'Bronze'];
const INVOICE_STATUSES = ['Draft', 'Sent', 'Paid', 'Void'];
const LEAD_STATUSES = [
  'Open - Not Contacted',
  'Working - Contacted',
  'Closed - Converted',
  'Closed - Not Converted',
];
const accountRef = {
  type: 'reference' as const,
  label: 'Account ID',
  length: 18,
  createable: true,
  updateable: true,
  nillable: true,
  referenceTo: ['Account'],
  relationshipName: 'Account',
};
/** The parts of an address (`<prefix>Street`, `<prefix>City`…); the compound field is not served. */
const addressFields = (prefix: string, label: string): FieldDef[] => [
  typed(`${prefix}Street`, 'textarea', `${label} Street`, { length: 255 }),
  str(`${prefix}City`, `${label} City`, 40),
  str(`${prefix}State`, `${label} State/Province`, 80),
  str(`${prefix}PostalCode`, `${label} Zip/Postal Code`, 20),
  str(`${prefix}Country`, `${label} Country`, 80),
];
const lastActivity = typed('LastActivityDate', 'date', 'Last Activity', readOnly);
const LEAD_SOURCES = ['Web', 'Phone Inquiry', 'Partner Referral', 'Purchased List', 'Other'];
const compoundName = (length: number): FieldDef =>
  str('Name', 'Full Name', length, { ...readOnly, nillable: false, calculated: true });

const OBJECT_FIELDS: Record<
  SalesforceObject,
  { label: string; plural: string; prefix: string; fields: FieldDef[] }
> = {
  Account: {
    label: 'Account',
    plural: 'Accounts',
    prefix: '001',
    fields: [
      str('Name', 'Account Name', 255, { nillable: false }),
      typed('Type', 'picklist', 'Account Type', {
        picklist: ['Prospect', 'Customer - Direct', 'Customer - Channel', 'Partner', 'Other'],
        length: 255,
      }),
      typed('Industry', 'picklist', 'Industry', { picklist: INDUSTRIES, length: 255 }),
      typed('NumberOfEmployees', 'int', 'Employees', { precision: 8, scale: 0 }),
      ...addressFields('Billing', 'Billing'),
      ...addressFields('Shipping', 'Shipping'),
      typed('Phone', 'phone', 'Account Phone'),
      typed('Fax', 'phone', 'Account Fax'),
      typed('Website', 'url', 'Website'),
      typed('Description', 'textarea', 'Account Description', { length: 32_000 }),
      lastActivity,
      typed('Customer_Tier__c', 'picklist', 'Customer Tier', { picklist: TIERS, length: 255 }),
    ],
  },
  Contact: {
    label: 'Contact',
    plural: 'Contacts',
    prefix: '003',
    fields: [
      { name: 'AccountId', ...accountRef },
      str('FirstName', 'First Name', 40),
      str('LastName', 'Last Name', 80, { nillable: false }),
      compoundName(121),
      typed('Email', 'email', 'Email'),
      typed('Phone', 'phone', 'Business Phone'),
      typed('MobilePhone', 'phone', 'Mobile Phone'),
      typed('Fax', 'phone', 'Business Fax'),
      str('Title', 'Title', 128),
      ...addressFields('Mailing', 'Mailing'),
      ...addressFields('Other', 'Other'),
      lastActivity,
    ],
  },
  Opportunity: {
    label: 'Opportunity',
    plural: 'Opportunities',
    prefix: '006',
    fields: [
      { name: 'AccountId', ...accountRef },
      str('Name', 'Name', 120, { nillable: false }),
      typed('Amount', 'currency', 'Amount', { precision: 18, scale: 2 }),
      typed('StageName', 'picklist', 'Stage', {
        picklist: Object.keys(STAGES),
        length: 255,
        nillable: false,
      }),
      typed('CloseDate', 'date', 'Close Date', { nillable: false }),
      typed('Probability', 'percent', 'Probability (%)', { precision: 3, scale: 0, defaultedOnCreate: true }),
      typed('IsClosed', 'boolean', 'Closed', { ...readOnly, nillable: false, calculated: true }),
      typed('IsWon', 'boolean', 'Won', { ...readOnly, nillable: false, calculated: true }),
      typed('Description', 'textarea', 'Description', { length: 32_000 }),
      lastActivity,
    ],
  },
  Lead: {
    label: 'Lead',
    plural: 'Leads',
    prefix: '00Q',
    fields: [
      str('FirstName', 'First Name', 40),
      str('LastName', 'Last Name', 80, { nillable: false }),
      compoundName(121),
      str('Company', 'Company', 255, { nillable: false }),
      typed('Email', 'email', 'Email'),
      typed('Phone', 'phone', 'Phone'),
      str('Title', 'Title', 128),
      typed('Status', 'picklist', 'Status', {
        picklist: LEAD_STATUSES,
        length: 255,
        nillable: false,
        defaultedOnCreate: true,
      }),
      typed('Industry', 'picklist', 'Industry', { picklist: INDUSTRIES, length: 255 }),
      typed('LeadSource', 'picklist', 'Lead Source', { picklist: LEAD_SOURCES, length: 255 }),
      ...addressFields('', 'Address'),
      typed('IsConverted', 'boolean', 'Converted', {
        updateable: false,
        nillable: false,
        defaultedOnCreate: true,
      }),
      // Set by lead conversion (convertLead), never written directly.
      typed('ConvertedDate', 'date', 'Converted Date', readOnly),
      { ...accountRef, name: 'ConvertedAccountId', label: 'Converted Account ID', ...readOnly },
      {
        name: 'ConvertedContactId',
        type: 'reference',
        label: 'Converted Contact ID',
        length: 18,
        ...readOnly,
        nillable: true,
        referenceTo: ['Contact'],
        relationshipName: 'ConvertedContact',
      },
    ],
  },
  Invoice__c: {
    label: 'Invoice',
    plural: 'Invoices',
    // Custom objects' key prefixes start with a and are given out per org.
    prefix: 'a0B',
    fields: [
      str('Name', 'Invoice Number', 80, {
        ...readOnly,
        nillable: false,
        defaultedOnCreate: true,
        autoNumber: true,
      }),
      { name: 'Account__c', ...accountRef, label: 'Account', relationshipName: 'Account__r' },
      typed('Amount__c', 'currency', 'Amount', { precision: 16, scale: 2 }),
      typed('Status__c', 'picklist', 'Status', { picklist: INVOICE_STATUSES, length: 255 }),
      typed('Due_Date__c', 'date', 'Due Date'),
      typed('Paid__c', 'boolean', 'Paid', { nillable: false, defaultedOnCreate: true }),
      str('Memo__c', 'Memo', 255),
    ],
  },
  User: {
    label: 'User',
    plural: 'Users',
    prefix: '005',
    fields: [
      typed('Username', 'string', 'Username', { length: 80, nillable: false, idLookup: true }),
      str('FirstName', 'First Name', 40),
      str('LastName', 'Last Name', 80, { nillable: false }),
      compoundName(121),
      typed('Email', 'email', 'Email', { nillable: false }),
      str('Title', 'Title', 80),
      typed('IsActive', 'boolean', 'Active', { nillable: false, defaultedOnCreate: true }),
    ],
  },
};

export const SCHEMAS = new Map<SalesforceObject, ObjectSchema>(
  OBJECTS.map((name) => {
    const o = OBJECT_FIELDS[name];
    const [id, isDeleted, owner, ...audit] = systemFields(o.label);
    // Salesforce lists Id and IsDeleted first, the object's own fields, then the audit fields.
    // Users have neither an owner nor a recycle bin (they are deactivated, never deleted).
    const fields =
      name === 'User' ? [id!, ...o.fields, ...audit] : [id!, isDeleted!, ...o.fields, owner!, ...audit];
    return [
      name,
      {
        name,
        label: o.label,
        labelPlural: o.plural,
        keyPrefix: o.prefix,
        fields,
        byLowerName: new Map(fields.map((f) => [f.name.toLowerCase(), f])),
        required: fields
          .filter((f) => !f.nillable && f.createable && !f.defaultedOnCreate && f.type !== 'boolean')
          .map((f) => f.name),
      },
    ];
  }),
);

/** The object an API path names (Salesforce matches sObject names case-insensitively). */
export function objectNamed(name: string): SalesforceObject | undefined {
  return OBJECTS.find((o) => o.toLowerCase() === name.toLowerCase());
}

/** The object an id belongs to, by its key prefix. */
export function objectOfId(id: string): SalesforceObject | undefined {
  return OBJECTS.find((o) => numberOf(SCHEMAS.get(o)!.keyPrefix, id) !== undefined);
}

const pick = <T>(list: readonly T[], seed: number, index: number, salt: number): T =>
  list[Math.floor(hashUnit(seed + salt, index) * list.length)]!;

const DAY_MS = 86_400_000;
const STAGE_OF_DEAL: Record<string, string> = {
  appointmentscheduled: 'Prospecting',
  qualifiedtobuy: 'Qualification',
  presentationscheduled: 'Value Proposition',
  closedwon: 'Closed Won',
  closedlost: 'Closed Lost',
};
/** An address in the fields `<prefix>Street`, `<prefix>City`…, all null for about one record in five. */
function address(prefix: string, seed: number, i: number): Record<string, string | null> {
  const a = fakeAddress(seed, i);
  return {
    [`${prefix}Street`]: a.street,
    [`${prefix}City`]: a.city,
    [`${prefix}State`]: a.state,
    [`${prefix}PostalCode`]: a.postalCode,
    [`${prefix}Country`]: a.country,
  };
}
const phoneOf = (digit: number, i: number) => `+1-555-${digit}${String(i % 1000).padStart(3, '0')}`;
const lastActivityOf = (i: number) =>
  i % 3 === 0 ? null : new Date(Date.UTC(2025, 2, 1) + (i % 90) * DAY_MS).toISOString().slice(0, 10);
/** Seeded records are owned by the first users, in turn. */
const OWNERS = 3;
const versioned = (v: unknown, n: number) => `${String(v ?? 'Title').replace(/ \(v\d+\)$/, '')} (v${n})`;

export const DEFINITIONS: Record<SalesforceObject, ObjectDefinition> = {
  Account: {
    generate: (seed, i) => {
      const c = fakeCompany(seed, i);
      return {
        Name: c.name,
        Type: pick(['Prospect', 'Customer - Direct', 'Customer - Channel', 'Partner'], seed, i, 21),
        Industry: INDUSTRY_OF[c.industry] ?? 'Technology',
        NumberOfEmployees: c.employees,
        ...address('Billing', seed + 26, i),
        BillingCity: c.city,
        ...address('Shipping', seed + 27, i + 7),
        Phone: `+1-555-${String(1000 + (i % 9000)).padStart(4, '0')}`,
        Fax: i % 4 === 0 ? phoneOf(8, i) : null,
        Website: `https://www.${c.domain}`,
        Description: i % 2 === 0 ? `${c.name}, ${c.industry.toLowerCase()}` : null,
        LastActivityDate: lastActivityOf(i + 1),
        Customer_Tier__c: pick(TIERS, seed, i, 25),
      };
    },
    edit: (fields, n) => ({ ...fields, NumberOfEmployees: Number(fields.NumberOfEmployees ?? 0) + n }),
  },
  Contact: {
    generate: (seed, i) => {
      const p = fakePerson(seed, i);
      return {
        FirstName: p.firstName,
        LastName: p.lastName,
        Email: p.email,
        Phone: p.phone,
        MobilePhone: i % 2 === 0 ? phoneOf(7, i) : null,
        Fax: i % 5 === 0 ? phoneOf(9, i) : null,
        Title: p.title,
        ...address('Mailing', seed + 28, i),
        ...address('Other', seed + 29, i),
        LastActivityDate: lastActivityOf(i),
      };
    },
    edit: (fields, n) => ({ ...fields, Title: versioned(fields.Title, n) }),
  },
  Opportunity: {
    generate: (seed, i) => {
      const d = fakeDeal(seed, i);
      const stage = STAGE_OF_DEAL[d.stage] ?? 'Prospecting';
      return {
        Name: d.name,
        Amount: d.amount,
        StageName: stage,
        CloseDate: new Date(Date.UTC(2025, 0, 1) + (i % 730) * DAY_MS).toISOString().slice(0, 10),
        Probability: STAGES[stage] ?? 10,
        Description: i % 2 === 0 ? `Renewal of ${d.name}` : null,
        LastActivityDate: lastActivityOf(i + 2),
      };
    },
    edit: (fields, n) => ({ ...fields, Amount: Number(fields.Amount ?? 0) + n }),
  },
  Lead: {
    generate: (seed, i) => {
      const p = fakePerson(seed + 101, i);
      return {
        FirstName: p.firstName,
        LastName: p.lastName,
        Company: `${p.company} ${pick(['Inc', 'LLC', 'Ltd', 'Corp'], seed, i, 22)}`,
        Email: p.email,
        Phone: p.phone,
        Title: p.title,
        Industry: pick(INDUSTRIES, seed, i, 24),
        LeadSource: pick(LEAD_SOURCES, seed, i, 26),
        ...address('', seed + 30, i),
        // Every fourth lead was converted into a contact and an account (see fieldValue).
        ...(i % 4 === 3
          ? {
              Status: 'Closed - Converted',
              IsConverted: true,
              ConvertedDate: new Date(Date.UTC(2025, 3, 1) + (i % 60) * DAY_MS).toISOString().slice(0, 10),
            }
          : {
              Status: pick(LEAD_STATUSES.slice(0, 2), seed, i, 23),
              IsConverted: false,
              ConvertedDate: null,
            }),
      };
    },
    edit: (fields, n) => ({ ...fields, Title: versioned(fields.Title, n) }),
  },
  Invoice__c: {
    generate: (seed, i) => {
      const status = pick(INVOICE_STATUSES, seed, i, 31);
      return {
        Amount__c: Math.round(hashUnit(seed + 32, i) * 5_000_000) / 100,
        Status__c: status,
        Due_Date__c: new Date(Date.UTC(2025, 0, 1) + (i % 365) * DAY_MS).toISOString().slice(0, 10),
        Paid__c: status === 'Paid',
        Memo__c: `Services, ${pick(['January', 'February', 'March', 'April'], seed, i, 33)}`,
      };
    },
    edit: (fields, n) => ({ ...fields, Amount__c: Number(fields.Amount__c ?? 0) + n }),
  },
  User: {
    generate: (seed, i) => {
      const p = fakePerson(seed + 201, i);
      const email = `${p.firstName}.${p.lastName}.${i + 1}@trellis-sim.example`.toLowerCase();
      return {
        Username: email,
        FirstName: p.firstName,
        LastName: p.lastName,
        Email: email,
        Title: p.title,
        IsActive: i % 7 !== 6,
      };
    },
    edit: (fields, n) => ({ ...fields, Title: versioned(fields.Title, n) }),
  },
};

/** Default values Salesforce fills in on create. */
export function createDefaults(
  object: SalesforceObject,
  fields: Record<string, unknown>,
): Record<string, unknown> {
  switch (object) {
    case 'Lead':
      return { Status: 'Open - Not Contacted', IsConverted: false, ...fields };
    case 'Opportunity':
      return { Probability: STAGES[String(fields.StageName)] ?? null, ...fields };
    case 'Invoice__c':
      return { Paid__c: false, ...fields };
    default:
      return fields;
  }
}

/** A field value: strings, numbers, booleans, null; datetimes as epoch milliseconds; dates as YYYY-MM-DD. */
export type Value = string | number | boolean | null;

/** Salesforce keeps dateTimes to the second: the API always shows .000 milliseconds. */
export const toSecond = (ms: number) => Math.floor(ms / 1000) * 1000;

/**
 * The value of `field` on record `r` as the API shows it. `accounts` is the Account count, for
 * seeded contacts, opportunities and invoices, which belong to account ((n - 1) mod accounts) + 1.
 */
export function fieldValue(object: SalesforceObject, r: SimRecord, field: string, accounts: number): Value {
  switch (field) {
    case 'Id':
      return sfId(SCHEMAS.get(object)!.keyPrefix, r.seq);
    case 'IsDeleted':
      return r.deleted;
    case 'CreatedDate':
      return toSecond(r.createdAt);
    case 'LastModifiedDate':
    case 'SystemModstamp':
      return toSecond(r.updatedAt);
    case 'CreatedById':
    case 'LastModifiedById':
      return USER_ID;
    case 'OwnerId':
      return (r.fields.OwnerId as string | undefined) ?? sfId('005', ((r.seq - 1) % OWNERS) + 1);
    case 'Name':
      if (object === 'Invoice__c') return `INV-${pad(r.seq, 6)}`;
      if (object === 'Contact' || object === 'Lead' || object === 'User') {
        return [r.fields.FirstName, r.fields.LastName].filter((v) => v !== null && v !== undefined).join(' ');
      }
      break;
    case 'AccountId':
    case 'Account__c':
      if (!(field in r.fields)) return accounts > 0 ? sfId('001', ((r.seq - 1) % accounts) + 1) : null;
      break;
    // A converted lead became the contact and account of its own number.
    case 'ConvertedAccountId':
    case 'ConvertedContactId':
      if (r.fields.IsConverted !== true || accounts === 0) return null;
      return sfId(field === 'ConvertedAccountId' ? '001' : '003', ((r.seq - 1) % accounts) + 1);
    case 'IsClosed':
      return String(r.fields.StageName ?? '').startsWith('Closed');
    case 'IsWon':
      return r.fields.StageName === 'Closed Won';
  }
  const v = r.fields[field];
  return v === undefined ? null : (v as Value);
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Salesforce's JSON dateTime format: 2024-05-01T12:00:00.000+0000. */
export function sfDateTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

/** The UTC date of epoch milliseconds as YYYY-MM-DD. */
export function isoDate(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

export function soapType(type: FieldType): string {
  switch (type) {
    case 'id':
    case 'reference':
      return 'tns:ID';
    case 'boolean':
      return 'xsd:boolean';
    case 'int':
      return 'xsd:int';
    case 'double':
    case 'currency':
    case 'percent':
      return 'xsd:double';
    case 'date':
      return 'xsd:date';
    case 'datetime':
      return 'xsd:dateTime';
    default:
      return 'xsd:string';
  }
}
