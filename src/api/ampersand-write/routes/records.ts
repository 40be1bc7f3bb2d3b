import type { FastifyInstance } from 'fastify';
import type { CoreDeps } from '../../../core/deps.ts';
import { writeRecords } from '../../../core/operations.ts';
import { CONNECTION_HEADER } from '../../ampersand/connection-header.ts';
import { recordsOf, type WriteBody, writeAnswer, writeTargetOf } from '../write-translation.ts';

type WriteParams = { projectIdOrName: string; integrationId: string; objectName: string };

export async function recordRoutes(app: FastifyInstance, { deps }: { deps: CoreDeps }) {
  // The integration is named by its id or its name; the group is the customer whose installation
  // writes. Or a connection the project owns writes, named by the Trellis extension's header (an
  // empty one names none, as in the proxy).
  app.post<{ Params: WriteParams; Body: WriteBody }>(
    '/projects/:projectIdOrName/integrations/:integrationId/objects/:objectName',
    { config: { operationId: 'writeRecords' } },
    async (req, reply) => {
      const { body, params } = req;
      const connectionId = String(req.headers[CONNECTION_HEADER] ?? '') || undefined;
      const target = writeTargetOf(params.integrationId, body, connectionId);
      const records = recordsOf(body);
      const asynchronous = body.mode === 'asynchronous';
      const { operation, results } = await writeRecords(deps, req.projectId, {
        target,
        object: params.objectName,
        type: body.type,
        asynchronous,
        records,
      });
      if (!results) return { operationId: operation.id };
      const answer = writeAnswer(operation.id, results, body.batch !== undefined);
      return reply.code(answer.status).send(answer.body);
    },
  );
}
