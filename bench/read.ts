import type { ProviderName } from '../src/connectors/catalog.ts';
import { ProviderHttp, RequestPacer } from '../src/connectors/http.ts';
import { connectorFor } from '../src/connectors/registry.ts';
import { arg, peakRssMb, rate, simControl, spawnSimulator, timed } from './lib.ts';

/**
 * Full-read throughput of each connector against its simulator, next to the physical limit
 * measured in the same run: a bare loop that fetches and parses the same pages and does nothing
 * else. Usage: npm run bench:read -- [--records 200000]
 */
const records = arg('records', 200_000);

interface Case {
  provider: ProviderName;
  object: string;
  /** The bare loop: fetch every page of the object as simply as the API allows. */
  bareLoop(url: string, token: string): Promise<number>;
}

const CASES: Case[] = [
  {
    provider: 'hubspot',
    object: 'contacts',
    async bareLoop(url, token) {
      let after: string | undefined;
      let n = 0;
      for (;;) {
        const q = new URLSearchParams({
          limit: '100',
          properties:
            'email,firstname,lastname,phone,company,jobtitle,createdate,lastmodifieddate,hs_object_id',
        });
        if (after) q.set('after', after);
        const res = await fetch(`${url}/crm/v3/objects/contacts?${q}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        const body = (await res.json()) as { results: unknown[]; paging?: { next?: { after: string } } };
        n += body.results.length;
        after = body.paging?.next?.after;
        if (!after) return n;
      }
    },
  },
];

console.log(`Full read of ${records.toLocaleString()} records per provider (simulator in its own process)\n`);
for (const c of CASES) {
  const sim = await spawnSimulator(c.provider, records);
  await simControl(sim.url, 'limits', {
    ten_second: 10_000_000,
    daily: 100_000_000,
    search_per_second: 100_000,
  });
  const token = (await simControl(sim.url, 'tokens', {})).access_token as string;
  const module = connectorFor(c.provider)!;
  const http = new ProviderHttp({
    baseUrl: sim.url,
    auth: { headers: async () => ({ authorization: `Bearer ${token}` }), renew: async () => false },
    policy: module.policy,
    pacer: () => new RequestPacer(1_000_000),
  });
  const ctx = { http, instanceUrl: sim.url, accessToken: async () => token };

  const bare = await timed(() => c.bareLoop(sim.url, token));
  const connector = await timed(async () => {
    let n = 0;
    for await (const page of module.connector.read!(ctx, { object: c.object })) n += page.records.length;
    return n;
  });
  if (bare.value !== records || connector.value !== records) {
    throw new Error(`read ${connector.value} (connector) and ${bare.value} (bare) of ${records} records`);
  }
  console.log(
    [
      `${c.provider} ${c.object}:`,
      `  connector      ${rate(records, connector.ms).toLocaleString()} records/s (${(connector.ms / 1000).toFixed(1)} s, ${http.requestCount} requests)`,
      `  bare fetch     ${rate(records, bare.ms).toLocaleString()} records/s (${(bare.ms / 1000).toFixed(1)} s)`,
      `  ratio          ${(connector.ms / bare.ms).toFixed(2)}x the bare loop's time`,
      `  peak RSS       ${peakRssMb()} MB (this process)`,
    ].join('\n'),
  );
  await sim.stop();
}
