import type { SimRecord } from '../core/store.ts';
import { type RecordError, SfError } from './errors.ts';
import type { OrgState } from './org.ts';
import { recordJson, schemaOf, selectFields, writeFields } from './records.ts';
import { objectParam, queryParams, type RestRoute } from './rest.ts';
import { createDefaults, numberOf, objectNamed, objectOfId, type SalesforceObject, sfId } from './schema.ts';

/**
 * sObject Collections: create, update or delete up to 200 records in one call, all or none, and
 * retrieve many records by id.
 */

const COLLECTION_MAX = 200;

export function registerCollectionRoutes(route: RestRoute, { ctx }: OrgState) {
  type Result = {
    id?: string;
    success: boolean;
    errors: { statusCode: string; message: string; fields: string[] }[];
  };
  const failure = (errors: RecordError[]): Result => ({
    success: false,
    errors: errors.map((e) => ({ statusCode: e.code, message: e.message, fields: e.fields })),
  });
  const rolledBack = failure([
    {
      code: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
      message:
        'Record rolled back because not all records were valid and the request was using AllOrNone header',
      fields: [],
    },
  ]);
  const collection = (body: unknown) => {
    const b = (body ?? {}) as { allOrNone?: unknown; records?: unknown };
    if (!Array.isArray(b.records)) throw new SfError(400, 'JSON_PARSER_ERROR', 'records is required');
    if (b.records.length > COLLECTION_MAX) {
      throw new SfError(
        400,
        'EXCEEDED_ID_LIMIT',
        `record limit reached. cannot submit more than ${COLLECTION_MAX} records into this call`,
      );
    }
    return {
      allOrNone: b.allOrNone === true || b.allOrNone === 'true',
      records: b.records as Record<string, unknown>[],
    };
  };
  /** Runs validated operations all or none: `prepared` holds either errors or the write to apply. */
  const finish = (allOrNone: boolean, prepared: ({ errors: RecordError[] } | { apply: () => string })[]) => {
    const failed = prepared.some((p) => 'errors' in p);
    return prepared.map((p): Result => {
      if ('errors' in p) return failure(p.errors);
      if (allOrNone && failed) return rolledBack;
      return { id: p.apply(), success: true, errors: [] };
    });
  };
  type Failed = { errors: RecordError[] };
  const typeOf = (rec: Record<string, unknown>): { object: SalesforceObject } | Failed => {
    const type = (rec?.attributes as { type?: unknown } | undefined)?.type;
    const object = typeof type === 'string' ? objectNamed(type) : undefined;
    return object
      ? { object }
      : {
          errors: [
            {
              code: 'INVALID_TYPE',
              message: type
                ? `sObject type '${String(type)}' is not supported.`
                : 'Must send a concrete entity type.',
              fields: [],
            },
          ],
        };
  };
  /** A record an id names for an update or delete, or why there is none. */
  const target = (
    id: unknown,
    expected?: SalesforceObject,
  ): { object: SalesforceObject; r: SimRecord } | Failed => {
    const text = typeof id === 'string' ? id : '';
    const object = objectOfId(text);
    if (!text)
      return {
        errors: [{ code: 'MISSING_ARGUMENT', message: 'Id not specified in an update call', fields: ['Id'] }],
      };
    if (!object || (expected && object !== expected)) {
      return { errors: [{ code: 'MALFORMED_ID', message: `malformed id ${text}`, fields: ['Id'] }] };
    }
    const r = ctx.store(object).get(numberOf(schemaOf(object).keyPrefix, text)!);
    if (!r)
      return {
        errors: [{ code: 'INVALID_CROSS_REFERENCE_KEY', message: 'invalid cross reference id', fields: [] }],
      };
    if (r.deleted)
      return { errors: [{ code: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }] };
    return { object, r };
  };

  route('POST', '/composite/sobjects', (req) => {
    const { allOrNone, records } = collection(req.body);
    return finish(
      allOrNone,
      records.map((rec) => {
        const t = typeOf(rec);
        if ('errors' in t) return t;
        if (rec && ('Id' in rec || 'id' in rec)) {
          return {
            errors: [
              {
                code: 'INVALID_FIELD_FOR_INSERT_UPDATE',
                message: 'cannot specify Id in an insert call',
                fields: ['Id'],
              },
            ],
          };
        }
        const w = writeFields(t.object, rec, 'create');
        if ('errors' in w) return w;
        return {
          apply: () =>
            sfId(
              schemaOf(t.object).keyPrefix,
              ctx.store(t.object).create(createDefaults(t.object, w.fields)).seq,
            ),
        };
      }),
    );
  });

  route('PATCH', '/composite/sobjects', (req) => {
    const { allOrNone, records } = collection(req.body);
    return finish(
      allOrNone,
      records.map((rec) => {
        const t = typeOf(rec);
        if ('errors' in t) return t;
        const found = target(rec.id ?? rec.Id, t.object);
        if ('errors' in found) return found;
        const w = writeFields(t.object, rec, 'update', ['Id', 'id']);
        if ('errors' in w) return w;
        return {
          apply: () => {
            ctx.store(t.object).update(found.r.seq, w.fields);
            return sfId(schemaOf(t.object).keyPrefix, found.r.seq);
          },
        };
      }),
    );
  });

  route('DELETE', '/composite/sobjects', (req) => {
    const q = queryParams(req);
    const ids = (q.ids ?? '').split(',').filter(Boolean);
    if (ids.length === 0) throw new SfError(400, 'MISSING_ARGUMENT', 'ids is required');
    if (ids.length > COLLECTION_MAX) {
      throw new SfError(
        400,
        'EXCEEDED_ID_LIMIT',
        `record limit reached. cannot submit more than ${COLLECTION_MAX} records into this call`,
      );
    }
    return finish(
      q.allOrNone === 'true',
      ids.map((id) => {
        const found = target(id);
        if ('errors' in found) return found;
        return {
          apply: () => {
            ctx.store(found.object).delete(found.r.seq);
            return sfId(schemaOf(found.object).keyPrefix, found.r.seq);
          },
        };
      }),
    );
  });

  const retrieveMany = (object: SalesforceObject, ids: unknown, fields: unknown, v: string) => {
    const idList = Array.isArray(ids)
      ? ids.map(String)
      : String(ids ?? '')
          .split(',')
          .filter(Boolean);
    const fieldList = Array.isArray(fields) ? fields.join(',') : fields ? String(fields) : '';
    if (idList.length === 0 || !fieldList)
      throw new SfError(400, 'MISSING_ARGUMENT', 'ids and fields are required');
    if (idList.length > 2000)
      throw new SfError(400, 'EXCEEDED_ID_LIMIT', 'cannot retrieve more than 2000 records');
    const selected = selectFields(object, fieldList);
    return idList.map((id) => {
      const n = numberOf(schemaOf(object).keyPrefix, id);
      const r = n === undefined ? undefined : ctx.store(object).get(n);
      return r && !r.deleted ? recordJson(ctx, object, r, selected, v) : null;
    });
  };
  route('GET', '/composite/sobjects/:object', (req, _reply, v) =>
    retrieveMany(objectParam(req), queryParams(req).ids, queryParams(req).fields, v),
  );
  route('POST', '/composite/sobjects/:object', (req, _reply, v) => {
    const body = (req.body ?? {}) as { ids?: unknown; fields?: unknown };
    return retrieveMany(objectParam(req), body.ids, body.fields, v);
  });
}
