import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fakeAddress, fakeCompany, fakeDeal, fakePerson, hashUnit, pick } from '../core/random.ts';
import { RateWindow } from '../core/rate-limit.ts';
import {
  arrivedAt,
  bearer,
  consentPage,
  handleTokenRequest,
  type ProviderSimulator,
  type SimContext,
  SimHttpError,
} from '../core/server.ts';
import type { ObjectStore, SimRecord } from '../core/store.ts';

/**
 * HubSpot: OAuth (app.hubspot.com/oauth/authorize, api.hubapi.com/oauth/v1/token), CRM v3 objects
 * (list, read, search, create, update, archive, batch) of the standard objects and of the
 * portal's custom object types, their properties (read and created), the schemas API that
 * describes the custom types, owners, v4 associations, and the ten-second, daily and search rate
 * limits with their headers and 429 bodies.
 */
const PORTAL_ID = '24681357';
const STANDARD_OBJECTS = ['contacts', 'companies', 'deals'] as const;
type StandardObject = (typeof STANDARD_OBJECTS)[number];
/**
 * An object the simulator serves: a standard object by its plural name, or a custom object type
 * by its fully qualified name (`p<portal>_<name>`), which also names its store in the control API.
 */
type HubSpotObject = string;

const isStandard = (object: HubSpotObject): object is StandardObject =>
  (STANDARD_OBJECTS as readonly string[]).includes(object);

/** A custom object type of the portal, as its definition is made in HubSpot (the schemas API shows it). */
interface CustomObjectType {
  /** The type's number: its objectTypeId is `2-<id>` (2 is the meta-type of portal-specific types). */
  id: string;
  /** The internal name given at creation: letters, digits and underscores, starting with a letter. */
  name: string;
  labels: { singular: string; plural: string };
  primaryDisplayProperty: string;
  requiredProperties: string[];
  /** The type's own properties (HubSpot adds hs_object_id, hs_createdate, hs_lastmodifieddate...). */
  properties: {
    name: string;
    label: string;
    type: 'string' | 'number' | 'date' | 'enumeration';
    options?: string[];
  }[];
  /** Standard objects its records can be associated with, by objectTypeId. */
  associatedObjects: string[];
  createdAt: string;
}

const INVOICE_STATUSES = ['draft', 'sent', 'paid', 'void'];
const CUSTOM_OBJECT_TYPES: CustomObjectType[] = [
  {
    id: '7654321',
    name: 'invoice',
    labels: { singular: 'Invoice', plural: 'Invoices' },
    primaryDisplayProperty: 'invoice_number',
    requiredProperties: ['invoice_number'],
    properties: [
      { name: 'invoice_number', label: 'Invoice number', type: 'string' },
      { name: 'amount', label: 'Amount', type: 'number' },
      { name: 'status', label: 'Status', type: 'enumeration', options: INVOICE_STATUSES },
      { name: 'due_date', label: 'Due date', type: 'date' },
    ],
    associatedObjects: ['0-2'],
    createdAt: '2024-03-01T09:30:00.000Z',
  },
];
const objectTypeIdOf = (t: CustomObjectType) => `2-${t.id}`;
const fullyQualifiedNameOf = (t: CustomObjectType) => `p${PORTAL_ID}_${t.name}`;
const customType = (object: HubSpotObject) =>
  CUSTOM_OBJECT_TYPES.find((t) => fullyQualifiedNameOf(t) === object);

/** The property holding a record's last modification: custom objects have HubSpot's hs_ one. */
const MODIFIED: Record<StandardObject, string> = {
  contacts: 'lastmodifieddate',
  companies: 'hs_lastmodifieddate',
  deals: 'hs_lastmodifieddate',
};
const modifiedProperty = (object: HubSpotObject) =>
  isStandard(object) ? MODIFIED[object] : 'hs_lastmodifieddate';
const createdProperty = (object: HubSpotObject) => (isStandard(object) ? 'createdate' : 'hs_createdate');

/** What a read without `properties` returns. */
function defaultProperties(object: HubSpotObject): string[] {
  return isStandard(object)
    ? DEFAULT_PROPERTIES[object]
    : ['hs_createdate', 'hs_lastmodifieddate', 'hs_object_id'];
}

const DEFAULT_PROPERTIES: Record<StandardObject, string[]> = {
  contacts: ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'],
  companies: ['createdate', 'domain', 'hs_lastmodifieddate', 'hs_object_id', 'name'],
  deals: [
    'amount',
    'closedate',
    'createdate',
    'dealname',
    'dealstage',
    'hs_lastmodifieddate',
    'hs_object_id',
    'pipeline',
  ],
};

const SEARCH_PAGE_CAP = 10_000;
const OWNERS = [
  { id: '41000001', email: 'owner.one@sim.example', firstName: 'Olive', lastName: 'One', userId: 1234567 },
  { id: '41000002', email: 'owner.two@sim.example', firstName: 'Otto', lastName: 'Two', userId: 1234568 },
  { id: '41000003', email: 'owner.three@sim.example', firstName: 'Oona', lastName: 'Three', userId: 1234569 },
];

const LIFECYCLE_STAGES = [
  'subscriber',
  'lead',
  'marketingqualifiedlead',
  'salesqualifiedlead',
  'opportunity',
  'customer',
  'evangelist',
  'other',
];

/** A contact's or company's address properties. */
function hubspotAddress(seed: number, i: number) {
  const a = fakeAddress(seed, i);
  return { address: a.street, city: a.city, state: a.state, zip: a.postalCode, country: a.country };
}

function hubspotError(reply: FastifyReply, status: number, category: string, message: string, extra = {}) {
  return reply
    .code(status)
    .send({ status: 'error', message, correlationId: randomUUID(), category, ...extra });
}

/** Every property value is a string (or null), as HubSpot returns them. */
function propertiesOf(object: HubSpotObject, r: SimRecord): Record<string, string | null> {
  const iso = (ms: number) => new Date(ms).toISOString();
  const props: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(r.fields)) props[k] = v === null || v === undefined ? null : String(v);
  props.hs_object_id = String(r.seq);
  props[createdProperty(object)] = iso(r.createdAt);
  props[modifiedProperty(object)] = iso(r.updatedAt);
  // HubSpot computes whether a deal is closed (and won) from its stage.
  if (object === 'deals') {
    props.hs_is_closed_won = String(props.dealstage === 'closedwon');
    props.hs_is_closed = String(props.dealstage === 'closedwon' || props.dealstage === 'closedlost');
  }
  return props;
}

function present(object: HubSpotObject, r: SimRecord, wanted?: string[]) {
  const all = propertiesOf(object, r);
  const names = wanted && wanted.length > 0 ? wanted : defaultProperties(object);
  const properties: Record<string, string | null> = {};
  for (const name of names) properties[name] = all[name] ?? null;
  return {
    id: String(r.seq),
    properties,
    createdAt: new Date(r.createdAt).toISOString(),
    updatedAt: new Date(r.updatedAt).toISOString(),
    archived: r.deleted,
    ...(r.deleted ? { archivedAt: new Date(r.deletedAt!).toISOString() } : {}),
  };
}

function listParam(value: unknown): string[] {
  if (value === undefined) return [];
  const values = Array.isArray(value) ? value : [value];
  return values.flatMap((v) => String(v).split(',')).filter(Boolean);
}

const OBJECT_ALIASES = new Map<string, HubSpotObject>([
  ['contact', 'contacts'],
  ['company', 'companies'],
  ['deal', 'deals'],
  ['0-1', 'contacts'],
  ['0-2', 'companies'],
  ['0-3', 'deals'],
  ...CUSTOM_OBJECT_TYPES.flatMap((t) =>
    [objectTypeIdOf(t), fullyQualifiedNameOf(t), `p_${t.name}`].map(
      (alias) => [alias, fullyQualifiedNameOf(t)] as const,
    ),
  ),
]);

/**
 * The object a path names. A custom object type goes by its objectTypeId, its fully qualified name
 * or the short form `p_<name>`; never by its bare name, which HubSpot stopped accepting in 2025.
 */
function objectOf(type: string): HubSpotObject {
  const object = isStandard(type) ? type : OBJECT_ALIASES.get(type);
  if (!object) throw new SimHttpError(400, `Unable to infer object type from: ${type}`);
  return object;
}

/**
 * Deterministic associations: contact n and deal n belong to company ((n-1) mod companies)+1.
 * Custom object records have none.
 */
function associated(ctx: SimContext, from: HubSpotObject, seq: number, to: HubSpotObject): number[] {
  const companies = ctx.store('companies').size;
  if (from === to || companies === 0 || !isStandard(from) || !isStandard(to)) return [];
  if (to === 'companies') return [((seq - 1) % companies) + 1];
  if (from === 'companies') {
    const other = ctx.store(to);
    const out: number[] = [];
    for (let s = seq; s <= other.size && out.length < 100; s += companies) out.push(s);
    return out;
  }
  return [seq].filter((s) => s <= ctx.store(to).size);
}

/** The label of an association from one standard object to another (`contact_to_company`). */
const associationType = (from: HubSpotObject, to: HubSpotObject) =>
  `${from.slice(0, -1)}_to_${to.replace(/ies$/, 'y').replace(/s$/, '')}`;

interface Filter {
  propertyName: string;
  operator: string;
  value?: string | number;
  highValue?: string | number;
}

function toMillis(v: string | number | undefined): number {
  if (v === undefined) throw new SimHttpError(400, 'filter value is required');
  const n = typeof v === 'number' ? v : /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (Number.isNaN(n)) throw new SimHttpError(400, `invalid filter value ${v}`);
  return n;
}

function matches(object: HubSpotObject, r: SimRecord, f: Filter): boolean {
  const value =
    f.propertyName === modifiedProperty(object) ||
    f.propertyName === 'lastmodifieddate' ||
    f.propertyName === 'hs_lastmodifieddate'
      ? r.updatedAt
      : f.propertyName === 'hs_object_id'
        ? r.seq
        : f.propertyName === createdProperty(object) || f.propertyName === 'createdate'
          ? r.createdAt
          : undefined;
  if (value === undefined) {
    const v = propertiesOf(object, r)[f.propertyName];
    if (f.operator === 'HAS_PROPERTY') return v !== null && v !== undefined;
    if (f.operator === 'NOT_HAS_PROPERTY') return v === null || v === undefined;
    if (f.operator === 'EQ') return v === String(f.value);
    if (f.operator === 'NEQ') return v !== String(f.value);
    throw new SimHttpError(
      400,
      `operator ${f.operator} is not supported on ${f.propertyName} by the simulator`,
    );
  }
  const x = f.propertyName === 'hs_object_id' ? Number(f.value) : toMillis(f.value);
  switch (f.operator) {
    case 'GT':
      return value > x;
    case 'GTE':
      return value >= x;
    case 'LT':
      return value < x;
    case 'LTE':
      return value <= x;
    case 'EQ':
      return value === x;
    case 'NEQ':
      return value !== x;
    case 'BETWEEN': {
      const high = f.propertyName === 'hs_object_id' ? Number(f.highValue) : toMillis(f.highValue);
      return value >= x && value <= high;
    }
    default:
      throw new SimHttpError(400, `operator ${f.operator} is not supported`);
  }
}

/**
 * The id bounds of a search whose only filters are on `hs_object_id` (in one group): ids after
 * `floor` up to `ceiling`. Undefined for any other search.
 */
function idRange(groups: { filters: Filter[] }[]): { floor: number; ceiling: number } | undefined {
  if (groups.length > 1) return undefined;
  let floor = 0;
  let ceiling = Number.POSITIVE_INFINITY;
  for (const f of groups[0]?.filters ?? []) {
    const value = Number(f.value);
    if (f.propertyName !== 'hs_object_id' || !Number.isInteger(value)) return undefined;
    if (f.operator === 'GT') floor = Math.max(floor, value);
    else if (f.operator === 'GTE') floor = Math.max(floor, value - 1);
    else if (f.operator === 'LT') ceiling = Math.min(ceiling, value - 1);
    else if (f.operator === 'LTE') ceiling = Math.min(ceiling, value);
    else if (f.operator === 'EQ') {
      floor = Math.max(floor, value - 1);
      ceiling = Math.min(ceiling, value);
    } else return undefined;
  }
  return { floor, ceiling };
}

/** A property made through the properties API, as it describes it. */
interface CreatedProperty {
  name: string;
  label: string;
  type: string;
  fieldType: string;
  groupName: string;
  hidden: false;
  modificationMetadata: { archivable: true; readOnlyDefinition: false; readOnlyValue: false };
  createdAt: string;
}

/** The properties made through the properties API, per simulator and object. */
const createdProperties = new WeakMap<SimContext, Map<HubSpotObject, CreatedProperty[]>>();

/** How `/crm/v3/properties/{object}` and a schema's `properties` describe an object's properties. */
function propertyDefinitions(ctx: SimContext, object: HubSpotObject) {
  return [...builtInPropertyDefinitions(ctx, object), ...(createdProperties.get(ctx)?.get(object) ?? [])];
}

/** The properties every simulated portal has. */
function builtInPropertyDefinitions(ctx: SimContext, object: HubSpotObject) {
  const readOnly = new Set(['hs_object_id', createdProperty(object), modifiedProperty(object)]);
  const modificationMetadata = (name: string) => ({
    archivable: true,
    readOnlyDefinition: true,
    readOnlyValue: readOnly.has(name),
  });
  const type = customType(object);
  if (type) {
    const groupName = `${type.name}_information`;
    const own = type.properties.map((p) => ({
      name: p.name,
      label: p.label,
      type: p.type,
      fieldType: { string: 'text', number: 'number', date: 'date', enumeration: 'select' }[p.type],
      groupName,
      hidden: false,
      ...(p.options
        ? {
            options: p.options.map((value, displayOrder) => ({
              label: value,
              value,
              displayOrder,
              hidden: false,
            })),
          }
        : {}),
      modificationMetadata: modificationMetadata(p.name),
    }));
    const system = [
      { name: 'hs_object_id', label: 'Record ID', type: 'number', fieldType: 'number' },
      { name: 'hs_createdate', label: 'Object create date/time', type: 'datetime', fieldType: 'date' },
      {
        name: 'hs_lastmodifieddate',
        label: 'Object last modified date/time',
        type: 'datetime',
        fieldType: 'date',
      },
    ].map((p) => ({ ...p, groupName, hidden: false, modificationMetadata: modificationMetadata(p.name) }));
    return [...own, ...system];
  }
  const sample: SimRecord = ctx.store(object).get(1) ?? {
    seq: 1,
    createdAt: 0,
    updatedAt: 0,
    deleted: false,
    fields: hubspot.objects[object]!.generate(ctx.seed, 0),
  };
  const numeric = new Set(['amount', 'numberofemployees', 'hs_object_id']);
  return Object.keys(propertiesOf(object, sample)).map((name) => ({
    name,
    label: name.replace(/^hs_/, '').replace(/_/g, ' '),
    type: numeric.has(name) ? 'number' : readOnly.has(name) ? 'datetime' : 'string',
    fieldType: numeric.has(name) ? 'number' : 'text',
    groupName: `${object.slice(0, -1)}information`,
    hidden: false,
    modificationMetadata: modificationMetadata(name),
  }));
}

const SINGULAR_OF_TYPE_ID: Record<string, string> = { '0-1': 'contact', '0-2': 'company', '0-3': 'deal' };

/** A custom object type as the schemas API shows it. */
function schemaOf(ctx: SimContext, type: CustomObjectType) {
  const objectTypeId = objectTypeIdOf(type);
  return {
    id: type.id,
    createdAt: type.createdAt,
    updatedAt: type.createdAt,
    labels: type.labels,
    requiredProperties: type.requiredProperties,
    searchableProperties: [type.primaryDisplayProperty],
    primaryDisplayProperty: type.primaryDisplayProperty,
    secondaryDisplayProperties: [],
    archived: false,
    metaType: 'PORTAL_SPECIFIC',
    portalId: Number(PORTAL_ID),
    objectTypeId,
    fullyQualifiedName: fullyQualifiedNameOf(type),
    name: type.name,
    properties: propertyDefinitions(ctx, fullyQualifiedNameOf(type)),
    associations: type.associatedObjects.map((toObjectTypeId, i) => ({
      fromObjectTypeId: objectTypeId,
      toObjectTypeId,
      name: `${type.name}_to_${SINGULAR_OF_TYPE_ID[toObjectTypeId]}`,
      id: String(301 + i),
      createdAt: type.createdAt,
      updatedAt: type.createdAt,
    })),
  };
}

function registerRoutes(app: FastifyInstance, ctx: SimContext) {
  const tenSecond = new RateWindow(ctx.clock, 10_000);
  const daily = new RateWindow(ctx.clock, 24 * 3600_000);
  const search = new RateWindow(ctx.clock, 1000);
  const account = ctx.provider.account.accountId;

  /** Authenticates the request and applies the rate limits; answers and returns false when refused. */
  const guard = async (req: FastifyRequest, reply: FastifyReply, kind: 'api' | 'search') => {
    const token = bearer(req);
    const status = ctx.tokens.check(token);
    if (status === 'expired') {
      return hubspotError(
        reply,
        401,
        'EXPIRED_AUTHENTICATION',
        'The OAuth token used to make this call expired.',
      );
    }
    if (status !== 'ok') {
      return hubspotError(
        reply,
        401,
        'INVALID_AUTHENTICATION',
        'Authentication credentials not found. This API supports OAuth 2.0 authentication.',
      );
    }
    const day = daily.take(account, ctx.limits.daily!, arrivedAt(ctx, req));
    if (!day.allowed) {
      return hubspotError(reply, 429, 'RATE_LIMITS', 'You have reached your daily limit.', {
        errorType: 'RATE_LIMIT',
        policyName: 'DAILY',
      });
    }
    if (kind === 'search') {
      // Search responses carry no rate-limit headers; the limit is per account per second.
      const s = search.take(account, ctx.limits.search_per_second!, arrivedAt(ctx, req));
      if (!s.allowed) {
        return hubspotError(reply, 429, 'RATE_LIMITS', 'You have reached your secondly limit.', {
          errorType: 'RATE_LIMIT',
          policyName: 'SECONDLY',
        });
      }
      return undefined;
    }
    const w = tenSecond.take(account, ctx.limits.ten_second!, arrivedAt(ctx, req));
    reply.headers({
      'x-hubspot-ratelimit-daily': String(day.limit),
      'x-hubspot-ratelimit-daily-remaining': String(day.remaining),
      'x-hubspot-ratelimit-interval-milliseconds': '10000',
      'x-hubspot-ratelimit-max': String(w.limit),
      'x-hubspot-ratelimit-remaining': String(w.remaining),
    });
    if (!w.allowed) {
      return hubspotError(reply, 429, 'RATE_LIMITS', 'You have reached your ten_secondly_rolling limit.', {
        errorType: 'RATE_LIMIT',
        policyName: 'TEN_SECONDLY_ROLLING',
      });
    }
    return undefined;
  };

  app.get('/oauth/authorize', async (req, reply) => consentPage(ctx, req, reply, 'HubSpot'));
  app.post('/oauth/v1/token', async (req, reply) => handleTokenRequest(ctx, req, reply));
  app.get<{ Params: { token: string } }>('/oauth/v1/access-tokens/:token', async (req, reply) => {
    const info = ctx.tokens.infoFor(req.params.token);
    if (!info || info.expiresAt <= ctx.clock.now()) {
      return hubspotError(reply, 404, 'OBJECT_NOT_FOUND', 'Token not found or expired');
    }
    return {
      token: req.params.token,
      user: OWNERS[0]!.email,
      hub_domain: 'sim-portal.hubspot.example',
      scopes: info.scopes,
      hub_id: Number(account),
      app_id: 424242,
      expires_in: Math.floor((info.expiresAt - ctx.clock.now()) / 1000),
      user_id: Number(ctx.provider.account.userId),
      token_type: 'access',
    };
  });

  type ListQuery = {
    limit?: string;
    after?: string;
    properties?: string | string[];
    archived?: string;
    associations?: string | string[];
  };

  app.get<{ Params: { type: string }; Querystring: ListQuery }>(
    '/crm/v3/objects/:type',
    async (req, reply) => {
      if (await guard(req, reply, 'api')) return reply;
      const object = objectOf(req.params.type);
      const limit = Math.min(Number(req.query.limit ?? 10) || 10, 100);
      const archived = req.query.archived === 'true';
      const props = listParam(req.query.properties);
      const assoc = listParam(req.query.associations).map(objectOf);
      const after = req.query.after ? Number(req.query.after) : 0;
      if (Number.isNaN(after))
        return hubspotError(reply, 400, 'VALIDATION_ERROR', 'after must be a paging cursor');
      const results = [];
      let last: SimRecord | undefined;
      let more = false;
      for (const r of ctx.store(object).bySeq(after, archived)) {
        if (r.deleted !== archived) continue;
        if (results.length === limit) {
          more = true;
          break;
        }
        const item: Record<string, unknown> = present(object, r, props);
        if (assoc.length > 0) {
          const associations: Record<string, unknown> = {};
          for (const to of assoc) {
            const ids = associated(ctx, object, r.seq, to);
            if (ids.length > 0) {
              associations[to] = {
                results: ids.map((id) => ({
                  id: String(id),
                  type: associationType(object, to),
                })),
              };
            }
          }
          item.associations = associations;
        }
        results.push(item);
        last = r;
      }
      return {
        results,
        ...(more && last
          ? {
              paging: {
                next: {
                  after: String(last.seq),
                  link: `${ctx.url}/crm/v3/objects/${object}?after=${last.seq}`,
                },
              },
            }
          : {}),
      };
    },
  );

  app.get<{ Params: { type: string; id: string }; Querystring: ListQuery }>(
    '/crm/v3/objects/:type/:id',
    async (req, reply) => {
      if (await guard(req, reply, 'api')) return reply;
      const object = objectOf(req.params.type);
      const r = ctx.store(object).get(Number(req.params.id));
      if (!r || r.deleted !== (req.query.archived === 'true')) {
        return hubspotError(reply, 404, 'OBJECT_NOT_FOUND', 'resource not found');
      }
      return present(object, r, listParam(req.query.properties));
    },
  );

  app.post<{
    Params: { type: string };
    Body: {
      filterGroups?: { filters: Filter[] }[];
      sorts?: (string | { propertyName: string; direction?: string })[];
      properties?: string[];
      limit?: number;
      after?: string | number;
      query?: string;
    };
  }>('/crm/v3/objects/:type/search', async (req, reply) => {
    if (await guard(req, reply, 'search')) return reply;
    const object = objectOf(req.params.type);
    const body = req.body ?? {};
    const limit = Math.min(Number(body.limit ?? 10) || 10, 200);
    const offset = Number(body.after ?? 0) || 0;
    if (offset + limit > SEARCH_PAGE_CAP) {
      return hubspotError(reply, 400, 'VALIDATION_ERROR', `There was a problem with the request.`, {
        errors: [
          {
            message: `Search results are limited to ${SEARCH_PAGE_CAP} items; page through with a narrower filter`,
            code: 'INVALID_INTEGER',
          },
        ],
      });
    }
    const groups = body.filterGroups ?? [];
    if (groups.length > 5) return hubspotError(reply, 400, 'VALIDATION_ERROR', 'at most 5 filterGroups');
    if (groups.some((g) => g.filters.length > 6))
      return hubspotError(reply, 400, 'VALIDATION_ERROR', 'at most 6 filters per group');
    if ((body.sorts ?? []).length > 1)
      return hubspotError(reply, 400, 'VALIDATION_ERROR', 'only one sort is supported');
    const rawSort = body.sorts?.[0];
    const sort =
      typeof rawSort === 'string'
        ? {
            propertyName: rawSort.replace(/^-/, ''),
            direction: rawSort.startsWith('-') ? 'DESCENDING' : 'ASCENDING',
          }
        : rawSort;
    const byModified =
      !sort ||
      [modifiedProperty(object), 'lastmodifieddate', 'hs_lastmodifieddate'].includes(sort.propertyName);
    const byCreated = sort && [createdProperty(object), 'createdate'].includes(sort.propertyName);
    if (sort && !byModified && !byCreated && sort.propertyName !== 'hs_object_id') {
      return hubspotError(
        reply,
        400,
        'VALIDATION_ERROR',
        `sorting by ${sort.propertyName} is not supported by the simulator`,
      );
    }
    const descending = sort?.direction === 'DESCENDING';
    const store = ctx.store(object);
    const pass = (r: SimRecord) =>
      groups.length === 0 || groups.some((g) => g.filters.every((f) => matches(object, r, f)));
    // The lowest bound every filter group puts on a property, so that scans start there.
    const lowest = (property: (f: Filter) => boolean, value: (f: Filter) => number) => {
      if (groups.length === 0) return undefined;
      const bounds = groups.map((g) =>
        Math.max(
          -Infinity,
          ...g.filters
            .filter((f) => property(f) && ['GT', 'GTE', 'BETWEEN', 'EQ'].includes(f.operator))
            .map(value),
        ),
      );
      const min = Math.min(...bounds);
      return Number.isFinite(min) ? min : undefined;
    };
    const isModified = (f: Filter) =>
      [modifiedProperty(object), 'lastmodifieddate', 'hs_lastmodifieddate'].includes(f.propertyName);
    const since = lowest(isModified, (f) => toMillis(f.value) - 1);
    const idFloor = lowest(
      (f) => f.propertyName === 'hs_object_id',
      (f) => Number(f.value) - 1,
    );
    const byId = !sort || sort.propertyName === 'hs_object_id';
    const range = byId ? idRange(groups) : undefined;
    if (range) {
      // Only id bounds, in id order (how full reads are split into id ranges): the total comes
      // from the bounds and only the page's records are generated, so a range costs its own size.
      const total = store.countBySeq(range.floor, range.ceiling);
      const results = [];
      const ids = descending
        ? (function* () {
            for (let seq = Math.min(store.size, range.ceiling); seq > range.floor; seq--)
              yield store.get(seq)!;
          })()
        : store.bySeq(range.floor);
      let skipped = 0;
      for (const r of ids) {
        if (r.seq > range.ceiling || results.length === limit) break;
        if (r.deleted) continue;
        if (skipped++ < offset) continue;
        results.push(present(object, r, body.properties));
      }
      const next = offset + results.length;
      return { total, results, ...(next < total ? { paging: { next: { after: String(next) } } } : {}) };
    }
    let source: Iterable<SimRecord>;
    if (byId && !descending) {
      source = store.modifiedSinceBySeq(since ?? -Infinity, Math.max(0, idFloor ?? 0));
    } else if (byModified && !descending) {
      source = store.byModified(
        since === undefined ? undefined : { updatedAt: since, seq: Number.MAX_SAFE_INTEGER },
      );
    } else {
      const all = [...store.bySeq(0, false)];
      const key = (r: SimRecord) => (byCreated ? r.createdAt : byId ? r.seq : r.updatedAt);
      all.sort((a, b) => key(a) - key(b) || a.seq - b.seq);
      source = descending ? all.reverse() : all;
    }
    let total = 0;
    const results = [];
    for (const r of source) {
      if (r.deleted || !pass(r)) continue;
      if (total >= offset && results.length < limit) results.push(present(object, r, body.properties));
      total++;
    }
    const next = offset + results.length;
    return { total, results, ...(next < total ? { paging: { next: { after: String(next) } } } : {}) };
  });

  type Inputs = { inputs?: { id?: string; properties?: Record<string, unknown> }[]; properties?: string[] };

  const writeProps = (object: HubSpotObject, properties: Record<string, unknown> | undefined) => {
    if (!properties || typeof properties !== 'object') throw new SimHttpError(400, 'properties are required');
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(properties)) {
      if (['hs_object_id', createdProperty(object), modifiedProperty(object)].includes(k)) continue;
      fields[k] = v === null ? null : String(v);
    }
    return fields;
  };
  /** HubSpot checks property values on writes: a contact's email must look like an address. */
  const invalidValues = (object: HubSpotObject, fields: Record<string, unknown>) => {
    const email = fields.email;
    if (object !== 'contacts' || typeof email !== 'string' || /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email))
      return undefined;
    const message = `Email address ${email} is invalid`;
    const problems = [
      { isValid: false, message, error: 'INVALID_EMAIL', name: 'email', localizedErrorMessage: message },
    ];
    return `Property values were not valid: ${JSON.stringify(problems)}`;
  };
  const findLive = (store: ObjectStore, id: string | undefined) => {
    const r = id ? store.get(Number(id)) : undefined;
    return r && !r.deleted ? r : undefined;
  };

  app.post<{ Params: { type: string }; Body: { properties?: Record<string, unknown> } }>(
    '/crm/v3/objects/:type',
    async (req, reply) => {
      if (await guard(req, reply, 'api')) return reply;
      const object = objectOf(req.params.type);
      const fields = writeProps(object, req.body?.properties);
      const invalid = invalidValues(object, fields);
      if (invalid) return hubspotError(reply, 400, 'VALIDATION_ERROR', invalid);
      const r = ctx.store(object).create(fields);
      return reply.code(201).send(present(object, r, Object.keys(propertiesOf(object, r))));
    },
  );

  app.patch<{ Params: { type: string; id: string }; Body: { properties?: Record<string, unknown> } }>(
    '/crm/v3/objects/:type/:id',
    async (req, reply) => {
      if (await guard(req, reply, 'api')) return reply;
      const object = objectOf(req.params.type);
      const store = ctx.store(object);
      if (!findLive(store, req.params.id))
        return hubspotError(reply, 404, 'OBJECT_NOT_FOUND', 'resource not found');
      const fields = writeProps(object, req.body?.properties);
      const invalid = invalidValues(object, fields);
      if (invalid) return hubspotError(reply, 400, 'VALIDATION_ERROR', invalid);
      const r = store.update(Number(req.params.id), fields)!;
      return present(object, r, Object.keys(propertiesOf(object, r)));
    },
  );

  app.delete<{ Params: { type: string; id: string } }>('/crm/v3/objects/:type/:id', async (req, reply) => {
    if (await guard(req, reply, 'api')) return reply;
    const store = ctx.store(objectOf(req.params.type));
    // Archiving is idempotent in HubSpot: an unknown or archived id is still a 204.
    if (findLive(store, req.params.id)) store.delete(Number(req.params.id));
    return reply.code(204).send();
  });

  const batch = (results: unknown[]) => {
    const now = new Date(ctx.clock.now()).toISOString();
    return { status: 'COMPLETE', results, startedAt: now, completedAt: now };
  };

  app.post<{ Params: { type: string; action: string }; Body: Inputs }>(
    '/crm/v3/objects/:type/batch/:action',
    async (req, reply) => {
      if (await guard(req, reply, 'api')) return reply;
      const object = objectOf(req.params.type);
      const store = ctx.store(object);
      const inputs = req.body?.inputs;
      if (!Array.isArray(inputs) || inputs.length === 0)
        return hubspotError(reply, 400, 'VALIDATION_ERROR', 'inputs are required');
      if (inputs.length > 100)
        return hubspotError(reply, 400, 'VALIDATION_ERROR', 'at most 100 inputs per batch');
      switch (req.params.action) {
        case 'read': {
          const found = inputs.map((i) => findLive(store, i.id)).filter((r): r is SimRecord => !!r);
          return batch(found.map((r) => present(object, r, req.body.properties)));
        }
        case 'create':
          return reply
            .code(201)
            .send(
              batch(
                inputs.map((i) =>
                  present(
                    object,
                    store.create(writeProps(object, i.properties)),
                    Object.keys(i.properties ?? {}),
                  ),
                ),
              ),
            );
        case 'update': {
          const missing = inputs.find((i) => !findLive(store, i.id));
          if (missing)
            return hubspotError(
              reply,
              404,
              'OBJECT_NOT_FOUND',
              `Could not find ${object} with id ${missing.id}`,
            );
          return batch(
            inputs.map((i) =>
              present(
                object,
                store.update(Number(i.id), writeProps(object, i.properties))!,
                Object.keys(i.properties ?? {}),
              ),
            ),
          );
        }
        case 'archive':
          for (const i of inputs) if (findLive(store, i.id)) store.delete(Number(i.id));
          return reply.code(204).send();
        default:
          return hubspotError(reply, 404, 'OBJECT_NOT_FOUND', `unknown batch action ${req.params.action}`);
      }
    },
  );

  app.get<{ Params: { type: string } }>('/crm/v3/properties/:type', async (req, reply) => {
    if (await guard(req, reply, 'api')) return reply;
    return { results: propertyDefinitions(ctx, objectOf(req.params.type)) };
  });

  // A new property: records have no value for it (null when asked for) until one is written.
  app.post<{ Params: { type: string }; Body: Record<string, unknown> | undefined }>(
    '/crm/v3/properties/:type',
    async (req, reply) => {
      if (await guard(req, reply, 'api')) return reply;
      const object = objectOf(req.params.type);
      const { name, label, type, fieldType, groupName } = req.body ?? {};
      const text = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
      if (!text(name) || !text(label) || !text(type) || !text(fieldType) || !text(groupName))
        return hubspotError(
          reply,
          400,
          'VALIDATION_ERROR',
          'name, label, type, fieldType and groupName are required',
        );
      if (!/^[a-z][a-z0-9_]*$/.test(name))
        return hubspotError(reply, 400, 'VALIDATION_ERROR', `Property name ${name} is not valid`);
      if (propertyDefinitions(ctx, object).some((p) => p.name === name))
        return hubspotError(reply, 409, 'OBJECT_ALREADY_EXISTS', `Property named '${name}' already exists.`);
      const created: CreatedProperty = {
        name,
        label,
        type,
        fieldType,
        groupName,
        hidden: false,
        modificationMetadata: { archivable: true, readOnlyDefinition: false, readOnlyValue: false },
        createdAt: new Date(ctx.clock.now()).toISOString(),
      };
      const byObject = createdProperties.get(ctx) ?? new Map<HubSpotObject, CreatedProperty[]>();
      createdProperties.set(ctx, byObject);
      byObject.set(object, [...(byObject.get(object) ?? []), created]);
      return reply.code(201).send(created);
    },
  );

  // The schemas API answers under its v3 path and under the path HubSpot's newer clients use.
  for (const base of ['/crm/v3/schemas', '/crm-object-schemas/v3/schemas']) {
    app.get<{ Querystring: { archived?: string } }>(base, async (req, reply) => {
      if (await guard(req, reply, 'api')) return reply;
      // No custom object type of the simulated portal is archived.
      const types = req.query.archived === 'true' ? [] : CUSTOM_OBJECT_TYPES;
      return { results: types.map((t) => schemaOf(ctx, t)) };
    });

    app.get<{ Params: { objectType: string } }>(`${base}/:objectType`, async (req, reply) => {
      if (await guard(req, reply, 'api')) return reply;
      const { objectType } = req.params;
      const type = CUSTOM_OBJECT_TYPES.find(
        (t) => objectTypeIdOf(t) === objectType || fullyQualifiedNameOf(t) === objectType,
      );
      if (!type)
        return hubspotError(reply, 404, 'OBJECT_NOT_FOUND', `Unable to find object type ${objectType}`);
      return schemaOf(ctx, type);
    });
  }

  app.get<{ Querystring: { limit?: string; after?: string; email?: string } }>(
    '/crm/v3/owners',
    async (req, reply) => {
      if (await guard(req, reply, 'api')) return reply;
      const limit = Math.min(Number(req.query.limit ?? 100) || 100, 500);
      const after = Number(req.query.after ?? 0) || 0;
      const all = OWNERS.filter((o) => !req.query.email || o.email === req.query.email);
      const page = all.slice(after, after + limit);
      const created = new Date(ctx.clock.now() - 86_400_000).toISOString();
      return {
        results: page.map((o) => ({
          ...o,
          createdAt: created,
          updatedAt: created,
          archived: false,
          teams: [],
        })),
        ...(after + limit < all.length ? { paging: { next: { after: String(after + limit) } } } : {}),
      };
    },
  );

  // The v3 batch association read: each input's associated records, with the association's label.
  // Inputs without any are not results but errors, and the answer is then a 207.
  app.post<{ Params: { from: string; to: string }; Body: { inputs?: { id?: unknown }[] } }>(
    '/crm/v3/associations/:from/:to/batch/read',
    async (req, reply) => {
      if (await guard(req, reply, 'api')) return reply;
      const from = objectOf(req.params.from);
      const to = objectOf(req.params.to);
      const inputs = req.body?.inputs;
      if (!Array.isArray(inputs) || inputs.length === 0)
        return hubspotError(reply, 400, 'VALIDATION_ERROR', 'inputs are required');
      if (inputs.length > 100)
        return hubspotError(reply, 400, 'VALIDATION_ERROR', 'at most 100 inputs per batch');
      const results = [];
      const errors = [];
      for (const input of inputs) {
        const id = String(input?.id ?? '');
        const r = findLive(ctx.store(from), id);
        const ids = r ? associated(ctx, from, r.seq, to) : [];
        if (ids.length === 0) {
          errors.push({
            status: 'error',
            category: 'OBJECT_NOT_FOUND',
            message: `No ${to.replace(/ies$/, 'y').replace(/s$/, '')} is associated with ${from.slice(0, -1)} ${id}.`,
            context: { fromObjectId: [id] },
          });
          continue;
        }
        results.push({
          from: { id },
          to: ids.map((n) => ({ id: String(n), type: associationType(from, to) })),
        });
      }
      const now = new Date(ctx.clock.now()).toISOString();
      return reply.code(errors.length > 0 ? 207 : 200).send({
        status: 'COMPLETE',
        results,
        ...(errors.length > 0 ? { numErrors: errors.length, errors } : {}),
        startedAt: now,
        completedAt: now,
      });
    },
  );

  app.get<{
    Params: { from: string; id: string; to: string };
    Querystring: { limit?: string; after?: string };
  }>('/crm/v4/objects/:from/:id/associations/:to', async (req, reply) => {
    if (await guard(req, reply, 'api')) return reply;
    const from = objectOf(req.params.from);
    const to = objectOf(req.params.to);
    if (!findLive(ctx.store(from), req.params.id))
      return hubspotError(reply, 404, 'OBJECT_NOT_FOUND', 'resource not found');
    const limit = Math.min(Number(req.query.limit ?? 500) || 500, 500);
    const after = Number(req.query.after ?? 0) || 0;
    const all = associated(ctx, from, Number(req.params.id), to);
    const page = all.slice(after, after + limit);
    return {
      results: page.map((id) => ({
        toObjectId: id,
        associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: 1, label: null }],
      })),
      ...(after + limit < all.length ? { paging: { next: { after: String(after + limit) } } } : {}),
    };
  });
}

export const hubspot: ProviderSimulator = {
  name: 'hubspot',
  account: { accountId: PORTAL_ID, userId: '1234567' },
  limits: { ten_second: 100, daily: 250_000, search_per_second: 5 },
  objects: {
    contacts: {
      generate: (seed, i) => {
        const p = fakePerson(seed, i);
        // Every property is in every record (null where unset): the properties API lists record 1's.
        return {
          firstname: p.firstName,
          lastname: p.lastName,
          email: p.email,
          work_email: i % 3 === 0 ? `${p.firstName}.${p.lastName}@work.example`.toLowerCase() : null,
          phone: p.phone,
          mobilephone: i % 2 === 0 ? `+1-555-7${String(i % 1000).padStart(3, '0')}` : null,
          fax: i % 5 === 0 ? `+1-555-9${String(i % 1000).padStart(3, '0')}` : null,
          company: p.company,
          jobtitle: p.title,
          ...hubspotAddress(seed, i),
          lifecyclestage: pick(LIFECYCLE_STAGES, seed, i, 51),
          hubspot_owner_id: OWNERS[i % OWNERS.length]!.id,
          notes_last_updated:
            i % 4 === 0 ? null : new Date(Date.UTC(2025, 0, 1) + i * 3_600_000).toISOString(),
        };
      },
      edit: (fields, n) => ({
        ...fields,
        jobtitle: `${String(fields.jobtitle ?? 'Title').replace(/ \(v\d+\)$/, '')} (v${n})`,
      }),
    },
    companies: {
      generate: (seed, i) => {
        const c = fakeCompany(seed, i);
        return {
          name: c.name,
          domain: c.domain,
          website: `https://www.${c.domain}`,
          description: `${c.name}, ${c.industry.toLowerCase()}`,
          industry: c.industry,
          numberofemployees: c.employees,
          phone: `+1-555-3${String(i % 1000).padStart(3, '0')}`,
          ...hubspotAddress(seed + 1, i),
          city: c.city,
          address2: i % 2 === 0 ? `Suite ${100 + i}` : null,
          lifecyclestage: pick(LIFECYCLE_STAGES, seed, i, 52),
          hubspot_owner_id: OWNERS[(i + 1) % OWNERS.length]!.id,
          notes_last_updated: null,
        };
      },
      edit: (fields, n) => ({ ...fields, numberofemployees: Number(fields.numberofemployees ?? 0) + n }),
    },
    deals: {
      generate: (seed, i) => {
        const d = fakeDeal(seed, i);
        return {
          dealname: d.name,
          description: i % 2 === 0 ? `Renewal of ${d.name}` : null,
          amount: d.amount,
          dealstage: d.stage,
          pipeline: 'default',
          closedate: new Date(Date.UTC(2025, 0, 1) + (i % 365) * 86_400_000).toISOString(),
          hubspot_owner_id: OWNERS[(i + 2) % OWNERS.length]!.id,
          notes_last_updated:
            i % 3 === 0 ? null : new Date(Date.UTC(2025, 5, 1) + i * 3_600_000).toISOString(),
        };
      },
      edit: (fields, n) => ({ ...fields, amount: Number(fields.amount ?? 0) + n }),
    },
    [fullyQualifiedNameOf(CUSTOM_OBJECT_TYPES[0]!)]: {
      generate: (seed, i) => {
        const status = INVOICE_STATUSES[Math.floor(hashUnit(seed + 41, i) * INVOICE_STATUSES.length)]!;
        return {
          invoice_number: `INV-${String(i + 1).padStart(6, '0')}`,
          amount: Math.round(hashUnit(seed + 42, i) * 5_000_000) / 100,
          status,
          due_date: new Date(Date.UTC(2025, 0, 1) + (i % 365) * 86_400_000).toISOString().slice(0, 10),
        };
      },
      edit: (fields, n) => ({ ...fields, amount: Number(fields.amount ?? 0) + n }),
    },
  },
  idOf: (_object, seq) => String(seq),
  seqOf: (_object, id) => (/^\d+$/.test(id) ? Number(id) : undefined),
  present: (_ctx, object, r) =>
    present(object as HubSpotObject, r, Object.keys(propertiesOf(object as HubSpotObject, r))),
  tokenResponse: (ctx, t) => ({
    token_type: 'bearer',
    refresh_token: t.refreshToken,
    access_token: t.accessToken,
    expires_in: t.expiresIn,
    hub_id: Number(ctx.provider.account.accountId),
  }),
  rateLimited: (_ctx, reply) =>
    hubspotError(reply, 429, 'RATE_LIMITS', 'You have reached your ten_secondly_rolling limit.', {
      errorType: 'RATE_LIMIT',
      policyName: 'TEN_SECONDLY_ROLLING',
    }).header('x-hubspot-ratelimit-interval-milliseconds', '10000'),
  serverError: (_ctx, reply) => hubspotError(reply, 502, 'INTERNAL_ERROR', 'Bad Gateway'),
  faultExempt: ['/oauth/'],
  routes: registerRoutes,
};
