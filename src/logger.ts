import { type DestinationStream, type Logger, pino } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** JSON lines for machines, or readable lines for a person at a terminal. */
export type LogFormat = 'json' | 'pretty';

/** Paths that may carry secrets; pino replaces their values before anything is written. */
const REDACT_PATHS = [
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.password',
  '*.client_secret',
  '*.oauth_client_secret',
  '*.access_token',
  '*.refresh_token',
  '*.api_key',
  '*.secret',
];

/**
 * A request URL as it may be logged: a magic link's id is its capability, the OAuth callback's
 * query holds the authorization code and state, a popup's start URL claims its flow, and an upload
 * URL's query holds its signature, so none is written anywhere.
 */
export function redactUrl(url: string): string {
  return url
    .replace(/\/(links|magic_links)\/[^/?#]+/g, '/$1/[redacted]')
    .replace(/(\/(?:oauth\/(?:callback|start)|uploads\/)[^?]*)\?.*$/, '$1?[redacted]');
}

/**
 * A logger writing to `destination` (stdout by default). Readable lines carry the local time, the
 * level and the message, and the other fields beneath, coloured on a terminal; either way secrets
 * are redacted before a line is formatted.
 */
export function createLogger(
  level: string,
  destination?: DestinationStream,
  format: LogFormat = 'json',
): Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  if (format === 'json') return pino(options, destination);
  return pino(
    options,
    pretty({
      destination: destination ?? 1,
      // Written at once, so the last lines before the process exits are not lost.
      sync: true,
      colorize: destination === undefined && process.stdout.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
    }),
  );
}
