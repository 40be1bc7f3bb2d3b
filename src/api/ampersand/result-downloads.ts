import type { FastifyInstance } from 'fastify';
import type { CoreDeps } from '../../core/deps.ts';
import { RESULTS_BUCKET, readHeldResult } from '../../core/uploads.ts';
import { RequestRefused, renderFailure } from '../surface/errors.ts';
import { renderProblem } from './errors.ts';

/** Where held results are served: their bucket, at the server's root. */
export const RESULT_DOWNLOADS_PREFIX = `/${RESULTS_BUCKET}`;

/**
 * The download URLs of read messages whose result was too large to send (`resultInfo.type: url`):
 * `GET /results/<path>` answers the result's JSON array. The URL's signature is the credential (a
 * webhook receiver has no API key); it works for 15 minutes. Errors are the Platform API's
 * problem+json, as for uploads.
 */
export async function resultDownloads(app: FastifyInstance, { deps }: { deps: CoreDeps }) {
  app.setErrorHandler((err, req, reply) => renderFailure(renderProblem, err, req, reply));
  app.setNotFoundHandler((req, reply) =>
    renderProblem(
      new RequestRefused(
        'method_not_allowed',
        `${req.method} ${req.url.split('?')[0]}: results are read with GET at the URL a read message gave`,
        { allowedMethods: ['GET'] },
      ),
      reply,
      req,
    ),
  );

  app.get<{ Params: { '*': string }; Querystring: Record<string, string | string[] | undefined> }>(
    '/*',
    async (req, reply) => {
      const once = (name: string) => {
        const value = req.query[name];
        return typeof value === 'string' ? value : undefined;
      };
      const bytes = await readHeldResult(deps, req.params['*'], {
        expires: once('expires'),
        signature: once('signature'),
      });
      return reply.type('application/json').send(bytes);
    },
  );
}
