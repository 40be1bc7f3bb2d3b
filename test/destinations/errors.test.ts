import { describe, expect, it } from 'vitest';
import { describeDestinationError } from '../../src/destinations/errors.ts';
import { OutboundDenied } from '../../src/net/outbound.ts';

/** What a hostile or chatty server could put into its error text. */
const MARKER = 'server-said-7c1e: internal.db.example:5432 user=admin';
const target = { schema: 'crm', table: 'hubspot_contacts' };
const failure = (fields: { code?: string; message?: string }) =>
  Object.assign(new Error(fields.message), fields);

describe("a destination failure as API callers see it: Trellis's summary, never the driver's text", () => {
  it.each([
    [{ code: '28P01' }, 'authentication failed'],
    [{ code: '42501' }, 'permission denied writing crm.hubspot_contacts'],
    [{ code: '3D000' }, 'the database does not exist'],
    [{ code: '57P01' }, 'the destination is shutting down'],
    [{ code: '53300' }, 'the destination is out of resources (disk, memory or connections)'],
    [{ code: '08006' }, 'the connection to the destination failed'],
    [{ code: 'XX000' }, 'the destination answered with error XX000'],
    [{ code: 'ECONNREFUSED' }, 'the destination refused the connection'],
    [{ code: 'ERR_STREAM_PREMATURE_CLOSE' }, 'the destination closed the connection'],
    [{ code: 'EPIPE' }, 'the destination closed the connection'],
    [{ code: 'ERR_STREAM_DESTROYED' }, 'the destination closed the connection'],
    [
      { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
      'TLS with the destination failed (its certificate was not accepted)',
    ],
    [{}, 'an unexpected error (the details are in the logs)'],
  ])('%j → %s', (fields, summary) => {
    const described = describeDestinationError(failure({ ...fields, message: MARKER }), target);
    expect(described).toBe(summary);
    expect(described).not.toContain('server-said');
  });

  it('driver messages without a code are recognised by kind only', () => {
    expect(describeDestinationError(new Error(`Connection terminated unexpectedly ${MARKER}`))).toBe(
      'the destination closed the connection',
    );
    expect(
      describeDestinationError(
        new Error(`Client has encountered a connection error and is not queryable ${MARKER}`),
      ),
    ).toBe('the destination closed the connection');
    expect(describeDestinationError(new Error(`timeout expired ${MARKER}`))).toBe(
      'the destination did not answer in time',
    );
  });

  it("the outbound policy's refusal keeps its message", () => {
    expect(describeDestinationError(new OutboundDenied('169.254.169.254', 'a link-local address'))).toBe(
      'the outbound network policy refused 169.254.169.254 (a link-local address); see TRELLIS_ALLOWED_OUTBOUND',
    );
  });
});
