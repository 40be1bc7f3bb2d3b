import type pg from 'pg';
import type { ProviderName } from '../connectors/catalog.ts';
import { ConnectorError, type ConnectorErrorKind } from '../connectors/http.ts';
import { CATALOG, providerModule } from '../connectors/index.ts';
import type { ProviderRecord } from '../connectors/types.ts';
import { transaction } from '../db/pool.ts';
import { QUEUES } from '../db/queue.ts';
import type { CoreDeps } from './deps.ts';
import { badRequest, notFound } from './errors.ts';
import { isUuid } from './ids.ts';
import { type Installation, listInstallations } from './installations.ts';
import { findIntegration, type Integration } from './integrations.ts';
import { getProjectOwnedConnection } from './project-owned-connections.ts';
import { openConnector } from './provider-access.ts';
import { connectableProvider } from './provider-catalog.ts';

/**
 * Write operations: records created, updated or deleted at the provider through an installation
 * or through a connection the project owns, one operation per request, each kept with its counts
 * and outcome. A synchronous one is written while the caller waits; an asynchronous one is a job
 * on the queue.
 */

export type WriteType = 'create' | 'update' | 'delete';
export type WriteOperationStatus = 'queued' | 'running' | 'succeeded' | 'failed';

/** At most this many records in one operation. */
export const MAX_RECORDS_PER_WRITE = 100;
/** Records of one operation written at once (the connection's pace still applies). */
const WRITE_CONCURRENCY = 4;
/** How many failures an operation's error summary names. */
const SUMMARIZED_FAILURES = 5;

/** One record to write: its fields, and for an update or a delete the provider's id of the record. */
export interface RecordToWrite {
  id?: string;
  fields: Record<string, unknown>;
}

/** What became of one record. */
export interface RecordWriteResult {
  success: boolean;
  /** The provider's id of the record written. */
  recordId?: string;
  /** The record as the provider answered a create or an update. */
  data?: Record<string, unknown>;
  /** Why it failed, in Trellis's words (never the provider's own text). */
  error?: string;
}

export interface WriteOperation {
  id: string;
  projectId: string;
  /** The installation it wrote through, and its integration; null for a connection the project owns. */
  installationId: string | null;
  integrationId: string | null;
  /** The connection the project owns it wrote through; null when it went through an installation. */
  projectOwnedConnectionId: string | null;
  object: string;
  type: WriteType;
  asynchronous: boolean;
  status: WriteOperationStatus;
  recordCount: number;
  successCount: number;
  failureCount: number;
  errorSummary: string | null;
  /** Per record, in the order they were sent; null until the operation ends. */
  results: RecordWriteResult[] | null;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
}

const select = `select w.id, w.project_id as "projectId", w.installation_id as "installationId",
    ins.integration_id as "integrationId", w.connection_id as "projectOwnedConnectionId", w.object, w.type, w.asynchronous, w.status,
    w.record_count as "recordCount", w.success_count as "successCount", w.failure_count as "failureCount",
    w.error_summary as "errorSummary", w.results, w.created_at as "createdAt", w.started_at as "startedAt",
    w.ended_at as "endedAt"
  from write_operations w left join installations ins on ins.id = w.installation_id`;

/**
 * The installation of an integration (by id or name) for one customer: the one a caller means
 * when it names the integration and the customer. A customer with the integration on several
 * connections is answered with the first installed.
 */
export async function installationFor(
  deps: CoreDeps,
  projectId: string,
  integrationIdOrName: string,
  customerRef: string,
): Promise<{ integration: Integration; installation: Installation }> {
  const integration = await findIntegration(deps, projectId, integrationIdOrName);
  const [installation] = await listInstallations(deps, projectId, {
    integrationId: integration.id,
    customerRef,
  });
  if (!installation)
    throw notFound(`installation of integration "${integrationIdOrName}" for "${customerRef}"`);
  return { integration, installation };
}

/**
 * What a write goes through: the installation of an integration (by id or name) for one customer,
 * or a connection the project owns, named with its provider (which must be the connection's).
 */
export type WriteTarget =
  | { integrationIdOrName: string; customerRef: string }
  | { projectOwnedConnectionId: string; providerName: string };

/** A write's target as found: the row it is kept under and the connection that writes. */
interface FoundTarget {
  installationId: string | null;
  projectOwnedConnectionId: string | null;
  connectionId: string;
  providerName: string;
}

/** An installation may write an object its configuration chose and its integration still writes. */
function checkWritable(integration: Integration, installation: Installation, object: string): void {
  const chosen = installation.config?.write.map((o) => o.object) ?? [];
  if (!chosen.includes(object) || !integration.writeObjects.includes(object)) {
    const writable = chosen.filter((o) => integration.writeObjects.includes(o));
    throw badRequest(
      `the installation does not write "${object}"` +
        (writable.length > 0 ? ` (it writes ${writable.join(', ')})` : ' (it writes no objects)'),
    );
  }
}

/**
 * A connection the project owns is governed by no integration: it writes what its provider's
 * connector writes.
 */
function checkProviderWrites(providerName: string, object: string): void {
  const writable = connectableProvider(providerName)?.objects.write ?? [];
  if (!writable.includes(object))
    throw badRequest(
      `the connection does not write "${object}"` +
        (writable.length > 0
          ? ` (${displayName(providerName)} connections write ${writable.join(', ')})`
          : ''),
    );
}

/** The target a write names, checked to write the object. */
async function foundTarget(
  deps: CoreDeps,
  projectId: string,
  target: WriteTarget,
  object: string,
): Promise<FoundTarget> {
  if ('projectOwnedConnectionId' in target) {
    const connection = await getProjectOwnedConnection(deps, projectId, target.projectOwnedConnectionId);
    // Whatever else names the connection must agree with it, as for an installation.
    if (connection.providerName !== target.providerName)
      throw notFound(`${target.providerName} connection "${target.projectOwnedConnectionId}"`);
    checkProviderWrites(connection.providerName, object);
    return {
      installationId: null,
      projectOwnedConnectionId: connection.id,
      connectionId: connection.id,
      providerName: connection.providerName,
    };
  }
  const { integration, installation } = await installationFor(
    deps,
    projectId,
    target.integrationIdOrName,
    target.customerRef,
  );
  checkWritable(integration, installation, object);
  return {
    installationId: installation.id,
    projectOwnedConnectionId: null,
    connectionId: installation.connectionId,
    providerName: integration.providerName,
  };
}

function checkRecords(type: WriteType, records: RecordToWrite[]): void {
  if (records.length < 1 || records.length > MAX_RECORDS_PER_WRITE)
    throw badRequest(`an operation writes 1 to ${MAX_RECORDS_PER_WRITE} records`);
  if (type === 'create') return;
  const unnamed = records.findIndex((r) => r.id === undefined || r.id === '');
  if (unnamed >= 0)
    throw badRequest(
      `${records.length > 1 ? `record ${unnamed + 1}: ` : ''}an ${type} names the record by its id`,
    );
}

const displayName = (providerName: string) =>
  CATALOG[providerName as ProviderName]?.displayName ?? providerName;

/**
 * A provider failure in Trellis's words: what it means for the record, never the provider's text.
 * Refused credentials are renewed by the customer, or for a connection the project owns by the
 * project.
 */
function describeFailure(
  providerName: string,
  type: WriteType,
  err: ConnectorError,
  projectOwned: boolean,
): string {
  const provider = displayName(providerName);
  const renewal = projectOwned
    ? "the connection's credentials have to be replaced"
    : 'the customer has to connect again';
  const words: Record<ConnectorErrorKind, string> = {
    validation: `${provider} refused the record as invalid (${err.message})`,
    not_found: `${provider} has no such record (${err.message})`,
    auth: `${provider} did not accept the connection's credentials; ${renewal}`,
    permission: `the connection is not allowed to ${type} this record at ${provider}`,
    rate_limited: `${provider}'s rate limit was reached; try again later`,
    transient: `${provider} could not be reached (${err.message}); try again later`,
  };
  return words[err.kind];
}

const recordOf = (record: ProviderRecord): RecordWriteResult => ({
  success: true,
  recordId: record.id,
  data: record.raw,
});

/**
 * Writes the records at the provider on the connection (at its pace), a few at a time; each
 * record's outcome in order.
 */
async function writeAtProvider(
  deps: CoreDeps,
  connection: { connectionId: string; projectOwned: boolean },
  object: string,
  type: WriteType,
  records: RecordToWrite[],
): Promise<RecordWriteResult[]> {
  const { connector, ctx, providerName } = await openConnector(deps, connection.connectionId, {
    interactive: true,
  });
  const writeOne = async (r: RecordToWrite): Promise<RecordWriteResult> => {
    try {
      switch (type) {
        case 'create':
          return recordOf(await connector.create!(ctx, object, r.fields));
        case 'update':
          return recordOf(await connector.update!(ctx, object, r.id!, r.fields));
        case 'delete':
          await connector.delete!(ctx, object, r.id!);
          return { success: true, recordId: r.id };
      }
    } catch (err) {
      if (err instanceof ConnectorError)
        return { success: false, error: describeFailure(providerName, type, err, connection.projectOwned) };
      throw err;
    }
  };
  const results: RecordWriteResult[] = new Array(records.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < records.length; i = next++) results[i] = await writeOne(records[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, records.length) }, lane));
  return results;
}

/** The provider's connector must have the capability the write needs. */
function checkCapability(providerName: string, type: WriteType): void {
  if (!providerModule(providerName as ProviderName)?.connector[type])
    throw badRequest(`Trellis cannot ${type} ${displayName(providerName)} records`);
}

/** Stores the outcome of an operation; its waiting records go. */
async function finishOperation(
  client: Pick<pg.ClientBase, 'query'>,
  id: string,
  results: RecordWriteResult[],
): Promise<void> {
  const failures = results.flatMap((r, i) => (r.success ? [] : [{ index: i, error: r.error! }]));
  const summary =
    failures.length === 0
      ? null
      : failures
          .slice(0, SUMMARIZED_FAILURES)
          .map((f) => (results.length > 1 ? `record ${f.index + 1}: ${f.error}` : f.error))
          .join('; ') +
        (failures.length > SUMMARIZED_FAILURES ? `; and ${failures.length - SUMMARIZED_FAILURES} more` : '');
  await client.query(
    `update write_operations set status = $2, success_count = $3, failure_count = $4, error_summary = $5,
       results = $6, pending_records = null, ended_at = now() where id = $1`,
    [
      id,
      failures.length === 0 ? 'succeeded' : 'failed',
      results.length - failures.length,
      failures.length,
      summary,
      // The records' data stays with the caller's answer; the operation keeps ids and errors.
      JSON.stringify(results.map(({ data: _, ...rest }) => rest)),
    ],
  );
}

/**
 * Writes records of one object through the target: the installation of an integration for one
 * customer, or a connection the project owns. A synchronous write answers each record's outcome;
 * an asynchronous one is queued and answered at once with its operation, which records the outcome
 * when the job has run.
 */
export async function writeRecords(
  deps: CoreDeps,
  projectId: string,
  input: {
    target: WriteTarget;
    object: string;
    type: WriteType;
    asynchronous: boolean;
    records: RecordToWrite[];
  },
): Promise<{ operation: WriteOperation; results?: RecordWriteResult[] }> {
  const target = await foundTarget(deps, projectId, input.target, input.object);
  checkRecords(input.type, input.records);
  checkCapability(target.providerName, input.type);

  const id = await transaction(deps.db, async (client) => {
    const { rows } = await client.query<{ id: string }>(
      `insert into write_operations (project_id, installation_id, connection_id, object, type, asynchronous,
         status, record_count, pending_records, started_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, case when $6 then null else now() end) returning id`,
      [
        projectId,
        target.installationId,
        target.projectOwnedConnectionId,
        input.object,
        input.type,
        input.asynchronous,
        input.asynchronous ? 'queued' : 'running',
        input.records.length,
        input.asynchronous ? JSON.stringify(input.records) : null,
      ],
    );
    const operationId = rows[0]!.id;
    // Not retried: a write that ran halfway would create its records twice.
    if (input.asynchronous)
      await deps.queue.send(QUEUES.writeOperation, { operationId }, { retryLimit: 0 }, client);
    return operationId;
  });
  if (input.asynchronous) return { operation: await getWriteOperation(deps, projectId, id) };

  let results: RecordWriteResult[];
  try {
    results = await writeAtProvider(
      deps,
      { connectionId: target.connectionId, projectOwned: target.projectOwnedConnectionId !== null },
      input.object,
      input.type,
      input.records,
    );
  } catch (err) {
    await failOperation(deps, id, err);
    throw err;
  }
  await finishOperation(deps.db, id, results);
  return { operation: await getWriteOperation(deps, projectId, id), results };
}

/** An operation that could not run to its end (not a provider's refusal: Trellis's own failure). */
async function failOperation(deps: CoreDeps, id: string, err: unknown): Promise<void> {
  deps.log.error({ err, operationId: id }, 'write operation failed');
  await deps.db.query(
    `update write_operations set status = 'failed', error_summary = $2, pending_records = null, ended_at = now()
      where id = $1`,
    [id, 'the write could not be completed; the error has been logged'],
  );
}

/** Runs a queued write operation (the job handler). An operation already taken is left alone. */
export async function runWriteOperation(deps: CoreDeps, operationId: string): Promise<void> {
  const { rows } = await deps.db.query<{
    connectionId: string;
    projectOwned: boolean;
    object: string;
    type: WriteType;
    records: RecordToWrite[];
  }>(
    `update write_operations w set status = 'running', started_at = now()
      where w.id = $1 and w.status = 'queued'
      returning coalesce(w.connection_id, (select connection_id from installations where id = w.installation_id))
          as "connectionId",
        w.connection_id is not null as "projectOwned", w.object, w.type, w.pending_records as records`,
    [operationId],
  );
  const operation = rows[0];
  if (!operation) return;
  try {
    const results = await writeAtProvider(
      deps,
      { connectionId: operation.connectionId, projectOwned: operation.projectOwned },
      operation.object,
      operation.type,
      operation.records,
    );
    await finishOperation(deps.db, operationId, results);
  } catch (err) {
    await failOperation(deps, operationId, err);
  }
}

export async function getWriteOperation(
  deps: CoreDeps,
  projectId: string,
  id: string,
): Promise<WriteOperation> {
  if (!isUuid(id)) throw notFound('operation');
  const { rows } = await deps.db.query<WriteOperation>(`${select} where w.project_id = $1 and w.id = $2`, [
    projectId,
    id,
  ]);
  if (!rows[0]) throw notFound('operation');
  return rows[0];
}

/** A project's write operations, newest first; of one installation when it is named. */
export async function listWriteOperations(
  deps: CoreDeps,
  projectId: string,
  filter: { installationId?: string } = {},
): Promise<WriteOperation[]> {
  if (filter.installationId !== undefined && !isUuid(filter.installationId)) return [];
  const { rows } = await deps.db.query<WriteOperation>(
    `${select} where w.project_id = $1 and ($2::uuid is null or w.installation_id = $2)
      order by w.created_at desc, w.id`,
    [projectId, filter.installationId ?? null],
  );
  return rows;
}
