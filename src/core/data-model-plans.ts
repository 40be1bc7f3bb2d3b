import type pg from 'pg';
import type { DataModel, EntityMapping, FieldMapping } from './data-model-types.ts';
import { mappedFieldPlan, mergeEntityMappings, mergeFields } from './merged-mappings.ts';
import type { PlannedSync } from './read-plan.ts';

/**
 * What the developer's data models make of a connection's syncs: an object with a schema attached
 * delivers each schema field's value under its name (as the schema and the customer mapped it), and
 * an entity reads the provider object its merged mapping names, into its own table, with the
 * entity's fields mapped the same way.
 */
export async function withDataModels(
  client: pg.ClientBase,
  connectionId: string,
  planned: PlannedSync[],
): Promise<PlannedSync[]> {
  if (planned.length === 0) return planned;
  const { rows } = await client.query<{
    projectId: string;
    fieldMappings: { kind: string; object: string; fields: FieldMapping[] }[];
    customerEntities: EntityMapping[];
    objects: { kind: string; object: string; schemaId?: string }[];
    developerEntities: EntityMapping[];
  }>(
    `select c.project_id as "projectId", c.field_mappings as "fieldMappings", c.entity_mappings as "customerEntities",
            p.objects, p.entity_mappings as "developerEntities"
       from connections c join provider_apps p on p.id = c.provider_app_id where c.id = $1`,
    [connectionId],
  );
  const row = rows[0];
  if (!row) return planned;
  const schemaIds = row.objects.flatMap((o) => (o.schemaId ? [o.schemaId] : []));
  const entityIds = planned.flatMap((p) => (p.kind === 'entity' ? [p.object] : []));
  if (schemaIds.length === 0 && entityIds.length === 0) return planned;
  const models = async (table: 'schemas' | 'entities', ids: string[]) => {
    if (ids.length === 0) return new Map<string, DataModel>();
    const { rows: found } = await client.query<DataModel>(
      `select id, project_id as "projectId", name, fields, allows_additional_fields as "allowsAdditionalFields"
         from ${table} where project_id = $1 and id::text = any($2::text[])`,
      [row.projectId, ids],
    );
    return new Map(found.map((m) => [m.id, m]));
  };
  const schemas = await models('schemas', schemaIds);
  const entities = await models('entities', entityIds);
  const key = (kind: string, object: string) => `${kind}:${object}`;
  const schemaOf = new Map(
    row.objects.map((o) => [key(o.kind, o.object), o.schemaId && schemas.get(o.schemaId)]),
  );
  const customerFields = new Map(row.fieldMappings.map((m) => [key(m.kind, m.object), m.fields]));

  return planned.map((p): PlannedSync => {
    if (p.kind === 'entity') {
      const entity = entities.get(p.object);
      if (!entity) return p;
      const [merged] = mergeEntityMappings([entity], row.developerEntities, row.customerEntities);
      const fields = mappedFieldPlan(merged!.fields);
      const reads = merged!.object && { kind: merged!.object.kind, object: merged!.object.name };
      return {
        ...p,
        plan: {
          ...p.plan,
          defaultTable: `entity_${entity.name}`,
          ...(reads ? { reads } : {}),
          ...(fields ? { fields } : {}),
        },
      };
    }
    const schema = schemaOf.get(key(p.kind, p.object));
    // An installation's own field choices (Platform API) come first; schemas are the Management API's.
    if (!schema || p.plan.fields) return p;
    const fields = mappedFieldPlan(mergeFields(schema, customerFields.get(key(p.kind, p.object)) ?? []));
    return fields ? { ...p, plan: { ...p.plan, fields } } : p;
  });
}
