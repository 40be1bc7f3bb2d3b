import type pg from 'pg';
import { transaction } from '../db/pool.ts';
import {
  type ConnectionEntityMapping,
  connectionRef,
  type FieldMappingsConfig,
  findConnection,
} from './connections.ts';
import type { DataModel } from './data-models.ts';
import type { CoreDeps } from './deps.ts';
import { badRequest, notFound } from './errors.ts';
import { emitEvent } from './events.ts';
import { isUuid } from './ids.ts';
import { getProviderApp } from './provider-apps.ts';

/**
 * Field mappings (customer's provider field for each schema field, per object) and entity
 * mappings (provider object and fields for each entity), merged from what the developer set on
 * the provider and what the customer set on their connection.
 */
export interface MergedFieldMap {
  name: string;
  is_added_by_customer: boolean;
  schema_mapped_name?: string;
  customer_mapped_name?: string;
}

export interface ObjectFieldMappings {
  object_name: string;
  object_type: 'common' | 'standard';
  allow_additional_field_mappings: boolean;
  schema_id: string;
  fields: MergedFieldMap[];
}

type FieldMapping = { schema_field: string; mapped_field?: string };

function mergeFields(schema: DataModel, customer: FieldMapping[]): MergedFieldMap[] {
  const fields: MergedFieldMap[] = schema.config.fields.map((f) => ({
    name: f.name,
    is_added_by_customer: false,
    ...(f.mapped_name !== undefined ? { schema_mapped_name: f.mapped_name } : {}),
  }));
  const byName = new Map(fields.map((f) => [f.name, f]));
  for (const m of customer) {
    const field = byName.get(m.schema_field);
    if (!field) {
      const added: MergedFieldMap = {
        name: m.schema_field,
        is_added_by_customer: true,
        ...(m.mapped_field !== undefined ? { customer_mapped_name: m.mapped_field } : {}),
      };
      fields.push(added);
      byName.set(added.name, added);
    } else if (field.schema_mapped_name === undefined && m.mapped_field !== undefined) {
      field.customer_mapped_name = m.mapped_field;
    }
  }
  return fields;
}

async function schemasById(client: Pick<pg.ClientBase, 'query'>, projectId: string, ids: string[]) {
  const valid = ids.filter(isUuid);
  const { rows } = await client.query<DataModel>(
    'select id, project_id as "projectId", name, config from schemas where project_id = $1 and id = any($2::uuid[])',
    [projectId, valid],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

const KEY = { common: 'common_objects', standard: 'standard_objects' } as const;

export async function listFieldMappings(
  deps: CoreDeps,
  projectId: string,
  customerExternalId: string,
  providerName: string,
): Promise<ObjectFieldMappings[]> {
  const connection = await findConnection(deps, projectId, customerExternalId, providerName);
  const provider = await getProviderApp(deps, projectId, connection.providerAppId);
  const objects = (['common', 'standard'] as const).flatMap((type) =>
    (provider.objects[type] ?? []).map((o) => ({ ...o, type })),
  );
  const schemas = await schemasById(
    deps.db,
    projectId,
    objects.map((o) => o.schema_id).filter((id): id is string => !!id),
  );
  const result: ObjectFieldMappings[] = [];
  for (const o of objects) {
    const schema = o.schema_id ? schemas.get(o.schema_id) : undefined;
    if (!schema) continue;
    const customer =
      connection.fieldMappings[KEY[o.type]]?.find((m) => m.object === o.name)?.field_mappings ?? [];
    result.push({
      object_name: o.name,
      object_type: o.type,
      allow_additional_field_mappings: schema.config.allow_additional_field_mappings,
      schema_id: schema.id,
      fields: mergeFields(schema, customer),
    });
  }
  return result;
}

export async function updateObjectFieldMappings(
  deps: CoreDeps,
  projectId: string,
  customerExternalId: string,
  providerName: string,
  input: { name: string; type: 'common' | 'standard'; fieldMappings: FieldMapping[] },
): Promise<ObjectFieldMappings> {
  return transaction(deps.db, async (client) => {
    const connection = await findConnection(deps, projectId, customerExternalId, providerName, client);
    await client.query('select 1 from connections where id = $1 for update', [connection.id]);
    const provider = await getProviderApp(deps, projectId, connection.providerAppId);
    const object = provider.objects[input.type]?.find((o) => o.name === input.name);
    const schema = object?.schema_id
      ? (await schemasById(client, projectId, [object.schema_id])).get(object.schema_id)
      : undefined;
    if (!schema) {
      throw badRequest(
        `${input.type} object "${input.name}" has no schema attached; only such objects take field mappings`,
      );
    }
    const known = new Map(schema.config.fields.map((f) => [f.name, f]));
    const given = new Set(input.fieldMappings.map((m) => m.schema_field));
    for (const m of input.fieldMappings) {
      const field = known.get(m.schema_field);
      if (!field && !schema.config.allow_additional_field_mappings) {
        throw badRequest(
          `field "${m.schema_field}" is not in schema ${schema.name} and it allows no additional fields`,
        );
      }
      if (field?.mapped_name !== undefined && m.mapped_field !== undefined) {
        throw badRequest(
          `field "${m.schema_field}" is already mapped to "${field.mapped_name}" by the schema`,
        );
      }
    }
    const missing = schema.config.fields.find((f) => f.mapped_name === undefined && !given.has(f.name));
    if (missing)
      throw badRequest(
        `field "${missing.name}" is missing: the schema does not map it, so the customer must`,
      );

    const config: FieldMappingsConfig = structuredClone(connection.fieldMappings);
    const list = config[KEY[input.type]] ?? [];
    const existed = list.some((m) => m.object === input.name);
    config[KEY[input.type]] = [
      ...list.filter((m) => m.object !== input.name),
      { object: input.name, field_mappings: input.fieldMappings },
    ];
    await client.query('update connections set field_mappings = $2, updated_at = now() where id = $1', [
      connection.id,
      config,
    ]);
    await emitEvent(deps, client, projectId, {
      type: 'field_mapping.saved',
      created: !existed,
      connection: connectionRef(connection),
      objectKind: input.type,
      object: input.name,
      schemaId: schema.id,
    });
    return {
      object_name: input.name,
      object_type: input.type,
      allow_additional_field_mappings: schema.config.allow_additional_field_mappings,
      schema_id: schema.id,
      fields: mergeFields(schema, input.fieldMappings),
    };
  });
}

export interface MergedEntityMapping {
  entity_id: string;
  entity_name: string;
  allow_additional_field_mappings: boolean;
  object?: { type: 'standard' | 'custom'; name: string; from: 'developer' | 'customer' };
  field_mappings: {
    entity_field: string;
    mapped_field?: string;
    from?: 'developer' | 'customer';
    is_additional: boolean;
  }[];
}

function mergeEntityMappings(
  entities: DataModel[],
  developer: ConnectionEntityMapping[],
  customer: ConnectionEntityMapping[],
): MergedEntityMapping[] {
  const merged = entities.map<MergedEntityMapping>((e) => ({
    entity_id: e.id,
    entity_name: e.name,
    allow_additional_field_mappings: e.config.allow_additional_field_mappings,
    field_mappings: e.config.fields.map((f) => ({ entity_field: f.name, is_additional: false })),
  }));
  // Lookups by id and by field name, so that merging is linear in the mappings' size.
  const byEntity = new Map(
    merged.map((e) => [
      e.entity_id,
      { target: e, fields: new Map(e.field_mappings.map((f) => [f.entity_field, f])) },
    ]),
  );
  const apply = (mappings: ConnectionEntityMapping[], from: 'developer' | 'customer') => {
    for (const m of mappings) {
      const entry = byEntity.get(m.entity_id);
      if (!entry) continue;
      const { target, fields } = entry;
      if (m.object) target.object = { ...m.object, from };
      for (const f of m.field_mappings ?? []) {
        const field = fields.get(f.entity_field);
        if (field) {
          field.mapped_field = f.mapped_field;
          field.from = from;
        } else {
          const added = {
            entity_field: f.entity_field,
            mapped_field: f.mapped_field,
            from,
            is_additional: true,
          };
          target.field_mappings.push(added);
          fields.set(added.entity_field, added);
        }
      }
    }
  };
  apply(developer, 'developer');
  apply(customer, 'customer');
  return merged;
}

async function entityContext(
  deps: CoreDeps,
  client: Pick<pg.ClientBase, 'query'>,
  projectId: string,
  customerExternalId: string,
  providerName: string,
) {
  const connection = await findConnection(deps, projectId, customerExternalId, providerName, client);
  const provider = await getProviderApp(deps, projectId, connection.providerAppId);
  const { rows: entities } = await client.query<DataModel>(
    'select id, project_id as "projectId", name, config from entities where project_id = $1 order by created_at, id',
    [projectId],
  );
  return { connection, provider, entities };
}

export async function listEntityMappings(
  deps: CoreDeps,
  projectId: string,
  customerExternalId: string,
  providerName: string,
): Promise<MergedEntityMapping[]> {
  const { connection, provider, entities } = await entityContext(
    deps,
    deps.db,
    projectId,
    customerExternalId,
    providerName,
  );
  return mergeEntityMappings(entities, provider.entityMappings, connection.entityMappings);
}

export async function upsertEntityMapping(
  deps: CoreDeps,
  projectId: string,
  customerExternalId: string,
  providerName: string,
  entityId: string,
  mapping: ConnectionEntityMapping,
): Promise<MergedEntityMapping> {
  if (mapping.entity_id !== entityId) {
    throw badRequest(`body entity_id ${mapping.entity_id} does not match the path's ${entityId}`);
  }
  return transaction(deps.db, async (client) => {
    const { connection, provider, entities } = await entityContext(
      deps,
      client,
      projectId,
      customerExternalId,
      providerName,
    );
    const entity = entities.find((e) => e.id === entityId);
    if (!entity) throw notFound(`entity ${entityId}`);
    if (!entity.config.allow_additional_field_mappings) {
      const known = new Set(entity.config.fields.map((f) => f.name));
      const extra = (mapping.field_mappings ?? []).find((f) => !known.has(f.entity_field));
      if (extra)
        throw badRequest(
          `field "${extra.entity_field}" is not in entity ${entity.name}, which allows no additional fields`,
        );
    }
    const existed = connection.entityMappings.some((m) => m.entity_id === entityId);
    const updated = [...connection.entityMappings.filter((m) => m.entity_id !== entityId), mapping];
    await client.query('update connections set entity_mappings = $2, updated_at = now() where id = $1', [
      connection.id,
      JSON.stringify(updated),
    ]);
    await emitEvent(deps, client, projectId, {
      type: 'entity_mapping.saved',
      created: !existed,
      connection: connectionRef(connection),
      entityId,
      ...(mapping.object ? { object: { kind: mapping.object.type, name: mapping.object.name } } : {}),
    });
    return mergeEntityMappings([entity], provider.entityMappings, updated)[0]!;
  });
}

export async function deleteEntityMapping(
  deps: CoreDeps,
  projectId: string,
  customerExternalId: string,
  providerName: string,
  entityId: string,
): Promise<void> {
  await transaction(deps.db, async (client) => {
    const connection = await findConnection(deps, projectId, customerExternalId, providerName, client);
    const existing = connection.entityMappings.find((m) => m.entity_id === entityId);
    if (!existing) throw notFound(`entity mapping for entity ${entityId}`);
    await client.query('update connections set entity_mappings = $2, updated_at = now() where id = $1', [
      connection.id,
      JSON.stringify(connection.entityMappings.filter((m) => m.entity_id !== entityId)),
    ]);
    await emitEvent(deps, client, projectId, {
      type: 'entity_mapping.deleted',
      connection: connectionRef(connection),
      entityId,
      ...(existing.object ? { object: { kind: existing.object.type, name: existing.object.name } } : {}),
    });
  });
}
