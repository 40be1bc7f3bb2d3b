import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pg from 'pg';
import { inject } from 'vitest';
import { type Config, loadConfig } from '../../src/config.ts';
import { PROVIDER_NAMES } from '../../src/connectors/catalog.ts';
import { createLogger } from '../../src/logger.ts';
import { type Roles, type Runtime, startRuntime } from '../../src/runtime.ts';

/** A fresh, empty database on the suite's server; returns its URL. */
export async function createTestDatabase(): Promise<string> {
  const admin = inject('pgAdminUrl');
  const name = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`create database ${name}`);
  await client.end();
  return admin.replace(/\/postgres$/, `/${name}`);
}

export interface LogLine {
  level: number;
  msg?: string;
  err?: unknown;
  [key: string]: unknown;
}

export interface TestTrellis {
  baseUrl: string;
  apiKey: string;
  runtime: Runtime;
  config: Config;
  databaseUrl: string;
  /** Everything the server logged, parsed. */
  logs: LogLine[];
  stop(): Promise<void>;
}

/**
 * Trellis in this process on a fresh database, serving real HTTP on a loopback port. `env` adds
 * configuration as the environment would.
 */
export async function startTrellis(
  opts: { roles?: Roles; env?: Record<string, string>; databaseUrl?: string } = {},
): Promise<TestTrellis> {
  const databaseUrl = opts.databaseUrl ?? (await createTestDatabase());
  // Tests never reach real providers: every provider host points at a closed loopback port
  // unless the test points it at a simulator.
  const overrides = {
    ...Object.fromEntries(PROVIDER_NAMES.map((p) => [p, 'http://127.0.0.1:9'])),
    ...JSON.parse(opts.env?.TRELLIS_PROVIDER_OVERRIDES ?? '{}'),
  };
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    TRELLIS_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    PORT: '0',
    LOG_LEVEL: 'info',
    TRELLIS_WEBHOOK_RETRY_DELAY_SECONDS: '1',
    ...opts.env,
    TRELLIS_PROVIDER_OVERRIDES: JSON.stringify(overrides),
  });
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const log = createLogger(config.logLevel, sink);
  const runtime = await startRuntime(config, log, opts.roles ?? { api: true, worker: true });
  const address = runtime.app?.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    apiKey: runtime.bootstrapKey ?? '',
    runtime,
    config,
    databaseUrl,
    logs,
    stop: () => runtime.stop(),
  };
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A small client for one API key. `body` may be a string to send raw (e.g. malformed JSON). */
export function client(baseUrl: string, apiKey: string, prefix = '/mgmt/v2') {
  return async function call<T = any>(
    method: string,
    path: string,
    opts: { body?: unknown; headers?: Record<string, string>; query?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    const url = new URL(prefix + path, baseUrl);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string> = { 'x-api-key': apiKey, ...opts.headers };
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    }
    const res = await fetch(url, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    if (text && res.headers.get('content-type')?.includes('json')) parsed = JSON.parse(text);
    return { status: res.status, body: parsed as T, headers: res.headers };
  };
}

export type Client = ReturnType<typeof client>;
