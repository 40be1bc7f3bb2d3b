import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { salesforce } from '../../simulators/salesforce/index.ts';
import { decodeCursor } from '../../src/connectors/cursor.ts';
import { ConnectorError } from '../../src/connectors/http.ts';
import type { ProviderRecord } from '../../src/connectors/types.ts';
import { openConnector } from '../../src/core/provider-access.ts';
import { collect, expectResumable } from '../helpers/connector.ts';
import { forgetRequestBudgets } from '../helpers/rate-budgets.ts';
import { simControl, simRecords as simRecordsOf } from '../helpers/simulator.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

const SEEDED = 1234;
/** Above the connector's Bulk API threshold (10,000), in three result sets of 10,000. */
const LARGE = 25_000;
/** Under the threshold: REST, five pages of 2,000. */
const MEDIUM = 9000;
const wholeSecond = (d: Date) => Math.floor(d.getTime() / 1000) * 1000;

describe('Salesforce connector against the simulator', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let connectionId: string;
  const control = (path: string, body?: unknown) => simControl(sim.url, path, body);
  const simRecords = (object: string) => simRecordsOf<Record<string, unknown>>(sim.url, object);
  /** A record as the REST API shows it, without its `attributes`. */
  const fieldsOf = (record: Record<string, unknown>) => {
    const { attributes: _, ...fields } = record;
    return fields;
  };
  const requests = async (key: string) => ((await control('stats')).requests[key] ?? 0) as number;
  const open = () => openConnector(t.runtime.deps, connectionId);
  const ids = (records: ProviderRecord[]) => records.map((r) => r.id);

  beforeAll(async () => {
    sim = await startSimulator(salesforce, { records: SEEDED });
    await control('limits', { daily_api_requests: 10_000_000 });
    await control('seed', { object: 'Contact', count: LARGE });
    await control('seed', { object: 'Lead', count: MEDIUM });
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ salesforce: sim.url }) } });
    api = client(t.baseUrl, t.apiKey);
    await api('POST', '/providers', {
      body: {
        auth_type: 'oauth2',
        category: 'crm',
        name: 'salesforce',
        config: {
          provider_app_id: '',
          oauth: {
            oauth_scopes: ['api', 'refresh_token'],
            credentials: { oauth_client_id: 'sim-client-id', oauth_client_secret: 'sim-client-secret' },
          },
        },
      },
    });
    await api('PUT', '/customers', { body: { customer_id: 'c', name: 'C', email: 'c@x.test' } });
    const tokens = await control('tokens', {});
    const conn = await api('POST', '/customers/c/connections', {
      body: {
        provider_name: 'salesforce',
        type: 'oauth2',
        refresh_token: tokens.refresh_token,
        instance_url: sim.url,
      },
    });
    expect(conn.status).toBe(200);
    connectionId = conn.body.id;
  });
  afterAll(async () => {
    await t?.stop();
    await sim?.close();
  });

  it('a full read of a small object returns exactly the seeded records through REST, every field', async () => {
    const jobsBefore = await requests('POST /services/data/:version/jobs/query');
    const { connector, ctx } = await open();
    const { records, cursors } = await collect(connector.read!(ctx, { object: 'Account' }));
    const expected = await simRecords('Account');
    expect(ids(records)).toEqual(expected.map((r) => r.id));
    expect(cursors.at(-1)).toBeNull();
    const sample = records[16]!;
    expect(sample.raw).toEqual(fieldsOf(expected[16]!.record));
    expect(sample.raw).toHaveProperty('Website');
    expect(sample.lastModifiedAt.getTime()).toBe(Date.parse(sample.raw.SystemModstamp as string));
    expect(await requests('POST /services/data/:version/jobs/query')).toBe(jobsBefore);
    // Fields asked for by name: those, and the ones every read needs.
    const some = await collect(connector.read!(ctx, { object: 'Account', fields: ['name', 'Phone'] }));
    expect(Object.keys(some.records[16]!.raw).sort()).toEqual(
      ['Id', 'IsDeleted', 'Name', 'Phone', 'SystemModstamp'].sort(),
    );
  });

  it('a full read of a large object uses a Bulk API job, typed as REST shows it, deletions flagged', async () => {
    const removed = await control('mutate', { object: 'Contact', delete: 7 });
    const jobsBefore = await requests('POST /services/data/:version/jobs/query');
    const { connector, ctx } = await open();
    const { records, cursors } = await collect(connector.read!(ctx, { object: 'Contact' }));
    expect(await requests('POST /services/data/:version/jobs/query')).toBe(jobsBefore + 1);
    expect(cursors).toHaveLength(3);
    const expected = await simRecords('Contact');
    expect(records).toHaveLength(LARGE);
    expect([...ids(records)].sort()).toEqual(expected.map((r) => r.id).sort());
    expect(
      records
        .filter((r) => r.isDeleted)
        .map((r) => r.id)
        .sort(),
    ).toEqual([...removed.deleted].sort());
    // CSV cells come back as the REST API's JSON values: nulls, numbers, booleans, dateTimes.
    const byId = new Map(expected.map((r) => [r.id, r.record]));
    for (const r of records.slice(0, 50)) expect(r.raw).toEqual(fieldsOf(byId.get(r.id)!));
    const gone = records.find((r) => r.isDeleted)!;
    expect(gone.raw).toEqual(fieldsOf(byId.get(gone.id)!));
    expect(gone.raw.IsDeleted).toBe(true);
  });

  it('an incremental read returns exactly the changes and the deletions', async () => {
    const since = new Date((await control('clock', { advance_ms: 5000 })).now);
    const changes = await control('mutate', { object: 'Lead', create: 4, update: 30, delete: 6 });
    const { connector, ctx } = await open();
    const { records } = await collect(connector.read!(ctx, { object: 'Lead', since }));
    const live = records.filter((r) => !r.isDeleted).map((r) => r.id);
    const deleted = records.filter((r) => r.isDeleted).map((r) => r.id);
    expect(live.sort()).toEqual([...new Set([...changes.created, ...changes.updated])].sort());
    expect(deleted.sort()).toEqual([...changes.deleted].sort());
    // Salesforce stamps changes to the second: those in the second of `since` count as after it.
    for (const r of records) expect(r.lastModifiedAt.getTime()).toBeGreaterThanOrEqual(wholeSecond(since));
    const expected = new Map((await simRecords('Lead')).map((r) => [r.id, r.record]));
    for (const r of records) expect(r.raw).toEqual(fieldsOf(expected.get(r.id)!));
  });

  it('a read interrupted after any page resumes from its cursor with nothing lost or repeated', async () => {
    const { connector, ctx } = await open();
    const check = async (req: { object: string; since?: Date }, stops: number[]) => {
      const whole = await expectResumable((r) => connector.read!(ctx, r), req, stops);
      return whole;
    };
    // REST, keyset on Id: five pages.
    const lead = await check({ object: 'Lead' }, [1, 2, 4]);
    expect(lead.cursors).toHaveLength(5);
    // Bulk API result sets: three.
    const contact = await check({ object: 'Contact' }, [1, 2]);
    expect(contact.cursors).toHaveLength(3);
    // The middle of an incremental read.
    await control('seed', { object: 'Opportunity', count: 6000 });
    const since = new Date((await control('clock', { advance_ms: 5000 })).now);
    const changed = await control('mutate', { object: 'Opportunity', update: 4500, delete: 3 });
    const inc = await check({ object: 'Opportunity', since }, [1, 2]);
    expect(inc.records).toHaveLength(4503);
    expect(
      inc.records
        .filter((r) => r.isDeleted)
        .map((r) => r.id)
        .sort(),
    ).toEqual([...changed.deleted].sort());
    await control('seed', { object: 'Opportunity', count: SEEDED });
  });

  it('continues from its keyset when the query locator is released under it', async () => {
    const { connector, ctx } = await open();
    const whole = await collect(connector.read!(ctx, { object: 'Lead' }));
    await control('limits', { open_query_cursors: 1 });
    try {
      const queries = await requests('GET /services/data/:version/queryAll');
      const records: ProviderRecord[] = [];
      let pages = 0;
      for await (const page of connector.read!(ctx, { object: 'Lead' })) {
        records.push(...page.records);
        // Another query opens a locator of its own, which releases this read's.
        if (++pages === 2) await collect(connector.read!(ctx, { object: 'Account' }));
      }
      expect(ids(records)).toEqual(ids(whole.records));
      // Two counts, the two reads' queries, and the one that took up the keyset after page 2.
      expect((await requests('GET /services/data/:version/queryAll')) - queries).toBe(5);
    } finally {
      await control('limits', { open_query_cursors: 10 });
    }
  });

  it('starts over keyset-wise when the Bulk job of a resumed read is gone, and without Bulk quota', async () => {
    const { connector, ctx } = await open();
    let cursor: string | null = null;
    for await (const page of connector.read!(ctx, { object: 'Contact' })) {
      cursor = page.cursor;
      break;
    }
    const { job } = decodeCursor<{ job: string }>(cursor!);
    const res = await fetch(`${sim.url}/services/data/v59.0/jobs/query/${job}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${await ctx.accessToken()}` },
    });
    expect(res.status).toBe(204);
    const resumed = await collect(connector.read!(ctx, { object: 'Contact', cursor: cursor! }));
    const expected = (await simRecords('Contact')).map((r) => r.id);
    expect(ids(resumed.records)).toEqual(expected);

    // The org's daily Bulk query jobs spent: the full read goes through REST instead.
    await control('limits', { daily_bulk_v2_query_jobs: 1 });
    try {
      const rest = await collect(connector.read!(ctx, { object: 'Contact' }));
      expect(ids(rest.records)).toEqual(expected);
      expect(rest.cursors).toHaveLength(Math.ceil(LARGE / 2000));
    } finally {
      await control('limits', { daily_bulk_v2_query_jobs: 10_000 });
    }
  });

  it('waits out short-lived REQUEST_LIMIT_EXCEEDED answers and never surfaces them', async () => {
    await control('faults', { rate_limit_rate: 0.25, rate_limit_retry_after_seconds: 0 });
    try {
      const { connector, ctx } = await open();
      const { records, cursors } = await collect(connector.read!(ctx, { object: 'Lead' }));
      expect(ids(records)).toEqual((await simRecords('Lead')).map((r) => r.id));
      // Some requests were refused and repeated (describe, count and five pages at the least).
      expect(ctx.http.requestCount).toBeGreaterThan(cursors.length + 2);
    } finally {
      await control('faults', { rate_limit_rate: 0 });
    }
  });

  it('a spent daily API budget surfaces as rate_limited with a long wait, not retried', async () => {
    await control('limits', { daily_api_requests: 1 });
    try {
      const { connector, ctx } = await open();
      const err = await collect(connector.read!(ctx, { object: 'Account' })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectorError);
      expect((err as ConnectorError).kind).toBe('rate_limited');
      expect((err as ConnectorError).waitMs).toBeGreaterThanOrEqual(60 * 60_000);
      expect(ctx.http.requestCount).toBe(1);
    } finally {
      await control('limits', { daily_api_requests: 10_000_000 });
      await forgetRequestBudgets(t.runtime.deps.db);
    }
  });

  it('refreshes an expired token once and retries the call', async () => {
    const before = (await control('stats')).token_refreshes;
    const { connector, ctx } = await open();
    await collect(connector.read!(ctx, { object: 'Account' }));
    await control('faults', { expire_tokens_now: true });
    const { records } = await collect(connector.read!(ctx, { object: 'Account' }));
    expect(records).toHaveLength(SEEDED);
    expect((await control('stats')).token_refreshes - before).toBe(1);
    // The identity endpoint answers an expired token with a 403 of its own; that too is renewed.
    await control('faults', { expire_tokens_now: true });
    expect((await connector.whoAmI!(ctx)).userId).toBe('0055g0000004C93AAE');
    expect((await control('stats')).token_refreshes - before).toBe(2);
  });

  it('writes records, and the next incremental read sees them', async () => {
    const { connector, ctx } = await open();
    const since = new Date((await control('clock', { advance_ms: 5000 })).now);
    const lead = await connector.create!(ctx, 'Lead', { LastName: 'Lovelace', Company: 'Analytical' });
    expect(lead.raw).toMatchObject({ LastName: 'Lovelace', Company: 'Analytical', IsDeleted: false });
    const updated = await connector.update!(ctx, 'Lead', lead.id, { Title: 'Countess' });
    expect(updated.raw).toMatchObject({ Title: 'Countess', LastName: 'Lovelace' });
    const account = await connector.create!(ctx, 'Account', { Name: 'Doomed' });
    await connector.delete!(ctx, 'Account', account.id);
    const leads = await collect(connector.read!(ctx, { object: 'Lead', since }));
    expect(leads.records.map((r) => [r.id, r.raw.Title])).toEqual([[lead.id, 'Countess']]);
    const accounts = await collect(connector.read!(ctx, { object: 'Account', since }));
    expect(accounts.records.map((r) => [r.id, r.isDeleted])).toEqual([[account.id, true]]);
    const missing = await connector.update!(ctx, 'Account', account.id, { Name: 'x' }).catch((e) => e);
    expect((missing as ConnectorError).kind).toBe('not_found');
    const invalid = await connector.create!(ctx, 'Lead', { FirstName: 'x' }).catch((e) => e);
    expect((invalid as ConnectorError).kind).toBe('validation');
  });

  it('answers whoAmI, objects, fields and rate-limit info (also through the API)', async () => {
    const { connector, ctx } = await open();
    expect(await connector.whoAmI!(ctx)).toMatchObject({
      userId: '0055g0000004C93AAE',
      accountId: '00D5g000000Gmc7EAC',
    });
    expect(await connector.listObjects!(ctx)).toEqual([
      'Account',
      'Contact',
      'Opportunity',
      'Lead',
      'Invoice__c',
      'User',
    ]);
    const fields = await connector.describeFields!(ctx, 'Opportunity');
    expect(fields).toContainEqual({ name: 'Amount', label: 'Amount', type: 'currency', readOnly: false });
    expect(fields).toContainEqual(expect.objectContaining({ name: 'IsWon', readOnly: true }));
    const invoiceFields = await connector.describeFields!(ctx, 'Invoice__c');
    expect(invoiceFields).toContainEqual({
      name: 'Account__c',
      label: 'Account',
      type: 'reference',
      readOnly: false,
    });
    expect(invoiceFields).toContainEqual(expect.objectContaining({ name: 'Name', readOnly: true }));

    const info = await connector.rateLimitInfo!(ctx);
    expect(info.daily).toMatchObject({ limit: 10_000_000 });
    expect(info.daily!.remaining).toBeLessThan(10_000_000);
    expect(info.other?.DailyBulkV2QueryJobs).toMatchObject({ limit: 10_000 });

    const limits = await api('GET', '/customers/c/connections/salesforce/_rate_limit_info');
    expect(limits.status).toBe(200);
    expect(limits.body.daily.limit).toBe(10_000_000);
  });
});
