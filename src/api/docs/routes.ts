import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { OpenApiDocument } from '../surface/contract.ts';
import type { ApiSurface } from '../surface/plugin.ts';

const swaggerDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'application/javascript; charset=utf-8',
};

/** What the reference shows of a surface. */
export type DocumentedSurface = Pick<ApiSurface, 'prefix' | 'title' | 'document'>;

const documentUrl = (surface: DocumentedSurface) => `${surface.prefix}/openapi.json`;

/** The page's script: Swagger UI with every surface's document in its selector, the first one open. */
const initScript = (surfaces: readonly DocumentedSurface[]) => `
    window.ui = SwaggerUIBundle({
      urls: ${JSON.stringify(surfaces.map((s) => ({ url: documentUrl(s), name: s.title })))},
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
const docsPolicy = (script: string) =>
  [
    "default-src 'none'",
    `script-src 'self' 'sha256-${createHash('sha256').update(script).digest('base64')}'`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');

const page = (script: string) => `<!doctype html>
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
  <script>${script}</script>
</body>
</html>`;

/** Every surface's API document (JSON) and a browsable reference page listing them at /docs. */
export async function docsRoutes(
  app: FastifyInstance,
  opts: { surfaces: readonly DocumentedSurface[]; publicUrl: () => string },
) {
  for (const surface of opts.surfaces) {
    // Built on first request: with PORT=0 the public URL is known only once the server listens.
    let document: OpenApiDocument | undefined;
    app.get(documentUrl(surface), async () => {
      document ??= surface.document(opts.publicUrl());
      return document;
    });
  }
  const script = initScript(opts.surfaces);
  const [html, policy] = [page(script), docsPolicy(script)];
  app.get('/docs', async (_req, reply) =>
    reply.type('text/html; charset=utf-8').header('content-security-policy', policy).send(html),
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
