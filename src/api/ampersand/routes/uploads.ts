import type { FastifyInstance } from 'fastify';
import { grantUpload, isBase64Md5, UPLOAD_BUCKET } from '../../../core/uploads.ts';
import { RequestRefused } from '../../surface/errors.ts';
import type { RouteOptions } from '../route-context.ts';

/**
 * Upload URLs for `amp deploy`: a signed URL on Trellis itself that the caller PUTs its zip to
 * (the upload receiver serves it), the bucket and path that name the upload afterwards
 * (`gs://<bucket>/<path>` in `integrations:batch`). The `md5` query parameter, which the document
 * does not declare, is the base64 MD5 of the zip; the URL then takes only bytes of that digest.
 */
export async function uploadRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  app.get<{ Querystring: { md5?: string | string[] } }>(
    '/generate-upload-url',
    { config: { operationId: 'generateUploadUrl' } },
    async (req) => {
      const { md5 } = req.query;
      if (Array.isArray(md5) || (md5 !== undefined && md5 !== '' && !isBase64Md5(md5)))
        throw new RequestRefused(
          'invalid_input',
          'query parameter md5 must be the base64 MD5 digest of the zip',
          {
            issues: [
              { in: 'query', name: 'md5', detail: 'must be the base64 MD5 digest of the zip, given once' },
            ],
          },
        );
      const grant = grantUpload(deps, req.projectId, md5 || undefined);
      return { url: grant.url, bucket: UPLOAD_BUCKET, path: grant.path };
    },
  );
}
