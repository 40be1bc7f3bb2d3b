import type { SimContext } from '../core/server.ts';
import type { SimRecord } from '../core/store.ts';
import { jsonValue, makePlan } from './engine.ts';
import { type RecordError, SfError } from './errors.ts';
import {
  type FieldDef,
  fieldValue,
  id15Of,
  numberOf,
  type SalesforceObject,
  SCHEMAS,
  to18,
} from './schema.ts';
import type { Query } from './soql.ts';

/** Records as the REST API reads and writes them, shared by the sObject, query and collection routes. */

export const schemaOf = (object: SalesforceObject) => SCHEMAS.get(object)!;
const recordUrl = (version: string, object: string, id: string) =>
  `/services/data/${version}/sobjects/${object}/${id}`;

export function recordJson(
  ctx: SimContext,
  object: SalesforceObject,
  r: SimRecord,
  fields: FieldDef[],
  version: string,
): Record<string, unknown> {
  const accounts = ctx.store('Account').size;
  const id = fieldValue(object, r, 'Id', accounts) as string;
  const out: Record<string, unknown> = { attributes: { type: object, url: recordUrl(version, object, id) } };
  for (const f of fields) out[f.name] = jsonValue(f, fieldValue(object, r, f.name, accounts));
  return out;
}

/**
 * Validates the fields of a create or update body against the object's describe, converting them
 * to stored values; returns the errors Salesforce would report instead when there are any.
 */
export function writeFields(
  object: SalesforceObject,
  body: unknown,
  mode: 'create' | 'update',
  ignore: string[] = [],
): { fields: Record<string, unknown> } | { errors: RecordError[] } {
  const s = schemaOf(object);
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return {
      errors: [
        {
          code: 'JSON_PARSER_ERROR',
          message: 'The request body is either invalid or incomplete.',
          fields: [],
        },
      ],
    };
  }
  const fields: Record<string, unknown> = {};
  const errors: RecordError[] = [];
  const readOnly: string[] = [];
  for (const [key, raw] of Object.entries(body as Record<string, unknown>)) {
    if (key === 'attributes' || ignore.includes(key)) continue;
    const f = s.byLowerName.get(key.toLowerCase());
    if (!f) {
      errors.push({
        code: 'INVALID_FIELD',
        message: `No such column '${key}' on sobject of type ${object}`,
        fields: [],
      });
      continue;
    }
    if (!(mode === 'create' ? f.createable : f.updateable)) {
      readOnly.push(f.name);
      continue;
    }
    const wrong = () =>
      errors.push({
        code: 'INVALID_TYPE_ON_FIELD_IN_RECORD',
        message: `${f.label}: value not of required type: ${typeof raw === 'object' ? JSON.stringify(raw) : String(raw)}`,
        fields: [f.name],
      });
    if (raw === null || raw === '') {
      fields[f.name] = null;
      continue;
    }
    switch (f.type) {
      case 'boolean':
        if (typeof raw === 'boolean') fields[f.name] = raw;
        else if (raw === 'true' || raw === 'false') fields[f.name] = raw === 'true';
        else wrong();
        break;
      case 'int':
      case 'double':
      case 'currency':
      case 'percent': {
        const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : Number.NaN;
        if (!Number.isFinite(n) || (f.type === 'int' && !Number.isInteger(n))) wrong();
        else fields[f.name] = n;
        break;
      }
      case 'date':
        if (typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(raw) && !Number.isNaN(Date.parse(raw))) {
          fields[f.name] = raw;
        } else wrong();
        break;
      case 'reference': {
        const target =
          f.referenceTo?.[0] === 'User' ? '005' : schemaOf(f.referenceTo![0] as SalesforceObject).keyPrefix;
        const id = typeof raw === 'string' ? id15Of(raw) : undefined;
        if (!id || !id.startsWith(target)) {
          errors.push({
            code: 'MALFORMED_ID',
            message: `${f.label}: id value of incorrect type: ${String(raw)}`,
            fields: [f.name],
          });
        } else fields[f.name] = to18(id);
        break;
      }
      default: {
        if (typeof raw === 'object') {
          wrong();
          break;
        }
        const text = String(raw);
        if (f.length && text.length > f.length) {
          errors.push({
            code: 'STRING_TOO_LONG',
            message: `${f.label}: data value too large: ${text.slice(0, 40)} (max length=${f.length})`,
            fields: [f.name],
          });
        } else if (f.type === 'email' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(text)) {
          errors.push({
            code: 'INVALID_EMAIL_ADDRESS',
            message: `${f.label}: invalid email address: ${text}`,
            fields: [f.name],
          });
        } else fields[f.name] = text;
      }
    }
  }
  if (readOnly.length > 0) {
    errors.push({
      code: 'INVALID_FIELD_FOR_INSERT_UPDATE',
      message: `Unable to create/update fields: ${readOnly.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
      fields: readOnly,
    });
  }
  const missing = s.required.filter((name) =>
    mode === 'create'
      ? fields[name] === undefined || fields[name] === null
      : name in fields && fields[name] === null,
  );
  if (missing.length > 0) {
    errors.push({
      code: 'REQUIRED_FIELD_MISSING',
      message: `Required fields are missing: [${missing.join(', ')}]`,
      fields: missing,
    });
  }
  return errors.length > 0 ? { errors } : { fields };
}

/** The fields a `fields=` list names, in its order; every field when there is no list. */
export const selectFields = (object: SalesforceObject, list: string | undefined): FieldDef[] => {
  const s = schemaOf(object);
  if (!list) return s.fields;
  return list
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean)
    .map((name) => {
      const f = s.byLowerName.get(name.toLowerCase());
      if (!f)
        throw new SfError(400, 'INVALID_FIELD', `No such column '${name}' on sobject of type ${object}`);
      return f;
    });
};

/** A plan for a parsed query over the simulator's store. */
export function planFor(ctx: SimContext, query: Query, includeDeleted: boolean) {
  const accounts = () => ctx.store('Account').size;
  return makePlan(query, ctx.store(query.object), includeDeleted, accounts, (id15) =>
    numberOf(schemaOf(query.object).keyPrefix, id15),
  );
}
