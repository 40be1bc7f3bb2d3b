import os from 'node:os';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { buildServer } from '../../src/api/server.ts';
import { createPool } from '../../src/db/pool.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { simControl } from '../helpers/simulator.ts';
import { endedRuns, syncHubspotIntoTestDatabase } from '../helpers/syncs.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';
import { until } from '../helpers/wait.ts';

/**
 * The endpoints for whoever runs Trellis, over real HTTP: /health, /ready (503 while the database
 * is unreachable or not migrated), request ids, and /metrics in Prometheus's text format (parsed
 * by a parser of that format) whose counters move when a sync runs.
 */

/** One sample's value: the metric family `name`, the sample whose labels include `labels`. */
function sampleOf(text: string, name: string, labels: Record<string, string> = {}): number {
  const family = parsePrometheusTextFormat(text).find((f) => f.name === name);
  const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample ? Number(sample.value) : 0;
}

/**
 * How many observations a histogram's series has. The parser folds the series of a labelled
 * histogram into one (it keeps the buckets of the last, without labels or count), so the count is
 * read from its `_count` line, in the text the parser accepted.
 */
function observationsOf(text: string, name: string, labels: string): number {
  expect(parsePrometheusTextFormat(text).find((f) => f.name === name)?.type).toBe('HISTOGRAM');
  const line = text.split('\n').find((l) => l.startsWith(`${name}_count{${labels}} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

describe('operations endpoints', () => {
  let t: TestTrellis;
  let api: Client;
  let sim: RunningSimulator;
  let warehouse: pg.Client;

  const metrics = async () => {
    const res = await fetch(`${t.baseUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.text();
  };

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: 300, seed: 3 });
    t = await startTrellis({
      env: { LOG_LEVEL: 'debug', TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) },
    });
    api = client(t.baseUrl, t.apiKey);
  });
  afterAll(async () => {
    await warehouse?.end();
    await t?.stop();
    await sim?.close();
  });

  it('/health answers while the process runs', async () => {
    const res = await fetch(`${t.baseUrl}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('/ready answers 200 on a migrated database, 503 naming a migration not applied', async () => {
    const ready = await fetch(`${t.baseUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });

    const db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ name: string }>(
        'delete from public.trellis_migrations where name = (select max(name) from public.trellis_migrations) returning name',
      );
      const pending = await fetch(`${t.baseUrl}/ready`);
      expect(pending.status).toBe(503);
      expect(await pending.json()).toEqual({
        status: 'unavailable',
        reason: `migrations not applied yet: ${rows[0]!.name}`,
      });
      await db.query('insert into public.trellis_migrations (name) values ($1)', [rows[0]!.name]);
    } finally {
      await db.end();
    }
    expect((await fetch(`${t.baseUrl}/ready`)).status).toBe(200);
  });

  it('/ready answers 503 while the database is unreachable, naming nothing of it', async () => {
    // The same server on a database nobody listens for.
    const unreachable = createPool('postgres://trellis:secret@127.0.0.1:9/trellis');
    const app = await buildServer({ ...t.runtime.deps, db: unreachable });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const res = await fetch(`http://127.0.0.1:${port}/ready`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'unavailable', reason: 'the database is unreachable' });
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    } finally {
      await app.close();
      await unreachable.end();
    }
  });

  it('names every request by an id it sends back, the caller’s own when well-formed, and logs it', async () => {
    const own = await fetch(`${t.baseUrl}/mgmt/v2/customers`, {
      headers: { 'x-api-key': t.apiKey, 'x-request-id': 'caller-trace-0001' },
    });
    expect(own.headers.get('x-request-id')).toBe('caller-trace-0001');
    expect(t.logs.some((line) => line.reqId === 'caller-trace-0001')).toBe(true);

    for (const malformed of ['short', 'has spaces in it', 'x'.repeat(129), 'line\tbreak-0001']) {
      const res = await fetch(`${t.baseUrl}/health`, { headers: { 'x-request-id': malformed } });
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
    const failed = await fetch(`${t.baseUrl}/mgmt/v2/customers`);
    expect(failed.status).toBe(401);
    const id = failed.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(t.logs.some((line) => line.reqId === id)).toBe(true);
  });

  it('/metrics counts runs, records, provider requests, rate limits, refreshes and deliveries as a sync runs', async () => {
    const before = await metrics();
    const receiver = await startReceiver();
    await api('POST', '/webhooks', { body: { url: receiver.url, event_types: ['sync.complete'] } });
    // The provider's first answers are 429s until one was sent: the client waits them out.
    await simControl(sim.url, 'faults', { rate_limit_rate: 1, rate_limit_retry_after_seconds: 0 });
    const limited = until('a 429 from the simulator', async () => {
      const stats = (await simControl(sim.url, 'stats')) as { faults_injected: { rate_limit?: number } };
      return (stats.faults_injected.rate_limit ?? 0) > 0;
    }).then(() => simControl(sim.url, 'faults', { rate_limit_rate: 0 }));
    warehouse = await syncHubspotIntoTestDatabase(api, sim.url, 'contacts');
    await limited;
    const [run] = await endedRuns(api, 'contacts', 1);
    expect(run.status).toBe('SUCCESS');
    await receiver.waitFor(1);
    await new Promise((r) => setTimeout(r, 200));
    const after = await metrics();

    const moved = (name: string, labels: Record<string, string> = {}) =>
      sampleOf(after, name, labels) - sampleOf(before, name, labels);
    expect(moved('trellis_sync_runs_total', { status: 'succeeded' })).toBe(1);
    expect(moved('trellis_records_synced_total')).toBe(run.num_records_synced);
    expect(
      moved('trellis_provider_requests_total', { provider: 'hubspot', status_class: '2xx' }),
    ).toBeGreaterThan(2);
    expect(
      moved('trellis_provider_requests_total', { provider: 'hubspot', status_class: '4xx' }),
    ).toBeGreaterThan(0);
    expect(moved('trellis_provider_rate_limited_total', { provider: 'hubspot' })).toBeGreaterThan(0);
    const timed = (text: string) =>
      observationsOf(text, 'trellis_provider_request_duration_seconds', 'provider="hubspot"');
    expect(timed(after) - timed(before)).toBe(
      moved('trellis_provider_requests_total', { provider: 'hubspot', status_class: '2xx' }) +
        moved('trellis_provider_requests_total', { provider: 'hubspot', status_class: '4xx' }),
    );
    expect(moved('trellis_token_refreshes_total', { outcome: 'refreshed' })).toBe(1);
    expect(moved('trellis_webhook_deliveries_total', { outcome: 'delivered' })).toBeGreaterThanOrEqual(1);

    const families = new Map(parsePrometheusTextFormat(after).map((f) => [f.name, f]));
    expect(families.get('trellis_sync_runs_in_progress')?.type).toBe('GAUGE');
    expect(sampleOf(after, 'trellis_schedule_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(families.get('trellis_queue_depth')?.metrics.map((m) => m.labels?.queue)).toContain(
      'webhook-delivery',
    );
    await receiver.close();
  });

  it('/metrics wants the metrics token when one is configured', async () => {
    const token = 'metrics-token-0123456789';
    const app = await buildServer({ ...t.runtime.deps, config: { ...t.config, metricsToken: token } });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const address = app.server.address();
      const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/metrics`;
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: { authorization: `Bearer ${token}x` } })).status).toBe(401);
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('trellis_sync_runs_total');
    } finally {
      await app.close();
    }
  });

  it('/metrics without a token answers loopback callers only', async () => {
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    if (!external) return; // A machine with loopback only cannot be called from elsewhere.
    const app = await buildServer(t.runtime.deps);
    await app.listen({ port: 0, host: external });
    try {
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const res = await fetch(`http://${external}:${port}/metrics`);
      expect(res.status).toBe(403);
      expect(await res.text()).not.toContain('trellis_');
      expect((await fetch(`http://${external}:${port}/health`)).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});
