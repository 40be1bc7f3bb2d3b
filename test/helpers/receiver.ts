import { createHmac } from 'node:crypto';
import http from 'node:http';
import { expect } from 'vitest';

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/**
 * A local webhook receiver on a loopback port. `respond` picks the status for the n-th request
 * (starting at 1), so tests can make it fail a few times first.
 */
export async function startReceiver(respond: (n: number) => number = () => 200) {
  const received: Received[] = [];
  const waiters: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      received.push({ headers: req.headers, body, at: Date.now() });
      res.writeHead(respond(received.length)).end();
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    /**
     * Resolves once `count` requests have arrived, or rejects after `timeoutMs` — by default far
     * longer than a delivery takes on a busy machine, so only a delivery that never comes hits it.
     */
    async waitFor(count: number, timeoutMs = 60_000): Promise<Received[]> {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline)
          throw new Error(`receiver got ${received.length} of ${count} requests in ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
      return received.slice(0, count);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The Standard Webhooks check as a receiver writes it, independent of Trellis's signer. */
export function expectSigned(secret: string, delivery: Received): void {
  const id = String(delivery.headers['webhook-id']);
  const timestamp = String(delivery.headers['webhook-timestamp']);
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.${delivery.body}`).digest('base64');
  expect(String(delivery.headers['webhook-signature']).split(' ')).toContain(`v1,${mac}`);
}
