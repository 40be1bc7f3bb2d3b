import { ConnectorError } from './http.ts';

/** Read cursors are opaque to callers: base64url JSON that only the connector that made it reads. */
export function encodeCursor(state: object): string {
  return Buffer.from(JSON.stringify(state)).toString('base64url');
}

export function decodeCursor<T>(cursor: string): T {
  try {
    return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as T;
  } catch {
    throw new ConnectorError('validation', 'the read cursor is not one this connector issued');
  }
}
