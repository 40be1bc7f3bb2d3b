import type { FastifyInstance } from 'fastify';
import { supaglueWebhooks } from './api/mgmt-v2/webhook-events.ts';
import { buildOperationsServer, buildServer } from './api/server.ts';
import { loadOrCreateKeyFile, SEALED_COLUMNS, Vault } from './auth/vault.ts';
import { type Config, ConfigError } from './config.ts';
import type { CoreDeps } from './core/deps.ts';
import { bootstrapDefaultProject } from './core/projects.ts';
import { planUnplannedSyncs } from './core/syncs.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './db/embedded-postgres.ts';
import { migrate } from './db/migrate.ts';
import { createPool, type Db } from './db/pool.ts';
import { startQueue } from './db/queue.ts';
import { closeDestinations } from './destinations/index.ts';
import { startWorkers } from './engine/workers.ts';
import type { Logger } from './logger.ts';
import { isLoopbackHost, OutboundPolicy } from './net/outbound.ts';
import { limitHeapGrowth } from './worker-heap.ts';

export interface Roles {
  api: boolean;
  worker: boolean;
}

export interface Runtime {
  deps: CoreDeps;
  app?: FastifyInstance;
  /** Where a worker-only process serves /health, /ready and /metrics, when TRELLIS_OPERATIONS_PORT is set. */
  operationsUrl?: string;
  /** Set when this start created the default project: its key, shown once. */
  bootstrapKey?: string;
  stop(): Promise<void>;
}

const VAULT_CANARY = 'trellis-vault-check';

/** Fails fast when the configured key is not the one this database's secrets were sealed with. */
async function checkVaultKey(db: Db, vault: Vault): Promise<void> {
  const { rows } = await db.query<{ value: string }>(`select value from settings where key = 'vault_canary'`);
  if (!rows[0]) {
    await db.query(`insert into settings (key, value) values ('vault_canary', $1) on conflict do nothing`, [
      vault.seal(VAULT_CANARY, SEALED_COLUMNS.vaultCanary, 'vault_canary'),
    ]);
    return;
  }
  let plain: string | undefined;
  try {
    plain = vault.open(rows[0].value, SEALED_COLUMNS.vaultCanary, 'vault_canary');
  } catch {
    plain = undefined;
  }
  if (plain !== VAULT_CANARY) {
    throw new ConfigError(
      'TRELLIS_ENCRYPTION_KEY is not the key this database was set up with; secrets in it cannot be read',
    );
  }
}

/** The URL of the port the server actually bound (PORT=0), on loopback when it listens everywhere. */
function listeningUrl(app: FastifyInstance): string {
  const address = app.server.address();
  if (!address || typeof address !== 'object') throw new Error('the server is not listening on a port');
  const host = ['0.0.0.0', '::'].includes(address.address)
    ? 'localhost'
    : address.family === 'IPv6'
      ? `[${address.address}]`
      : address.address;
  return `http://${host}:${address.port}`;
}

/** The outbound network policy this configuration asks for. */
export function outboundPolicyFor(config: Config): OutboundPolicy {
  return new OutboundPolicy({
    strict: config.outboundPolicy === 'strict',
    // A local installation (its public URL on loopback, or PORT=0 before it listens) may deliver
    // webhooks to, and sync into, services on the same machine.
    allowLoopback: !config.publicUrl || isLoopbackHost(new URL(config.publicUrl).hostname),
    allowed: config.allowedOutbound,
    providerHosts: Object.values(config.providerOverrides).map((origin) => new URL(origin).hostname),
  });
}

/** Database, vault and migrations: what every command that touches data needs. */
export async function openDatabase(config: Config, log: Logger) {
  let embedded: EmbeddedPostgres | undefined;
  let url = config.databaseUrl;
  if (!url) {
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, log });
    url = embedded.url;
  }
  const key = config.encryptionKey ?? (embedded ? loadOrCreateKeyFile(config.dataDir) : undefined);
  if (!key) {
    await embedded?.stop();
    throw new ConfigError(
      'TRELLIS_ENCRYPTION_KEY is required when DATABASE_URL is set (generate one: openssl rand -hex 32)',
    );
  }
  // A sync run keeps one session for its lock while it runs, and the scheduler one to listen on.
  const db = createPool(url, 20 + config.syncConcurrency + 1);
  try {
    await migrate(db);
    await planUnplannedSyncs(db);
    const vault = new Vault(key, config.previousEncryptionKeys);
    await checkVaultKey(db, vault);
    return { db, vault, url, embedded };
  } catch (err) {
    await db.end();
    await embedded?.stop();
    throw err;
  }
}

export async function startRuntime(config: Config, log: Logger, roles: Roles): Promise<Runtime> {
  const { db, vault, url, embedded } = await openDatabase(config, log);
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse())
      await stop().catch((err) => log.error({ err }, 'error during shutdown'));
  };
  stops.push(async () => embedded?.stop());
  stops.push(async () => db.end());
  // Stopped in reverse: the API, the scheduler, the queue (draining runs), destinations, the database.
  stops.push(() => closeDestinations());
  try {
    const queue = await startQueue({ databaseUrl: url, log, worker: roles.worker });
    stops.push(() => queue.stop());
    const outbound = outboundPolicyFor(config);
    stops.push(() => outbound.close());
    const deps: CoreDeps = { config, db, vault, queue, log, outbound, webhookFormat: supaglueWebhooks };
    const { apiKey } = await bootstrapDefaultProject(db, config.bootstrapApiKey);
    if (roles.worker) {
      limitHeapGrowth();
      const workers = await startWorkers(deps);
      stops.push(() => workers.stop());
    }
    let app: FastifyInstance | undefined;
    if (roles.api) {
      app = await buildServer(deps);
      await app.listen({ port: config.port, host: config.host });
      if (!config.publicUrl) config.publicUrl = listeningUrl(app);
      const server = app;
      stops.push(() => server.close());
    }
    let operationsUrl: string | undefined;
    if (!roles.api && roles.worker && config.operationsPort !== undefined) {
      const server = await buildOperationsServer(deps);
      await server.listen({ port: config.operationsPort, host: config.host });
      operationsUrl = listeningUrl(server);
      stops.push(() => server.close());
    }
    return { deps, app, operationsUrl, bootstrapKey: apiKey, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
