import type { SimRecord } from '../core/store.ts';
import { notFound, SfError } from './errors.ts';
import type { OrgState } from './org.ts';
import { recordJson, schemaOf, selectFields, writeFields } from './records.ts';
import { objectParam, param, queryParams, type RestRoute } from './rest.ts';
import {
  createDefaults,
  type FieldDef,
  isCustom,
  numberOf,
  OBJECTS,
  type SalesforceObject,
  sfId,
  soapType,
} from './schema.ts';

/** sObject describe (describeGlobal, an object's summary and describe) and single-record CRUD. */

function sobjectSummary(object: SalesforceObject, version: string) {
  const s = schemaOf(object);
  const base = `/services/data/${version}/sobjects/${object}`;
  return {
    activateable: false,
    createable: true,
    custom: isCustom(object),
    customSetting: false,
    deletable: true,
    deprecatedAndHidden: false,
    feedEnabled: !isCustom(object),
    hasSubtypes: false,
    isSubtype: false,
    keyPrefix: s.keyPrefix,
    label: s.label,
    labelPlural: s.labelPlural,
    layoutable: true,
    mergeable: object !== 'Opportunity' && !isCustom(object),
    mruEnabled: true,
    name: object,
    queryable: true,
    replicateable: true,
    retrieveable: true,
    searchable: true,
    triggerable: true,
    undeletable: true,
    updateable: true,
    urls: {
      compactLayouts: `${base}/describe/compactLayouts`,
      rowTemplate: `${base}/{ID}`,
      approvalLayouts: `${base}/describe/approvalLayouts`,
      describe: `${base}/describe`,
      quickActions: `${base}/quickActions`,
      layouts: `${base}/describe/layouts`,
      sobject: base,
    },
  };
}

function fieldDescribe(f: FieldDef) {
  const length = f.type === 'id' || f.type === 'reference' ? 18 : (f.length ?? 0);
  const numeric = ['int', 'double', 'currency', 'percent'].includes(f.type);
  return {
    aggregatable: f.type !== 'textarea',
    autoNumber: Boolean(f.autoNumber),
    byteLength: numeric || ['boolean', 'date', 'datetime'].includes(f.type) ? 0 : length * 3,
    calculated: Boolean(f.calculated),
    caseSensitive: false,
    createable: f.createable,
    custom: isCustom(f.name),
    defaultValue: f.type === 'boolean' ? false : null,
    defaultedOnCreate: Boolean(f.defaultedOnCreate),
    dependentPicklist: false,
    digits: f.type === 'int' ? (f.precision ?? 0) : 0,
    externalId: false,
    filterable: true,
    groupable: !['double', 'currency', 'percent', 'datetime', 'textarea'].includes(f.type),
    idLookup: Boolean(f.idLookup),
    label: f.label,
    length: numeric || ['boolean', 'date', 'datetime'].includes(f.type) ? 0 : length,
    name: f.name,
    nameField: f.name === 'Name',
    nillable: f.nillable,
    permissionable: f.nillable && (f.createable || f.updateable),
    picklistValues: (f.picklist ?? []).map((value, i) => ({
      active: true,
      defaultValue: f.defaultedOnCreate === true && i === 0,
      label: value,
      validFor: null,
      value,
    })),
    precision: f.type === 'int' ? 0 : (f.precision ?? 0),
    referenceTo: f.referenceTo ?? [],
    relationshipName: f.relationshipName ?? null,
    restrictedPicklist: false,
    scale: f.scale ?? 0,
    soapType: soapType(f.type),
    sortable: f.type !== 'textarea',
    type: f.type,
    unique: false,
    updateable: f.updateable,
  };
}

export function registerSObjectRoutes(route: RestRoute, { ctx }: OrgState) {
  route('GET', '/sobjects', (_req, _reply, v) => ({
    encoding: 'UTF-8',
    maxBatchSize: 200,
    sobjects: OBJECTS.map((o) => sobjectSummary(o, v)),
  }));

  route('GET', '/sobjects/:object', (req, _reply, v) => {
    const object = objectParam(req);
    return { objectDescribe: sobjectSummary(object, v), recentItems: [] };
  });

  route('GET', '/sobjects/:object/describe', (req, _reply, v) => {
    const object = objectParam(req);
    const s = schemaOf(object);
    const children =
      object === 'Account'
        ? [
            { childSObject: 'Contact', field: 'AccountId', relationshipName: 'Contacts' },
            { childSObject: 'Opportunity', field: 'AccountId', relationshipName: 'Opportunities' },
            { childSObject: 'Invoice__c', field: 'Account__c', relationshipName: 'Invoices__r' },
          ]
        : [];
    return {
      ...sobjectSummary(object, v),
      actionOverrides: [],
      childRelationships: children.map((c) => ({
        cascadeDelete: false,
        deprecatedAndHidden: false,
        junctionIdListNames: [],
        junctionReferenceTo: [],
        restrictedDelete: false,
        ...c,
      })),
      compactLayoutable: true,
      fields: s.fields.map(fieldDescribe),
      listviewable: null,
      lookupLayoutable: null,
      namedLayoutInfos: [],
      networkScopeFieldName: null,
      recordTypeInfos: [
        {
          active: true,
          available: true,
          defaultRecordTypeMapping: true,
          developerName: 'Master',
          master: true,
          name: 'Master',
          recordTypeId: '012000000000000AAA',
          urls: { layout: `/services/data/${v}/sobjects/${object}/describe/layouts/012000000000000AAA` },
        },
      ],
      searchLayoutable: true,
      supportedScopes: [
        { label: 'All', name: 'everything' },
        { label: `My ${s.labelPlural.toLowerCase()}`, name: 'mine' },
      ],
    };
  });

  /** The live record an id names: 404 NOT_FOUND or ENTITY_IS_DELETED otherwise. */
  const liveRecord = (object: SalesforceObject, id: string): SimRecord => {
    const n = numberOf(schemaOf(object).keyPrefix, id);
    if (n === undefined) {
      throw new SfError(
        404,
        'NOT_FOUND',
        `Provided external ID field does not exist or is not accessible: ${id}`,
      );
    }
    const r = ctx.store(object).get(n);
    if (!r) throw notFound();
    if (r.deleted) throw new SfError(404, 'ENTITY_IS_DELETED', 'entity is deleted', []);
    return r;
  };
  route('POST', '/sobjects/:object', (req, reply) => {
    const object = objectParam(req);
    const body = req.body as Record<string, unknown> | undefined;
    if (body && typeof body === 'object' && ('Id' in body || 'id' in body)) {
      throw new SfError(400, 'INVALID_FIELD_FOR_INSERT_UPDATE', 'cannot specify Id in an insert call', [
        'Id',
      ]);
    }
    const w = writeFields(object, body, 'create');
    if ('errors' in w) {
      return reply
        .code(400)
        .send(w.errors.map((e) => ({ message: e.message, errorCode: e.code, fields: e.fields })));
    }
    const r = ctx.store(object).create(createDefaults(object, w.fields));
    return reply.code(201).send({ id: sfId(schemaOf(object).keyPrefix, r.seq), success: true, errors: [] });
  });

  route('GET', '/sobjects/:object/:id', (req, _reply, v) => {
    const object = objectParam(req);
    const r = liveRecord(object, param(req, 'id'));
    return recordJson(ctx, object, r, selectFields(object, queryParams(req).fields), v);
  });

  route('PATCH', '/sobjects/:object/:id', (req, reply) => {
    const object = objectParam(req);
    const r = liveRecord(object, param(req, 'id'));
    const w = writeFields(object, req.body, 'update', ['Id', 'id']);
    if ('errors' in w) {
      return reply
        .code(400)
        .send(w.errors.map((e) => ({ message: e.message, errorCode: e.code, fields: e.fields })));
    }
    ctx.store(object).update(r.seq, w.fields);
    return reply.code(204).send();
  });

  route('DELETE', '/sobjects/:object/:id', (req, reply) => {
    const object = objectParam(req);
    const r = liveRecord(object, param(req, 'id'));
    ctx.store(object).delete(r.seq);
    return reply.code(204).send();
  });
}
