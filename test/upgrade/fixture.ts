import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import type { SimulatorTimeline } from './simulator-timeline.ts';

/**
 * An upgrade fixture: a Trellis database made by an earlier release through its API, kept as the
 * earlier release's migrations (its schema), the DDL of the destination tables it created, and
 * every row of both as `COPY` text. `manifest.json` says how it was made and what a restore needs;
 * `api.json` holds what the earlier release's Management API answered just before the capture.
 */
export interface FixtureManifest {
  /** The release the fixture was made from, and the script that made it. */
  madeFrom: { commit: string; subject: string; script: string };
  /** When the database was captured (real time). */
  capturedAt: string;
  /**
   * Test-only secrets the fixture was made with, never used anywhere else: the encryption key that
   * sealed its credentials, the project's API key, the webhook endpoint's signing secret, and the
   * Postgres user and password of its Postgres destination.
   */
  testSecrets: {
    encryptionKey: string;
    apiKey: string;
    webhookSecret: string;
    destinationUser: string;
    destinationPassword: string;
  };
  /** What names the machine the fixture was made on, replaced when restoring on another. */
  machine: {
    superuser: string;
    database: string;
    destinationPort: number;
    webhookUrl: string;
    /** The release's public URL (magic links name it). */
    trellisUrl: string;
  };
  /** The earlier release's migrations (copied into `migrations/`), in the order they ran. */
  migrations: string[];
  /** Every table captured in `data.copy`, with its row count. */
  tables: { schema: string; table: string; rows: number }[];
  simulators: SimulatorTimeline[];
  /** The syncs the fixture made, where each writes, and how its next run reads. */
  syncs: FixtureSync[];
  /** The webhook endpoint's id and the event types it receives. */
  webhook: { id: string; eventTypes: string[] };
}

export interface FixtureSync {
  customerId: string;
  providerName: string;
  object: string;
  /** Where the sync writes in the destination. */
  schema: string;
  table: string;
  paused: boolean;
  /** How the next run reads: incremental ('full then incremental') or full ('full only'). */
  nextRun: 'incremental' | 'full';
  /** After the next run, whether the one after it is full (`full_sync_every_n_incrementals` reached). */
  fullAfterNext: boolean;
  /** Runs the fixture holds for this sync. */
  runs: number;
}

/** A Management API answer as recorded: the request (method, path, query, headers) and the body. */
export interface RecordedCall {
  method: 'GET';
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  status: number;
  body: unknown;
}

export interface UpgradeFixture {
  dir: string;
  manifest: FixtureManifest;
  api: RecordedCall[];
}

export function loadFixture(dir: string): UpgradeFixture {
  const read = (name: string) => fs.readFileSync(path.join(dir, name), 'utf8');
  return {
    dir,
    manifest: JSON.parse(read('manifest.json')) as FixtureManifest,
    api: JSON.parse(read('api.json')) as RecordedCall[],
  };
}

/** The machine a fixture is restored on: its database, and where webhooks go now. */
export interface Relocation {
  /** The superuser URL of the fresh, empty database to restore into. */
  databaseUrl: string;
  webhookUrl: string;
}

/** The `COPY ... FROM stdin;` blocks of a `data.copy` file: each statement and its data lines. */
export function copyBlocks(text: string): { statement: string; data: string }[] {
  const blocks: { statement: string; data: string }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const header = lines[i]!;
    if (!header.startsWith('COPY ')) continue;
    const data: string[] = [];
    for (i++; lines[i] !== '\\.'; i++) {
      if (i >= lines.length) throw new Error(`unterminated block: ${header}`);
      data.push(lines[i]!);
    }
    blocks.push({ statement: header.replace(/;$/, ''), data: data.map((l) => `${l}\n`).join('') });
  }
  return blocks;
}

const quoteLiteral = (s: string) => `'${s.replaceAll("'", "''")}'`;

/**
 * Restores the fixture into an empty database, as the earlier release left it: its migrations
 * (recorded as applied, so the current code runs only the newer ones), the destination tables,
 * then every row. Foreign keys are not checked while loading (rows come table by table); they
 * held when the rows were captured. The destination's port and database and the webhook URL are
 * moved to this machine's; nothing else is changed.
 */
export async function restoreFixture(fixture: UpgradeFixture, to: Relocation): Promise<void> {
  const { manifest } = fixture;
  const target = new URL(to.databaseUrl);
  const database = target.pathname.slice(1);
  const client = new pg.Client({ connectionString: to.databaseUrl });
  await client.connect();
  try {
    const { destinationUser, destinationPassword } = manifest.testSecrets;
    // Roles belong to the server, not the database: the destination's login may exist already.
    const exists = await client.query('select 1 from pg_roles where rolname = $1', [destinationUser]);
    if (!exists.rowCount) {
      await client.query(
        `create role ${pg.escapeIdentifier(destinationUser)} login password ${quoteLiteral(destinationPassword)}`,
      );
    }
    await client.query(
      `grant connect, create on database ${pg.escapeIdentifier(database)} to ${pg.escapeIdentifier(destinationUser)}`,
    );

    // The migrations table as src/db/migrate.ts creates it; its rows come with the data.
    await client.query(
      'create table public.trellis_migrations (name text primary key, applied_at timestamptz not null default now())',
    );
    for (const name of manifest.migrations) {
      await client.query('begin');
      await client.query(fs.readFileSync(path.join(fixture.dir, 'migrations', name), 'utf8'));
      await client.query('commit');
    }
    await client.query(fs.readFileSync(path.join(fixture.dir, 'destination-tables.sql'), 'utf8'));

    await client.query('begin');
    await client.query('set local session_replication_role = replica');
    for (const block of copyBlocks(fs.readFileSync(path.join(fixture.dir, 'data.copy'), 'utf8'))) {
      await pipeline(Readable.from([block.data]), client.query(copyStreams.from(block.statement)));
    }
    await client.query(
      `update trellis.destinations set config = config || jsonb_build_object('port', $1::int, 'database', $2::text)
        where type = 'postgres' and config->>'database' = $3 and (config->>'port')::int = $4`,
      [Number(target.port), database, manifest.machine.database, manifest.machine.destinationPort],
    );
    await client.query('update trellis.webhook_endpoints set url = $1 where url = $2', [
      to.webhookUrl,
      manifest.machine.webhookUrl,
    ]);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  } finally {
    await client.end();
  }
}

/**
 * The recorded API answers as they read on the restored machine: the destination and the webhook
 * endpoint moved, and links under the public URL `trellisUrl` of the Trellis serving them now.
 */
export function relocatedApi(fixture: UpgradeFixture, to: Relocation, trellisUrl: string): RecordedCall[] {
  const { machine } = fixture.manifest;
  const target = new URL(to.databaseUrl);
  const move = (value: unknown): unknown => {
    if (value === machine.webhookUrl) return to.webhookUrl;
    if (typeof value === 'string' && value.startsWith(`${machine.trellisUrl}/`)) {
      return trellisUrl + value.slice(machine.trellisUrl.length);
    }
    if (Array.isArray(value)) return value.map(move);
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value).map(([k, v]) => [k, move(v)] as const);
    const moved: Record<string, unknown> = Object.fromEntries(entries);
    if (moved.port === machine.destinationPort && moved.database === machine.database) {
      moved.port = Number(target.port);
      moved.database = target.pathname.slice(1);
    }
    return moved;
  };
  return fixture.api.map((call) => ({ ...call, body: move(call.body) }));
}
