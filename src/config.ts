import path from 'node:path';
import { parseAllowances } from './util/addresses.ts';

/** Runtime configuration, read once from the environment and validated before anything starts. */
export interface Config {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  encryptionKey: Buffer | undefined;
  /** Keys values may still be sealed with during a rotation (TRELLIS_ENCRYPTION_KEY_PREVIOUS). */
  previousEncryptionKeys: Buffer[];
  /** How users reach this server; empty until the server listens when PORT=0 picks the port. */
  publicUrl: string;
  bootstrapApiKey: string | undefined;
  providerOverrides: Record<string, string>;
  logLevel: string;
  /** TRELLIS_LOG_FORMAT: JSON lines, readable lines, or `auto`, readable where stdout is a terminal. */
  logFormat: 'json' | 'pretty' | 'auto';
  embeddedPgPort: number;
  webhookMaxAttempts: number;
  webhookRetryDelaySeconds: number;
  /** A sync run whose worker has not reported for this long is taken to be dead and resumed elsewhere. */
  staleRunSeconds: number;
  /** Sync runs one worker process carries at once (TRELLIS_SYNC_CONCURRENCY); they mostly wait on providers. */
  syncConcurrency: number;
  /**
   * Sync runs of one connection at once, across every worker (TRELLIS_SYNC_RUNS_PER_CONNECTION):
   * a customer's long backfill leaves the other slots to other customers.
   */
  syncRunsPerConnection: number;
  /** `strict` also keeps webhooks and destinations out of private networks (TRELLIS_OUTBOUND_POLICY). */
  outboundPolicy: 'standard' | 'strict';
  /** CIDRs, addresses and host names every outbound connection may reach (TRELLIS_ALLOWED_OUTBOUND). */
  allowedOutbound: string[];
  /** The most a client may take to send a whole request, headers and body (TRELLIS_REQUEST_TIMEOUT_SECONDS). */
  requestTimeoutSeconds: number;
  /**
   * Web origins whose pages may call the browser-facing API (TRELLIS_CORS_ORIGINS): exact origins,
   * or `['*']` for any. Empty: none.
   */
  corsOrigins: string[];
  /**
   * The bearer token /metrics asks for (TRELLIS_METRICS_TOKEN). Unset: /metrics answers loopback
   * callers only.
   */
  metricsToken: string | undefined;
  /**
   * Where a process without the API (the `worker` role) serves /health, /ready and /metrics
   * (TRELLIS_OPERATIONS_PORT). Unset: it serves no HTTP. Processes with the API serve them on PORT.
   */
  operationsPort: number | undefined;
}

export class ConfigError extends Error {}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const LOG_FORMATS = ['json', 'pretty', 'auto'] as const;

function parsePort(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new ConfigError(`${name} must be a port number between 0 and 65535, got "${raw}"`);
  }
  return n;
}

function parseUrl(name: string, raw: string): URL {
  try {
    return new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be an absolute URL, got "${raw}"`);
  }
}

/** Accepts 32 bytes as 64 hex characters or as base64. */
export function parseEncryptionKey(name: string, raw: string): Buffer {
  const trimmed = raw.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed)
    ? Buffer.from(trimmed, 'hex')
    : Buffer.from(trimmed, 'base64');
  if (key.length !== 32) {
    throw new ConfigError(
      `${name} must be 32 bytes, written as 64 hex characters or base64 (generate one with: openssl rand -hex 32)`,
    );
  }
  return key;
}

function parseProviderOverrides(raw: string | undefined): Record<string, string> {
  if (raw === undefined || raw.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(
      'TRELLIS_PROVIDER_OVERRIDES must be a JSON object like {"hubspot":"http://127.0.0.1:9001"}',
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(
      'TRELLIS_PROVIDER_OVERRIDES must be a JSON object mapping provider names to origins',
    );
  }
  const result: Record<string, string> = {};
  for (const [provider, origin] of Object.entries(parsed)) {
    if (typeof origin !== 'string') {
      throw new ConfigError(`TRELLIS_PROVIDER_OVERRIDES.${provider} must be a string origin`);
    }
    const url = parseUrl(`TRELLIS_PROVIDER_OVERRIDES.${provider}`, origin);
    result[provider] = url.origin;
  }
  return result;
}

/**
 * `*` alone, or exact origins (`https://app.example.com`, `http://localhost:3000`): a browser
 * sends its page's origin, scheme and host and port only, so a path or a trailing slash would
 * never match and is refused here rather than silently ignored.
 */
function parseCorsOrigins(raw: string | undefined): string[] {
  const entries = (raw ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.includes('*')) {
    if (entries.length > 1)
      throw new ConfigError('TRELLIS_CORS_ORIGINS: * allows every origin; give it alone');
    return ['*'];
  }
  return entries.map((entry) => {
    const url = URL.canParse(entry) ? new URL(entry) : undefined;
    if (!url || !['http:', 'https:'].includes(url.protocol) || url.origin !== entry.toLowerCase()) {
      throw new ConfigError(
        `TRELLIS_CORS_ORIGINS: "${entry}" is not an origin (scheme, host and port only, e.g. https://app.example.com)`,
      );
    }
    return url.origin;
  });
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = parsePort('PORT', env.PORT, 8080);
  const host = env.HOST || '127.0.0.1';
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl) {
    const url = parseUrl('DATABASE_URL', databaseUrl);
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      throw new ConfigError('DATABASE_URL must start with postgres:// or postgresql://');
    }
  }
  const dataDir = path.resolve(env.TRELLIS_DATA_DIR || '.trellis');
  const encryptionKey = env.TRELLIS_ENCRYPTION_KEY
    ? parseEncryptionKey('TRELLIS_ENCRYPTION_KEY', env.TRELLIS_ENCRYPTION_KEY)
    : undefined;
  const previousEncryptionKeys = (env.TRELLIS_ENCRYPTION_KEY_PREVIOUS ?? '')
    .split(',')
    .filter((k) => k.trim())
    .map((k) => parseEncryptionKey('TRELLIS_ENCRYPTION_KEY_PREVIOUS', k));
  // With PORT=0 the port, and so the default public URL, is known only once the server listens.
  const publicUrlRaw = env.TRELLIS_PUBLIC_URL || (port === 0 ? '' : `http://localhost:${port}`);
  const publicUrl = publicUrlRaw
    ? parseUrl('TRELLIS_PUBLIC_URL', publicUrlRaw).toString().replace(/\/$/, '')
    : '';
  const bootstrapApiKey = env.TRELLIS_API_KEY || undefined;
  if (bootstrapApiKey !== undefined && bootstrapApiKey.length < 16) {
    throw new ConfigError('TRELLIS_API_KEY must be at least 16 characters long');
  }
  const logLevel = env.LOG_LEVEL || 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const logFormat = (env.TRELLIS_LOG_FORMAT || 'auto') as Config['logFormat'];
  if (!LOG_FORMATS.includes(logFormat)) {
    throw new ConfigError(`TRELLIS_LOG_FORMAT must be one of ${LOG_FORMATS.join(', ')}, got "${logFormat}"`);
  }
  const webhookMaxAttempts = Number(env.TRELLIS_WEBHOOK_MAX_ATTEMPTS || 10);
  if (!Number.isInteger(webhookMaxAttempts) || webhookMaxAttempts < 1 || webhookMaxAttempts > 50) {
    throw new ConfigError('TRELLIS_WEBHOOK_MAX_ATTEMPTS must be an integer between 1 and 50');
  }
  const webhookRetryDelaySeconds = Number(env.TRELLIS_WEBHOOK_RETRY_DELAY_SECONDS || 15);
  if (!Number.isInteger(webhookRetryDelaySeconds) || webhookRetryDelaySeconds < 0) {
    throw new ConfigError('TRELLIS_WEBHOOK_RETRY_DELAY_SECONDS must be a whole number of seconds');
  }
  const staleRunSeconds = Number(env.TRELLIS_STALE_RUN_SECONDS || 20);
  if (!Number.isInteger(staleRunSeconds) || staleRunSeconds < 2 || staleRunSeconds > 3600) {
    throw new ConfigError('TRELLIS_STALE_RUN_SECONDS must be a whole number of seconds between 2 and 3600');
  }
  const syncConcurrency = Number(env.TRELLIS_SYNC_CONCURRENCY || 32);
  if (!Number.isInteger(syncConcurrency) || syncConcurrency < 1 || syncConcurrency > 256) {
    throw new ConfigError('TRELLIS_SYNC_CONCURRENCY must be a whole number between 1 and 256');
  }
  const syncRunsPerConnection = Number(env.TRELLIS_SYNC_RUNS_PER_CONNECTION || 2);
  if (!Number.isInteger(syncRunsPerConnection) || syncRunsPerConnection < 1 || syncRunsPerConnection > 256) {
    throw new ConfigError('TRELLIS_SYNC_RUNS_PER_CONNECTION must be a whole number between 1 and 256');
  }
  const outboundPolicy = env.TRELLIS_OUTBOUND_POLICY || 'standard';
  if (outboundPolicy !== 'standard' && outboundPolicy !== 'strict') {
    throw new ConfigError(`TRELLIS_OUTBOUND_POLICY must be standard or strict, got "${outboundPolicy}"`);
  }
  const allowedOutbound = (env.TRELLIS_ALLOWED_OUTBOUND ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  try {
    parseAllowances(allowedOutbound);
  } catch (err) {
    throw new ConfigError(
      `TRELLIS_ALLOWED_OUTBOUND: ${(err as Error).message} (a comma-separated list like 10.0.0.0/8,db.internal)`,
    );
  }
  const requestTimeoutSeconds = Number(env.TRELLIS_REQUEST_TIMEOUT_SECONDS || 30);
  if (!Number.isInteger(requestTimeoutSeconds) || requestTimeoutSeconds < 1 || requestTimeoutSeconds > 3600) {
    throw new ConfigError(
      'TRELLIS_REQUEST_TIMEOUT_SECONDS must be a whole number of seconds between 1 and 3600',
    );
  }
  const metricsToken = env.TRELLIS_METRICS_TOKEN || undefined;
  if (metricsToken !== undefined && !/^[\x21-\x7e]{16,512}$/.test(metricsToken)) {
    throw new ConfigError(
      'TRELLIS_METRICS_TOKEN must be 16 to 512 printable characters without spaces (e.g. openssl rand -hex 24)',
    );
  }
  return {
    port,
    host,
    databaseUrl,
    dataDir,
    encryptionKey,
    previousEncryptionKeys,
    publicUrl,
    bootstrapApiKey,
    providerOverrides: parseProviderOverrides(env.TRELLIS_PROVIDER_OVERRIDES),
    logLevel,
    logFormat,
    embeddedPgPort: parsePort('TRELLIS_EMBEDDED_PG_PORT', env.TRELLIS_EMBEDDED_PG_PORT, 0),
    webhookMaxAttempts,
    webhookRetryDelaySeconds,
    staleRunSeconds,
    syncConcurrency,
    syncRunsPerConnection,
    outboundPolicy,
    allowedOutbound,
    requestTimeoutSeconds,
    corsOrigins: parseCorsOrigins(env.TRELLIS_CORS_ORIGINS),
    metricsToken,
    operationsPort: env.TRELLIS_OPERATIONS_PORT
      ? parsePort('TRELLIS_OPERATIONS_PORT', env.TRELLIS_OPERATIONS_PORT, 0)
      : undefined,
  };
}
