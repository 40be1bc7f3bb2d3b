import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { countResults, csvCell, type Plan, type Position, scan } from './engine.ts';
import { notFound, SfError } from './errors.ts';
import type { OrgState } from './org.ts';
import { planFor } from './records.ts';
import { param, queryParams, type RestRoute } from './rest.ts';
import { type SalesforceObject, sfDateTime, sfId, to18, USER_ID } from './schema.ts';
import { parseSoql } from './soql.ts';

/** Bulk API 2.0 query jobs: created, polled, aborted and deleted, with results as streamed CSV sets. */

const BULK_DEFAULT_MAX_RECORDS = 50_000;
const DELIMITERS: Record<string, string> = {
  COMMA: ',',
  TAB: '\t',
  PIPE: '|',
  SEMICOLON: ';',
  CARET: '^',
  BACKQUOTE: '`',
};

type JobState = 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Aborted';

interface BulkJob {
  id: string;
  operation: 'query' | 'queryAll';
  object: SalesforceObject;
  apiVersion: number;
  createdAt: number;
  processingMs: number;
  abortedAt?: number;
  plan: Plan;
  total: number;
  lineEnding: 'LF' | 'CRLF';
  columnDelimiter: string;
  positions: Map<number, Position>;
}

export function registerBulkQueryRoutes(route: RestRoute, { ctx, org, bulkJobsToday }: OrgState) {
  const jobs = new Map<string, BulkJob>();
  let jobCount = 0;

  const stateOf = (job: BulkJob): { state: JobState; since: number } => {
    if (job.abortedAt !== undefined) return { state: 'Aborted', since: job.abortedAt };
    const elapsed = ctx.clock.now() - job.createdAt;
    if (elapsed < 100) return { state: 'UploadComplete', since: job.createdAt };
    if (elapsed < 100 + job.processingMs) return { state: 'InProgress', since: job.createdAt + 100 };
    return { state: 'JobComplete', since: job.createdAt + 100 + job.processingMs };
  };
  const jobInfo = (job: BulkJob, full = true) => {
    const { state, since } = stateOf(job);
    const info: Record<string, unknown> = {
      id: job.id,
      operation: job.operation,
      object: job.object,
      createdById: USER_ID,
      createdDate: sfDateTime(job.createdAt),
      systemModstamp: sfDateTime(since),
      state,
      concurrencyMode: 'Parallel',
      contentType: 'CSV',
      apiVersion: job.apiVersion,
    };
    if (full) info.jobType = 'V2Query';
    info.lineEnding = job.lineEnding;
    info.columnDelimiter = job.columnDelimiter;
    if (full) {
      const complete = state === 'JobComplete';
      info.numberRecordsProcessed = complete ? job.total : 0;
      info.retries = 0;
      info.totalProcessingTime = complete ? job.processingMs : 0;
      info.isPkChunkingSupported = true;
    }
    return info;
  };
  const jobParam = (req: FastifyRequest) => {
    const job = jobs.get(param(req, 'id')) ?? jobs.get(to18(param(req, 'id').slice(0, 15)));
    if (!job) throw notFound();
    return job;
  };

  route('POST', '/jobs/query', (req, _reply, v) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (body.operation !== 'query' && body.operation !== 'queryAll') {
      throw new SfError(400, 'INVALIDJOB', `InvalidJob : Invalid operation: ${String(body.operation ?? '')}`);
    }
    if (typeof body.query !== 'string' || !body.query.trim()) {
      throw new SfError(400, 'INVALIDJOB', 'InvalidJob : query is required');
    }
    const columnDelimiter = String(body.columnDelimiter ?? 'COMMA');
    const lineEnding = String(body.lineEnding ?? 'LF');
    if (!(columnDelimiter in DELIMITERS) || (lineEnding !== 'LF' && lineEnding !== 'CRLF')) {
      throw new SfError(400, 'INVALIDJOB', 'InvalidJob : invalid columnDelimiter or lineEnding');
    }
    const parsed = parseSoql(body.query);
    if (parsed.count)
      throw new SfError(
        400,
        'INVALIDJOB',
        'InvalidJob : Aggregate functions such as COUNT() are not supported',
      );
    const allowed = bulkJobsToday.take(org, ctx.limits.daily_bulk_v2_query_jobs!);
    if (!allowed.allowed) {
      throw new SfError(400, 'LIMIT_EXCEEDED', 'Max bulk v2 query jobs per 24 hrs exceeded');
    }
    const plan = planFor(ctx, parsed, body.operation === 'queryAll');
    const total = countResults(plan);
    const job: BulkJob = {
      id: sfId('750', ++jobCount),
      operation: body.operation,
      object: parsed.object,
      apiVersion: Number(v.slice(1)),
      createdAt: ctx.clock.now(),
      processingMs: 200 + Math.min(2000, Math.floor(total / 2000)),
      plan,
      total,
      lineEnding,
      columnDelimiter,
      positions: new Map(),
    };
    jobs.set(job.id, job);
    return jobInfo(job, false);
  });

  route('GET', '/jobs/query', () => ({
    done: true,
    records: [...jobs.values()].map((j) => jobInfo(j)),
    nextRecordsUrl: null,
  }));

  route('GET', '/jobs/query/:id', (req) => jobInfo(jobParam(req)));

  route('PATCH', '/jobs/query/:id', (req) => {
    const job = jobParam(req);
    if ((req.body as { state?: unknown } | undefined)?.state !== 'Aborted') {
      throw new SfError(400, 'INVALIDJOBSTATE', 'A query job can only be changed to the Aborted state');
    }
    const { state } = stateOf(job);
    if (state === 'JobComplete' || state === 'Aborted') {
      throw new SfError(400, 'INVALIDJOBSTATE', `Job is already in the ${state} state`);
    }
    job.abortedAt = ctx.clock.now();
    return jobInfo(job);
  });

  route('DELETE', '/jobs/query/:id', (req, reply) => {
    const job = jobParam(req);
    const { state } = stateOf(job);
    if (state === 'UploadComplete' || state === 'InProgress') {
      throw new SfError(400, 'INVALIDJOBSTATE', 'Only a completed or aborted job can be deleted');
    }
    jobs.delete(job.id);
    return reply.code(204).send();
  });

  route('GET', '/jobs/query/:id/results', (req, reply, v) => {
    const job = jobParam(req);
    const { state } = stateOf(job);
    if (state !== 'JobComplete') {
      throw new SfError(
        412,
        'JOB_NOT_COMPLETE',
        `can only download query results of successfully completed bulk job with status: JOB_COMPLETE. Current status: ${state === 'Aborted' ? 'ABORTED' : 'IN_PROGRESS'}`,
      );
    }
    if (Number(v.slice(1)) !== job.apiVersion) {
      throw new SfError(
        409,
        'API_ERROR',
        'Use the API version the query job was created with to get its results',
      );
    }
    const q = queryParams(req);
    let offset = 0;
    if (q.locator) {
      const decoded = Buffer.from(q.locator, 'base64url').toString();
      offset = /^\d+$/.test(decoded) ? Number(decoded) : -1;
      if (offset < 0 || offset > job.total)
        throw new SfError(400, 'INVALIDLOCATOR', `Invalid locator: ${q.locator}`);
    }
    const max = q.maxRecords === undefined ? BULK_DEFAULT_MAX_RECORDS : Number(q.maxRecords);
    if (!Number.isInteger(max) || max < 1)
      throw new SfError(400, 'API_ERROR', `Invalid maxRecords: ${q.maxRecords}`);
    const n = Math.min(max, job.total - offset);
    const next = offset + n;
    reply.headers({
      'content-type': 'text/csv; charset=UTF-8',
      'sforce-locator': next < job.total ? Buffer.from(String(next)).toString('base64url') : 'null',
      'sforce-numberofrecords': String(n),
    });
    return reply.send(Readable.from(csvRows(job, offset, n)));
  });

  /** One set of results, streamed in chunks so that a large set is never one string. */
  function* csvRows(job: BulkJob, offset: number, n: number): Generator<string> {
    const eol = job.lineEnding === 'CRLF' ? '\r\n' : '\n';
    const delimiter = DELIMITERS[job.columnDelimiter]!;
    const fields = job.plan.query.fields;
    yield fields.map((f) => `"${f.name}"`).join(delimiter) + eol;
    let start = offset === 0 ? undefined : job.positions.get(offset);
    let skip = 0;
    if (offset > 0 && !start) {
      let known = 0;
      for (const k of job.positions.keys()) if (k < offset && k > known) known = k;
      start = job.positions.get(known);
      skip = offset - known;
    }
    let chunk: string[] = [];
    let written = 0;
    let last: Position | undefined;
    if (n > 0) {
      for (const [r, pos] of scan(job.plan, start)) {
        if (skip > 0) {
          skip--;
          continue;
        }
        chunk.push(fields.map((f) => csvCell(f, job.plan.value(r, f.name))).join(delimiter));
        last = pos;
        if (chunk.length === 1000) {
          yield chunk.join(eol) + eol;
          chunk = [];
        }
        if (++written === n) break;
      }
    }
    if (chunk.length > 0) yield chunk.join(eol) + eol;
    if (last) job.positions.set(offset + written, last);
  }
}
