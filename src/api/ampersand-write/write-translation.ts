import type { RecordToWrite, RecordWriteResult, WriteTarget, WriteType } from '../../core/operations.ts';
import { CONNECTION_HEADER } from '../ampersand/connection-header.ts';
import { type RequestIssue, RequestRefused } from '../surface/errors.ts';

/** The Write API's request and answers in the core's words (`src/core/operations.ts`). */

type JsonRecord = Record<string, unknown>;

/** The request body, as the contract has already checked it. */
export interface WriteBody {
  /** Required unless the request names a connection the project owns (the contract cannot say so). */
  groupRef?: string;
  type: WriteType;
  mode?: 'synchronous' | 'asynchronous';
  record?: JsonRecord;
  batch?: { record: JsonRecord; associations?: unknown[] }[];
  associations?: unknown[];
  headers?: unknown[];
  batchPolicy?: { allOrNone?: boolean };
  retryPolicy?: JsonRecord;
  autoBatchPolicy?: JsonRecord;
}

const refuse = (name: string, detail: string) =>
  new RequestRefused('invalid_input', `body${name} ${detail}`, {
    issues: [{ in: 'body', name, detail } satisfies RequestIssue],
  });

/**
 * What the Write API asks for that Trellis cannot do yet, refused rather than ignored: the
 * records would be written without it. (`autoBatchPolicy` and `retryPolicy` only tune when an
 * asynchronous write runs and are accepted: Trellis runs it at once, with its usual retries.)
 */
function checkSupported(body: WriteBody): void {
  if (body.associations?.length) throw refuse('/associations', 'are not supported by Trellis yet');
  const associated = body.batch?.findIndex((item) => item.associations?.length) ?? -1;
  if (associated >= 0) throw refuse(`/batch/${associated}/associations`, 'are not supported by Trellis yet');
  if (body.headers?.length) throw refuse('/headers', 'are not supported by Trellis yet');
  if (body.batchPolicy?.allOrNone)
    throw refuse(
      '/batchPolicy/allOrNone',
      'cannot be honored: Trellis writes a batch record by record and cannot undo those already written',
    );
}

/**
 * What the request writes through: the installation of the path's integration for the body's
 * `groupRef`, or the connection the project owns that `x-trellis-connection-id` names (a Trellis
 * extension), never both. With a connection, the path's integration is the connection's provider:
 * no integration governs a connection the project owns, and the segment, required by the path,
 * must agree with what the header names.
 */
export function writeTargetOf(
  integrationId: string,
  body: WriteBody,
  connectionId: string | undefined,
): WriteTarget {
  if (connectionId === undefined) {
    if (body.groupRef === undefined)
      throw new RequestRefused(
        'missing_input',
        `body/groupRef is required (or a connection the project owns, in ${CONNECTION_HEADER})`,
        { issues: [{ in: 'body', name: '/groupRef', detail: 'is required' }] },
      );
    return { integrationIdOrName: integrationId, customerRef: body.groupRef };
  }
  if (body.groupRef !== undefined)
    throw new RequestRefused(
      'invalid_input',
      `name a group (groupRef) or a connection (${CONNECTION_HEADER}), not both`,
      { issues: [{ in: 'header', name: CONNECTION_HEADER, detail: 'must not be sent with groupRef' }] },
    );
  return { projectOwnedConnectionId: connectionId, providerName: integrationId };
}

/** A record's id, as the provider names it; a number is taken as its digits. */
function idOf(record: JsonRecord): string | undefined {
  const { id } = record;
  if (typeof id === 'string' && id !== '') return id;
  if (typeof id === 'number' && Number.isFinite(id)) return String(id);
  return undefined;
}

/**
 * The records to write: the single `record` or each of the `batch`. Updates and deletes name the
 * record by its `id`, which is not a field to write.
 */
export function recordsOf(body: WriteBody): RecordToWrite[] {
  checkSupported(body);
  if (body.record !== undefined && body.batch !== undefined)
    throw refuse('', 'must have either record or batch, not both');
  const items = body.batch?.map((item) => item.record) ?? (body.record ? [body.record] : []);
  if (items.length === 0) throw refuse('', 'must have a record or a batch of records');
  return items.map((record, i) => {
    const at = body.batch ? `/batch/${i}/record` : '/record';
    if (body.type === 'create') return { fields: record };
    const id = idOf(record);
    if (id === undefined) throw refuse(`${at}/id`, `is required to ${body.type} a record`);
    const { id: _, ...fields } = record;
    return { id, fields };
  });
}

/** A record's outcome as the Write API's `WriteResult`. */
const writeResult = (r: RecordWriteResult) => ({
  success: r.success,
  ...(r.recordId === undefined ? {} : { recordId: r.recordId }),
  ...(r.data === undefined ? {} : { data: r.data }),
});

/**
 * The answer to a synchronous write: 200 when its record was written (for a batch: when any was),
 * else 422 with the reasons in `errors`, worded by Trellis. A batch's results carry no reason of
 * their own in this API, so each failure is an entry of `errors` naming its record.
 */
export function writeAnswer(
  operationId: string,
  results: RecordWriteResult[],
  batch: boolean,
): { status: number; body: JsonRecord } {
  const failures = results.flatMap((r, i) => (r.success ? [] : [{ index: i, error: r.error ?? 'failed' }]));
  if (!batch) {
    const result = results[0]!;
    return result.success
      ? { status: 200, body: { operationId, result: writeResult(result) } }
      : {
          status: 422,
          body: { operationId, errors: [{ message: result.error ?? 'failed' }], result: writeResult(result) },
        };
  }
  const successCount = results.length - failures.length;
  return {
    status: successCount > 0 ? 200 : 422,
    body: {
      operationId,
      results: results.map(writeResult),
      successCount,
      failureCount: failures.length,
      ...(failures.length > 0
        ? { errors: failures.map((f) => ({ message: `record ${f.index + 1}: ${f.error}` })) }
        : {}),
    },
  };
}
