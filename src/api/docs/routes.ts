import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { servedDocument } from '../mgmt-v2/openapi.ts';

const swaggerDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'application/javascript; charset=utf-8',
};

const SPEC_URL = '/mgmt/v2/openapi.json';
const INIT_SCRIPT = `
    window.ui = SwaggerUIBundle({
      url: ${JSON.stringify(SPEC_URL)},
      dom_id: '#docs',
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: 'StandaloneLayout',
      persistAuthorization: true,
    });
  `;
/**
 * Scripts only from here, the inline one by hash. Swagger UI sets inline styles and draws its
 * icons from data: URLs, and "try it out" calls this server.
 */
const DOCS_POLICY = [
  "default-src 'none'",
  `script-src 'self' 'sha256-${createHash('sha256').update(INIT_SCRIPT).digest('base64')}'`,
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Trellis API reference</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="docs"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
  <script>${INIT_SCRIPT}</script>
</body>
</html>`;

/** API documents (JSON) and a browsable reference page at /docs. */
export async function docsRoutes(app: FastifyInstance, opts: { publicUrl: () => string }) {
  // Built on first request: with PORT=0 the public URL is known only once the server listens.
  let mgmtDocument: ReturnType<typeof servedDocument> | undefined;
  app.get(SPEC_URL, async () => {
    mgmtDocument ??= servedDocument(opts.publicUrl());
    return mgmtDocument;
  });
  app.get('/docs', async (_req, reply) =>
    reply.type('text/html; charset=utf-8').header('content-security-policy', DOCS_POLICY).send(PAGE),
  );
  app.get<{ Params: { file: string } }>('/docs/assets/:file', async (req, reply) => {
    // Own keys only: `constructor` or `toString` would otherwise name a file to open.
    const type = Object.hasOwn(ASSETS, req.params.file) ? ASSETS[req.params.file] : undefined;
    if (!type) return reply.code(404).send({ error: 'not found' });
    return reply
      .type(type)
      .header('cache-control', 'public, max-age=86400')
      .send(fs.createReadStream(path.join(swaggerDir, req.params.file)));
  });
}
