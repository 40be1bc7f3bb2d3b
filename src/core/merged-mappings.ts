import type { DataModel, EntityMapping, FieldMapping } from './data-model-types.ts';
import type { FieldPlan } from './read-plan.ts';

/**
 * How the developer's data models read a connection's records: a model's fields merged from what
 * the developer mapped (on the schema, or on the provider's entity mappings) and what the customer
 * mapped on their connection. Pure, so that the mapping APIs and the sync planner merge alike.
 */

export type MappedBy = 'developer' | 'customer';

/** One field of a data model as a connection reads it. */
export interface MergedField {
  name: string;
  /** Not among the model's own fields: a mapping added it (for schemas, only a customer's can). */
  additional: boolean;
  /** The provider field it is read from, and whose mapping chose it. */
  providerField?: string;
  mappedBy?: MappedBy;
}

export function mergeFields(schema: DataModel, customer: FieldMapping[]): MergedField[] {
  const fields: MergedField[] = schema.fields.map((f) => ({
    name: f.name,
    additional: false,
    ...(f.providerField !== undefined ? { providerField: f.providerField, mappedBy: 'developer' } : {}),
  }));
  const byName = new Map(fields.map((f) => [f.name, f]));
  for (const m of customer) {
    const field = byName.get(m.field);
    if (!field) {
      const added: MergedField = {
        name: m.field,
        additional: true,
        ...(m.providerField !== undefined ? { providerField: m.providerField, mappedBy: 'customer' } : {}),
      };
      fields.push(added);
      byName.set(added.name, added);
    } else if (field.mappedBy !== 'developer' && m.providerField !== undefined) {
      field.providerField = m.providerField;
      field.mappedBy = 'customer';
    }
  }
  return fields;
}

/** An entity as a connection reads it: the customer's mapping over the developer's. */
export interface MergedEntityMapping {
  entityId: string;
  entityName: string;
  allowsAdditionalFields: boolean;
  object?: { kind: 'standard' | 'custom'; name: string; mappedBy: MappedBy };
  fields: MergedField[];
}

export function mergeEntityMappings(
  entities: DataModel[],
  developer: EntityMapping[],
  customer: EntityMapping[],
): MergedEntityMapping[] {
  const merged = entities.map<MergedEntityMapping>((e) => ({
    entityId: e.id,
    entityName: e.name,
    allowsAdditionalFields: e.allowsAdditionalFields,
    fields: e.fields.map((f) => ({ name: f.name, additional: false })),
  }));
  // Lookups by id and by field name, so that merging is linear in the mappings' size.
  const byEntity = new Map(
    merged.map((e) => [e.entityId, { target: e, fields: new Map(e.fields.map((f) => [f.name, f])) }]),
  );
  const apply = (mappings: EntityMapping[], mappedBy: MappedBy) => {
    for (const m of mappings) {
      const entry = byEntity.get(m.entityId);
      if (!entry) continue;
      const { target, fields } = entry;
      if (m.object) target.object = { ...m.object, mappedBy };
      for (const f of m.fields ?? []) {
        const field = fields.get(f.field);
        if (field) {
          field.providerField = f.providerField;
          field.mappedBy = mappedBy;
        } else {
          const added: MergedField = {
            name: f.field,
            additional: true,
            providerField: f.providerField,
            mappedBy,
          };
          target.fields.push(added);
          fields.set(added.name, added);
        }
      }
    }
  };
  apply(developer, 'developer');
  apply(customer, 'customer');
  return merged;
}

/** What a model's mapped fields make of a sync's records: each field's value under the field's name. */
export function mappedFieldPlan(fields: MergedField[]): FieldPlan | undefined {
  const map: Record<string, string> = {};
  for (const f of fields) if (f.providerField !== undefined) map[f.name] = f.providerField.toLowerCase();
  return Object.keys(map).length > 0 ? { map } : undefined;
}
