import type { ProviderName } from '../src/connectors/catalog.ts';
import { ProviderHttp, UNMETERED } from '../src/connectors/http.ts';
import { providerModule } from '../src/connectors/index.ts';
import { OutboundPolicy } from '../src/net/outbound.ts';
import { arg, bareRequest, peakRssMb, rate, simControl, spawnSimulator, timed } from './lib.ts';

/**
 * Full-read throughput of each connector against its simulator, next to the physical limit
 * measured in the same run: a bare loop that fetches and parses the same pages and does nothing
 * else. Usage: npm run bench:read -- [--records 200000]
 */
const requested = arg('records', 200_000);

interface Case {
  provider: ProviderName;
  object: string;
  /** The bare loop: fetch every page of the object as simply as the API allows. */
  bareLoop(url: string, token: string, headers: Record<string, string>): Promise<number>;
  /** The simulator's limits, raised out of the way (the simulator's own names); HubSpot's by default. */
  limits?: Record<string, number>;
  /** Request headers from the simulator's `POST /__sim/tokens` answer; a bearer access token by default. */
  headers?(tokens: Record<string, string>): Record<string, string>;
  /** The most records a full read can reach through the API, when fewer than --records. */
  maxRecords?: number;
}

const CASES: Case[] = [
  {
    provider: 'hubspot',
    object: 'contacts',
    async bareLoop(url, token) {
      // The connector asks for every property the properties API lists, so the bare loop does too.
      const list = (await (
        await bareRequest(`${url}/crm/v3/properties/contacts`, {
          headers: { authorization: `Bearer ${token}` },
        })
      ).json()) as { results: { name: string }[] };
      const properties = list.results.map((p) => p.name).join(',');
      let after: string | undefined;
      let n = 0;
      for (;;) {
        const q = new URLSearchParams({ limit: '100', properties });
        if (after) q.set('after', after);
        const res = await bareRequest(`${url}/crm/v3/objects/contacts?${q}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        const body = (await res.json()) as { results: unknown[]; paging?: { next?: { after: string } } };
        n += body.results.length;
        after = body.paging?.next?.after;
        if (!after) return n;
      }
    },
  },
  {
    provider: 'pipedrive',
    object: 'persons',
    limits: { burst_per_2s: 10_000_000, daily_tokens: 100_000_000 },
    async bareLoop(url, token) {
      let cursor: string | null = null;
      let n = 0;
      do {
        const q = new URLSearchParams({ limit: '500' });
        if (cursor) q.set('cursor', cursor);
        const res = await bareRequest(`${url}/api/v2/persons?${q}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        const body = (await res.json()) as {
          data: unknown[];
          additional_data: { next_cursor: string | null };
        };
        n += body.data.length;
        cursor = body.additional_data.next_cursor;
      } while (cursor);
      return n;
    },
  },
  {
    provider: 'apollo',
    object: 'contacts',
    limits: { per_minute: 1_000_000_000, per_hour: 1_000_000_000, per_day: 1_000_000_000 },
    headers: (tokens) => ({ 'x-api-key': tokens.api_key! }),
    // Apollo's search shows 500 pages of 100 from each end of a sort order: 100,000 at most.
    maxRecords: 100_000,
    async bareLoop(url, _token, headers) {
      const page = async (n: number, ascending: boolean) => {
        const res = await bareRequest(`${url}/api/v1/contacts/search`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({
            page: n,
            per_page: 100,
            sort_by_field: 'contact_updated_at',
            sort_ascending: ascending,
          }),
        });
        return (await res.json()) as { contacts: unknown[]; pagination: { total_entries: number } };
      };
      let n = 0;
      let total = Number.POSITIVE_INFINITY;
      for (let p = 1; p <= 500 && n < total; p++) {
        const body = await page(p, false);
        total = body.pagination.total_entries;
        n += body.contacts.length;
      }
      for (let p = 1; n < total; p++) n += Math.min(total - n, (await page(p, true)).contacts.length);
      return n;
    },
  },
  {
    provider: 'gong',
    object: 'calls',
    limits: { per_second: 1_000_000_000, daily: 1_000_000_000 },
    headers: (tokens) => ({
      authorization: `Basic ${Buffer.from(`${tokens.access_key}:${tokens.access_key_secret}`).toString('base64')}`,
    }),
    async bareLoop(url, _token, headers) {
      let cursor: string | undefined;
      let n = 0;
      do {
        const q = new URLSearchParams(cursor ? { cursor } : {});
        const res = await bareRequest(`${url}/v2/calls?${q}`, { headers });
        const body = (await res.json()) as { calls: unknown[]; records: { cursor?: string } };
        n += body.calls.length;
        cursor = body.records.cursor;
      } while (cursor);
      return n;
    },
  },
  {
    provider: 'salesforce',
    object: 'Contact',
    limits: { daily_api_requests: 1_000_000_000, daily_bulk_v2_query_jobs: 1_000_000 },
    // A Bulk API 2.0 queryAll job on every field, then its CSV result sets of 10,000 (the
    // connector's choice above 10,000 records), split on the simulator's always-quoted cells.
    async bareLoop(url, token) {
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const api = `${url}/services/data/v59.0`;
      const describe = (await (
        await bareRequest(`${api}/sobjects/Contact/describe`, { headers })
      ).json()) as {
        fields: { name: string; type: string }[];
      };
      const fields = describe.fields.filter((f) => !['address', 'location', 'base64'].includes(f.type));
      const job = (await (
        await bareRequest(`${api}/jobs/query`, {
          method: 'POST',
          headers,
          body: JSON.stringify({
            operation: 'queryAll',
            query: `SELECT ${fields.map((f) => f.name).join(', ')} FROM Contact`,
          }),
        })
      ).json()) as { id: string };
      for (;;) {
        await new Promise((r) => setTimeout(r, 100));
        const state = (
          (await (await bareRequest(`${api}/jobs/query/${job.id}`, { headers })).json()) as {
            state: string;
          }
        ).state;
        if (state === 'JobComplete') break;
      }
      let n = 0;
      let locator: string | null = null;
      do {
        const q = new URLSearchParams({ maxRecords: '10000', ...(locator ? { locator } : {}) });
        const res = await bareRequest(`${api}/jobs/query/${job.id}/results?${q}`, { headers });
        const rows = (await res.text())
          .split('\n')
          .slice(1)
          .filter(Boolean)
          .map((line) => line.slice(1, -1).split('","'));
        n += rows.length;
        locator = res.header('sforce-locator');
      } while (locator && locator !== 'null');
      return n;
    },
  },
];

console.log(
  `Full read of ${requested.toLocaleString()} records per provider (simulator in its own process)\n`,
);
for (const c of CASES) {
  const records = Math.min(requested, c.maxRecords ?? requested);
  const sim = await spawnSimulator(c.provider, records);
  await simControl(
    sim.url,
    'limits',
    c.limits ?? { ten_second: 10_000_000, daily: 100_000_000, search_per_second: 100_000 },
  );
  const tokens = (await simControl(sim.url, 'tokens', {})) as Record<string, string>;
  const token = tokens.access_token!;
  const headers = c.headers?.(tokens) ?? { authorization: `Bearer ${token}` };
  const module = providerModule(c.provider)!;
  const http = new ProviderHttp({
    baseUrl: sim.url,
    auth: { headers: async () => headers, renew: async () => 'failed' as const },
    // The simulator stands in for the provider, as TRELLIS_PROVIDER_OVERRIDES would name it.
    outbound: new OutboundPolicy({
      strict: false,
      allowLoopback: false,
      allowed: [],
      providerHosts: [new URL(sim.url).hostname],
    }),
    policy: module.policy,
    budget: () => UNMETERED,
  });
  const ctx = { http, instanceUrl: sim.url, accessToken: async () => token };

  // Two rounds, the first warming up both processes' JIT; the second is reported.
  let bare = { ms: 0, value: 0 };
  let connector = { ms: 0, value: 0 };
  for (let round = 0; round < 2; round++) {
    http.requestCount = 0;
    bare = await timed(() => c.bareLoop(sim.url, token, headers));
    connector = await timed(async () => {
      let n = 0;
      for await (const page of module.connector.read!(ctx, { object: c.object })) n += page.records.length;
      return n;
    });
  }
  if (bare.value !== records || connector.value !== records) {
    throw new Error(`read ${connector.value} (connector) and ${bare.value} (bare) of ${records} records`);
  }
  console.log(
    [
      `${c.provider} ${c.object}${records < requested ? ` (${records.toLocaleString()} records: the most its API lets a read reach)` : ''}:`,
      `  connector      ${rate(records, connector.ms).toLocaleString()} records/s (${(connector.ms / 1000).toFixed(1)} s, ${http.requestCount} requests)`,
      `  bare fetch     ${rate(records, bare.ms).toLocaleString()} records/s (${(bare.ms / 1000).toFixed(1)} s)`,
      `  ratio          ${(connector.ms / bare.ms).toFixed(2)}x the bare loop's time`,
      `  peak RSS       ${peakRssMb()} MB (this process)`,
    ].join('\n'),
  );
  await sim.stop();
}
