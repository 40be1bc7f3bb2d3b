import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CoreDeps } from '../../core/deps.ts';
import {
  checkUploadUrl,
  isBase64Md5,
  MAX_UPLOAD_BYTES,
  md5Of,
  saveUpload,
  UPLOAD_BUCKET,
  type UploadPermit,
} from '../../core/uploads.ts';
import { RequestRefused, renderFailure } from '../surface/errors.ts';
import { renderProblem } from './errors.ts';

/** Where the receiver is mounted: the upload URLs' bucket, at the server's root. */
export const UPLOAD_RECEIVER_PREFIX = `/${UPLOAD_BUCKET}`;

/** Framework refusals reworded for an upload, whose body is a file rather than JSON. */
const UPLOAD_REFUSALS: Record<string, () => RequestRefused> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () =>
    new RequestRefused('body_too_large', `an upload is at most ${MAX_UPLOAD_BYTES} bytes`),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () =>
    new RequestRefused('unsupported_media_type', 'the content-type header is not a media type'),
};

/**
 * The URLs `GET /v1/generate-upload-url` hands out: `PUT /uploads/<path>` with the file as the
 * body, of any content type. The URL's signature is the credential (no API key): it is checked,
 * with its expiry, before the body is read. The body is read up to the size limit and no further
 * (413 beyond); its MD5 must be the one the URL was made for, if any, and the `Content-MD5`
 * header's, if sent (`amp deploy` sends it); a second PUT to the same URL replaces the first.
 * Errors are the Platform API's problem+json: its clients are the ones that upload.
 */
export async function uploadReceiver(app: FastifyInstance, { deps }: { deps: CoreDeps }) {
  const permits = new WeakMap<FastifyRequest, UploadPermit>();

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_UPLOAD_BYTES }, (_req, body, done) =>
    done(null, body),
  );
  app.setErrorHandler((err, req, reply) => {
    const reworded = UPLOAD_REFUSALS[(err as { code?: string }).code ?? '']?.();
    return renderFailure(renderProblem, reworded ?? err, req, reply);
  });
  app.setNotFoundHandler((req, reply) =>
    renderProblem(
      new RequestRefused(
        'method_not_allowed',
        `${req.method} ${req.url.split('?')[0]}: uploads are PUT to the URL that GET /v1/generate-upload-url answers`,
        { allowedMethods: ['PUT'] },
      ),
      reply,
      req,
    ),
  );

  app.put<{ Params: { '*': string }; Querystring: Record<string, string | string[] | undefined> }>(
    '/*',
    {
      bodyLimit: MAX_UPLOAD_BYTES,
      onRequest: async (req) => {
        const once = (name: string) => {
          const value = req.query[name];
          return typeof value === 'string' ? value : undefined;
        };
        permits.set(
          req,
          checkUploadUrl(deps, req.params['*'], {
            expires: once('expires'),
            md5: once('md5'),
            signature: once('signature'),
          }),
        );
      },
    },
    async (req, reply) => {
      const permit = permits.get(req)!;
      const bytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (bytes.length === 0)
        throw new RequestRefused('missing_input', 'the body is empty: PUT the file', {
          issues: [{ in: 'body', name: '', detail: 'is required' }],
        });
      const digest = md5Of(bytes);
      if (permit.md5 && !digest.equals(permit.md5))
        throw new RequestRefused(
          'invalid_input',
          'the body is not the file this upload URL was made for (MD5)',
          {
            issues: [
              { in: 'body', name: '', detail: 'does not have the MD5 digest the upload URL was made for' },
            ],
          },
        );
      const contentMd5 = req.headers['content-md5'];
      if (
        contentMd5 !== undefined &&
        (typeof contentMd5 !== 'string' ||
          !isBase64Md5(contentMd5) ||
          !digest.equals(Buffer.from(contentMd5, 'base64')))
      )
        throw new RequestRefused('invalid_input', 'the body does not match its Content-MD5 header', {
          issues: [{ in: 'header', name: 'content-md5', detail: 'is not the base64 MD5 digest of the body' }],
        });
      await saveUpload(deps, permit, bytes);
      return reply.code(200).send();
    },
  );
}
