import { transaction } from '../db/pool.ts';
import type { DataModel, DataModelField, DataModelInput } from './data-model-types.ts';
import type { CoreDeps } from './deps.ts';
import { badRequest, conflict, notFound } from './errors.ts';
import { isUuid } from './ids.ts';
import { reconcileConnectionSyncs } from './syncs.ts';
import { firstDuplicate } from './validation.ts';

/**
 * The developer's own data models that provider fields are mapped onto: schemas (per-object
 * field lists) and entities (provider-independent models). Both are a name plus a field list.
 */
export type DataModelKind = 'schemas' | 'entities';

const LABEL: Record<DataModelKind, string> = { schemas: 'schema', entities: 'entity' };
/** The columns of a `DataModel`, for queries on `schemas` or `entities`. */
export const DATA_MODEL_COLUMNS =
  'id, project_id as "projectId", name, fields, allows_additional_fields as "allowsAdditionalFields"';

export async function listDataModels(
  deps: CoreDeps,
  kind: DataModelKind,
  projectId: string,
): Promise<DataModel[]> {
  const { rows } = await deps.db.query<DataModel>(
    `select ${DATA_MODEL_COLUMNS} from ${kind} where project_id = $1 order by created_at, id`,
    [projectId],
  );
  return rows;
}

export async function getDataModel(
  deps: CoreDeps,
  kind: DataModelKind,
  projectId: string,
  id: string,
): Promise<DataModel> {
  if (!isUuid(id)) throw notFound(LABEL[kind]);
  const { rows } = await deps.db.query<DataModel>(
    `select ${DATA_MODEL_COLUMNS} from ${kind} where project_id = $1 and id = $2`,
    [projectId, id],
  );
  if (!rows[0]) throw notFound(LABEL[kind]);
  return rows[0];
}

function checkFields(kind: DataModelKind, fields: DataModelField[]): void {
  const dup = firstDuplicate(fields.map((f) => f.name));
  if (dup !== undefined) throw badRequest(`${LABEL[kind]} field "${dup}" is listed twice`);
}

export async function createDataModel(
  deps: CoreDeps,
  kind: DataModelKind,
  projectId: string,
  input: DataModelInput,
): Promise<DataModel> {
  checkFields(kind, input.fields);
  const { rows } = await deps.db.query<DataModel>(
    `insert into ${kind} (project_id, name, fields, allows_additional_fields) values ($1, $2, $3, $4)
     on conflict (project_id, name) do nothing returning ${DATA_MODEL_COLUMNS}`,
    [projectId, input.name, JSON.stringify(input.fields), input.allowsAdditionalFields],
  );
  if (!rows[0]) throw conflict(`a ${LABEL[kind]} named "${input.name}" already exists`);
  return rows[0];
}

export async function updateDataModel(
  deps: CoreDeps,
  kind: DataModelKind,
  projectId: string,
  id: string,
  input: DataModelInput,
): Promise<DataModel> {
  await getDataModel(deps, kind, projectId, id);
  checkFields(kind, input.fields);
  try {
    return await transaction(deps.db, async (client) => {
      const { rows } = await client.query<DataModel>(
        `update ${kind} set name = $3, fields = $4, allows_additional_fields = $5, updated_at = now()
         where project_id = $1 and id = $2 returning ${DATA_MODEL_COLUMNS}`,
        [projectId, id, input.name, JSON.stringify(input.fields), input.allowsAdditionalFields],
      );
      // The syncs that map records through it take the new fields (and an entity's new table).
      const { rows: using } = await client.query<{ id: string }>(
        kind === 'schemas'
          ? `select c.id from connections c join provider_apps p on p.id = c.provider_app_id
              where p.project_id = $1
                and exists (select 1 from jsonb_array_elements(p.objects) o where o->>'schemaId' = $2)`
          : `select distinct connection_id as id from syncs
              where project_id = $1 and object_type = 'entity' and object = $2`,
        [projectId, id],
      );
      for (const c of using) await reconcileConnectionSyncs(client, c.id);
      return rows[0]!;
    });
  } catch (err) {
    if ((err as { code?: string }).code === '23505')
      throw conflict(`a ${LABEL[kind]} named "${input.name}" already exists`);
    throw err;
  }
}

/** A model still referenced by a provider's objects or entity mappings cannot be deleted. */
export async function deleteDataModel(
  deps: CoreDeps,
  kind: DataModelKind,
  projectId: string,
  id: string,
): Promise<void> {
  await getDataModel(deps, kind, projectId, id);
  const usedBy =
    kind === 'schemas'
      ? `select provider_name from provider_apps where project_id = $1
           and exists (select 1 from jsonb_array_elements(objects) o where o->>'schemaId' = $2)`
      : `select provider_name from provider_apps where project_id = $1
           and exists (select 1 from jsonb_array_elements(entity_mappings) m where m->>'entityId' = $2)`;
  const { rows } = await deps.db.query<{ provider_name: string }>(usedBy, [projectId, id]);
  if (rows.length > 0) {
    throw conflict(`${LABEL[kind]} is used by provider(s): ${rows.map((r) => r.provider_name).join(', ')}`);
  }
  await deps.db.query(`delete from ${kind} where project_id = $1 and id = $2`, [projectId, id]);
}
