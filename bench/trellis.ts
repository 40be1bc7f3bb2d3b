import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { createConnection } from '../src/core/connections.ts';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.ts';
import { createLogger } from '../src/logger.ts';
import { type Runtime, startRuntime } from '../src/runtime.ts';
import { postmasterPid, processTreeCpuSeconds, simControl } from './lib.ts';

export interface BenchTrellis {
  runtime: Runtime;
  /** The control database, as Trellis's own pool. */
  db: pg.Pool;
  /** A Management API call; throws on a status of 300 or more. */
  api(method: string, p: string, body?: unknown, headers?: Record<string, string>): Promise<any>;
  /** The destination database `warehouse`, for measuring bare writes beside Trellis's. */
  warehouseUrl: URL;
  /** CPU seconds the Postgres server has used so far (NaN where there is no /proc). */
  postgresCpuSeconds(): number;
  stop(): Promise<void>;
}

/**
 * An embedded Postgres in a temporary directory with two databases: `control` for Trellis and
 * `warehouse` for its destination. `stop` removes it all.
 */
export async function startBenchPostgres() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-'));
  const server = await startEmbeddedPostgres({ dataDir, port: 0, log: createLogger('warn') });
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  await admin.query('create database control');
  await admin.query('create database warehouse');
  await admin.end();
  return {
    dataDir,
    controlUrl: server.adminUrl.replace(/\/postgres$/, '/control'),
    warehouseUrl: new URL(server.adminUrl.replace(/\/postgres$/, '/warehouse')),
    async stop() {
      await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Trellis (API and worker in this process) on its own embedded Postgres in a temporary directory,
 * with the providers pointed at simulators, a Postgres destination `warehouse` (a second database
 * on the same server) and provider apps for the simulators' OAuth client.
 */
export async function startBenchTrellis(opts: {
  simulators: Record<string, string>;
  env?: Record<string, string>;
}): Promise<BenchTrellis> {
  const log = createLogger('warn');
  const { dataDir, controlUrl, warehouseUrl, stop: stopPostgres } = await startBenchPostgres();
  const postmaster = postmasterPid(dataDir);

  const apiKey = `trls_${randomBytes(18).toString('base64url')}`;
  const config = loadConfig({
    DATABASE_URL: controlUrl,
    TRELLIS_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    TRELLIS_API_KEY: apiKey,
    TRELLIS_PROVIDER_OVERRIDES: JSON.stringify(opts.simulators),
    PORT: '0',
    LOG_LEVEL: 'warn',
    ...opts.env,
  });
  const runtime = await startRuntime(config, log, { api: true, worker: true });
  const address = runtime.app!.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/mgmt/v2`;
  const api = async (method: string, p: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(base + p, {
      method,
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<any>;
  };

  await api('POST', '/destinations', {
    name: 'warehouse',
    type: 'postgres',
    config: {
      host: warehouseUrl.hostname,
      port: Number(warehouseUrl.port),
      database: 'warehouse',
      schema: 'crm',
      user: decodeURIComponent(warehouseUrl.username),
      password: decodeURIComponent(warehouseUrl.password),
    },
  });
  for (const name of Object.keys(opts.simulators)) {
    await api(
      'POST',
      '/providers',
      // The Management API's shapes: Gong's provider takes no OAuth client; the others do.
      name === 'gong'
        ? { auth_type: 'api_key', category: 'no_category', name }
        : {
            auth_type: 'oauth2',
            category: name === 'apollo' ? 'engagement' : 'crm',
            name,
            config: {
              provider_app_id: '',
              oauth: {
                oauth_scopes: [],
                credentials: { oauth_client_id: 'sim-client-id', oauth_client_secret: 'sim-client-secret' },
              },
            },
          },
    );
  }

  return {
    runtime,
    db: runtime.deps.db,
    api,
    warehouseUrl,
    postgresCpuSeconds: () => processTreeCpuSeconds(postmaster) ?? Number.NaN,
    async stop() {
      await runtime.stop();
      await stopPostgres();
    },
  };
}

/**
 * Connects customer `customer` (made if new) to `provider` with fresh credentials from its
 * simulator, through the Management API. It takes refresh tokens for HubSpot and Salesforce only
 * (others connect through OAuth flows in a browser), so a Pipedrive connection is stored through
 * the core, as the end of its OAuth flow stores it.
 */
export async function connect(t: BenchTrellis, customer: string, provider: string, simUrl: string) {
  await t.api('PUT', '/customers', {
    customer_id: customer,
    name: customer,
    email: `${customer}@bench.test`,
  });
  const issued = await simControl(simUrl, 'tokens', {});
  if (provider === 'pipedrive') {
    const { rows } = await t.db.query<{ projectId: string }>(
      'select project_id as "projectId" from customers where external_id = $1',
      [customer],
    );
    await createConnection(t.runtime.deps, rows[0]!.projectId, customer, {
      providerName: 'pipedrive',
      credentials: { authType: 'oauth2', refreshToken: issued.refresh_token, instanceUrl: simUrl },
    });
    return;
  }
  const body = issued.api_key
    ? { type: 'api_key', api_key: issued.api_key }
    : issued.access_key
      ? {
          type: 'access_key_secret',
          access_key: issued.access_key,
          access_key_secret: issued.access_key_secret,
        }
      : {
          type: 'oauth2',
          refresh_token: issued.refresh_token,
          ...(provider === 'salesforce' ? { instance_url: simUrl } : {}),
        };
  await t.api('POST', `/customers/${customer}/connections`, { provider_name: provider, ...body });
}

/** Requests a simulator has served, in all (its control routes left out). */
export async function providerRequests(simUrl: string): Promise<number> {
  const { requests } = (await simControl(simUrl, 'stats')) as { requests: Record<string, number> };
  let n = 0;
  for (const [route, count] of Object.entries(requests)) if (!route.includes(' /__sim/')) n += count;
  return n;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
