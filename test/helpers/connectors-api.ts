import { expect } from 'vitest';
import { apollo } from '../../simulators/apollo/index.ts';
import { gong } from '../../simulators/gong/index.ts';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { CONNECTORS_CONTRACT, CONNECTORS_PREFIX } from '../../src/api/connectors/openapi.ts';
import { authenticateApiKey } from '../../src/core/projects.ts';
import { responseSchemas } from './openapi-responses.ts';
import { startRecordingProxy } from './recording-proxy.ts';
import { simControl, simOAuthProvider } from './simulator.ts';
import { type ApiResponse, client, startTrellis, type TestTrellis } from './trellis.ts';

/**
 * The Connectors API as its tests set it up: Trellis with the Apollo (API keys, behind a recording
 * proxy), Gong (access key pairs) and HubSpot (OAuth) simulators, the project's HubSpot OAuth client registered, and a
 * client that authenticates as this API documents (`Authorization`, bare or bearer).
 */

export const connectorsSchemas = responseSchemas(CONNECTORS_CONTRACT.document);

export interface ConnectorsSetup {
  t: TestTrellis;
  projectId: string;
  sims: { apollo: RunningSimulator; gong: RunningSimulator; hubspot: RunningSimulator };
  /** In front of the Apollo simulator: what reached Apollo, as it arrived. */
  apolloRecorder: Awaited<ReturnType<typeof startRecordingProxy>>;
  /** Calls the API with the project's key (or `opts.authorization` as the header). */
  api: ConnectorsClient;
  stop(): Promise<void>;
}

export type ConnectorsClient = (
  method: string,
  path: string,
  opts?: { body?: unknown; query?: Record<string, string>; authorization?: string | null },
) => Promise<ApiResponse>;

/** A client of the API for one `Authorization` header value; `null` sends none. */
export function connectorsClient(baseUrl: string, authorization: string): ConnectorsClient {
  return async (method, path, opts = {}) => {
    const url = new URL(`${CONNECTORS_PREFIX}${path}`, baseUrl);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const header = opts.authorization === undefined ? authorization : opts.authorization;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (header !== null) headers.authorization = header;
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    }
    const res = await fetch(url, { method, headers, body });
    const text = await res.text();
    const json = text !== '' && res.headers.get('content-type')?.includes('json');
    return { status: res.status, body: json ? JSON.parse(text) : text, headers: res.headers };
  };
}

export async function startConnectorsApi(): Promise<ConnectorsSetup> {
  const sims = {
    apollo: await startSimulator(apollo, { records: 5 }),
    gong: await startSimulator(gong, { records: 5 }),
    hubspot: await startSimulator(hubspot, { records: 5 }),
  };
  const apolloRecorder = await startRecordingProxy(sims.apollo.url);
  const t = await startTrellis({
    env: {
      TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({
        apollo: apolloRecorder.url,
        gong: sims.gong.url,
        hubspot: sims.hubspot.url,
      }),
    },
  });
  const projectId = (await authenticateApiKey(t.runtime.deps.db, t.apiKey))!;
  const provider = await client(t.baseUrl, t.apiKey)('POST', '/providers', {
    body: simOAuthProvider('hubspot', ['oauth']),
  });
  expect(provider.status, JSON.stringify(provider.body)).toBe(201);
  return {
    t,
    projectId,
    sims,
    apolloRecorder,
    api: connectorsClient(t.baseUrl, t.apiKey),
    stop: async () => {
      await t.stop();
      await apolloRecorder.close();
      await Promise.all(Object.values(sims).map((s) => s.close()));
    },
  };
}

/** A fresh credential from a simulator, as its token endpoint issues it. */
export const simCredentials = async (sim: RunningSimulator) =>
  (await simControl(sim.url, 'tokens', {})) as Record<string, string>;

/** The body of a valid store request; `over` replaces any of its fields. */
export const storeBody = (over: Record<string, unknown> = {}) => ({
  name: 'Connector',
  timezone: 'Europe/London',
  date_format: 'Y-m-d H:i:s',
  rate_limit_unit: 'second',
  rate_limit_duration: 5,
  ...over,
});
