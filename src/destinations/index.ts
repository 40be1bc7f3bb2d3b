import net from 'node:net';
import pg from 'pg';
import { type Db, transaction } from '../db/pool.ts';
import type { Logger } from '../logger.ts';
import type { OutboundPolicy } from '../net/outbound.ts';
import { PostgresWriter } from './postgres.ts';
import { type WebhookReceiver, WebhookWriter } from './webhook.ts';
import type { DestinationWriter } from './writer.ts';

export { describeDestinationError } from './errors.ts';
export { PostgresWriter } from './postgres.ts';
export type { WebhookReceiver } from './webhook.ts';
export type { DestinationWriter, RowOwner, TableRef, WriteRecord } from './writer.ts';

/** What opening a destination needs from the process. */
export interface DestinationEnv {
  db: Db;
  log: Logger;
  outbound: OutboundPolicy;
}

/**
 * A destination as the caller resolved it: the built-in one of a project, a Postgres database
 * with its whole configuration (secrets included), read only when no pool for this version is
 * open, or a webhook with its headers and signing, read when a run opens it.
 */
export type DestinationTarget =
  | { kind: 'built-in'; projectId: string }
  | { kind: 'postgres'; id: string; version: number; config: () => Promise<Record<string, unknown>> }
  | { kind: 'webhook'; id: string; receiver: () => Promise<WebhookReceiver> };

export interface OpenDestination {
  writer: DestinationWriter;
  /** Where tables go unless a connection overrides it (empty for a webhook, which has none). */
  defaultSchema: string;
  /** Whether a connection sync config may choose the schema and tables (postgres destinations only). */
  overridable: boolean;
}

/**
 * One pool per destination version: updating a destination's config starts a new pool. The
 * built-in destination has one writer per project, on the control-plane pool.
 */
interface OpenWriter {
  writer: PostgresWriter;
  pool: pg.Pool;
  builtIn: boolean;
  defaultSchema: string;
}
const writers = new Map<string, OpenWriter>();

const opened = (entry: OpenWriter): OpenDestination => ({
  writer: entry.writer,
  defaultSchema: entry.defaultSchema,
  overridable: !entry.builtIn,
});

function sslOption(config: Record<string, unknown>, host: string): pg.PoolConfig['ssl'] {
  // Connections go to the address the outbound policy resolved, so TLS is told the host's name
  // (certificate checks and SNI), unless the config names the server itself.
  const servername = (config.server_name as string | undefined) ?? (net.isIP(host) === 0 ? host : undefined);
  switch (config.ssl_mode) {
    case undefined:
    case 'disable':
      return false;
    case 'verify-ca':
    case 'verify-full':
      return {
        rejectUnauthorized: true,
        ca: config.server_ca_cert as string | undefined,
        cert: config.client_cert as string | undefined,
        key: config.client_key as string | undefined,
        servername,
        ...(config.ssl_mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
      };
    default:
      return { rejectUnauthorized: false, servername };
  }
}

/**
 * A pg client that asks the outbound policy for the destination host's address before every
 * connection and connects to that address, so a name that resolves (or later re-resolves) to an
 * address destinations may not reach is refused, and a failover to a new address is followed.
 */
function policyCheckedClient(outbound: OutboundPolicy, host: string): typeof pg.Client {
  return class PolicyCheckedClient extends pg.Client {
    override connect(): Promise<pg.Client>;
    override connect(callback: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): void;
    override connect(
      callback?: ((err: Error) => void) | ((err: null, c: pg.Client) => void),
    ): Promise<pg.Client> | undefined {
      const connected = outbound.resolve('destination', host).then(([address]) => {
        this.host = address!;
        return super.connect();
      });
      if (!callback) return connected;
      const done = callback as (err: Error | null, c?: pg.Client) => void;
      connected.then(
        (c) => done(null, c),
        (err: Error) => done(err),
      );
      return undefined;
    }
  };
}

/** The built-in destination keeps each project's tables in a schema of its own. */
export function builtInSchema(projectId: string): string {
  return `trellis_${projectId.replaceAll('-', '').slice(0, 16)}`;
}

/** The role the built-in destination writes a project's records as: it can write only that project's schema. */
export function builtInWriterRole(projectId: string): string {
  return `trellis_writer_${projectId.replaceAll('-', '').slice(0, 16)}`;
}

/** Per project: the provisioned writer role, or undefined when Trellis's user may not create roles. */
const provisioned = new Map<string, Promise<string | undefined>>();
let warnedNoCreateRole = false;

async function provisionWriterRole(deps: DestinationEnv, projectId: string): Promise<string | undefined> {
  const { rows } = await deps.db.query<{ allowed: boolean }>(
    'select rolsuper or rolcreaterole as allowed from pg_roles where rolname = current_user',
  );
  if (!rows[0]?.allowed) {
    if (!warnedNoCreateRole) {
      warnedNoCreateRole = true;
      deps.log.warn(
        'the database user may not create roles (CREATEROLE): the built-in destination writes as that user, ' +
          'kept to each project schema by Trellis alone; see docs/decisions/0009-destination-confinement.md',
      );
    }
    return undefined;
  }
  const role = builtInWriterRole(projectId);
  await transaction(deps.db, async (client) => {
    // Processes opening the same project's destination at once would race to create the role.
    await client.query("select pg_advisory_xact_lock(hashtext('trellis-writer-role'), hashtext($1))", [role]);
    await client.query('select trellis.provision_project_writer($1, $2)', [builtInSchema(projectId), role]);
  });
  return role;
}

function writerRole(deps: DestinationEnv, projectId: string): Promise<string | undefined> {
  let role = provisioned.get(projectId);
  if (!role) {
    role = provisionWriterRole(deps, projectId);
    provisioned.set(projectId, role);
    // A failure is not remembered: the next run tries again.
    role.catch(() => provisioned.delete(projectId));
  }
  return role;
}

export async function openDestination(
  deps: DestinationEnv,
  destination: DestinationTarget,
): Promise<OpenDestination> {
  if (destination.kind === 'built-in') {
    const key = `built-in:${destination.projectId}`;
    let entry = writers.get(key);
    if (!entry) {
      const role = await writerRole(deps, destination.projectId);
      entry = writers.get(key) ?? {
        writer: new PostgresWriter(deps.db, { role }),
        pool: deps.db,
        builtIn: true,
        defaultSchema: builtInSchema(destination.projectId),
      };
      writers.set(key, entry);
    }
    return opened(entry);
  }
  if (destination.kind === 'webhook') {
    // Nothing to keep open between runs: each run reads the current URL, headers and secret.
    return {
      writer: new WebhookWriter(deps, await destination.receiver()),
      defaultSchema: '',
      overridable: false,
    };
  }
  const key = `${destination.id}:${destination.version}`;
  let entry = writers.get(key);
  if (!entry) {
    const config = await destination.config();
    // Runs of one destination start together (a connection's first runs): the first back from
    // reading the config opens the pool, and the others use it instead of replacing (ending) it.
    const racing = writers.get(key);
    if (racing) return opened(racing);
    const host = String(config.host);
    const pool = new pg.Pool({
      Client: policyCheckedClient(deps.outbound, host),
      host,
      port: config.port as number,
      database: config.database as string,
      user: config.user as string,
      password: config.password as string | undefined,
      ssl: sslOption(config, host),
      max: 4,
      connectionTimeoutMillis: 10_000,
      application_name: 'trellis-sync',
    });
    // An idle client's error (the destination restarting) must not crash the worker, nor a checked-out
    // client's between two queries (pg would throw it as uncaught): its next query fails instead.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    for (const [old, stale] of writers) {
      if (old.startsWith(`${destination.id}:`)) {
        writers.delete(old);
        void stale.pool.end();
      }
    }
    entry = { writer: new PostgresWriter(pool), pool, builtIn: false, defaultSchema: String(config.schema) };
    writers.set(key, entry);
  }
  return opened(entry);
}

/** Closes every destination pool this process opened and forgets what it provisioned (shutdown). */
export async function closeDestinations(): Promise<void> {
  provisioned.clear();
  for (const [key, entry] of writers) {
    writers.delete(key);
    if (!entry.builtIn) await entry.pool.end();
  }
}
