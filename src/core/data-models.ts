import type { CoreDeps } from './deps.ts';
import { badRequest, conflict, notFound } from './errors.ts';
import { isUuid } from './ids.ts';
import { firstDuplicate } from './validation.ts';

/**
 * The developer's own data models that provider fields are mapped onto: schemas (per-object
 * field lists) and entities (provider-independent models). Both are a name plus a field list.
 */
export type DataModelKind = 'schemas' | 'entities';

export interface DataModel {
  id: string;
  projectId: string;
  name: string;
  config: {
    fields: { name: string; mapped_name?: string }[];
    allow_additional_field_mappings: boolean;
  };
}

const LABEL: Record<DataModelKind, string> = { schemas: 'schema', entities: 'entity' };
const columns = 'id, project_id as "projectId", name, config';

export async function listDataModels(
  deps: CoreDeps,
  kind: DataModelKind,
  projectId: string,
): Promise<DataModel[]> {
  const { rows } = await deps.db.query<DataModel>(
    `select ${columns} from ${kind} where project_id = $1 order by created_at, id`,
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
    `select ${columns} from ${kind} where project_id = $1 and id = $2`,
    [projectId, id],
  );
  if (!rows[0]) throw notFound(LABEL[kind]);
  return rows[0];
}

function checkFields(kind: DataModelKind, config: DataModel['config']): void {
  const dup = firstDuplicate(config.fields.map((f) => f.name));
  if (dup !== undefined) throw badRequest(`${LABEL[kind]} field "${dup}" is listed twice`);
}

export async function createDataModel(
  deps: CoreDeps,
  kind: DataModelKind,
  projectId: string,
  input: { name: string; config: DataModel['config'] },
): Promise<DataModel> {
  checkFields(kind, input.config);
  const { rows } = await deps.db.query<DataModel>(
    `insert into ${kind} (project_id, name, config) values ($1, $2, $3)
     on conflict (project_id, name) do nothing returning ${columns}`,
    [projectId, input.name, input.config],
  );
  if (!rows[0]) throw conflict(`a ${LABEL[kind]} named "${input.name}" already exists`);
  return rows[0];
}

export async function updateDataModel(
  deps: CoreDeps,
  kind: DataModelKind,
  projectId: string,
  id: string,
  input: { name: string; config: DataModel['config'] },
): Promise<DataModel> {
  await getDataModel(deps, kind, projectId, id);
  checkFields(kind, input.config);
  try {
    const { rows } = await deps.db.query<DataModel>(
      `update ${kind} set name = $3, config = $4, updated_at = now() where project_id = $1 and id = $2
       returning ${columns}`,
      [projectId, id, input.name, input.config],
    );
    return rows[0]!;
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
      ? `select provider_name from provider_apps where project_id = $1 and (
           exists (select 1 from jsonb_array_elements(coalesce(objects->'common', '[]')) o where o->>'schema_id' = $2)
        or exists (select 1 from jsonb_array_elements(coalesce(objects->'standard', '[]')) o where o->>'schema_id' = $2))`
      : `select provider_name from provider_apps where project_id = $1
           and exists (select 1 from jsonb_array_elements(entity_mappings) m where m->>'entity_id' = $2)`;
  const { rows } = await deps.db.query<{ provider_name: string }>(usedBy, [projectId, id]);
  if (rows.length > 0) {
    throw conflict(`${LABEL[kind]} is used by provider(s): ${rows.map((r) => r.provider_name).join(', ')}`);
  }
  await deps.db.query(`delete from ${kind} where project_id = $1 and id = $2`, [projectId, id]);
}
