import type pg from 'pg';
import { modelColumns, unifiedRecord } from '../connectors/common-models/index.ts';
import { ConnectorError } from '../connectors/http.ts';
import { type CommonObject, commonObjectNames, commonObjectOf } from '../connectors/index.ts';
import type { ProviderRecord } from '../connectors/types.ts';
import type { CoreDeps } from '../core/deps.ts';
import { type Destination, destinationTarget } from '../core/destinations.ts';
import { badRequest, DomainError } from '../core/errors.ts';
import { emitEvent } from '../core/events.ts';
import { identifierProblem } from '../core/identifiers.ts';
import { markBadCredentials, openConnector } from '../core/provider-access.ts';
import { nextRead, nextScheduledRun, type ObjectKind, type SyncPlan } from '../core/read-plan.ts';
import { recordShape } from '../core/record-fields.ts';
import { transaction } from '../db/pool.ts';
import {
  describeDestinationError,
  type OpenDestination,
  openDestination,
  type RowOwner,
  type TableRef,
  type WriteRecord,
} from '../destinations/index.ts';
import { prefetch } from './prefetch.ts';

/** A sync's engine state, kept in `syncs.state`. */
export interface SyncState {
  /** Set once a full run has completed. */
  synced?: boolean;
  /** `since` for the next incremental run. */
  watermark?: string;
  incrementalsSinceFull?: number;
  /** A trigger waiting for the next run (kept if a run is in flight), with the id that run takes. */
  requested?: { full_refresh: boolean; run_id?: string };
  /** The run in progress: where it is, so a crashed worker's successor resumes right there. */
  checkpoint?: Checkpoint;
  heartbeat?: string;
  /**
   * What the last completed run wrote that the next incremental run reads again (modified within
   * the watermark margin before it started), by record id: its modification time. The next run
   * skips a record still at that time, so that the margin, kept for provider clock skew, does not
   * deliver a record twice. Absent after a run with more such records than is worth keeping.
   */
  overlap?: Record<string, string>;
  /** The connector's state (ReadPage.state) as the last successful run left it, for the next read. */
  connectorState?: string;
}

interface Checkpoint {
  runId: string;
  mode: 'full' | 'incremental';
  since?: string;
  /** Where an unpartitioned read resumes: the cursor of its last written page. */
  cursor: string | null;
  startedAt: string;
  records: number;
  /** Provider pages read and written so far, over all partitions (absent in checkpoints saved before it was). */
  pages?: number;
  /** Every page was read and written: a resumed run only has to finish (its cursor is null again). */
  readDone?: boolean;
  /** A full read split into partitions (the connector's descriptors), each with where it stands. */
  partitions?: PartitionProgress[];
  /** The connector's state the pages read so far handed back: a resumed run goes on with it. */
  connectorState?: string;
  /**
   * A full run: whether the destination held any of the owner's records before it wrote. With none,
   * it has nothing to mark deleted at its end (absent: marked, as before this was kept).
   */
  heldRecords?: boolean;
}

interface PartitionProgress {
  partition: string;
  /** The cursor of its last written page; null before its first. */
  cursor: string | null;
  /** Its last page is written. */
  done?: boolean;
  /** Read only once every other partition has been read to its end (the connector's `last`). */
  last?: boolean;
}

/** The most records an overlap keeps; beyond it the next run writes them again (at least once). */
const MAX_OVERLAP_RECORDS = 10_000;
/** Records per destination transaction; pages are gathered until a batch is this big. */
const BATCH_SIZE = 5000;
/** Records fetched ahead of the writer: about two batches, so fetching continues while a batch is written. */
const PREFETCH_RECORDS = 2 * BATCH_SIZE;
/**
 * A partitioned read's partitions read at the same time: as many as a connector makes (up to 32,
 * Pipedrive's). A partition asks for a page once it has the one before, and a page of 500 from a
 * provider 300 ms away takes about 0.4 s with its building: 16 partitions asked at most 40
 * requests a second, all of Pipedrive's budget with none to spare. The connection's rate budget
 * paces their requests; this only bounds what one run holds open.
 */
const PARTITIONS_IN_FLIGHT = 32;
/** A batch smaller than BATCH_SIZE is written after this long, so that progress shows while pages come slowly. */
const PROGRESS_MS = 2000;
/** Incremental reads start this long before the previous run started, for provider clock skew. */
const WATERMARK_MARGIN_MS = 60_000;
/** How often a run reports that its worker is alive; at least 4 times per stale-run threshold. */
const HEARTBEAT_MS = 5000;
/** After a failed run, the next one comes after this long (or at its scheduled time, if sooner). */
const RETRY_AFTER_FAILURE_MS = 5 * 60_000;

interface SyncContext {
  id: string;
  projectId: string;
  connectionId: string;
  connectionStatus: string;
  kind: ObjectKind | 'entity';
  object: string;
  paused: boolean;
  state: SyncState;
  /** Null while the sync is handed out to run (the scheduler clears it when it claims the sync). */
  nextRunAt: Date | null;
  customerRef: string;
  customerName: string;
  installationId: string;
  providerName: string;
  plan: SyncPlan;
  destination: Destination;
}

async function loadSync(deps: CoreDeps, syncId: string): Promise<SyncContext | undefined> {
  const { rows } = await deps.db.query<SyncContext & { destinationRow: Destination }>(
    `select s.id, s.project_id as "projectId", s.connection_id as "connectionId", c.status as "connectionStatus",
            s.object_type as kind, s.object, s.paused, s.state, s.next_run_at as "nextRunAt",
            cu.external_id as "customerRef", cu.name as "customerName", s.installation_id as "installationId",
            c.provider_name as "providerName", s.plan,
            json_build_object('id', d.id, 'projectId', d.project_id, 'name', d.name, 'type', d.type,
                              'config', d.config, 'version', d.version) as "destinationRow"
       from syncs s join connections c on c.id = s.connection_id join customers cu on cu.id = c.customer_id
       join destinations d on d.id = (s.plan->>'destinationId')::uuid
      where s.id = $1`,
    [syncId],
  );
  const row = rows[0];
  return row && { ...row, destination: row.destinationRow };
}

/**
 * The table a sync writes into. A connection may choose the schema and table for postgres
 * destinations only, by the identifier rule (checked again here: overrides saved before it, or for
 * a destination changed since, never reach SQL unchecked). The built-in destination always writes
 * its default table (`<provider>_<object>`, an entity's `entity_<name>`, a common object's unified
 * table) into its project's own schema.
 */
function tableOf(
  deps: CoreDeps,
  sync: SyncContext,
  destination: OpenDestination,
  common: CommonObject | undefined,
): TableRef {
  const located = placeOf(deps, sync, destination);
  return common ? { ...located, unified: { columns: modelColumns(common.model) } } : located;
}

function placeOf(deps: CoreDeps, sync: SyncContext, destination: OpenDestination): TableRef {
  const table = (sync.plan.defaultTable ?? `${sync.providerName}_${sync.object}`)
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_');
  const { schema, table: chosenTable } = sync.plan;
  if (!destination.overridable) {
    if (schema !== undefined || chosenTable !== undefined) {
      deps.log.warn(
        { syncId: sync.id, destination: sync.destination.name },
        'the connection names a schema or table; ignored, the built-in destination writes into its own schema',
      );
    }
    return { schema: destination.defaultSchema, table };
  }
  const target = { schema: schema ?? destination.defaultSchema, table: chosenTable ?? table };
  for (const [what, name] of [
    ['schema', target.schema],
    ['table', chosenTable],
  ] as const) {
    const problem = name === undefined ? undefined : identifierProblem(name);
    if (problem) throw badRequest(`the ${what} name "${name}" ${problem}`);
  }
  return target;
}

/**
 * Saves the run's checkpoint (and that it is alive), leaving the rest of the stored state alone: a
 * trigger may add `requested` at any time during the run, and it must still be there at the end.
 * `consumed` is the request this run took when it started; a different one arrived since is kept.
 */
async function saveProgress(
  db: pg.Pool,
  syncId: string,
  checkpoint: Checkpoint,
  consumed?: SyncState['requested'],
) {
  await db.query(
    `update syncs set updated_at = now(),
       state = case when state->'requested' = $3::jsonb then state - 'requested' else state end
               || jsonb_build_object('checkpoint', $2::jsonb, 'heartbeat', now())
     where id = $1`,
    [syncId, checkpoint, consumed ?? null],
  );
}

/** The sync's state as stored now: triggers may have arrived while the run was going. */
async function currentState(deps: CoreDeps, syncId: string): Promise<SyncState | undefined> {
  const { rows } = await deps.db.query<{ state: SyncState }>('select state from syncs where id = $1', [
    syncId,
  ]);
  return rows[0]?.state;
}

/**
 * Runs (or resumes) one sync, if no other process is running it. The advisory lock lives as long
 * as this process's database session, so a killed worker releases it at once and the scheduler
 * hands the sync, with its checkpoint, to another worker.
 */
export async function runSync(deps: CoreDeps, syncId: string): Promise<void> {
  const lock = await deps.db.connect();
  try {
    const { rows } = await lock.query<{ locked: boolean }>(
      "select pg_try_advisory_lock(hashtext('sync'), hashtext($1)) as locked",
      [syncId],
    );
    if (!rows[0]?.locked) return;
    try {
      await runLocked(deps, syncId);
    } finally {
      await lock.query("select pg_advisory_unlock(hashtext('sync'), hashtext($1))", [syncId]);
    }
  } finally {
    lock.release();
  }
}

async function runLocked(deps: CoreDeps, syncId: string): Promise<void> {
  const sync = await loadSync(deps, syncId);
  if (!sync) return;
  const resuming = sync.state.checkpoint;
  if (!resuming && (sync.paused || sync.connectionStatus === 'bad_credentials')) return;
  // Rescheduled since it was claimed: another run served the claim before this job was picked up
  // (a trigger's run, say), and the scheduler hands the sync out again when it is next due.
  if (!resuming && sync.nextRunAt !== null) return;

  let checkpoint: Checkpoint;
  if (resuming) {
    checkpoint = resuming;
  } else {
    const { requested, ...state } = sync.state;
    const read = nextRead(
      sync.plan.policy,
      { ...state, fullRequested: requested?.full_refresh === true },
      new Date(),
    );
    // The id a trigger promised, unless a run took it already (one that died before saving progress).
    const { rows } = await deps.db.query<{ id: string }>(
      `insert into sync_runs (id, project_id, sync_id, status)
       values (coalesce((select $3::uuid where not exists (select 1 from sync_runs where id = $3::uuid)),
                        gen_random_uuid()), $1, $2, 'running')
       returning id`,
      [sync.projectId, sync.id, requested?.run_id ?? null],
    );
    checkpoint = {
      runId: rows[0]!.id,
      ...read,
      cursor: null,
      startedAt: new Date().toISOString(),
      records: 0,
    };
    await saveProgress(deps.db, sync.id, checkpoint, sync.state.requested);
  }

  const heartbeat = setInterval(
    () => {
      void deps.db
        .query(`update syncs set state = jsonb_set(state, '{heartbeat}', to_jsonb(now())) where id = $1`, [
          sync.id,
        ])
        .catch(() => {});
    },
    Math.min(HEARTBEAT_MS, (deps.config.staleRunSeconds * 1000) / 4),
  );
  try {
    const overlap = await execute(deps, sync, checkpoint);
    await finish(deps, sync, checkpoint, undefined, overlap);
  } catch (err) {
    await finish(deps, sync, checkpoint, err).catch((e) =>
      deps.log.error({ err: e, syncId }, 'could not record the end of a failed sync run'),
    );
  } finally {
    clearInterval(heartbeat);
  }
}

/** Runs the read and the writes; answers the overlap the next incremental run may skip. */
async function execute(
  deps: CoreDeps,
  sync: SyncContext,
  checkpoint: Checkpoint,
): Promise<Record<string, string> | undefined> {
  const common = sync.kind === 'common' ? commonObjectOf(sync.providerName, sync.object) : undefined;
  if (sync.kind === 'common' && !common)
    throw badRequest(
      `${sync.providerName} has no common object "${sync.object}" (it has: ${commonObjectNames(sync.providerName).join(', ') || 'none'})`,
    );
  // An entity reads the provider object mapped to it (one not mapped yet has nothing to read), a
  // common object the provider object its plan names.
  const object =
    sync.plan.reads?.object ?? (sync.kind === 'entity' || sync.kind === 'common' ? undefined : sync.object);
  if (object === undefined)
    throw badRequest(
      sync.kind === 'entity'
        ? 'the entity is not mapped to a provider object for this connection: map it, then sync'
        : `the plan of common object "${sync.object}" names no provider object to read; it is planned again when Trellis starts`,
    );
  // Aborted when the read stops early (the destination failed, a partition failed): the requests
  // its other partitions have on their way end then rather than be waited for and dropped.
  const stopping = new AbortController();
  const { connector, ctx } = await openConnector(deps, sync.connectionId, { signal: stopping.signal });
  if (!connector.read) throw new Error(`the ${sync.providerName} connector cannot read`);
  // The caller sees Trellis's summary of a destination failure, naming the destination: a driver's
  // or server's own text can say anything. The cause, and so the logged error, keeps it whole.
  const atDestination = async <T>(work: () => Promise<T>, target?: TableRef): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      // Trellis's own refusals (an unsupported destination, a bad table name) say what they mean.
      const summary = err instanceof DomainError ? err.message : describeDestinationError(err, target);
      throw new Error(`writing to destination "${sync.destination.name}" failed: ${summary}`, { cause: err });
    }
  };
  const destination = await atDestination(() =>
    openDestination(deps, destinationTarget(deps, sync.destination)),
  );
  const { writer } = destination;
  const target = await atDestination(async () => tableOf(deps, sync, destination, common));
  const owner: RowOwner = {
    projectId: sync.projectId,
    providerName: sync.providerName,
    customerRef: sync.customerRef,
    customerName: sync.customerName,
    installationId: sync.installationId,
    objectName: common ? sync.object : object,
  };
  await atDestination(() => writer.prepare(target), target);

  // Only an incremental run from the last run's watermark reads what that run already wrote.
  let alreadyWritten =
    checkpoint.mode === 'incremental' && checkpoint.since === sync.state.watermark
      ? sync.state.overlap
      : undefined;
  const overlapFrom = Date.parse(checkpoint.startedAt) - WATERMARK_MARGIN_MS;
  // A resumed run has lost what its first pages wrote: its successor rereads them (at least once).
  const fresh =
    checkpoint.cursor === null && (checkpoint.partitions ?? []).every((p) => p.cursor === null && !p.done);
  let overlap: Map<string, string> | undefined = fresh ? new Map() : undefined;
  // A first sync's sweep would read every row it just wrote to mark none of them: asked before the
  // first write whether there is anything to sweep, the destination stops at the first live row.
  if (checkpoint.mode === 'full' && fresh && checkpoint.heldRecords === undefined)
    checkpoint.heldRecords = await atDestination(() => writer.holdsRecords(target, owner), target);
  if (!checkpoint.readDone) {
    // A full read not begun yet is split where the connector can; a checkpoint saved before
    // partitions existed, or a read already under way unsplit, goes on as one sequence.
    if (
      checkpoint.mode === 'full' &&
      checkpoint.cursor === null &&
      !checkpoint.partitions &&
      connector.partitions
    ) {
      const plan = await connector.partitions(ctx, { object });
      const partitions: PartitionProgress[] = [
        ...(plan?.partitions ?? []).map((partition) => ({ partition, cursor: null })),
        ...(plan?.last === undefined ? [] : [{ partition: plan.last, cursor: null, last: true }]),
      ];
      if (partitions.length > 1) {
        checkpoint.partitions = partitions;
        await saveProgress(deps.db, sync.id, checkpoint);
      }
    }
    const read = connector.read.bind(connector);
    const connectorState = checkpoint.connectorState ?? sync.state.connectorState;
    const request = {
      object,
      ...(checkpoint.since ? { since: new Date(checkpoint.since) } : {}),
      ...(sync.plan.associations ? { associations: sync.plan.associations } : {}),
      ...(connectorState === undefined ? {} : { state: connectorState }),
    };
    // Each stream's pages, in order: a partition not done yet, or the whole read (undefined). A
    // partition marked last is a phase of its own, begun once the others are read to their end.
    type Stream = PartitionProgress | undefined;
    const pending = checkpoint.partitions?.filter((p) => !p.done);
    const phases: Stream[][] = pending
      ? [pending.filter((p) => !p.last), pending.filter((p) => p.last)]
      : [[undefined]];
    const streams = phases.flat();
    const source = (p: Stream) => () => {
      const cursor = p ? p.cursor : checkpoint.cursor;
      return read(ctx, {
        ...request,
        ...(p ? { partition: p.partition } : {}),
        ...(cursor ? { cursor } : {}),
      });
    };
    const shape = recordShape(sync.providerName, sync.plan.fields);
    const toWrite = common
      ? unifiedRecords(common)
      : (r: ProviderRecord): WriteRecord[] => {
          // Fields are shaped only by a destination that asks for them (a database keeps `raw`).
          // Built field by field: spreading every record costs measurable CPU (bench:sync).
          const { mapped, fields } = shape(r.raw);
          return [
            {
              id: r.id,
              lastModifiedAt: r.lastModifiedAt,
              isDeleted: r.isDeleted,
              raw: r.raw,
              mapped,
              fields,
            },
          ];
        };
    let batch: WriteRecord[] = [];
    let batchPages = 0;
    /** Each stream's position after its last page in the batch. */
    const reached = new Map<Stream, string | null>();
    let lastFlush = Date.now();
    // A stream's position is saved only with the batch holding its pages up to there.
    const flush = async () => {
      if (batch.length > 0) await atDestination(() => writer.write(target, owner, batch, new Date()), target);
      checkpoint.records += batch.length;
      checkpoint.pages = (checkpoint.pages ?? 0) + batchPages;
      for (const [partition, cursor] of reached) {
        if (partition) {
          partition.cursor = cursor;
          if (cursor === null) partition.done = true;
          // The whole read's final null cursor is saved with readDone, never alone: a successor
          // would take it for the start.
        } else if (cursor !== null) checkpoint.cursor = cursor;
      }
      batch = [];
      batchPages = 0;
      reached.clear();
      lastFlush = Date.now();
      await saveProgress(deps.db, sync.id, checkpoint);
    };
    const pages = prefetch(
      phases.map((phase) => phase.map(source)),
      {
        budget: PREFETCH_RECORDS,
        size: (p) => p.records.length,
        concurrency: PARTITIONS_IN_FLIGHT,
        stopping,
      },
    );
    for await (const { source: stream, item: page } of pages) {
      if (page.state !== undefined) checkpoint.connectorState = page.state;
      if (page.fieldsChanged) alreadyWritten = undefined;
      for (const r of page.records) {
        const modified = r.lastModifiedAt.toISOString();
        // Written already at this version: by the last run (in its margin), or by this one
        // (partitions by modification time may both hold a record changed near the split).
        if (alreadyWritten?.[r.id] === modified || overlap?.get(r.id) === modified) continue;
        if (overlap && r.lastModifiedAt.getTime() >= overlapFrom) {
          overlap.set(r.id, modified);
          if (overlap.size > MAX_OVERLAP_RECORDS) overlap = undefined;
        }
        for (const w of toWrite(r)) batch.push(w);
      }
      batchPages++;
      reached.set(streams[stream], page.cursor);
      if (batch.length >= BATCH_SIZE || Date.now() - lastFlush >= PROGRESS_MS) await flush();
    }
    checkpoint.readDone = true;
    checkpoint.cursor = null;
    await flush();
  }
  if (checkpoint.mode === 'full' && checkpoint.heldRecords !== false)
    await atDestination(
      () => writer.markUnseenDeleted(target, owner, new Date(checkpoint.startedAt)),
      target,
    );
  return checkpoint.readDone && overlap ? Object.fromEntries(overlap) : undefined;
}

const NOT_MAPPED: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/**
 * A common object's records from one provider record: mapped by the provider's mapping, each
 * with the provider record (or the part of it the model's record is) as its raw data.
 */
function unifiedRecords(common: CommonObject): (r: ProviderRecord) => WriteRecord[] {
  const { mapping } = common;
  return (r) =>
    (mapping.split ? mapping.split(r) : [r]).map((part) => {
      const record = unifiedRecord(mapping, part, r);
      const unified = record as unknown as Record<string, unknown>;
      return {
        id: part.id,
        lastModifiedAt: part.lastModifiedAt,
        isDeleted: record.is_deleted,
        raw: part.raw,
        mapped: NOT_MAPPED,
        fields() {
          return unified;
        },
        unified,
      };
    });
}

async function finish(
  deps: CoreDeps,
  sync: SyncContext,
  checkpoint: Checkpoint,
  error: unknown,
  overlap?: Record<string, string>,
): Promise<void> {
  const failed = error !== undefined;
  const badCredentials =
    error instanceof ConnectorError && (error.kind === 'auth' || error.kind === 'permission');
  const message = failed ? (error instanceof Error ? error.message : String(error)) : null;
  if (failed) deps.log.warn({ syncId: sync.id, err: error }, 'sync run failed');

  const now = Date.now();
  const latest = (await currentState(deps, sync.id)) ?? sync.state;
  const { checkpoint: _done, ...rest } = latest;
  const { overlap: _previous, ...kept } = rest;
  const state: SyncState = failed
    ? rest
    : {
        ...kept,
        ...(overlap ? { overlap } : {}),
        ...(checkpoint.connectorState === undefined ? {} : { connectorState: checkpoint.connectorState }),
        synced: true,
        watermark: new Date(Date.parse(checkpoint.startedAt) - WATERMARK_MARGIN_MS).toISOString(),
        incrementalsSinceFull: checkpoint.mode === 'full' ? 0 : (rest.incrementalsSinceFull ?? 0) + 1,
      };
  const scheduled = nextScheduledRun(sync.plan.policy.schedule, new Date(now)).getTime();
  const nextRunAt = rest.requested
    ? now
    : failed
      ? Math.min(scheduled, now + RETRY_AFTER_FAILURE_MS)
      : scheduled;

  await transaction(deps.db, async (client) => {
    await client.query(
      `update sync_runs set status = $2, error_message = $3, num_records_synced = $4, ended_at = now() where id = $1`,
      [checkpoint.runId, failed ? 'failed' : 'succeeded', message, checkpoint.records],
    );
    await client.query(
      `update syncs set state = $2, updated_at = now(),
         next_run_at = case when paused then null else $3::timestamptz end where id = $1`,
      [sync.id, state, new Date(nextRunAt)],
    );
    await emitEvent(deps, client, sync.projectId, {
      type: 'sync.run_ended',
      sync: {
        connectionId: sync.connectionId,
        customerRef: sync.customerRef,
        providerName: sync.providerName,
        kind: sync.kind,
        object: sync.object,
      },
      runId: checkpoint.runId,
      records: checkpoint.records,
      ...(message === null ? {} : { error: message }),
    });
  });
  if (badCredentials)
    await markBadCredentials(deps, sync.connectionId, message ?? 'the provider refused the credentials');
}
