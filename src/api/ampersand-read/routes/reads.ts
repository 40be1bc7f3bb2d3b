import type { FastifyInstance } from 'fastify';
import type { CoreDeps } from '../../../core/deps.ts';
import { pauseReads, requestRead, resumeReads } from '../../../core/installation-reads.ts';
import { UnservedOperation } from '../../ampersand/errors.ts';
import { routePathOf } from '../../ampersand/routes/unserved.ts';
import { RequestRefused } from '../../surface/errors.ts';
import { READ_CONTRACT } from '../openapi.ts';

type ObjectParams = { projectIdOrName: string; integrationId: string; objectName: string };
type InstallationParams = { projectIdOrName: string; integrationId: string; installationId: string };
type ReadBody = { groupRef: string; mode: 'async'; sinceTimestamp?: string; untilTimestamp?: string };
/** Optional in the document: without one, every object the installation reads. */
type PauseBody = { objects?: string[]; note?: string } | undefined;

/** The route of a document operation, colon verbs included. */
const routeOf = (operationId: string) => routePathOf(READ_CONTRACT.operation(operationId)!.path);

const ISO_INSTANT = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/;

const refuse = (name: string, detail: string) =>
  new RequestRefused('invalid_input', `body${name} ${detail}`, { issues: [{ in: 'body', name, detail }] });

/** An instant as the document writes them (RFC 3339, nanoseconds allowed), to the millisecond. */
function instantOf(text: string, name: string): Date {
  const at = ISO_INSTANT.test(text) ? Date.parse(text.replace(/(\.\d{3})\d+/, '$1')) : Number.NaN;
  if (Number.isNaN(at))
    throw refuse(name, 'must be a date and time with its offset, e.g. 2024-07-01T18:22:30Z');
  return new Date(at);
}

export async function readRoutes(app: FastifyInstance, { deps }: { deps: CoreDeps }) {
  // The run that serves the read is the operation: its id is known before the run starts.
  app.post<{ Params: ObjectParams; Body: ReadBody }>(
    routeOf('triggerRead'),
    { config: { operationId: 'triggerRead' } },
    async (req, reply) => {
      const { groupRef, sinceTimestamp, untilTimestamp } = req.body;
      if (untilTimestamp !== undefined)
        throw refuse('/untilTimestamp', 'is not supported: Trellis reads up to the present');
      const { runId } = await requestRead(deps, req.projectId, {
        integrationIdOrName: req.params.integrationId,
        customerRef: groupRef,
        object: req.params.objectName,
        ...(sinceTimestamp === undefined ? {} : { since: instantOf(sinceTimestamp, '/sinceTimestamp') }),
      });
      return reply.code(201).send({ operationId: runId });
    },
  );

  app.post<{ Params: InstallationParams; Body: PauseBody }>(
    routeOf('pauseReads'),
    { config: { operationId: 'pauseReads' } },
    async (req, reply) => {
      await pauseReads(deps, req.projectId, {
        integrationIdOrName: req.params.integrationId,
        installationId: req.params.installationId,
        objects: req.body?.objects,
        note: req.body?.note,
      });
      return reply.code(204).send();
    },
  );

  app.post<{ Params: InstallationParams; Body: PauseBody }>(
    routeOf('unpauseReads'),
    { config: { operationId: 'unpauseReads' } },
    async (req, reply) => {
      await resumeReads(deps, req.projectId, {
        integrationIdOrName: req.params.integrationId,
        installationId: req.params.installationId,
        objects: req.body?.objects,
      });
      return reply.code(204).send();
    },
  );

  // Deprecated by Ampersand; Trellis delivers every page as soon as it is read.
  const deliverResults = new UnservedOperation(
    false,
    'deliverResults is not offered by Trellis: reads deliver each page as it is read, without waiting to be asked',
    'Trigger a read with POST …/objects/{objectName}; its records arrive at the destination.',
  );
  app.post(
    routeOf('deliverResults'),
    {
      config: { operationId: 'deliverResults' },
      onRequest: async () => {
        throw deliverResults;
      },
    },
    async () => {
      throw deliverResults;
    },
  );
}
