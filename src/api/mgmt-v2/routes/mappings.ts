import type { FastifyInstance } from 'fastify';
import type { ConnectionEntityMapping } from '../../../core/connections.ts';
import {
  deleteEntityMapping,
  listEntityMappings,
  listFieldMappings,
  updateObjectFieldMappings,
  upsertEntityMapping,
} from '../../../core/mappings.ts';
import { connectionHeaders, type RouteOptions } from '../route-context.ts';

type FieldMappingBody = {
  name: string;
  type: 'common' | 'standard';
  field_mappings: { schema_field: string; mapped_field?: string }[];
};
type EntityParams = { entity_id: string };

export async function mappingRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  app.get('/field_mappings', { config: { operationId: 'listFieldMappings' } }, async (req) => {
    const { customerId, providerName } = connectionHeaders(req);
    return listFieldMappings(deps, req.projectId, customerId, providerName);
  });

  app.put<{ Body: FieldMappingBody }>(
    '/field_mappings/_update_object',
    { config: { operationId: 'updateObjectFieldMappings' } },
    async (req) => {
      const { customerId, providerName } = connectionHeaders(req);
      return updateObjectFieldMappings(deps, req.projectId, customerId, providerName, {
        name: req.body.name,
        type: req.body.type,
        fieldMappings: req.body.field_mappings,
      });
    },
  );

  app.get('/entity_mappings', { config: { operationId: 'listEntityMappings' } }, async (req) => {
    const { customerId, providerName } = connectionHeaders(req);
    return listEntityMappings(deps, req.projectId, customerId, providerName);
  });

  app.put<{ Params: EntityParams; Body: ConnectionEntityMapping }>(
    '/entity_mappings/:entity_id',
    { config: { operationId: 'upsertEntityMapping' } },
    async (req) => {
      const { customerId, providerName } = connectionHeaders(req);
      return upsertEntityMapping(
        deps,
        req.projectId,
        customerId,
        providerName,
        req.params.entity_id,
        req.body,
      );
    },
  );

  app.delete<{ Params: EntityParams }>(
    '/entity_mappings/:entity_id',
    { config: { operationId: 'deleteEntityMapping' } },
    async (req, reply) => {
      const { customerId, providerName } = connectionHeaders(req);
      await deleteEntityMapping(deps, req.projectId, customerId, providerName, req.params.entity_id);
      return reply.code(204).send();
    },
  );
}
