import type { CoreDeps } from './deps.ts';
import { badRequest, notFound } from './errors.ts';
import { getInstallation, type Installation } from './installations.ts';
import { findIntegration } from './integrations.ts';
import { installationFor } from './operations.ts';
import { pauseSync, resumeSync, triggerSync } from './syncs.ts';

/**
 * The reads of an installation, asked for by object name: a read now (served by a run of the
 * object's sync, whose id the caller gets at once), and pausing and resuming them.
 */

interface InstallationSync {
  kind: string;
  object: string;
  paused: boolean;
  synced: boolean;
  watermark: string | null;
}

async function syncsOf(deps: CoreDeps, installationId: string): Promise<InstallationSync[]> {
  const { rows } = await deps.db.query<InstallationSync>(
    `select object_type as kind, object, paused, coalesce((state->>'synced')::boolean, false) as synced,
            state->>'watermark' as watermark
       from syncs where installation_id = $1 order by object, object_type`,
    [installationId],
  );
  return rows;
}

/**
 * Reads an object of the installation of an integration for one customer now. Without `since`, a
 * full read. With it, a read of at least everything changed since then: the sync's next
 * incremental read when its last read started no later than `since`, else a full read (an
 * incremental read from an arbitrary instant would move the sync's own watermark back or leave
 * a gap). Returns the id of the run that serves it.
 */
export async function requestRead(
  deps: CoreDeps,
  projectId: string,
  input: { integrationIdOrName: string; customerRef: string; object: string; since?: Date },
): Promise<{ runId: string }> {
  const { installation } = await installationFor(
    deps,
    projectId,
    input.integrationIdOrName,
    input.customerRef,
  );
  const sync = (await syncsOf(deps, installation.id)).find((s) => s.object === input.object);
  if (!sync) throw notFound(`read of "${input.object}" in the installation`);
  const incremental =
    input.since !== undefined &&
    sync.synced &&
    sync.watermark !== null &&
    Date.parse(sync.watermark) <= input.since.getTime();
  const { runId } = await triggerSync(
    deps,
    projectId,
    installation.connectionId,
    { kind: sync.kind, object: sync.object, installationId: installation.id },
    !incremental,
  );
  return { runId };
}

/** An installation of the integration (by id or name); one of another integration is not found. */
async function installationOf(
  deps: CoreDeps,
  projectId: string,
  integrationIdOrName: string,
  installationId: string,
): Promise<Installation> {
  const integration = await findIntegration(deps, projectId, integrationIdOrName);
  const installation = await getInstallation(deps, projectId, installationId);
  if (installation.integrationId !== integration.id) throw notFound('installation');
  return installation;
}

/** The syncs of the objects named (every one when none are), each name checked. */
async function chosenSyncs(deps: CoreDeps, installationId: string, objects: string[] | undefined) {
  const syncs = await syncsOf(deps, installationId);
  if (!objects || objects.length === 0) return syncs;
  const unknown = objects.filter((o) => !syncs.some((s) => s.object === o));
  if (unknown.length > 0)
    throw badRequest(`the installation does not read ${unknown.map((o) => `"${o}"`).join(', ')}`);
  return syncs.filter((s) => objects.includes(s.object));
}

/** Pauses the installation's reads of the objects named (every one when none are). */
export async function pauseReads(
  deps: CoreDeps,
  projectId: string,
  input: { integrationIdOrName: string; installationId: string; objects?: string[]; note?: string },
): Promise<void> {
  const installation = await installationOf(deps, projectId, input.integrationIdOrName, input.installationId);
  for (const sync of await chosenSyncs(deps, installation.id, input.objects)) {
    if (sync.paused) continue;
    await pauseSync(
      deps,
      projectId,
      installation.connectionId,
      { kind: sync.kind, object: sync.object, installationId: installation.id },
      input.note || undefined,
    );
  }
}

/** Resumes the installation's reads of the objects named (every one when none are); each runs at once. */
export async function resumeReads(
  deps: CoreDeps,
  projectId: string,
  input: { integrationIdOrName: string; installationId: string; objects?: string[] },
): Promise<void> {
  const installation = await installationOf(deps, projectId, input.integrationIdOrName, input.installationId);
  for (const sync of await chosenSyncs(deps, installation.id, input.objects)) {
    if (!sync.paused) continue;
    await resumeSync(deps, projectId, installation.connectionId, {
      kind: sync.kind,
      object: sync.object,
      installationId: installation.id,
    });
  }
}

/** How far an installation's first read of an object (its backfill) has come. */
export interface BackfillProgress {
  runId: string;
  records: number;
  startedAt: Date;
  /** When the run last saved progress, or ended. */
  updatedAt: Date;
}

/**
 * The backfill of one object of an installation: the first run of its sync, with the records it has
 * read so far (saved with each batch while it runs) or in all once it ended.
 */
export async function backfillProgress(
  deps: CoreDeps,
  projectId: string,
  installationId: string,
  object: string,
): Promise<BackfillProgress> {
  const { rows: syncs } = await deps.db.query<{ id: string }>(
    `select id from syncs where project_id = $1 and installation_id = $2 and object = $3 and object_type <> 'entity'`,
    [projectId, installationId, object],
  );
  if (!syncs[0]) throw notFound(`a read of "${object}" in this installation`);
  const { rows } = await deps.db.query<{
    id: string;
    startedAt: Date;
    endedAt: Date | null;
    records: number | null;
    checkpoint: { runId?: string; records?: number } | null;
    heartbeat: string | null;
  }>(
    `select r.id, r.started_at as "startedAt", r.ended_at as "endedAt", r.num_records_synced as records,
            s.state->'checkpoint' as checkpoint, s.state->>'heartbeat' as heartbeat
       from sync_runs r join syncs s on s.id = r.sync_id
      where r.sync_id = $1 order by r.started_at, r.id limit 1`,
    [syncs[0].id],
  );
  const run = rows[0];
  if (!run) throw notFound(`a backfill of "${object}" (none has started yet)`);
  const running = run.endedAt === null && run.checkpoint?.runId === run.id;
  return {
    runId: run.id,
    records: run.endedAt ? (run.records ?? 0) : running ? (run.checkpoint?.records ?? 0) : 0,
    startedAt: run.startedAt,
    updatedAt: run.endedAt ?? (running && run.heartbeat ? new Date(run.heartbeat) : run.startedAt),
  };
}
