import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../src/util/net.ts';

export { freePort };

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface TrellisProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves when the output contains `text`. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs the `trellis` CLI as its own OS process, as a user would. */
export function runTrellis(args: string[], env: Record<string, string>): TrellisProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
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
  return {
    child,
    output: () => out,
    async waitFor(text, timeoutMs = 60_000) {
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
