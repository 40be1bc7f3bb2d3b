import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { ROOT, runTrellis } from '../helpers/process.ts';
import { createTestDatabase } from '../helpers/trellis.ts';

/*
 * How Trellis writes its logs: readable lines for a person at a terminal, JSON lines for machines
 * (whenever stdout is not a terminal, and wherever TRELLIS_LOG_FORMAT=json asks for them), secrets
 * redacted in both. The terminal is a real pseudo-terminal, made by util-linux's `script` (Debian's
 * bsdutils, an essential package), and Ctrl-C is typed into it.
 */

/** An ANSI colour sequence (ESC [ … m). */
const ANSI_COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
/** The line Ctrl-C brings, readable (after the terminal's echo of ^C). */
const READABLE_LINE = /^(\^C)?\[\d\d:\d\d:\d\d\.\d{3}\] INFO: shutting down\r?$/m;
const API_LINE = 'Management API';

/** What a log line of JSON says, for each line of `output` that is one (after a terminal's echo of ^C). */
const jsonLines = (output: string) =>
  output
    .split(/\r?\n/)
    .map((line) => line.replace(/^\^C/, ''))
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg?: string });

/** Environment for `trellis start` on a database of its own, logging at info. */
const startEnv = async (extra: Record<string, string> = {}) => ({
  DATABASE_URL: await createTestDatabase(),
  TRELLIS_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
  PORT: '0',
  LOG_LEVEL: 'info',
  ...extra,
});

/** `trellis start` on a terminal until it serves, then Ctrl-C; resolves with what the terminal showed. */
function startOnTerminal(env: Record<string, string>): Promise<string> {
  // exec: Trellis is the terminal's foreground process itself, as when typed at a prompt.
  const command = `exec ${process.execPath} --import tsx src/cli/main.ts start`;
  const child = spawn('script', ['--quiet', '--flush', '--return', '--command', command, '/dev/null'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TERM: 'xterm', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let shown = '';
  let interrupted = false;
  return new Promise((resolve, reject) => {
    child.once('error', (err) =>
      reject(new Error(`a terminal for the test needs util-linux's script: ${err.message}`)),
    );
    const take = (chunk: Buffer) => {
      shown += chunk;
      if (shown.includes(API_LINE) && !interrupted) {
        interrupted = true;
        child.stdin.write('\x03');
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('exit', (code) =>
      code === 0 ? resolve(shown) : reject(new Error(`trellis start exited ${code}:\n${shown}`)),
    );
  });
}

describe('log lines', () => {
  it('readable ones redact the secrets JSON ones redact', async () => {
    let written = '';
    const sink = new Writable({
      write(chunk, _encoding, done) {
        written += chunk;
        done();
      },
    });
    const log = createLogger('info', sink, 'pretty');
    log.info(
      {
        req: { headers: { 'x-api-key': 'trls_key_in_a_header', authorization: 'Bearer token-in-a-header' } },
      },
      'a request',
    );
    log.info(
      { provider: { client_secret: 'client-secret-value' }, tokens: { refresh_token: 'rt-value' } },
      'tokens',
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(written).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: a request\n/);
    expect(written).toContain('[redacted]');
    for (const secret of ['trls_key_in_a_header', 'token-in-a-header', 'client-secret-value', 'rt-value'])
      expect(written).not.toContain(secret);
  });

  it('are readable on a terminal, and JSON through a pipe or when TRELLIS_LOG_FORMAT=json asks', async () => {
    const piped = runTrellis(['start'], await startEnv());
    const [onTerminal, jsonOnTerminal] = await Promise.all([
      startOnTerminal(await startEnv()),
      startOnTerminal(await startEnv({ TRELLIS_LOG_FORMAT: 'json' })),
      piped.apiUrl(),
    ]);
    expect(await piped.stop('SIGINT')).toBe(0);

    // A person reads a coloured line with the time, the level and the message, and no JSON.
    expect(onTerminal).toMatch(ANSI_COLOUR);
    expect(onTerminal.replace(ANSI_COLOUR, '')).toMatch(READABLE_LINE);
    expect(jsonLines(onTerminal)).toEqual([]);

    for (const output of [jsonOnTerminal, piped.output()]) {
      expect(jsonLines(output).map((line) => line.msg)).toContain('shutting down');
      expect(output).not.toMatch(READABLE_LINE);
    }
  });
}, 300_000);
