import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

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

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}
