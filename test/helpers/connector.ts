import { expect } from 'vitest';
import { type ProviderApi, providerUrl } from '../../src/connectors/catalog.ts';
import { ProviderHttp, UNMETERED } from '../../src/connectors/http.ts';
import type { ProviderModule } from '../../src/connectors/provider.ts';
import type { ConnectorContext, ProviderRecord, ReadPage, ReadRequest } from '../../src/connectors/types.ts';
import { OutboundPolicy } from '../../src/net/outbound.ts';
import { simControl } from './simulator.ts';

/** Reads a connector read's pages (all, or the first `maxPages`): their records, and each page's cursor. */
export async function collect(pages: AsyncIterable<ReadPage>, maxPages = Number.POSITIVE_INFINITY) {
  const records: ProviderRecord[] = [];
  const cursors: (string | null)[] = [];
  for await (const page of pages) {
    records.push(...page.records);
    cursors.push(page.cursor);
    if (cursors.length === maxPages) break;
  }
  return { records, cursors };
}

/**
 * Reads `req` whole, then again stopping after each page count in `stops` and resuming from that
 * page's cursor: each interrupted read must yield exactly the whole read's records, in order.
 */
export async function expectResumable(
  read: (req: ReadRequest) => AsyncIterable<ReadPage>,
  req: ReadRequest,
  /** Page counts to stop after, or a function of the whole read's page count. */
  stops: number[] | ((pages: number) => number[]),
) {
  const whole = await collect(read(req));
  const ids = (records: ProviderRecord[]) => records.map((r) => r.id);
  for (const stopAfter of typeof stops === 'function' ? stops(whole.cursors.length) : stops) {
    const first = await collect(read(req), stopAfter);
    const rest = await collect(read({ ...req, cursor: first.cursors.at(-1)! }));
    expect(ids([...first.records, ...rest.records])).toEqual(ids(whole.records));
  }
  return whole;
}

/** Request headers for credentials a simulator issued, sent as connections send them. */
function credentialHeaders(api: ProviderApi, issued: Record<string, unknown>): Record<string, string> {
  const { access_token: token, api_key: key, access_key: accessKey, access_key_secret: secret } = issued;
  if (typeof token === 'string') return { authorization: `Bearer ${token}` };
  if (typeof key === 'string')
    return api.apiKeyHeader ? { [api.apiKeyHeader]: key } : { authorization: `Bearer ${key}` };
  if (typeof accessKey === 'string' && typeof secret === 'string')
    return { authorization: `Basic ${Buffer.from(`${accessKey}:${secret}`).toString('base64')}` };
  throw new Error(`the simulator issued no credentials Trellis knows: ${Object.keys(issued).join(', ')}`);
}

/**
 * A connector context for a provider folder against its simulator, built as a connection's is
 * (the folder's base URL and instance field, with the simulator as the provider's override; its
 * policy; its API-key header) but without a database: the credentials are a fresh set from the
 * simulator's `POST /__sim/tokens`, never renewed, and no account budget holds requests back.
 */
export async function simulatorContext(provider: ProviderModule, simUrl: string): Promise<ConnectorContext> {
  const { api } = provider.definition;
  const issued = (await simControl(simUrl, 'tokens', {})) as Record<string, unknown>;
  const headers = credentialHeaders(api, issued);
  const instance = api.instanceUrlField ? issued[api.instanceUrlField] : undefined;
  const instanceUrl = typeof instance === 'string' ? instance : '';
  const http = new ProviderHttp({
    baseUrl: providerUrl(api.baseUrl, { instanceUrl, override: simUrl }),
    auth: { headers: async () => headers, renew: async () => 'failed' },
    outbound: new OutboundPolicy({
      strict: false,
      allowLoopback: false,
      allowed: [],
      providerHosts: [new URL(simUrl).hostname],
    }),
    policy: provider.policy,
    budget: () => UNMETERED,
    maxRetries: 2,
  });
  const accessToken = typeof issued.access_token === 'string' ? issued.access_token : undefined;
  return { http, instanceUrl, accessToken: async () => accessToken };
}
