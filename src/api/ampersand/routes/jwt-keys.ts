import type { FastifyInstance } from 'fastify';
import { createJwtKey, deleteJwtKey, getJwtKey, listJwtKeys, updateJwtKey } from '../../../core/jwt-keys.ts';
import {
  ampersandJwtKey,
  type CreateJwtKeyBody,
  jwtKeyChangesOf,
  jwtKeyInputOf,
  type UpdateJwtKeyBody,
} from '../jwt-key-translation.ts';
import type { RouteOptions } from '../route-context.ts';

type KeyParams = { projectIdOrName: string; keyId: string };

/** The project's JWT keys, which verify the browser tokens its server signs (credentials.ts). */
export async function jwtKeyRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  app.post<{ Body: CreateJwtKeyBody }>(
    '/projects/:projectIdOrName/jwt-keys',
    { config: { operationId: 'createJWTKey' } },
    async (req, reply) => {
      const key = await createJwtKey(deps, req.projectId, jwtKeyInputOf(req.body));
      return reply.code(201).send({ kid: key.id });
    },
  );

  app.get<{ Querystring: { active?: string } }>(
    '/projects/:projectIdOrName/jwt-keys',
    { config: { operationId: 'listJWTKeys' } },
    async (req) =>
      (await listJwtKeys(deps, req.projectId, { activeOnly: req.query.active === 'true' })).map(
        ampersandJwtKey,
      ),
  );

  app.get<{ Params: KeyParams }>(
    '/projects/:projectIdOrName/jwt-keys/:keyId',
    { config: { operationId: 'getJWTKey' } },
    async (req) => ampersandJwtKey(await getJwtKey(deps, req.projectId, req.params.keyId)),
  );

  // Deactivating a key refuses every token it signed from the next request on.
  app.patch<{ Params: KeyParams; Body: UpdateJwtKeyBody }>(
    '/projects/:projectIdOrName/jwt-keys/:keyId',
    { config: { operationId: 'updateJWTKey' } },
    async (req) =>
      ampersandJwtKey(await updateJwtKey(deps, req.projectId, req.params.keyId, jwtKeyChangesOf(req.body))),
  );

  app.delete<{ Params: KeyParams }>(
    '/projects/:projectIdOrName/jwt-keys/:keyId',
    { config: { operationId: 'deleteJWTKey' } },
    async (req, reply) => {
      await deleteJwtKey(deps, req.projectId, req.params.keyId);
      return reply.code(204).send();
    },
  );
}
