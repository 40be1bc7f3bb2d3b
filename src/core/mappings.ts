import type pg from 'pg';
import { transaction } from '../db/pool.ts';
import { connectionRef, findConnection, type ObjectFieldMappings } from './connections.ts';
import type { DataModel, EntityMapping, FieldMapping } from './data-model-types.ts';
import { DATA_MODEL_COLUMNS } from './data-models.ts';
import type { CoreDeps } from './deps.ts';
import { badRequest, notFound } from './errors.ts';
import { emitEvent } from './events.ts';
import { isUuid } from './ids.ts';
import {
  type MergedEntityMapping,
  type MergedField,
  mergeEntityMappings,
  mergeFields,
} from './merged-mappings.ts';
import { getProviderApp } from './provider-apps.ts';
import { reconcileConnectionSyncs } from './syncs.ts';

/**
 * Field mappings (customer's provider field for each schema field, per object) and entity
 * mappings (provider object and fields for each entity), merged from what the developer set on
 * the provider and what the customer set on their connection.
 */

/** A provider object's fields mapped onto the schema attached to it, for one connection. */
export interface MergedObjectFields {
  kind: 'common' | 'standard';
  object: string;
  schemaId: string;
  allowsAdditionalFields: boolean;
  fields: MergedField[];
}

async function schemasById(client: Pick<pg.ClientBase, 'query'>, projectId: string, ids: string[]) {
  const valid = ids.filter(isUuid);
  const { rows } = await client.query<DataModel>(
    `select ${DATA_MODEL_COLUMNS} from schemas where project_id = $1 and id = any($2::uuid[])`,
    [projectId, valid],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

type ObjectRef = { kind: 'common' | 'standard'; object: string };
const objectKey = (o: ObjectRef) => `${o.kind}:${o.object}`;
const isSameObject = (a: ObjectRef, b: ObjectRef) => a.kind === b.kind && a.object === b.object;

export async function listFieldMappings(
  deps: CoreDeps,
  projectId: string,
  customerRef: string,
  providerName: string,
): Promise<MergedObjectFields[]> {
  const connection = await findConnection(deps, projectId, customerRef, providerName);
  const provider = await getProviderApp(deps, projectId, connection.providerAppId);
  const schemas = await schemasById(
    deps.db,
    projectId,
    provider.objects.map((o) => o.schemaId).filter((id): id is string => !!id),
  );
  // By object, so that merging is linear in the number of objects.
  const customerFields = new Map(connection.fieldMappings.map((m) => [objectKey(m), m.fields]));
  const result: MergedObjectFields[] = [];
  for (const o of provider.objects) {
    const schema = o.schemaId ? schemas.get(o.schemaId) : undefined;
    if (!schema) continue;
    const customer = customerFields.get(objectKey(o)) ?? [];
    result.push({
      kind: o.kind,
      object: o.object,
      schemaId: schema.id,
      allowsAdditionalFields: schema.allowsAdditionalFields,
      fields: mergeFields(schema, customer),
    });
  }
  return result;
}

/** Sets a customer's field mappings for one object, replacing those it had. */
export async function updateObjectFieldMappings(
  deps: CoreDeps,
  projectId: string,
  customerRef: string,
  providerName: string,
  input: ObjectFieldMappings,
): Promise<MergedObjectFields> {
  return transaction(deps.db, async (client) => {
    const connection = await findConnection(deps, projectId, customerRef, providerName, client);
    await client.query('select 1 from connections where id = $1 for update', [connection.id]);
    const provider = await getProviderApp(deps, projectId, connection.providerAppId);
    const object = provider.objects.find((o) => isSameObject(o, input));
    const schema = object?.schemaId
      ? (await schemasById(client, projectId, [object.schemaId])).get(object.schemaId)
      : undefined;
    if (!schema) {
      throw badRequest(
        `${input.kind} object "${input.object}" has no schema attached; only such objects take field mappings`,
      );
    }
    const known = new Map(schema.fields.map((f) => [f.name, f]));
    const given = new Set(input.fields.map((m) => m.field));
    for (const m of input.fields) {
      const field = known.get(m.field);
      if (!field && !schema.allowsAdditionalFields) {
        throw badRequest(
          `field "${m.field}" is not in schema ${schema.name} and it allows no additional fields`,
        );
      }
      if (field?.providerField !== undefined && m.providerField !== undefined) {
        throw badRequest(`field "${m.field}" is already mapped to "${field.providerField}" by the schema`);
      }
    }
    const missing = schema.fields.find((f) => f.providerField === undefined && !given.has(f.name));
    if (missing)
      throw badRequest(
        `field "${missing.name}" is missing: the schema does not map it, so the customer must`,
      );

    const existed = connection.fieldMappings.some((m) => isSameObject(m, input));
    const updated = [...connection.fieldMappings.filter((m) => !isSameObject(m, input)), input];
    await client.query('update connections set field_mappings = $2, updated_at = now() where id = $1', [
      connection.id,
      JSON.stringify(updated),
    ]);
    await reconcileConnectionSyncs(client, connection.id);
    await emitEvent(deps, client, projectId, {
      type: 'field_mapping.saved',
      created: !existed,
      connection: connectionRef(connection),
      objectKind: input.kind,
      object: input.object,
      schemaId: schema.id,
    });
    return {
      kind: input.kind,
      object: input.object,
      schemaId: schema.id,
      allowsAdditionalFields: schema.allowsAdditionalFields,
      fields: mergeFields(schema, input.fields),
    };
  });
}

async function entityContext(
  deps: CoreDeps,
  client: Pick<pg.ClientBase, 'query'>,
  projectId: string,
  customerRef: string,
  providerName: string,
) {
  const connection = await findConnection(deps, projectId, customerRef, providerName, client);
  const provider = await getProviderApp(deps, projectId, connection.providerAppId);
  const { rows: entities } = await client.query<DataModel>(
    `select ${DATA_MODEL_COLUMNS} from entities where project_id = $1 order by created_at, id`,
    [projectId],
  );
  return { connection, provider, entities };
}

export async function listEntityMappings(
  deps: CoreDeps,
  projectId: string,
  customerRef: string,
  providerName: string,
): Promise<MergedEntityMapping[]> {
  const { connection, provider, entities } = await entityContext(
    deps,
    deps.db,
    projectId,
    customerRef,
    providerName,
  );
  return mergeEntityMappings(entities, provider.entityMappings, connection.entityMappings);
}

/** Sets a customer's mapping of one entity, replacing the one it had. */
export async function upsertEntityMapping(
  deps: CoreDeps,
  projectId: string,
  customerRef: string,
  providerName: string,
  mapping: EntityMapping,
): Promise<MergedEntityMapping> {
  const { entityId } = mapping;
  return transaction(deps.db, async (client) => {
    const { connection, provider, entities } = await entityContext(
      deps,
      client,
      projectId,
      customerRef,
      providerName,
    );
    const entity = entities.find((e) => e.id === entityId);
    if (!entity) throw notFound(`entity ${entityId}`);
    if (!entity.allowsAdditionalFields) {
      const known = new Set(entity.fields.map((f) => f.name));
      const extra = (mapping.fields ?? []).find((f) => !known.has(f.field));
      if (extra)
        throw badRequest(
          `field "${extra.field}" is not in entity ${entity.name}, which allows no additional fields`,
        );
    }
    const existed = connection.entityMappings.some((m) => m.entityId === entityId);
    const updated = [...connection.entityMappings.filter((m) => m.entityId !== entityId), mapping];
    await client.query('update connections set entity_mappings = $2, updated_at = now() where id = $1', [
      connection.id,
      JSON.stringify(updated),
    ]);
    await reconcileConnectionSyncs(client, connection.id);
    await emitEvent(deps, client, projectId, {
      type: 'entity_mapping.saved',
      created: !existed,
      connection: connectionRef(connection),
      entityId,
      ...(mapping.object ? { object: mapping.object } : {}),
    });
    return mergeEntityMappings([entity], provider.entityMappings, updated)[0]!;
  });
}

export async function deleteEntityMapping(
  deps: CoreDeps,
  projectId: string,
  customerRef: string,
  providerName: string,
  entityId: string,
): Promise<void> {
  await transaction(deps.db, async (client) => {
    const connection = await findConnection(deps, projectId, customerRef, providerName, client);
    const existing = connection.entityMappings.find((m) => m.entityId === entityId);
    if (!existing) throw notFound(`entity mapping for entity ${entityId}`);
    await client.query('update connections set entity_mappings = $2, updated_at = now() where id = $1', [
      connection.id,
      JSON.stringify(connection.entityMappings.filter((m) => m.entityId !== entityId)),
    ]);
    await reconcileConnectionSyncs(client, connection.id);
    await emitEvent(deps, client, projectId, {
      type: 'entity_mapping.deleted',
      connection: connectionRef(connection),
      entityId,
      ...(existing.object ? { object: existing.object } : {}),
    });
  });
}
