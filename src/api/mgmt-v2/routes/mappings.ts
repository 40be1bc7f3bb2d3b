import type { FastifyInstance } from 'fastify';
import { badRequest } from '../../../core/errors.ts';
import {
  deleteEntityMapping,
  listEntityMappings,
  listFieldMappings,
  updateObjectFieldMappings,
  upsertEntityMapping,
} from '../../../core/mappings.ts';
import {
  type EntityMappingConfig,
  entityMappingOf,
  type ObjectFieldMappingsUpdate,
  objectFieldMappingsOf,
} from '../mapping-translation.ts';
import { connectionHeaders, type RouteOptions } from '../route-context.ts';
import * as to from '../serializers.ts';

type EntityParams = { entity_id: string };

export async function mappingRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  app.get('/field_mappings', { config: { operationId: 'listFieldMappings' } }, async (req) => {
    const { customerId, providerName } = connectionHeaders(req);
    return (await listFieldMappings(deps, req.projectId, customerId, providerName)).map(
      to.objectFieldMappings,
    );
  });

  app.put<{ Body: ObjectFieldMappingsUpdate }>(
    '/field_mappings/_update_object',
    { config: { operationId: 'updateObjectFieldMappings' } },
    async (req) => {
      const { customerId, providerName } = connectionHeaders(req);
      return to.objectFieldMappings(
        await updateObjectFieldMappings(
          deps,
          req.projectId,
          customerId,
          providerName,
          objectFieldMappingsOf(req.body),
        ),
      );
    },
  );

  app.get('/entity_mappings', { config: { operationId: 'listEntityMappings' } }, async (req) => {
    const { customerId, providerName } = connectionHeaders(req);
    return (await listEntityMappings(deps, req.projectId, customerId, providerName)).map(
      to.mergedEntityMapping,
    );
  });

  app.put<{ Params: EntityParams; Body: EntityMappingConfig }>(
    '/entity_mappings/:entity_id',
    { config: { operationId: 'upsertEntityMapping' } },
    async (req) => {
      // The entity is named twice, in the path and in the body; they must agree.
      if (req.body.entity_id !== req.params.entity_id) {
        throw badRequest(
          `body entity_id ${req.body.entity_id} does not match the path's ${req.params.entity_id}`,
        );
      }
      const { customerId, providerName } = connectionHeaders(req);
      return to.mergedEntityMapping(
        await upsertEntityMapping(deps, req.projectId, customerId, providerName, entityMappingOf(req.body)),
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
