import type { ObjectFieldMappings } from '../../core/connections.ts';
import type { DataModel, DataModelInput, EntityMapping, FieldMapping } from '../../core/data-model-types.ts';
import type { ProviderAppObject } from '../../core/provider-apps.ts';

/**
 * Supaglue's schema and entity configs, provider objects, field mappings and entity mappings,
 * translated to and from the core's data models and mappings. Everything these shapes can say has
 * a place in the core types, so they read back as written (a provider's empty object lists read
 * back absent). The merged views of mappings are answers only: serializers.ts renders them.
 */

/** A schema's or an entity's `config` (schema_config, entity_config). */
export interface DataModelConfig {
  fields: { name: string; mapped_name?: string }[];
  allow_additional_field_mappings: boolean;
}

/** A provider's `objects`: the common and standard objects it reads, with their schemas. */
export interface ObjectsConfig {
  common?: { name: string; schema_id?: string }[];
  standard?: { name: string; schema_id?: string }[];
}

interface SchemaFieldMapping {
  schema_field: string;
  mapped_field?: string;
}

interface EntityFieldMapping {
  entity_field: string;
  /** Required in requests by the API's schema. */
  mapped_field?: string;
}

/** An entity mapping, the developer's on a provider or a customer's on a connection. */
export interface EntityMappingConfig {
  entity_id: string;
  object?: { type: 'standard' | 'custom'; name: string };
  field_mappings?: EntityFieldMapping[];
}

/** A connection's `schema_mappings_config`: the customer's field mappings, per object. */
export interface SchemaMappingsConfig {
  common_objects?: { object: string; field_mappings: SchemaFieldMapping[] }[];
  standard_objects?: { object: string; field_mappings: SchemaFieldMapping[] }[];
}

/** The body of PUT /field_mappings/_update_object. */
export interface ObjectFieldMappingsUpdate {
  name: string;
  type: 'common' | 'standard';
  field_mappings: SchemaFieldMapping[];
}

const OBJECT_KINDS = ['common', 'standard'] as const;
const MAPPING_LISTS = [
  ['common', 'common_objects'],
  ['standard', 'standard_objects'],
] as const;

export function dataModelInputOf(body: { name: string; config: DataModelConfig }): DataModelInput {
  return {
    name: body.name,
    fields: body.config.fields.map((f) => ({
      name: f.name,
      ...(f.mapped_name === undefined ? {} : { providerField: f.mapped_name }),
    })),
    allowsAdditionalFields: body.config.allow_additional_field_mappings,
  };
}

export function dataModelConfigOf(m: DataModel): DataModelConfig {
  return {
    fields: m.fields.map((f) => ({
      name: f.name,
      ...(f.providerField === undefined ? {} : { mapped_name: f.providerField }),
    })),
    allow_additional_field_mappings: m.allowsAdditionalFields,
  };
}

export function providerAppObjectsOf(c: ObjectsConfig): ProviderAppObject[] {
  return OBJECT_KINDS.flatMap((kind) =>
    (c[kind] ?? []).map((o) => ({
      kind,
      object: o.name,
      ...(o.schema_id === undefined ? {} : { schemaId: o.schema_id }),
    })),
  );
}

export function objectsConfigOf(objects: ProviderAppObject[]): ObjectsConfig {
  const config: ObjectsConfig = {};
  for (const kind of OBJECT_KINDS) {
    const listed = objects
      .filter((o) => o.kind === kind)
      .map((o) => ({ name: o.object, ...(o.schemaId === undefined ? {} : { schema_id: o.schemaId }) }));
    if (listed.length > 0) config[kind] = listed;
  }
  return config;
}

const fieldMappingOf = (m: SchemaFieldMapping | EntityFieldMapping, field: string): FieldMapping => ({
  field,
  ...(m.mapped_field === undefined ? {} : { providerField: m.mapped_field }),
});

export function entityMappingOf(c: EntityMappingConfig): EntityMapping {
  return {
    entityId: c.entity_id,
    ...(c.object ? { object: { kind: c.object.type, name: c.object.name } } : {}),
    ...(c.field_mappings ? { fields: c.field_mappings.map((m) => fieldMappingOf(m, m.entity_field)) } : {}),
  };
}

export function entityMappingConfigOf(m: EntityMapping): EntityMappingConfig {
  return {
    entity_id: m.entityId,
    ...(m.object ? { object: { type: m.object.kind, name: m.object.name } } : {}),
    ...(m.fields
      ? {
          field_mappings: m.fields.map((f) => ({
            entity_field: f.field,
            ...(f.providerField === undefined ? {} : { mapped_field: f.providerField }),
          })),
        }
      : {}),
  };
}

export function objectFieldMappingsOf(u: ObjectFieldMappingsUpdate): ObjectFieldMappings {
  return {
    kind: u.type,
    object: u.name,
    fields: u.field_mappings.map((m) => fieldMappingOf(m, m.schema_field)),
  };
}

export function schemaMappingsConfigOf(mappings: ObjectFieldMappings[]): SchemaMappingsConfig {
  const config: SchemaMappingsConfig = {};
  for (const [kind, key] of MAPPING_LISTS) {
    const listed = mappings
      .filter((m) => m.kind === kind)
      .map((m) => ({
        object: m.object,
        field_mappings: m.fields.map((f) => ({
          schema_field: f.field,
          ...(f.providerField === undefined ? {} : { mapped_field: f.providerField }),
        })),
      }));
    if (listed.length > 0) config[key] = listed;
  }
  return config;
}
