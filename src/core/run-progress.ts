import type { CoreDeps } from './deps.ts';

/**
 * How far a running sync run has come, as the engine saves it in its sync's state as it goes
 * (`checkpoint.records` and `checkpoint.pages`; a resumed run keeps counting from its checkpoint).
 */
export interface RunProgress {
  /** Records written so far. */
  records: number;
  /** Provider pages read so far, over every partition of the read. */
  pages: number;
  /** Records written per second since the run started. */
  recordsPerSecond: number;
  elapsedSeconds: number;
  /** When the run's worker last reported (a batch saved, or its heartbeat). */
  reportedAt: Date;
  /**
   * The most records a succeeded run of this sync wrote: what a full run may come to, for a
   * progress bar; null before any run succeeded.
   */
  expectedRecords: number | null;
}

/** The progress of each of `runIds` that is still running, by run id; ended runs are left out. */
export async function runProgress(
  deps: CoreDeps,
  projectId: string,
  runIds: readonly string[],
): Promise<Map<string, RunProgress>> {
  if (runIds.length === 0) return new Map();
  const { rows } = await deps.db.query<{
    id: string;
    records: number | null;
    pages: number | null;
    elapsed: number;
    reportedAt: Date;
    expectedRecords: number | null;
  }>(
    `select r.id, (s.state->'checkpoint'->>'records')::bigint as records,
            (s.state->'checkpoint'->>'pages')::bigint as pages,
            extract(epoch from now() - r.started_at)::float8 as elapsed,
            coalesce((s.state->>'heartbeat')::timestamptz, r.started_at) as "reportedAt",
            (select max(p.num_records_synced) from sync_runs p
              where p.sync_id = r.sync_id and p.status = 'succeeded') as "expectedRecords"
       from sync_runs r join syncs s on s.id = r.sync_id
      where r.project_id = $1 and r.id = any($2::uuid[]) and r.ended_at is null
        and s.state->'checkpoint'->>'runId' = r.id::text`,
    [projectId, runIds],
  );
  return new Map(
    rows.map((row) => {
      const records = row.records ?? 0;
      const elapsedSeconds = Math.max(0, row.elapsed);
      return [
        row.id,
        {
          records,
          pages: row.pages ?? 0,
          recordsPerSecond: elapsedSeconds > 0 ? records / elapsedSeconds : 0,
          elapsedSeconds,
          reportedAt: row.reportedAt,
          expectedRecords: row.expectedRecords,
        },
      ];
    }),
  );
}
