import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { createDestination } from '../../src/core/destinations.ts';
import { createInstallation, type Installation } from '../../src/core/installations.ts';
import { createIntegration, type Integration } from '../../src/core/integrations.ts';
import { authenticateApiKey } from '../../src/core/projects.ts';
import { expectProblem } from './ampersand.ts';
import { type ResponseSchemas, responseSchemas } from './openapi-responses.ts';
import { startRecordingProxy } from './recording-proxy.ts';
import { simControl, simOAuthProvider } from './simulator.ts';
import { connectHubspot } from './syncs.ts';
import { type ApiResponse, type Client, client, startTrellis, type TestTrellis } from './trellis.ts';

/**
 * The Ampersand data surfaces (Write, Read, Proxy) as their tests set them up: a HubSpot
 * simulator behind a recording proxy (so that tests see what reached the provider), Trellis, and
 * an integration installed on request on customer acme's HubSpot connection. Customer globex has a
 * connection and an installation of its own.
 */

const SEEDS = path.resolve(import.meta.dirname, '../../../shared/seeds');
const specOf = (name: string, bundled: string) => {
  const seed = path.join(SEEDS, name);
  const file = fs.existsSync(seed) ? seed : path.resolve(import.meta.dirname, '../../src/api', bundled);
  return responseSchemas(JSON.parse(fs.readFileSync(file, 'utf8')) as object);
};

export const writeSchemas = specOf('ref_ampersand_write.openapi.json', 'ampersand-write/write.openapi.json');
export const readSchemas = specOf('ref_ampersand_read.openapi.json', 'ampersand-read/read.openapi.json');

export const INTEGRATION = 'hubspot-contacts';

export interface AmpersandData {
  sim: RunningSimulator;
  /** The recording proxy Trellis reaches the simulator through. */
  recorder: Awaited<ReturnType<typeof startRecordingProxy>>;
  t: TestTrellis;
  projectId: string;
  /** The Management API (customers and connections are made through it). */
  mgmt: Client;
  integration: Integration;
  /** Acme's installation, and globex's. */
  installation: Installation;
  otherInstallation: Installation;
  stop(): Promise<void>;
}

/**
 * Starts it all. The integration reads contacts (into a webhook destination at `hookUrl` when one
 * is given, else it reads nothing), writes contacts and deals, and enables the proxy; acme's
 * installation writes contacts only.
 */
export async function startAmpersandData(opts: { records?: number; hookUrl?: string } = {}) {
  const sim = await startSimulator(hubspot, { records: opts.records ?? 20 });
  const recorder = await startRecordingProxy(sim.url);
  const t = await startTrellis({
    env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: recorder.url }) },
  });
  const deps = t.runtime.deps;
  const mgmt = client(t.baseUrl, t.apiKey);
  const projectId = (await authenticateApiKey(deps.db, t.apiKey))!;
  const provider = await mgmt('POST', '/providers', { body: simOAuthProvider('hubspot', ['oauth']) });
  expect(provider.status, JSON.stringify(provider.body)).toBe(201);
  const token = async () => (await simControl(sim.url, 'tokens', {})).refresh_token as string;
  const acme = await connectHubspot(mgmt, await token());
  const globex = await connectHubspot(mgmt, await token(), {
    customer_id: 'globex',
    name: 'Globex',
    email: 'it@globex.test',
  });
  if (opts.hookUrl)
    await createDestination(deps, projectId, {
      name: 'hooks',
      type: 'webhook',
      config: { url: opts.hookUrl },
    });
  const integration = await createIntegration(deps, projectId, {
    name: INTEGRATION,
    installs: 'on_request',
    providerName: 'hubspot',
    ...(opts.hookUrl ? { destinationName: 'hooks' } : {}),
    read: {
      defaults: { schedule: { everyMs: 3_600_000 }, mode: 'incremental' },
      objects: opts.hookUrl ? [{ target: { kind: 'standard', object: 'contacts' } }] : [],
    },
    writeObjects: ['contacts', 'deals'],
    proxyEnabled: true,
  });
  const config = {
    read: opts.hookUrl ? [{ object: 'contacts' }] : [],
    write: [{ object: 'contacts' }],
  };
  const install = (connectionId: string) =>
    createInstallation(deps, projectId, { integrationId: integration.id, connectionId, config });
  const installation = await install(acme.id);
  const otherInstallation = await install(globex.id);
  return {
    sim,
    recorder,
    t,
    projectId,
    mgmt,
    integration,
    installation,
    otherInstallation,
    async stop() {
      await t.stop();
      await recorder.close();
      await sim.close();
    },
  } satisfies AmpersandData;
}

/**
 * Checks an answer against a document: a success by its operation's schema, an error as the
 * Platform API's problem+json (Trellis answers every error so, also where a document gives an
 * error a plain-text body). Returns the body.
 */
export function expectAnswer(
  schemas: ResponseSchemas,
  method: string,
  urlPath: string,
  res: ApiResponse,
  status: number,
) {
  const what = `${method} ${urlPath} → ${res.status} ${JSON.stringify(res.body)}`;
  expect(res.status, what).toBe(status);
  if (status >= 400 && res.headers.get('content-type')?.startsWith('application/problem+json'))
    return expectProblem(res, status);
  const op = schemas.operationOf(method, urlPath.split('?')[0]!);
  expect(op, `${what}: no operation of the document`).toBeDefined();
  if (status === 204) {
    expect(res.body, what).toBe('');
    return res.body;
  }
  const mediaType = res.headers.get('content-type')?.split(';')[0] ?? '';
  const validate = schemas.validator(op!, status, mediaType);
  expect(validate, `${what}: the document has no ${status} ${mediaType} answer`).toBeTruthy();
  expect(validate!(res.body), `${what}\n${schemas.errorsText(validate!.errors)}`).toBe(true);
  return res.body;
}
