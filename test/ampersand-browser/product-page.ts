import http from 'node:http';
import path from 'node:path';
import { build } from 'esbuild';

const ENTRY = path.resolve(import.meta.dirname, 'page/app.jsx');

const HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Acme's product</title><link rel="stylesheet" href="/app.css"></head>
<body><div id="root"></div><script src="/app.js"></script></body>
</html>`;

export interface ProductPage {
  /** Its origin, e.g. http://127.0.0.1:40123: another origin than Trellis's. */
  origin: string;
  /** Bundles the page for a Trellis at `serverUrl`, with the project and API key it uses. */
  bundle(options: { serverUrl: string; project: string; apiKey: string }): Promise<void>;
  /**
   * How the product's server signs browser tokens, which its pages fetch from `/token` (with
   * `?auth=jwt` in a page's query, the page sends them instead of the API key).
   */
  signTokensWith(sign: (who: { groupRef: string; consumerRef: string }) => string): void;
  close(): Promise<void>;
}

/**
 * A page of the project's own product, on a loopback port of its own: `/connect` shows
 * `ConnectProvider`, `/install` shows `InstallIntegration` (what they are for comes in the query),
 * and `/token` is its server's endpoint that signs browser tokens.
 * It listens before it is bundled, so that Trellis can be told its origin first.
 */
export async function startProductPage(): Promise<ProductPage> {
  const assets = new Map<string, { type: string; body: Uint8Array }>();
  let signToken: ((who: { groupRef: string; consumerRef: string }) => string) | undefined;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://page');
    const pathname = url.pathname;
    const asset = assets.get(pathname);
    if (asset) return res.writeHead(200, { 'content-type': asset.type }).end(asset.body);
    if (pathname === '/token' && signToken) {
      const who = {
        groupRef: url.searchParams.get('groupRef') ?? '',
        consumerRef: url.searchParams.get('consumerRef') ?? '',
      };
      return res.writeHead(200, { 'content-type': 'text/plain' }).end(signToken(who));
    }
    if (pathname === '/connect' || pathname === '/install')
      return res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(HTML);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    origin: `http://127.0.0.1:${port}`,
    async bundle({ serverUrl, project, apiKey }) {
      const result = await build({
        entryPoints: [ENTRY],
        bundle: true,
        write: false,
        outdir: '/',
        entryNames: 'app',
        jsx: 'automatic',
        format: 'iife',
        logLevel: 'silent',
        define: {
          // The one setting the library reads: where its API (and OAuth callback) is.
          'process.env.REACT_APP_AMP_SERVER': JSON.stringify(serverUrl),
          'process.env.NODE_ENV': JSON.stringify('production'),
          'process.env.PAGE_PROJECT': JSON.stringify(project),
          'process.env.PAGE_API_KEY': JSON.stringify(apiKey),
        },
      });
      for (const file of result.outputFiles) {
        const type = file.path.endsWith('.css') ? 'text/css' : 'text/javascript';
        assets.set(`/${path.basename(file.path)}`, { type, body: file.contents });
      }
    },
    signTokensWith(sign) {
      signToken = sign;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
