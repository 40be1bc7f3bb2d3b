import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { requestTokens, TokenRequestError } from '../../src/auth/oauth.ts';
import { hubspot as hubspotFolder } from '../../src/connectors/hubspot/index.ts';
import { openConnector } from '../../src/core/provider-access.ts';
import { OutboundPolicy } from '../../src/net/outbound.ts';
import { collect } from '../helpers/connector.ts';
import { simControl, simOAuthProvider, simRecords } from '../helpers/simulator.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

describe('HubSpot connector against the simulator', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let connectionId: string;
  const control = (path: string, body?: unknown) => simControl(sim.url, path, body);
  const open = () => openConnector(t.runtime.deps, connectionId);

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: 1234 });
    await control('limits', { ten_second: 5000, search_per_second: 100 });
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) } });
    api = client(t.baseUrl, t.apiKey);
    await api('POST', '/providers', { body: simOAuthProvider('hubspot', ['oauth']) });
    await api('PUT', '/customers', { body: { customer_id: 'c', name: 'C', email: 'c@x.test' } });
    const tokens = await control('tokens', {});
    const conn = await api('POST', '/customers/c/connections', {
      body: { provider_name: 'hubspot', type: 'oauth2', refresh_token: tokens.refresh_token },
    });
    connectionId = conn.body.id;
  });
  afterAll(async () => {
    await t.stop();
    await sim.close();
  });

  it('a full read returns exactly the seeded records, with every property', async () => {
    const { connector, ctx } = await open();
    const { records } = await collect(connector.read!(ctx, { object: 'contacts' }));
    const expected = await simRecords<{ properties: Record<string, string> }>(sim.url, 'contacts');
    expect(records.map((r) => r.id).sort()).toEqual(expected.map((r) => r.id).sort());
    expect(new Set(records.map((r) => r.id)).size).toBe(records.length);
    const sample = records.find((r) => r.id === '17')!;
    const properties = (sample.raw as { properties: Record<string, string> }).properties;
    expect(properties).toMatchObject(expected.find((r) => r.id === '17')!.record.properties);
    expect(properties.jobtitle).toBeDefined();
  });

  it('an incremental read returns exactly the changes and the deletions', async () => {
    const since = new Date((await control('clock', { advance_ms: 5000 })).now);
    const changes = await control('mutate', { object: 'contacts', create: 4, update: 30, delete: 6 });
    const { connector, ctx } = await open();
    const { records } = await collect(connector.read!(ctx, { object: 'contacts', since }));
    const live = records.filter((r) => !r.isDeleted).map((r) => r.id);
    const deleted = records.filter((r) => r.isDeleted).map((r) => r.id);
    // A record created and then edited in the same mutation is one change.
    expect(live.sort()).toEqual([...new Set([...changes.created, ...changes.updated])].sort());
    expect(deleted.sort()).toEqual([...changes.deleted].sort());
    for (const r of records) expect(r.lastModifiedAt.getTime()).toBeGreaterThan(since.getTime());
  });

  it('a read interrupted after any page resumes from its cursor with nothing lost or repeated', async () => {
    const { connector, ctx } = await open();
    const whole = await collect(connector.read!(ctx, { object: 'companies' }));
    for (const stopAfter of [1, 5, whole.cursors.length - 1]) {
      const first = await collect(connector.read!(ctx, { object: 'companies' }), stopAfter);
      const cursor = first.cursors.at(-1)!;
      const rest = await collect(connector.read!(ctx, { object: 'companies', cursor }));
      const ids = [...first.records, ...rest.records].map((r) => r.id);
      expect(ids).toEqual(whole.records.map((r) => r.id));
    }
    // The same holds in the middle of an incremental read's search phase.
    const since = new Date((await control('clock', { advance_ms: 5000 })).now);
    const changed = await control('mutate', { object: 'companies', update: 450, delete: 3 });
    const inc = await collect(connector.read!(ctx, { object: 'companies', since }));
    const part = await collect(connector.read!(ctx, { object: 'companies', since }), 1);
    const resumeAt = part.cursors[0]!;
    const rest = await collect(connector.read!(ctx, { object: 'companies', since, cursor: resumeAt }));
    expect([...part.records, ...rest.records].map((r) => r.id)).toEqual(inc.records.map((r) => r.id));
    expect(inc.records).toHaveLength(new Set([...changed.updated, ...changed.deleted]).size);
  });

  it('waits out 429s within the budget and never surfaces them', async () => {
    await control('seed', { object: 'deals', count: 600 });
    await control('limits', { ten_second: 40 });
    await control('faults', { rate_limit_rate: 0.3, rate_limit_retry_after_seconds: 0 });
    const { connector, ctx } = await open();
    const { records, cursors } = await collect(
      connector.read!(ctx, { object: 'deals', fields: ['dealname'] }),
    );
    expect(records).toHaveLength(600);
    // Some requests were refused and repeated.
    expect(ctx.http.requestCount).toBeGreaterThan(cursors.length);
    await control('faults', { rate_limit_rate: 0 });
    await control('limits', { ten_second: 5000 });
    await control('seed', { object: 'deals', count: 1234 });
  });

  it('refreshes an expired token once and retries the call', async () => {
    const before = (await control('stats')).token_refreshes;
    const { connector, ctx } = await open();
    await collect(connector.read!(ctx, { object: 'deals', fields: ['dealname'] }));
    await control('faults', { expire_tokens_now: true });
    const { records } = await collect(connector.read!(ctx, { object: 'deals', fields: ['dealname'] }));
    expect(records).toHaveLength(1234);
    expect((await control('stats')).token_refreshes - before).toBe(1);
  });

  it('reads, writes and describes a custom object type by any of its names, full then incremental', async () => {
    const { connector, ctx } = await open();
    const fqn = `p${hubspot.account.accountId}_invoice`;
    expect(await connector.listObjects!(ctx)).toEqual([
      'contacts',
      'companies',
      'deals',
      'owners',
      'invoice',
    ]);
    const expected = await simRecords<{ properties: Record<string, string> }>(sim.url, fqn);
    const full = await collect(connector.read!(ctx, { object: 'invoice' }));
    expect(full.records.map((r) => r.id)).toEqual(expected.map((r) => r.id));
    for (const r of full.records) {
      const record = r.raw as { properties: Record<string, string> };
      expect(record.properties).toEqual(expected.find((e) => e.id === r.id)!.record.properties);
      expect(r.lastModifiedAt.toISOString()).toBe(record.properties.hs_lastmodifieddate);
    }
    for (const name of ['2-7654321', fqn, 'p_invoice']) {
      const { records } = await collect(connector.read!(ctx, { object: name }), 1);
      expect(records.map((r) => r.raw)).toEqual(full.records.slice(0, records.length).map((r) => r.raw));
    }

    const since = new Date((await control('clock', { advance_ms: 5000 })).now);
    const changes = await control('mutate', { object: fqn, create: 2, update: 5, delete: 3 });
    const { records } = await collect(connector.read!(ctx, { object: 'invoice', since }));
    expect(
      records
        .filter((r) => !r.isDeleted)
        .map((r) => r.id)
        .sort(),
    ).toEqual([...changes.created, ...changes.updated].sort());
    expect(
      records
        .filter((r) => r.isDeleted)
        .map((r) => r.id)
        .sort(),
    ).toEqual([...changes.deleted].sort());

    const created = await connector.create!(ctx, 'invoice', { invoice_number: 'INV-W1', amount: '10' });
    const updated = await connector.update!(ctx, fqn, created.id, { status: 'paid' });
    expect((updated.raw as { properties: Record<string, string> }).properties).toMatchObject({
      status: 'paid',
    });
    await connector.delete!(ctx, '2-7654321', created.id);
    expect((await simRecords(sim.url, fqn)).find((r) => r.id === created.id)?.deleted).toBe(true);

    const fields = await connector.describeFields!(ctx, 'p_invoice');
    expect(fields).toContainEqual({ name: 'status', label: 'Status', type: 'enumeration', readOnly: false });
    expect(fields).toContainEqual(expect.objectContaining({ name: 'hs_lastmodifieddate', readOnly: true }));
    await expect(collect(connector.read!(ctx, { object: 'tickets' }))).rejects.toMatchObject({
      kind: 'not_found',
      message: expect.stringContaining('"tickets"'),
    });
  });

  it('answers the provider user id and rate-limit info through the API', async () => {
    const user = await api('GET', '/customers/c/connections/_provider_user_id', {
      query: { provider_name: 'hubspot' },
    });
    expect(user.status).toBe(200);
    expect(user.body.user_id).toBe('41000001');
    const limits = await api('GET', '/customers/c/connections/hubspot/_rate_limit_info');
    expect(limits.body.daily.limit).toBe(250000);
  });

  it('reads more than 10,000 changed records incrementally, past the search result cap', async () => {
    await control('seed', { object: 'deals', count: 12_500 });
    const since = new Date((await control('clock', { advance_ms: 5000 })).now);
    const changes = await control('mutate', { object: 'deals', update: 10_400, create: 150 });
    const { connector, ctx } = await open();
    const { records } = await collect(connector.read!(ctx, { object: 'deals', since, fields: ['dealname'] }));
    const ids = records.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual([...new Set([...changes.updated, ...changes.created])].sort());
  }, 60_000);
});

describe("HubSpot's token errors", () => {
  let server: http.Server;
  let tokenUrl: string;
  beforeAll(async () => {
    // HubSpot's answer to a refresh token it no longer knows: a `status`, and no OAuth `error`.
    server = http.createServer((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'BAD_REFRESH_TOKEN', message: 'missing or unknown refresh token' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    tokenUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth/v1/token`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const refresh = (errorCode?: (body: Record<string, unknown>) => string | undefined) =>
    requestTokens(
      new OutboundPolicy({ strict: false, allowLoopback: false, allowed: [], providerHosts: ['127.0.0.1'] }),
      { tokenUrl, clientAuth: 'body', errorCode },
      { id: 'client', secret: 'secret' },
      { grant_type: 'refresh_token', refresh_token: 'gone' },
    ).catch((err: unknown) => err);

  it("BAD_REFRESH_TOKEN is a revoked grant through the folder's hook, and only through it", async () => {
    const withHook = await refresh(hubspotFolder.auth?.tokenErrorCode);
    expect(withHook).toBeInstanceOf(TokenRequestError);
    expect((withHook as TokenRequestError).error).toBe('invalid_grant');
    expect((withHook as TokenRequestError).revoked).toBe(true);
    const without = await refresh();
    expect((without as TokenRequestError).error).toBe('invalid_request');
    expect((without as TokenRequestError).revoked).toBe(false);
  });
});
