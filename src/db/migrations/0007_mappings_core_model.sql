-- Data models, provider objects, field mappings and entity mappings in the core's words
-- (src/core/data-models.ts, provider-apps.ts, connections.ts), replacing the Supaglue JSON stored
-- as it came. Existing rows are converted in place, keeping every list's order.

-- Mappings of model fields to provider fields: {schema_field | entity_field, mapped_field?}
-- become {field, providerField?}.
create function pg_temp.field_mappings(mappings jsonb, field_key text) returns jsonb language sql immutable as $$
  select coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
           'field', m.value->field_key, 'providerField', m.value->'mapped_field')) order by m.position), '[]')
    from jsonb_array_elements(mappings) with ordinality as m (value, position)
$$;

-- {entity_id, object?: {type, name}, field_mappings?} becomes {entityId, object?: {kind, name}, fields?}.
create function pg_temp.entity_mappings(mappings jsonb) returns jsonb language sql immutable as $$
  select coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
           'entityId', m.value->'entity_id',
           'object', case when m.value ? 'object' then jsonb_build_object(
               'kind', m.value->'object'->'type', 'name', m.value->'object'->'name') end,
           'fields', case when m.value ? 'field_mappings'
               then pg_temp.field_mappings(m.value->'field_mappings', 'entity_field') end))
         order by m.position), '[]')
    from jsonb_array_elements(mappings) with ordinality as m (value, position)
$$;

-- A data model's fields: {name, mapped_name?} becomes {name, providerField?}.
create function pg_temp.model_fields(fields jsonb) returns jsonb language sql immutable as $$
  select coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
           'name', f.value->'name', 'providerField', f.value->'mapped_name')) order by f.position), '[]')
    from jsonb_array_elements(coalesce(fields, '[]')) with ordinality as f (value, position)
$$;

alter table trellis.schemas add column fields jsonb, add column allows_additional_fields boolean;
update trellis.schemas set fields = pg_temp.model_fields(config->'fields'),
  allows_additional_fields = coalesce((config->>'allow_additional_field_mappings')::boolean, false);
alter table trellis.schemas
  alter column fields set not null,
  alter column allows_additional_fields set not null,
  drop column config;

alter table trellis.entities add column fields jsonb, add column allows_additional_fields boolean;
update trellis.entities set fields = pg_temp.model_fields(config->'fields'),
  allows_additional_fields = coalesce((config->>'allow_additional_field_mappings')::boolean, false);
alter table trellis.entities
  alter column fields set not null,
  alter column allows_additional_fields set not null,
  drop column config;

-- A provider app's objects: {common?: [{name, schema_id?}], standard?: [...]} becomes one list of
-- {kind, object, schemaId?}, common objects first.
update trellis.provider_apps set
  objects = (
    select coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
             'kind', l.kind, 'object', x.value->'name', 'schemaId', x.value->'schema_id'))
           order by l.list, x.position), '[]')
      from (values (1, 'common'), (2, 'standard')) as l (list, kind)
      cross join lateral jsonb_array_elements(coalesce(objects->l.kind, '[]')) with ordinality as x (value, position)),
  entity_mappings = pg_temp.entity_mappings(entity_mappings);
alter table trellis.provider_apps alter column objects set default '[]';

-- A connection's field mappings: {common_objects?: [{object, field_mappings}], standard_objects?}
-- becomes one list of {kind, object, fields}, common objects first.
update trellis.connections set
  field_mappings = (
    select coalesce(jsonb_agg(jsonb_build_object(
             'kind', l.kind, 'object', x.value->'object',
             'fields', pg_temp.field_mappings(x.value->'field_mappings', 'schema_field'))
           order by l.list, x.position), '[]')
      from (values (1, 'common', 'common_objects'), (2, 'standard', 'standard_objects')) as l (list, kind, key)
      cross join lateral jsonb_array_elements(coalesce(field_mappings->l.key, '[]')) with ordinality as x (value, position)),
  entity_mappings = pg_temp.entity_mappings(entity_mappings);
alter table trellis.connections alter column field_mappings set default '[]';
