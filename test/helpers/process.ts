import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort } from '../../src/util/net.ts';

export { freePort };

/** This checkout, where the CLI runs from unless a test gives it another copy of Trellis. */
export const ROOT = path.resolve(import.meta.dirname, '../..');

/** The banner line of a serving process with its API: `Management API  http://127.0.0.1:NNNN/mgmt/v2`. */
const API_LINE = /Management API +(https?:\/\/\S+)\/mgmt\/v2\r?\n/;

export interface TrellisProcess {
  child: ChildProcess;
  output(): string;
  /**
   * Resolves when the output contains `text`; rejects if the process exits first, or after
   * `timeoutMs` (by default far longer than a start takes, so only a hung process hits it).
   */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<string>;
  /**
   * Waits until the API is serving and resolves with its base URL as the process printed it —
   * with PORT=0, on the port it actually bound.
   */
  apiUrl(timeoutMs?: number): Promise<string>;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs the `trellis` CLI as its own OS process, as a user would, from `cwd` (a Trellis checkout). */
export function runTrellis(args: string[], env: Record<string, string>, cwd = ROOT): TrellisProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c) => {
    out += c;
  });
  child.stderr!.on('data', (c) => {
    out += c;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = async (text: string | RegExp, timeoutMs = 120_000) => {
    const deadline = Date.now() + timeoutMs;
    const found = () => (typeof text === 'string' ? out.includes(text) : text.test(out));
    while (!found()) {
      if (child.exitCode !== null)
        throw new Error(`trellis ${args.join(' ')} exited (${child.exitCode}):\n${out}`);
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${text} from trellis ${args.join(' ')}:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return out;
  };
  return {
    child,
    output: () => out,
    waitFor,
    async apiUrl(timeoutMs) {
      const url = (await waitFor(API_LINE, timeoutMs)).match(API_LINE)?.[1];
      if (!url) throw new Error(`no API address in the output of trellis ${args.join(' ')}:\n${out}`);
      return url;
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs a CLI command to completion and returns its exit code and output. */
export async function runTrellisCommand(args: string[], env: Record<string, string>) {
  const p = runTrellis(args, env);
  const code = await new Promise<number | null>((resolve) => p.child.once('exit', (c) => resolve(c)));
  return { code, output: p.output() };
}

/** Whether a server could listen on `port` of 127.0.0.1 right now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A free port for a server that must stop and start again on the same port. It lies below the
 * kernel's ephemeral range, which every "any free port" listener (PORT=0, `freePort`) and every
 * outgoing connection draws from, so while the server is down nothing takes it by chance; only
 * something that asks for exactly this port can.
 */
export async function portOutsideEphemeralRange(): Promise<number> {
  let low = 32768;
  try {
    low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // Not Linux: the IANA ephemeral range starts at 49152, and 32768 is below it too.
  }
  const from = 10_000;
  if (!(low > from + 1000)) throw new Error(`the ephemeral port range starts at ${low}: no room below it`);
  for (let i = 0; i < 50; i++) {
    const port = from + Math.floor(Math.random() * (low - from));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port between ${from} and ${low}`);
}

/**
 * Ends what a test with worker processes started, whichever parts did start: the workers (killed,
 * as such tests kill them), its database clients, Trellis and the simulator.
 */
export async function stopWorkersAndAll(
  workers: TrellisProcess[],
  clients: ({ end(): Promise<unknown> } | undefined)[],
  trellis: { stop(): Promise<unknown> } | undefined,
  sim: { close(): Promise<unknown> } | undefined,
): Promise<void> {
  await Promise.all(workers.map((w) => w.stop('SIGKILL')));
  for (const c of clients) await c?.end();
  await trellis?.stop();
  await sim?.close();
}
