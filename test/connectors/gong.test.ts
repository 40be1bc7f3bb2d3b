import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gong } from '../../simulators/gong/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { ConnectorError } from '../../src/connectors/http.ts';
import type { ProviderRecord, ReadRequest } from '../../src/connectors/types.ts';
import { openConnector } from '../../src/core/provider-access.ts';
import { collect, expectResumable } from '../helpers/connector.ts';
import { simControl, simRecords as simRecordsOf, simServed, simServedSince } from '../helpers/simulator.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

const ids = (records: ProviderRecord[]) => records.map((r) => r.id);
const sorted = (list: string[]) => [...list].sort();

describe('Gong connector against the simulator', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let connectionId: string;
  const control = (path: string, body?: unknown) => simControl(sim.url, path, body);
  const simRecords = (object: string) => simRecordsOf<any>(sim.url, object);
  const liveIds = async (object: string) =>
    (await simRecords(object)).filter((r) => !r.deleted).map((r) => r.id);
  const open = () => openConnector(t.runtime.deps, connectionId);
  const served = () => simServed(sim.url);
  const servedSince = (before: Record<string, number>) => simServedSince(sim.url, before);

  beforeAll(async () => {
    sim = await startSimulator(gong, { records: 250 });
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ gong: sim.url }) } });
    api = client(t.baseUrl, t.apiKey);
    await api('PUT', '/customers', { body: { customer_id: 'c', name: 'C', email: 'c@x.test' } });
    const pair = await control('tokens', {});
    const conn = await api('POST', '/customers/c/connections', {
      body: {
        provider_name: 'gong',
        type: 'access_key_secret',
        access_key: pair.access_key,
        access_key_secret: pair.access_key_secret,
      },
    });
    expect(conn.status).toBe(200);
    connectionId = conn.body.id;
  });
  afterAll(async () => {
    await t.stop();
    await sim.close();
  });

  it('a full read returns exactly the seeded users, calls and workspaces', async () => {
    const { connector, ctx } = await open();
    const calls = await collect(connector.read!(ctx, { object: 'calls' }));
    const expected = await simRecords('calls');
    expect(ids(calls.records)).toEqual(expected.map((r) => r.id));
    const sample = calls.records[42]!;
    expect(sample.raw).toEqual(expected[42]!.record);
    expect(sample.lastModifiedAt.toISOString().replace('.000Z', 'Z')).toBe(expected[42]!.record.started);
    const users = await collect(connector.read!(ctx, { object: 'users' }));
    expect(ids(users.records)).toEqual(await liveIds('users'));
    const workspaces = await collect(connector.read!(ctx, { object: 'workspaces' }));
    expect(workspaces.records.map((r) => r.raw.name)).toEqual(['Sales', 'Customer Success']);
  });

  it('an incremental read returns exactly the calls changed since (deletions are not visible)', async () => {
    const since = new Date((await control('clock', { advance_ms: 5000 })).now);
    const changes = await control('mutate', { object: 'calls', create: 4, update: 30, delete: 6 });
    const { connector, ctx } = await open();
    const { records } = await collect(connector.read!(ctx, { object: 'calls', since }));
    expect(sorted(ids(records))).toEqual(sorted([...changes.created, ...changes.updated]));
    for (const r of records) expect(r.isDeleted).toBe(false);
    // Deleted calls are gone from the list: a full read (the engine's sweep) no longer has them.
    const full = await collect(connector.read!(ctx, { object: 'calls' }));
    expect(sorted(ids(full.records))).toEqual(sorted(await liveIds('calls')));
    for (const gone of changes.deleted) expect(ids(full.records)).not.toContain(gone);

    // Nothing new: Gong's 404 "No calls found" is an empty read, not an error.
    const later = new Date((await control('clock', { advance_ms: 5000 })).now);
    expect((await collect(connector.read!(ctx, { object: 'calls', since: later }))).records).toEqual([]);

    // Users have no update time: every read lists all of them, removed ones deactivated.
    const removed = await control('mutate', { object: 'users', delete: 2 });
    const users = await collect(connector.read!(ctx, { object: 'users', since: later }));
    expect(users.records).toHaveLength(250);
    const inactive = users.records.filter((r) => r.raw.active === false).map((r) => r.id);
    expect(sorted(inactive)).toEqual(sorted(removed.deleted));
  });

  it('a read interrupted after any page resumes from its cursor with nothing lost or repeated', async () => {
    const { connector, ctx } = await open();
    const resumeCheck = async (req: ReadRequest) => {
      const whole = await expectResumable(
        (r) => connector.read!(ctx, r),
        req,
        (n) => [1, n - 1],
      );
      expect(whole.cursors.length).toBeGreaterThan(2);
      return whole.records;
    };
    expect(await resumeCheck({ object: 'calls' })).toHaveLength((await liveIds('calls')).length);
    expect(await resumeCheck({ object: 'users' })).toHaveLength(250);
    const since = new Date((await control('clock', { advance_ms: 5000 })).now);
    const changed = await control('mutate', { object: 'calls', update: 220 });
    expect(sorted(ids(await resumeCheck({ object: 'calls', since })))).toEqual(sorted(changed.updated));
  });

  it('waits out 429s, from the per-second window and injected, and never surfaces them', async () => {
    await control('limits', { per_second: 1 });
    await control('faults', { rate_limit_rate: 0.2, rate_limit_retry_after_seconds: 1 });
    const { connector, ctx } = await open();
    const before = ctx.http.requestCount;
    const { records, cursors } = await collect(connector.read!(ctx, { object: 'calls' }));
    await control('faults', { rate_limit_rate: 0 });
    await control('limits', { per_second: 3 });
    expect(sorted(ids(records))).toEqual(sorted(await liveIds('calls')));
    // Some requests were refused and repeated after Retry-After.
    expect(ctx.http.requestCount - before).toBeGreaterThan(cursors.length);
  });

  it('answers who the connection is, lists and describes objects', async () => {
    const { connector, ctx } = await open();
    const me = await connector.whoAmI!(ctx);
    expect(me).toMatchObject({ userId: '3813947207271230001', accountId: '3813947207271230001' });
    expect(me.raw).toMatchObject({ name: 'Sales' });
    expect(await connector.listObjects!(ctx)).toEqual(['users', 'calls', 'workspaces']);
    const fields = await connector.describeFields!(ctx, 'calls');
    expect(fields.find((f) => f.name === 'started')).toMatchObject({ type: 'datetime', readOnly: true });
    expect(fields.find((f) => f.name === 'duration')).toMatchObject({ type: 'number' });
    // Gong reports no limits (no headers, no endpoint): the Management API says it is not supported.
    const limits = await api('GET', '/customers/c/connections/gong/_rate_limit_info');
    expect(limits.status).toBe(400);
  });

  it('a revoked key pair fails as an auth error, not retried', async () => {
    await control('faults', { expire_tokens_now: true });
    const { connector, ctx } = await open();
    const before = await served();
    const sent = ctx.http.requestCount;
    const error = await collect(connector.read!(ctx, { object: 'users' })).catch((e) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error.kind).toBe('auth');
    // One request, refused, and no other: a key pair cannot be renewed, so it is not tried again.
    expect(await servedSince(before)).toEqual({ 'GET /v2/users': 1 });
    expect(ctx.http.requestCount - sent).toBe(1);
  });
});
