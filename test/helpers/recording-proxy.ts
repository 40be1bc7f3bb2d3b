import http from 'node:http';

/** One request that went through the proxy, with the answer it got. */
export interface Exchange {
  method: string;
  /** Path and query, as the client sent them. */
  path: string;
  /** The request's headers as they arrived, lower-case names. */
  requestHeaders: http.IncomingHttpHeaders;
  requestBody: string;
  status: number;
  responseBody: string;
}

/** Hop-by-hop and framing headers, which the proxy sets itself on each side. */
const NOT_FORWARDED = new Set([
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'content-encoding',
  'accept-encoding',
]);

/**
 * A loopback HTTP proxy in front of `target` (e.g. a simulator): point Trellis at it instead and
 * every exchange whose path `record` selects is kept as it went over the wire. Tests use it to
 * learn secrets (tokens, PKCE verifiers) from the traffic itself rather than from what Trellis
 * stored. Like a reverse proxy, it names itself where the target names its own origin (Salesforce's
 * `instance_url`), so that the client keeps talking through it.
 */
export async function startRecordingProxy(target: string, record: (path: string) => boolean = () => true) {
  const exchanges: Exchange[] = [];
  const targetOrigin = new URL(target).origin;
  let ownOrigin = '';
  const server = http.createServer(async (req, res) => {
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const requestBody = Buffer.concat(chunks);
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (value === undefined || NOT_FORWARDED.has(name)) continue;
        headers.set(name, Array.isArray(value) ? value.join(', ') : value);
      }
      // Appended to the target's origin, not resolved against it: `//host/…` is a path here too.
      const upstream = await fetch(new URL(`${targetOrigin}${req.url ?? '/'}`), {
        method: req.method,
        headers,
        body: requestBody.length > 0 ? requestBody : undefined,
        redirect: 'manual',
      });
      const responseBody = Buffer.from((await upstream.text()).replaceAll(targetOrigin, ownOrigin), 'utf8');
      const out: Record<string, string> = {};
      upstream.headers.forEach((value, name) => {
        if (!NOT_FORWARDED.has(name)) out[name] = value;
      });
      if (record(req.url ?? '/')) {
        exchanges.push({
          method: req.method ?? 'GET',
          path: req.url ?? '/',
          requestHeaders: req.headers,
          requestBody: requestBody.toString('utf8'),
          status: upstream.status,
          responseBody: responseBody.toString('utf8'),
        });
      }
      res.writeHead(upstream.status, out).end(responseBody);
    } catch (err) {
      res.writeHead(502, { 'content-type': 'text/plain' }).end(`proxy error: ${(err as Error).message}`);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  ownOrigin = `http://127.0.0.1:${port}`;
  return {
    url: ownOrigin,
    exchanges,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
