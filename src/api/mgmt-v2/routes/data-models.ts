import type { FastifyInstance } from 'fastify';
import {
  createDataModel,
  type DataModelKind,
  deleteDataModel,
  getDataModel,
  listDataModels,
  updateDataModel,
} from '../../../core/data-models.ts';
import { type DataModelConfig, dataModelInputOf } from '../mapping-translation.ts';
import type { RouteOptions } from '../route-context.ts';
import * as to from '../serializers.ts';

type Body = { name: string; config: DataModelConfig };

/** Schemas and entities have the same five operations. */
const SURFACES: {
  kind: DataModelKind;
  path: string;
  param: string;
  ops: [string, string, string, string, string];
}[] = [
  {
    kind: 'schemas',
    path: '/schemas',
    param: 'schema_id',
    ops: ['getSchemas', 'createSchema', 'getSchema', 'updateSchema', 'deleteSchema'],
  },
  {
    kind: 'entities',
    path: '/entities',
    param: 'entity_id',
    ops: ['getEntities', 'createEntity', 'getEntity', 'updateEntity', 'deleteEntity'],
  },
];

export async function dataModelRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  for (const { kind, path, param, ops } of SURFACES) {
    const [list, create, get, update, remove] = ops;
    const item = `${path}/:${param}`;
    type Params = Record<string, string>;

    app.get(path, { config: { operationId: list } }, async (req) =>
      (await listDataModels(deps, kind, req.projectId)).map(to.dataModel),
    );
    app.post<{ Body: Body }>(path, { config: { operationId: create } }, async (req, reply) =>
      reply
        .code(201)
        .send(to.dataModel(await createDataModel(deps, kind, req.projectId, dataModelInputOf(req.body)))),
    );
    app.get<{ Params: Params }>(item, { config: { operationId: get } }, async (req) =>
      to.dataModel(await getDataModel(deps, kind, req.projectId, req.params[param]!)),
    );
    app.put<{ Params: Params; Body: Body }>(item, { config: { operationId: update } }, async (req) =>
      to.dataModel(
        await updateDataModel(deps, kind, req.projectId, req.params[param]!, dataModelInputOf(req.body)),
      ),
    );
    app.delete<{ Params: Params }>(item, { config: { operationId: remove } }, async (req, reply) => {
      await deleteDataModel(deps, kind, req.projectId, req.params[param]!);
      return reply.code(204).send();
    });
  }
}
