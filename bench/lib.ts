import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { type Dispatcher, request } from 'undici';

const ROOT = path.resolve(import.meta.dirname, '..');

/** A simulator in its own process, so that this process's memory figures are the reader's alone. */
export async function spawnSimulator(
  provider: string,
  records: number,
): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'simulators/main.ts', provider, '--records', String(records)],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/listening on (http:\/\/\S+)/);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`simulator exited (${code})`)));
  });
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * A bare HTTP request, for the physical limits the benchmarks measure against: undici's `request`,
 * the cheapest client Node has and the one Trellis sends through, with nothing around it.
 */
export async function bareRequest(
  url: string,
  init: { method?: Dispatcher.HttpMethod; headers?: Record<string, string>; body?: string } = {},
) {
  const res = await request(url, init);
  return {
    header: (name: string) => String(res.headers[name] ?? ''),
    json: () => res.body.json(),
    text: () => res.body.text(),
  };
}

export async function simControl(url: string, action: string, body?: unknown): Promise<any> {
  const res = await fetch(`${url}/__sim/${action}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return res.json();
}

/** Peak resident memory of this process so far, in MB. */
export function peakRssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

export function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

export const rate = (records: number, ms: number) => Math.round((records / ms) * 1000);

let clockTicks: number | undefined;

/** Kernel clock ticks per second, the unit of /proc's CPU times. */
function ticksPerSecond(): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  return clockTicks;
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces), or undefined once gone. */
function procStat(pid: number | string): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds (user + system) used so far by a process and its children: those alive now, and
 * those that have ended (the kernel adds an ended child's time to its parent's once reaped, as a
 * Postgres server does with its backends). Undefined where there is no /proc (not Linux).
 */
export function processTreeCpuSeconds(pid: number): number | undefined {
  const root = procStat(pid);
  if (!root) return undefined;
  // Fields from the state on: utime, stime, cutime and cstime are the 12th to the 15th.
  let ticks = Number(root[11]) + Number(root[12]) + Number(root[13]) + Number(root[14]);
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = procStat(entry);
    if (child && Number(child[1]) === pid) ticks += Number(child[11]) + Number(child[12]);
  }
  return ticks / ticksPerSecond();
}

/** The process id of the embedded Postgres server of a Trellis data directory. */
export function postmasterPid(dataDir: string): number {
  return Number(fs.readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
}
