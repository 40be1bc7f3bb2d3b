import http from 'node:http';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { salesforce } from '../../simulators/salesforce/index.ts';
import { requestTokens } from '../../src/auth/oauth.ts';
import { SEALED_COLUMNS } from '../../src/auth/vault.ts';
import { ConnectorError, ProviderHttp, UNMETERED } from '../../src/connectors/http.ts';
import { OutboundDenied, OutboundPolicy } from '../../src/net/outbound.ts';
import { simControl, simOAuthProvider } from '../helpers/simulator.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';
import { until } from '../helpers/wait.ts';

const MARKER = 'internal-service-secret-7f3a';

/** A local HTTP peer on 127.0.0.1 answering with `handler`; `close` drops its open connections too. */
async function startPeer(handler: http.RequestListener) {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An internal service an attacker would like Trellis to call: it counts requests and answers a secret. */
async function startInternalService() {
  const requests: string[] = [];
  const authorizations: (string | undefined)[] = [];
  const peer = await startPeer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    authorizations.push(req.headers.authorization);
    res
      .writeHead(400, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error: MARKER, error_description: MARKER, message: MARKER }));
  });
  return { ...peer, requests, authorizations };
}

describe('the outbound network policy', () => {
  let sim: RunningSimulator;
  let internal: Awaited<ReturnType<typeof startInternalService>>;
  let t: TestTrellis;
  let api: Client;
  let db: pg.Client;

  beforeAll(async () => {
    sim = await startSimulator(salesforce, { records: 10 });
    internal = await startInternalService();
    // A deployment: its public URL is not on loopback, so nothing local is reachable by default.
    t = await startTrellis({
      env: {
        TRELLIS_PUBLIC_URL: 'https://trellis.example.com',
        TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ salesforce: sim.url, apollo: internal.url }),
      },
    });
    api = client(t.baseUrl, t.apiKey);
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    await api('PUT', '/customers', { body: { customer_id: 'acme', name: 'Acme', email: 'it@acme.test' } });
    expect((await api('POST', '/providers', { body: simOAuthProvider('salesforce') })).status).toBe(201);
  });
  afterAll(async () => {
    await db?.end();
    await t?.stop();
    await internal?.close();
    await sim?.close();
  });

  it('refuses a Salesforce connection whose instance or login URL is not a Salesforce host, and calls nothing', async () => {
    const { refresh_token } = await simControl(sim.url, 'tokens', {});
    const attempts = [
      { instance_url: internal.url, login_url: sim.url },
      { instance_url: sim.url, login_url: internal.url },
      { instance_url: `${internal.url}#.salesforce.com`, login_url: sim.url },
      { instance_url: 'https://evil.example.com', login_url: sim.url },
      { instance_url: 'http://acme.my.salesforce.com', login_url: sim.url },
      { instance_url: 'https://acme.my.salesforce.com.evil.example', login_url: sim.url },
    ];
    for (const urls of attempts) {
      const res = await api('POST', '/customers/acme/connections', {
        body: { provider_name: 'salesforce', type: 'oauth2', refresh_token, ...urls },
      });
      expect(res.status, JSON.stringify(urls)).toBe(400);
      expect(JSON.stringify(res.body)).toMatch(/is not a Salesforce host/);
    }
    expect(internal.requests).toEqual([]);
    // The provider's own hosts are accepted (the simulator stands in for them here).
    const ok = await api('POST', '/customers/acme/connections', {
      body: { provider_name: 'salesforce', type: 'oauth2', refresh_token, instance_url: sim.url },
    });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
  });

  it('a stored host that is not the provider’s own is refused at use, before any request', async () => {
    const { rows } = await db.query<{ id: string; sealed: string }>(
      `select id, credentials_sealed as sealed from trellis.connections where provider_name = 'salesforce'`,
    );
    const vault = t.runtime.deps.vault;
    const place = SEALED_COLUMNS.connectionCredentials;
    const credentials = vault.openJson<Record<string, unknown>>(rows[0]!.sealed, place, rows[0]!.id);
    // As a row written before hosts were checked would be.
    await db.query(
      'update trellis.connections set instance_url = $2, credentials_sealed = $3 where id = $1',
      [
        rows[0]!.id,
        internal.url,
        vault.sealJson({ ...credentials, login_url: internal.url }, place, rows[0]!.id),
      ],
    );
    const res = await api('GET', '/customers/acme/connections/salesforce/_rate_limit_info');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(JSON.stringify(res.body)).not.toContain(MARKER);
    expect(internal.requests).toEqual([]);
  });

  it("never echoes a provider's answer to the API caller", async () => {
    // Apollo points at the internal service here, which answers every call with its secret.
    const conn = await api('POST', '/customers/acme/connections', {
      body: { provider_name: 'apollo', type: 'api_key', api_key: 'key-1234567890' },
    });
    expect(conn.status, JSON.stringify(conn.body)).toBe(200);
    const res = await api('GET', '/customers/acme/connections/apollo/_rate_limit_info');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(internal.requests.length).toBeGreaterThan(0);
    expect(JSON.stringify(res.body)).not.toContain(MARKER);
    expect(JSON.stringify(t.logs)).not.toContain('key-1234567890');
  });

  it('refuses webhook URLs on link-local, "this network", loopback or mapped loopback addresses', async () => {
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'http://0.0.0.0:8080/',
      `${internal.url}/hook`,
      `http://localhost:${internal.port}/hook`,
      `http://[::ffff:127.0.0.1]:${internal.port}/hook`,
      `http://[::1]:${internal.port}/hook`,
      'http://224.0.0.1/',
    ]) {
      const res = await api('POST', '/webhooks', { body: { url, event_types: ['*'] } });
      expect(res.status, url).toBe(400);
      expect(JSON.stringify(res.body)).toContain('not reachable for webhooks');
    }
    // A private address is the operator's own network: allowed unless the policy is strict.
    expect((await api('POST', '/webhooks', { body: { url: 'http://10.20.30.40/hook' } })).status).toBe(201);
    expect(internal.requests.filter((r) => r.includes('/hook'))).toEqual([]);
  });
});

describe('OutboundPolicy', () => {
  const policy = (over: Partial<ConstructorParameters<typeof OutboundPolicy>[0]> = {}) =>
    new OutboundPolicy({ strict: false, allowLoopback: false, allowed: [], providerHosts: [], ...over });

  it('judges addresses by purpose, mode and allowances', () => {
    const standard = policy();
    expect(standard.denial('provider', 'api.example.com', '93.184.216.34')).toBeUndefined();
    expect(standard.denial('provider', 'x', '10.0.0.5')).toMatch(/public addresses only/);
    expect(standard.denial('provider', 'x', '127.0.0.1')).toMatch(/public addresses only/);
    expect(standard.denial('webhook', 'x', '10.0.0.5')).toBeUndefined();
    expect(standard.denial('destination', 'x', '192.168.1.10')).toBeUndefined();
    expect(standard.denial('webhook', 'x', '127.0.0.1')).toMatch(/loopback/);
    expect(standard.denial('webhook', 'x', '::ffff:127.0.0.1')).toMatch(/loopback/);
    expect(standard.denial('webhook', 'x', '::ffff:7f00:1')).toMatch(/loopback/);
    expect(standard.denial('webhook', 'x', '169.254.169.254')).toMatch(/link-local/);
    expect(standard.denial('webhook', 'x', 'fe80::1')).toMatch(/link-local/);
    expect(standard.denial('webhook', 'x', '0.0.0.0')).toMatch(/link-local/);
    expect(standard.denial('webhook', 'x', 'fd00::1')).toBeUndefined();

    const strict = policy({ strict: true });
    expect(strict.denial('webhook', 'x', '10.0.0.5')).toMatch(/private/);
    expect(strict.denial('destination', 'x', 'fd00::1')).toMatch(/private/);

    const local = policy({ allowLoopback: true });
    expect(local.denial('webhook', 'x', '127.0.0.1')).toBeUndefined();
    expect(local.denial('provider', 'x', '127.0.0.1')).toMatch(/public addresses only/);

    const allowed = policy({ strict: true, allowed: ['10.1.0.0/16', 'db.internal', '*.corp.example'] });
    expect(allowed.denial('destination', 'x', '10.1.2.3')).toBeUndefined();
    expect(allowed.denial('destination', 'x', '10.2.2.3')).toMatch(/private/);
    expect(allowed.denial('destination', 'db.internal', '10.9.9.9')).toBeUndefined();
    expect(allowed.denial('webhook', 'hooks.corp.example', '10.9.9.9')).toBeUndefined();

    const overridden = policy({ providerHosts: ['127.0.0.1'] });
    expect(overridden.denial('provider', '127.0.0.1', '127.0.0.1')).toBeUndefined();
    expect(overridden.denial('webhook', '127.0.0.1', '127.0.0.1')).toMatch(/loopback/);
  });

  it('checks the address a name resolves to when it connects, so a name cannot lead inside', async () => {
    const internal = await startInternalService();
    try {
      const p = policy();
      const err = await p
        .request('webhook', `http://localhost:${internal.port}/hook`, { method: 'POST' })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OutboundDenied);
      expect(internal.requests).toEqual([]);
      // The same call is made when the policy allows loopback: the refusal was the policy's.
      const open = policy({ allowLoopback: true });
      expect((await open.request('webhook', `http://localhost:${internal.port}/hook`)).status).toBe(400);
      expect(internal.requests).toHaveLength(1);
      await p.close();
      await open.close();
    } finally {
      await internal.close();
    }
  });
});

/** A peer that answers 200 with a body that never ends, counting what it managed to send. */
async function startEndlessBody() {
  const sent = { bytes: 0, closed: false };
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const peer = await startPeer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const push = () => {
      while (!res.destroyed && res.write(chunk)) sent.bytes += chunk.length;
      if (!res.destroyed) res.once('drain', push);
    };
    res.on('close', () => {
      sent.closed = true;
    });
    push();
  });
  return { ...peer, sent };
}

describe('reading from peers', () => {
  const policy = new OutboundPolicy({
    strict: false,
    allowLoopback: false,
    allowed: [],
    providerHosts: ['127.0.0.1'],
  });
  /** A connection's client for the provider at `baseUrl`, through `policy`, with no budget to wait for. */
  const providerHttpAt = (
    baseUrl: string,
    options: Partial<ConstructorParameters<typeof ProviderHttp>[0]> = {},
  ) =>
    new ProviderHttp({
      baseUrl,
      auth: { headers: async () => ({}), renew: async () => 'failed' },
      outbound: policy,
      policy: {},
      budget: () => UNMETERED,
      ...options,
    });

  it('ends a request waiting for its answer at once when its reader stops, and does not retry it', async () => {
    const seen: (string | undefined)[] = [];
    // Takes the request and never answers.
    const peer = await startPeer((req) => {
      seen.push(req.url);
    });
    try {
      const stopping = new AbortController();
      const http = providerHttpAt(peer.url, { signal: stopping.signal });
      const pending = http.request({ path: '/crm/v3/objects/contacts' }).catch((e: unknown) => e);
      await until('the peer to have the request', async () => seen.length === 1);
      stopping.abort(new Error('the read stopped'));
      expect(((await pending) as Error).message).toBe('the read stopped');
      expect(http.requestCount).toBe(1);
      expect(seen).toHaveLength(1);
    } finally {
      await peer.close();
    }
  });

  it('ends the requests waiting for their turns at once when their reader stops, sending nothing', async () => {
    const seen: (string | undefined)[] = [];
    const peer = await startPeer((req, res) => {
      seen.push(req.url);
      res.end('{}');
    });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const stopping = new AbortController();
      let reserved = 0;
      const turnInAMinute = {
        ...UNMETERED,
        reserve: async () => {
          reserved++;
          return { waitMs: 60_000, granted: true, slackMs: 100 };
        },
      };
      const http = providerHttpAt(peer.url, { signal: stopping.signal, budget: () => turnInAMinute });
      // As many as a run's partitions: they wait on the one signal without Node warning of a leak.
      const pending = Array.from({ length: 32 }, () =>
        http.request({ path: '/crm/v3/objects/contacts' }).catch((e: unknown) => e),
      );
      await until('the turns to be reserved', async () => reserved === 32);
      stopping.abort(new Error('the read stopped'));
      for (const err of await Promise.all(pending)) expect((err as Error).message).toBe('the read stopped');
      expect(http.requestCount).toBe(0);
      expect(seen).toHaveLength(0);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await peer.close();
    }
  });

  it('ends a pause between requests (a provider job polled until done) at once when its reader stops', async () => {
    const stopping = new AbortController();
    const http = providerHttpAt('http://127.0.0.1:9', { signal: stopping.signal });
    const pausing = http.sleep(60_000).catch((e: unknown) => e);
    stopping.abort(new Error('the read stopped'));
    expect(((await pausing) as Error).message).toBe('the read stopped');
    await expect(http.sleep(60_000)).rejects.toThrow('the read stopped');
  });

  it('stops reading a provider answer past its size cap, and does not retry it', async () => {
    const peer = await startEndlessBody();
    try {
      const http = providerHttpAt(peer.url, { maxResponseBytes: 1024 * 1024 });
      const err = await http.request({ path: '/crm/v3/objects/contacts' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectorError);
      expect((err as ConnectorError).kind).toBe('validation');
      expect((err as Error).message).toContain('larger than 1048576 bytes');
      expect(http.requestCount).toBe(1);
      await until('the peer to see the connection closed', async () => peer.sent.closed);
      // What was sent before the close is bounded by the cap and the sockets' buffers, not endless.
      expect(peer.sent.bytes).toBeLessThan(16 * 1024 * 1024);
    } finally {
      await peer.close();
    }
  });

  it('fails a provider request the policy refuses at connect time at once, without retrying it', async () => {
    const internal = await startInternalService();
    try {
      // `localhost` is no provider host here: its address is judged when the connection is made.
      const http = providerHttpAt(`http://localhost:${internal.port}`);
      const err = await http.request({ path: '/crm/v3/objects/contacts' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectorError);
      expect((err as ConnectorError).kind).toBe('validation');
      expect((err as Error).message).toContain('providers are reached on public addresses only');
      expect(http.requestCount).toBe(1);
      expect(internal.requests).toEqual([]);
    } finally {
      await internal.close();
    }
  });

  it('takes a provider name that does not resolve for a failed connection, retried, not a refusal', async () => {
    // `.invalid` never resolves (RFC 6761); a lookup can also fail for a moment, which a retry outlives.
    const http = providerHttpAt('http://trellis-test.invalid', { maxRetries: 1 });
    const err = await http.request({ path: '/crm/v3/objects/contacts' }).catch((e: unknown) => e);
    expect((err as ConnectorError).kind).toBe('transient');
    expect(http.requestCount).toBe(2);
    expect(await policy.refusal('provider', 'trellis-test.invalid')).toBeUndefined();
  });

  it('follows a provider redirect only where the policy allows, and not with the credentials elsewhere', async () => {
    const internal = await startInternalService();
    const seen: { url: string; authorization?: string }[] = [];
    const elsewhere = await startInternalService();
    const provider = await startPeer((req, res) => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
      if (req.url === '/moved') return res.writeHead(302, { location: '/here' }).end();
      const hop = /^\/hop\/(\d+)$/.exec(req.url ?? '');
      if (hop) return res.writeHead(302, { location: `/hop/${Number(hop[1]) + 1}` }).end();
      // `localhost` is no provider host: the hop is judged by its address, as a first request is.
      if (req.url === '/inside') {
        return res.writeHead(302, { location: `http://localhost:${internal.port}/hook` }).end();
      }
      // Another origin the policy allows: the hop goes, the connection's credentials do not.
      if (req.url === '/away') return res.writeHead(302, { location: `${elsewhere.url}/there` }).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"here":true}');
    });
    try {
      const auth = {
        headers: async () => ({ authorization: 'Bearer provider-token' }),
        renew: async () => 'failed' as const,
      };
      const providerHttp = providerHttpAt(provider.url, { auth });
      expect((await providerHttp.request({ path: '/moved' })).body).toEqual({ here: true });
      expect(seen).toEqual([
        { url: '/moved', authorization: 'Bearer provider-token' },
        { url: '/here', authorization: 'Bearer provider-token' },
      ]);
      const err = await providerHttp.request({ path: '/inside' }).catch((e: unknown) => e);
      expect((err as ConnectorError).kind).toBe('validation');
      expect((err as Error).message).toContain('providers are reached on public addresses only');
      expect(internal.requests).toEqual([]);
      // Endless redirects fail the request (no retry here) instead of answering the last one.
      const hopping = providerHttpAt(provider.url, { auth, maxRetries: 0 });
      const hops = await hopping.request({ path: '/hop/0' }).catch((e: unknown) => e);
      expect((hops as ConnectorError).kind).toBe('transient');
      expect(seen.filter((s) => s.url.startsWith('/hop/'))).toHaveLength(21);
      await providerHttp.request({ path: '/away' }).catch(() => undefined);
      expect(elsewhere.requests).toEqual(['GET /there']);
      expect(elsewhere.authorizations).toEqual([undefined]);
    } finally {
      await elsewhere.close();
      await provider.close();
      await internal.close();
    }
  });

  it('asks for compressed answers and reads them decoded, counting the cap in decoded bytes', async () => {
    const page = JSON.stringify({ results: Array.from({ length: 500 }, (_, i) => ({ id: String(i) })) });
    // 64 MB of zeros, 64 KB on the wire: the cap must hold against what the answer decodes to.
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, '0'));
    const asked: (string | undefined)[] = [];
    const provider = await startPeer((req, res) => {
      asked.push(req.headers['accept-encoding']);
      const body = req.url === '/bomb' ? bomb : gzipSync(page);
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(body);
    });
    try {
      const providerHttp = providerHttpAt(provider.url, { maxResponseBytes: 1024 * 1024 });
      const res = await providerHttp.request<{ results: unknown[] }>({ path: '/page' });
      expect(res.body.results).toHaveLength(500);
      expect(asked[0]).toContain('gzip');
      // The proxy's path passes the answer on decoded, whole (its caller gets no content-encoding).
      const forwarded = await providerHttp.forward({
        method: 'GET',
        pathAndQuery: '/page',
        headers: {},
        maxResponseBytes: 1024 * 1024,
      });
      expect(JSON.parse(forwarded.body.toString('utf8'))).toEqual(JSON.parse(page));
      const err = await providerHttp.request({ path: '/bomb' }).catch((e: unknown) => e);
      expect((err as ConnectorError).kind).toBe('validation');
      expect((err as Error).message).toContain('larger than 1048576 bytes');
    } finally {
      await provider.close();
    }
  });

  it('refuses a token answer past its size cap', async () => {
    const peer = await startEndlessBody();
    try {
      const err = await requestTokens(
        policy,
        { tokenUrl: `${peer.url}/oauth/v1/token`, clientAuth: 'body' },
        { id: 'client', secret: 'secret' },
        { grant_type: 'refresh_token', refresh_token: 'r' },
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      await until('the peer to see the connection closed', async () => peer.sent.closed);
      expect(peer.sent.bytes).toBeLessThan(16 * 1024 * 1024);
    } finally {
      await peer.close();
    }
  });
});

describe('webhook delivery results', () => {
  it('say only that the receiver could not be reached, not how', async () => {
    // A local installation may deliver to loopback; nothing listens on the discard port.
    const t = await startTrellis();
    try {
      const api = client(t.baseUrl, t.apiKey);
      const hook = await api('POST', '/webhooks', {
        body: { url: 'http://127.0.0.1:9/hook', event_types: ['connection.created'] },
      });
      expect(hook.status).toBe(201);
      await api('PUT', '/customers', { body: { customer_id: 'acme', name: 'Acme', email: 'it@acme.test' } });
      expect(
        (
          await api('POST', '/customers/acme/connections', {
            body: { provider_name: 'apollo', type: 'api_key', api_key: 'key-1234567890' },
          })
        ).status,
      ).toBe(200);
      const [delivery] = await until('a failed delivery', async () => {
        const res = await api('GET', `/webhooks/${hook.body.id}/deliveries`);
        return res.body.length > 0 && res.body;
      });
      expect(delivery).toMatchObject({ succeeded: false, response_status: null, error: 'could not connect' });
    } finally {
      await t.stop();
    }
  });
});
