import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIMULATORS, startSimulator } from '../../simulators/index.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { type Exchange, startRecordingProxy } from '../helpers/recording-proxy.ts';
import { simControl, simRecords, simServed, simServedSince } from '../helpers/simulator.ts';
import {
  type Client,
  client,
  createTestDatabase,
  startTrellis,
  type TestTrellis,
} from '../helpers/trellis.ts';
import { until } from '../helpers/wait.ts';
import { type FixtureSync, loadFixture, type RecordedCall, relocatedApi, restoreFixture } from './fixture.ts';
import {
  acceptEarlierCredentials,
  DrivenSimulator,
  type RecordedMutation,
  replayTimeline,
} from './simulator-timeline.ts';

/**
 * A database made through the Management API of release b336421 (test/fixtures/upgrade-b336421,
 * made by its make-fixture.ts) is restored, and the current code starts on it and migrates it.
 * Everything is checked from outside: the Management API, the provider simulators (rebuilt as they
 * were when the fixture was made) and the destination tables; never Trellis's own tables, whose
 * shape is the current code's business.
 */
const fixture = loadFixture(path.join(import.meta.dirname, '../fixtures/upgrade-b336421'));
const { manifest } = fixture;

interface DestinationRow {
  _supaglue_id: string;
  _supaglue_is_deleted: boolean;
  _supaglue_last_modified_at: Date;
  _supaglue_emitted_at: Date;
  _supaglue_raw_data: unknown;
  [column: string]: unknown;
}

/** One filter of a HubSpot search request. */
interface SearchFilter {
  propertyName: string;
  operator: string;
  value?: string;
}

interface SyncRun {
  id: string;
  status: string;
  num_records_synced: number | null;
  [field: string]: unknown;
}

const keyOf = (s: FixtureSync) => `${s.customerId}/${s.providerName}/${s.object}`;

/**
 * A record as the simulator shows it now, cut down to the fields a record the fixture synced had:
 * the simulators have gained fields since the release (those common objects read), and what the
 * release synced is compared on the fields it had. HubSpot's values sit under `properties`.
 */
function asSyncedThen(record: unknown, synced: unknown): unknown {
  const now = record as Record<string, unknown>;
  const then = synced as Record<string, unknown>;
  const pick = (from: Record<string, unknown>, like: Record<string, unknown>) =>
    Object.fromEntries(Object.keys(like).map((k) => [k, from[k]]));
  const cut = pick(now, then);
  if (then.properties && now.properties) {
    cut.properties = pick(
      now.properties as Record<string, unknown>,
      then.properties as Record<string, unknown>,
    );
  }
  return cut;
}
const connectionHeaders = (s: FixtureSync) => ({
  'x-customer-id': s.customerId,
  'x-provider-name': s.providerName,
});
const activeSyncs = manifest.syncs.filter((s) => !s.paused);
const pausedSync = manifest.syncs.find((s) => s.paused)!;

/** What changes at the providers after the capture, before the upgraded Trellis first runs. */
const CHANGES_AFTER_CAPTURE: Record<
  string,
  Record<string, { create?: number; update?: number; delete?: number }>
> = {
  hubspot: { contacts: { create: 2, update: 3, delete: 2 }, companies: { create: 1, update: 1, delete: 1 } },
  apollo: { contacts: { create: 1, update: 2 } },
};

describe('a database made by release b336421 upgrades in place and keeps syncing', () => {
  const simulators = new Map<string, DrivenSimulator>();
  const earlierCredentials = new Map<string, ReturnType<typeof acceptEarlierCredentials>>();
  /** The changes made after the capture, per provider and object. */
  const changes = new Map<string, RecordedMutation>();
  let hubspotTraffic: Awaited<ReturnType<typeof startRecordingProxy>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let databaseUrl: string;
  let warehouse: pg.Client;
  let t: TestTrellis | undefined;
  let api: Client;
  /** Each sync's destination rows as restored, before the upgraded Trellis ran. */
  const restoredRows = new Map<string, DestinationRow[]>();
  /** The provider's records, as replayed, next to what the fixture synced of them. */
  const replayedRecords = new Map<string, Awaited<ReturnType<typeof simRecords>>>();
  /** What the upgraded Trellis's API answered before any run, per recorded call. */
  const answeredAfterUpgrade: RecordedCall[] = [];
  let pausedTrigger: { status: number; body: unknown };
  /** The public URL of the upgraded Trellis that answered the reads (magic links name it). */
  let answeringUrl: string;
  let apolloServedBefore: Record<string, number>;
  let hubspotExchangesBefore: number;

  const rowsOf = async (s: FixtureSync): Promise<DestinationRow[]> => {
    const { rows } = await warehouse.query<DestinationRow>(
      `select * from ${pg.escapeIdentifier(s.schema)}.${pg.escapeIdentifier(s.table)}
        where _supaglue_customer_id = $1 and _supaglue_provider_name = $2 order by _supaglue_id`,
      [s.customerId, s.providerName],
    );
    return rows;
  };

  const runsOf = async (s: FixtureSync): Promise<SyncRun[]> => {
    const res = await api<{ results: SyncRun[] }>('GET', '/sync-runs', {
      query: {
        customer_id: s.customerId,
        provider_name: s.providerName,
        object_type: 'standard',
        object: s.object,
        page_size: '100',
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.results;
  };

  /** Waits for `count` ended runs of a sync; newest first. */
  const endedRuns = (s: FixtureSync, count: number) =>
    until(`${count} ended runs of ${keyOf(s)}`, async () => {
      const ended = (await runsOf(s)).filter((r) => r.status !== 'IN_PROGRESS');
      return ended.length >= count && ended;
    });

  const trigger = (s: FixtureSync) =>
    api('POST', '/syncs/_trigger', {
      headers: connectionHeaders(s),
      body: { object_type: 'standard', object: s.object },
    });

  const startUpgraded = (worker: boolean) =>
    startTrellis({
      databaseUrl,
      roles: { api: true, worker },
      env: {
        TRELLIS_ENCRYPTION_KEY: manifest.testSecrets.encryptionKey,
        TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({
          hubspot: hubspotTraffic.url,
          apollo: simulators.get('apollo')!.url,
        }),
      },
    });

  beforeAll(async () => {
    // The providers as they were at the capture: same seeds, same changes at the same instants,
    // and the credentials they had issued still good.
    for (const timeline of manifest.simulators) {
      const provider = SIMULATORS[timeline.provider]!;
      const driven = new DrivenSimulator(
        await startSimulator(provider, { records: timeline.records, seed: timeline.seed }),
      );
      simulators.set(timeline.provider, driven);
      await replayTimeline(driven, timeline);
      earlierCredentials.set(timeline.provider, acceptEarlierCredentials(driven, timeline.issued));
    }
    await simControl(simulators.get('hubspot')!.url, 'limits', {
      ten_second: 100_000,
      search_per_second: 1000,
    });
    await simControl(simulators.get('apollo')!.url, 'limits', {
      per_minute: 1_000_000,
      per_hour: 10_000_000,
      per_day: 100_000_000,
    });
    hubspotTraffic = await startRecordingProxy(simulators.get('hubspot')!.url, (p) => p.startsWith('/crm/'));
    receiver = await startReceiver();

    databaseUrl = await createTestDatabase();
    await restoreFixture(fixture, { databaseUrl, webhookUrl: receiver.url });
    warehouse = new pg.Client({ connectionString: databaseUrl });
    await warehouse.connect();
    for (const s of manifest.syncs) {
      restoredRows.set(keyOf(s), await rowsOf(s));
      replayedRecords.set(keyOf(s), await simRecords(simulators.get(s.providerName)!.url, s.object));
    }

    // Activity at the providers after the capture: later than anything the fixture's runs read.
    const changedAt = Date.parse(manifest.capturedAt) + 10 * 60_000;
    for (const [providerName, objects] of Object.entries(CHANGES_AFTER_CAPTURE)) {
      const driven = simulators.get(providerName)!;
      for (const [object, change] of Object.entries(objects)) {
        changes.set(`${providerName}/${object}`, await driven.mutateAt(changedAt, object, change));
      }
    }

    // First the API alone: the upgrade migrates, and nothing runs while the API is read and the
    // syncs are triggered (a worker would start overdue syncs at once). Then the worker runs them.
    const apiOnly = await startUpgraded(false);
    t = apiOnly;
    answeringUrl = apiOnly.config.publicUrl;
    api = client(apiOnly.baseUrl, manifest.testSecrets.apiKey);
    for (const recordedCall of fixture.api) {
      const res = await api<unknown>(recordedCall.method, recordedCall.path, {
        ...(recordedCall.query ? { query: recordedCall.query } : {}),
        ...(recordedCall.headers ? { headers: recordedCall.headers } : {}),
      });
      answeredAfterUpgrade.push({ ...recordedCall, status: res.status, body: res.body });
    }
    pausedTrigger = await trigger(pausedSync);
    for (const s of activeSyncs) expect((await trigger(s)).status).toBe(200);
    await apiOnly.stop();
    t = undefined;

    apolloServedBefore = await simServed(simulators.get('apollo')!.url);
    hubspotExchangesBefore = hubspotTraffic.exchanges.length;
    t = await startUpgraded(true);
    api = client(t.baseUrl, manifest.testSecrets.apiKey);
    for (const s of activeSyncs) await endedRuns(s, s.runs + 1);
  });

  afterAll(async () => {
    await t?.stop();
    await warehouse?.end();
    await receiver?.close();
    await hubspotTraffic?.close();
    for (const driven of simulators.values()) await driven.sim.close();
  });

  it("keeps the release's migrations as they were: applied ones are never run again", () => {
    for (const name of manifest.migrations) {
      const current = path.join(import.meta.dirname, '../../src/db/migrations', name);
      expect(fs.existsSync(current), `${name} is still a migration`).toBe(true);
      expect(fs.readFileSync(current, 'utf8'), name).toBe(
        fs.readFileSync(path.join(fixture.dir, 'migrations', name), 'utf8'),
      );
    }
  });

  it('rebuilds the provider data the fixture synced', () => {
    for (const s of manifest.syncs) {
      const records = new Map(replayedRecords.get(keyOf(s))!.map((r) => [r.id, r]));
      const rows = restoredRows.get(keyOf(s))!;
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) {
        const record = records.get(row._supaglue_id);
        expect(record, `${keyOf(s)} ${row._supaglue_id}`).toBeDefined();
        if (row._supaglue_is_deleted) {
          expect(record!.deleted, `${keyOf(s)} ${row._supaglue_id}`).toBe(true);
          continue;
        }
        expect(row._supaglue_raw_data, `${keyOf(s)} ${row._supaglue_id}`).toEqual(
          asSyncedThen(record!.record, row._supaglue_raw_data),
        );
        expect(row._supaglue_last_modified_at.getTime()).toBe(Date.parse(record!.updated_at));
      }
    }
  });

  it('(a) answers every Management API read as the release did before the upgrade', () => {
    const expected = relocatedApi(fixture, { databaseUrl, webhookUrl: receiver.url }, answeringUrl);
    expect(answeredAfterUpgrade).toHaveLength(expected.length);
    for (const [i, answer] of answeredAfterUpgrade.entries()) {
      expect(answer, `${answer.path} ${JSON.stringify(answer.headers ?? {})}`).toEqual(expected[i]);
    }
  });

  it('(a) keeps the run history: every earlier run reads as it did, and each new run is added to it', async () => {
    const recordedRuns = fixture.api.find((c) => c.path === '/sync-runs')!.body as { results: SyncRun[] };
    const res = await api<{ results: SyncRun[] }>('GET', '/sync-runs', { query: { page_size: '100' } });
    const now = res.body.results;
    expect(now).toHaveLength(recordedRuns.results.length + activeSyncs.length);
    for (const run of recordedRuns.results) expect(now.find((r) => r.id === run.id)).toEqual(run);
  });

  it('(b) the next run of each synced object reads only what changed after its watermark', async () => {
    for (const s of activeSyncs) {
      const [latest] = await endedRuns(s, s.runs + 1);
      expect(latest, keyOf(s)).toMatchObject({ status: 'SUCCESS', error_message: null });
      const change = changes.get(`${s.providerName}/${s.object}`)!;
      const touched = new Set([...change.created, ...change.updated, ...change.deleted]);
      const live = (await simRecords(simulators.get(s.providerName)!.url, s.object)).filter(
        (r) => !r.deleted,
      );
      if (s.nextRun === 'full') {
        expect(latest!.num_records_synced, keyOf(s)).toBe(live.length);
      } else if (s.providerName === 'hubspot') {
        // HubSpot reports deletions in incremental reads (its archived listing).
        expect(latest!.num_records_synced, keyOf(s)).toBe(touched.size);
      } else {
        // Apollo has no deleted records to list: its incremental reads see creations and updates.
        expect(latest!.num_records_synced, keyOf(s)).toBe(change.created.length + change.updated.length);
      }
    }

    // HubSpot contacts were read by searching on the modification date and listing the archived
    // records (deletions); never by listing every contact.
    const contactsTraffic = hubspotTraffic.exchanges
      .slice(hubspotExchangesBefore)
      .filter((e: Exchange) => e.path.startsWith('/crm/v3/objects/contacts'));
    expect(contactsTraffic.length).toBeGreaterThan(0);
    // The watermark the release stored: past the changes its last runs read, before the capture.
    const changedBeforeCapture = Math.max(
      ...manifest.simulators.find((x) => x.provider === 'hubspot')!.mutations.map((m) => m.at),
    );
    for (const e of contactsTraffic) {
      if (e.method === 'POST') {
        expect(e.path).toMatch(/^\/crm\/v3\/objects\/contacts\/search/);
        const search = JSON.parse(e.requestBody) as { filterGroups: { filters: SearchFilter[] }[] };
        const since = search.filterGroups
          .flatMap((g) => g.filters)
          .find((f) => f.propertyName === 'lastmodifieddate' && f.operator === 'GT');
        expect(since, 'a search on the modification date').toBeDefined();
        expect(Number(since!.value)).toBeGreaterThan(changedBeforeCapture);
        expect(Number(since!.value)).toBeLessThan(Date.parse(manifest.capturedAt));
      } else {
        expect(new URL(e.path, 'http://x').searchParams.get('archived'), e.path).toBe('true');
      }
    }
    // Apollo contacts: one page of the newest-first search, where a full read takes two.
    expect(await simServedSince(simulators.get('apollo')!.url, apolloServedBefore)).toEqual({
      'POST /api/v1/contacts/search': 1,
    });
  });

  it('(c) the destination tables hold exactly the expected rows', async () => {
    for (const s of activeSyncs) {
      const before = new Map(restoredRows.get(keyOf(s))!.map((r) => [r._supaglue_id, r]));
      const after = await rowsOf(s);
      const change = changes.get(`${s.providerName}/${s.object}`)!;
      const records = new Map(
        (await simRecords(simulators.get(s.providerName)!.url, s.object)).map((r) => [r.id, r]),
      );
      const written = new Set([...change.created, ...change.updated]);
      const deleted = new Set(change.deleted);
      expect(after.map((r) => r._supaglue_id).sort(), keyOf(s)).toEqual(
        [...new Set([...before.keys(), ...change.created])].sort(),
      );
      for (const row of after) {
        const id = row._supaglue_id;
        const record = records.get(id)!;
        const where = `${keyOf(s)} ${id}`;
        if (written.has(id)) {
          expect(row._supaglue_is_deleted, where).toBe(false);
          expect(row._supaglue_raw_data, where).toEqual(record.record);
          expect(row._supaglue_last_modified_at.getTime(), where).toBe(Date.parse(record.updated_at));
        } else if (deleted.has(id) && (s.providerName === 'hubspot' || s.nextRun === 'full')) {
          expect(row._supaglue_is_deleted, where).toBe(true);
        } else if (s.nextRun === 'full') {
          // Rewritten by the full run: the record as it is now, the same as before on the fields it had.
          const { _supaglue_emitted_at: _a, _supaglue_raw_data: raw, ...rest } = row;
          const { _supaglue_emitted_at: _b, _supaglue_raw_data: rawBefore, ...restBefore } = before.get(id)!;
          expect(rest, where).toEqual(restBefore);
          if (!row._supaglue_is_deleted) expect(raw, where).toEqual(record.record);
          expect(asSyncedThen(raw, rawBefore), where).toEqual(rawBefore);
        } else {
          expect(row, where).toEqual(before.get(id));
        }
      }
    }
  });

  it('(d) the paused sync stays paused: it cannot be triggered, does not run, and its table is as it was', async () => {
    expect(pausedTrigger.status).toBe(409);
    const syncs = await api<{ results: { object: string; paused: boolean }[] }>('GET', '/syncs', {
      query: { customer_id: pausedSync.customerId, provider_name: pausedSync.providerName, page_size: '100' },
    });
    const paused = syncs.body.results.find((x) => x.object === pausedSync.object);
    expect(paused).toMatchObject({ paused: true });
    expect(await runsOf(pausedSync)).toHaveLength(pausedSync.runs);
    expect(await rowsOf(pausedSync)).toEqual(restoredRows.get(keyOf(pausedSync)));
  });

  it('(e) credentials sealed with the fixture key still work', async () => {
    // Both HubSpot connections refreshed their access tokens with the refresh tokens the release
    // stored (the client secret sealed with them), and Apollo took the stored API key.
    const hubspotTimeline = manifest.simulators.find((x) => x.provider === 'hubspot')!;
    for (const issued of hubspotTimeline.issued) {
      expect(earlierCredentials.get('hubspot')!.refreshesWith(issued.refreshToken)).toBeGreaterThan(0);
    }
    // The runs above succeeded with them; the connections still say they work (the release never
    // moved an API-key connection past `created`, so that one is only checked not to be refused).
    for (const customerId of ['acme', 'globex']) {
      const connections = await api<{ provider_name: string; status: string }[]>(
        'GET',
        `/customers/${customerId}/connections`,
      );
      for (const c of connections.body) {
        expect(c.status, `${customerId} ${c.provider_name}`).not.toBe('bad_credentials');
        if (c.provider_name === 'hubspot') expect(c.status, `${customerId} hubspot`).toBe('working');
      }
    }
    // Webhook deliveries are signed with the endpoint's secret the release sealed.
    const completions = await receiver.waitFor(activeSyncs.length);
    for (const delivery of completions) {
      const id = String(delivery.headers['webhook-id']);
      const timestamp = String(delivery.headers['webhook-timestamp']);
      const key = Buffer.from(manifest.testSecrets.webhookSecret.replace(/^whsec_/, ''), 'base64');
      const mac = createHmac('sha256', key).update(`${id}.${timestamp}.${delivery.body}`).digest('base64');
      expect(String(delivery.headers['webhook-signature']).split(' ')).toContain(`v1,${mac}`);
      expect(JSON.parse(delivery.body).webhook_event_type).toBe('sync.complete');
    }
  });

  it('counts incrementals across the upgrade: the one after reaches full_sync_every_n_incrementals and is full', async () => {
    for (const s of activeSyncs.filter((x) => x.fullAfterNext && x.nextRun === 'incremental')) {
      expect((await trigger(s)).status).toBe(200);
      const [latest] = await endedRuns(s, s.runs + 2);
      const live = (await simRecords(simulators.get(s.providerName)!.url, s.object)).filter(
        (r) => !r.deleted,
      );
      expect(latest, keyOf(s)).toMatchObject({ status: 'SUCCESS', num_records_synced: live.length });
    }
  });
});
