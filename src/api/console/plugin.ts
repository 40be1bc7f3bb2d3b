import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { FastifyInstance } from 'fastify';
import type { CoreDeps } from '../../core/deps.ts';
import { consoleApi } from './api.ts';

/**
 * The admin console: one page at /console, its script and stylesheet, and its JSON API under
 * /console/api. The script is web/main.tsx (Preact) bundled in memory by esbuild the first time it
 * is asked for, so `npm start` needs no build step; nothing is fetched from another host
 * (decision 0021).
 */
export const CONSOLE_PREFIX = '/console';

const WEB_DIR = fileURLToPath(new URL('../../../web/', import.meta.url));

/** Scripts and styles from this server only, no inline ones; JSON from this server only. */
const PAGE_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

interface Asset {
  body: string;
  type: string;
  /** A digest of the body, which names it in the page so that browsers may keep it. */
  version: string;
}

const versionOf = (body: string) => createHash('sha256').update(body).digest('hex').slice(0, 16);

/** The console's script, bundled once per process. */
let script: Promise<Asset> | undefined;
function consoleScript(): Promise<Asset> {
  script ??= build({
    entryPoints: [`${WEB_DIR}main.tsx`],
    bundle: true,
    write: false,
    format: 'esm',
    target: 'es2022',
    minify: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: `${WEB_DIR}tsconfig.json`,
    logLevel: 'silent',
  }).then(({ outputFiles }) => {
    const body = outputFiles[0]!.text;
    return { body, type: 'text/javascript; charset=utf-8', version: versionOf(body) };
  });
  return script;
}

function consoleStyles(): Asset {
  const body = fs.readFileSync(`${WEB_DIR}console.css`, 'utf8');
  return { body, type: 'text/css; charset=utf-8', version: versionOf(body) };
}

const page = (js: Asset, css: Asset) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Trellis console</title>
<link rel="stylesheet" href="${CONSOLE_PREFIX}/console.css?v=${css.version}">
</head>
<body><div id="app"></div><script type="module" src="${CONSOLE_PREFIX}/console.js?v=${js.version}"></script></body>
</html>`;

export async function consolePlugin(app: FastifyInstance, { deps }: { deps: CoreDeps }) {
  const styles = consoleStyles();
  app.get(CONSOLE_PREFIX, async (_req, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', PAGE_POLICY)
      .header('cache-control', 'no-store')
      .header('x-frame-options', 'DENY')
      .send(page(await consoleScript(), styles)),
  );
  const asset = (path: string, load: () => Asset | Promise<Asset>) =>
    app.get(path, async (_req, reply) => {
      const { body, type } = await load();
      return reply.type(type).header('cache-control', 'public, max-age=3600').send(body);
    });
  asset(`${CONSOLE_PREFIX}/console.js`, consoleScript);
  asset(`${CONSOLE_PREFIX}/console.css`, () => styles);
  await app.register(consoleApi, { deps, prefix: `${CONSOLE_PREFIX}/api` });
}
