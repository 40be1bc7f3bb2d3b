import { OutboundDenied } from '../net/outbound.ts';
import { WebhookDeliveryFailed } from './webhook.ts';
import type { TableRef } from './writer.ts';

/** SQLSTATEs with a summary of their own; classes (first two characters) below. */
const BY_SQLSTATE: Record<string, (t: string) => string> = {
  '28P01': () => 'authentication failed',
  '28000': () => 'the destination does not accept this login',
  '3D000': () => 'the database does not exist',
  '3F000': (t) => `the schema of ${t} does not exist`,
  '42501': (t) => `permission denied writing ${t}`,
  '42P01': (t) => `table ${t} does not exist`,
  '42703': (t) => `table ${t} does not have the _supaglue_* columns`,
  '42P10': (t) => `table ${t} does not have the _supaglue_* primary key`,
  '25006': () => 'the destination is read-only',
  '57P01': () => 'the destination is shutting down',
  '57P02': () => 'the destination is shutting down',
  '57P03': () => 'the destination is starting up or shutting down',
  '57014': () => 'the destination cancelled the statement',
};

const BY_CLASS: Record<string, string> = {
  '08': 'the connection to the destination failed',
  '22': 'the destination refused a value',
  '23': 'the destination refused a row (a constraint of its own)',
  '40': 'a concurrent transaction at the destination got in the way',
  '53': 'the destination is out of resources (disk, memory or connections)',
  '54': 'the destination hit one of its limits',
};

/** Node's network and stream error codes, as the driver passes them on. */
const BY_NODE_CODE: Record<string, string> = {
  ECONNREFUSED: 'the destination refused the connection',
  ECONNRESET: 'the destination closed the connection',
  EPIPE: 'the destination closed the connection',
  ETIMEDOUT: 'the destination did not answer in time',
  ENOTFOUND: 'the destination host name does not resolve',
  EHOSTUNREACH: 'the destination host is unreachable',
  ENETUNREACH: 'the destination host is unreachable',
  ERR_STREAM_PREMATURE_CLOSE: 'the destination closed the connection',
  ERR_STREAM_DESTROYED: 'the destination closed the connection',
  ERR_STREAM_WRITE_AFTER_END: 'the destination closed the connection',
};

/**
 * A short summary of why a destination operation failed, written by Trellis: what callers of the
 * API see (a sync run's error message). A driver's or server's own text can carry anything the
 * destination chose to say, so it stays in the logs.
 */
export function describeDestinationError(err: unknown, target?: TableRef): string {
  if (err instanceof OutboundDenied) {
    return `the outbound network policy refused ${err.host} (${err.reason}); see TRELLIS_ALLOWED_OUTBOUND`;
  }
  if (err instanceof WebhookDeliveryFailed) return err.summary;
  const { code, message } = err as { code?: unknown; message?: unknown };
  const table = target ? `${target.schema}.${target.table}` : 'the table';
  if (typeof code === 'string') {
    // Before SQLSTATEs: EPIPE has their shape too.
    if (BY_NODE_CODE[code]) return BY_NODE_CODE[code];
    if (/^[0-9A-Z]{5}$/.test(code)) {
      const summary = BY_SQLSTATE[code]?.(table) ?? BY_CLASS[code.slice(0, 2)];
      return summary ?? `the destination answered with error ${code}`;
    }
    if (/CERT|TLS|SSL/.test(code))
      return 'TLS with the destination failed (its certificate was not accepted)';
  }
  const text = typeof message === 'string' ? message : '';
  // pg's words for a session the server ended, during a query or between two.
  if (/terminated|ended unexpectedly|not queryable/i.test(text))
    return 'the destination closed the connection';
  if (/timeout|timed out/i.test(text)) return 'the destination did not answer in time';
  if (/SSL|TLS/.test(text)) return 'TLS with the destination failed';
  return 'an unexpected error (the details are in the logs)';
}
