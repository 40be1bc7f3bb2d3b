import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hubspot } from '../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../simulators/index.ts';
import { pipedrive } from '../simulators/pipedrive/index.ts';
import { salesforce } from '../simulators/salesforce/index.ts';
import { loadConfig } from '../src/config.ts';
import { createConnection } from '../src/core/connections.ts';
import { BUILT_IN_DESTINATION_NAME } from '../src/core/destinations.ts';
import { findProject } from '../src/core/projects.ts';
import { createLogger } from '../src/logger.ts';
import { startRuntime } from '../src/runtime.ts';

/**
 * `npm run demo`: Trellis with the HubSpot, Salesforce and Pipedrive simulators in this process, a
 * project whose provider apps point at them, three customers connected, syncs into the built-in
 * destination every minute, and records created, changed and deleted in the simulators all the
 * while. Everything lives in a temporary data directory, removed on Ctrl-C. PORT picks the port
 * (8080; 0 for any free one).
 */

/** Seeded records per object: enough that a full refresh of HubSpot's takes a while to watch. */
const RECORDS = 20_000;
/** Added to every simulated API answer: real providers answer in 100-300 ms. */
const LATENCY_MS = 150;
/** How often the simulators change records. */
const ACTIVITY_MS = 3000;
const SYNC_EVERY_MS = 60_000;

const PROVIDERS = {
  hubspot: { simulator: hubspot, objects: ['contacts', 'companies'] },
  salesforce: { simulator: salesforce, objects: ['Contact', 'Account'] },
  pipedrive: { simulator: pipedrive, objects: ['persons', 'organizations'] },
} as const;
type DemoProvider = keyof typeof PROVIDERS;

const CUSTOMERS: { id: string; name: string; providers: DemoProvider[] }[] = [
  { id: 'acme', name: 'Acme Inc', providers: ['hubspot', 'pipedrive'] },
  { id: 'globex', name: 'Globex Corporation', providers: ['salesforce'] },
  { id: 'initech', name: 'Initech', providers: ['salesforce', 'pipedrive'] },
];

async function control(
  sim: RunningSimulator,
  what: string,
  body: object,
): Promise<Record<string, string | undefined>> {
  const res = await fetch(`${sim.url}/__sim/${what}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`simulator ${what} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Record<string, string | undefined>;
}

async function main() {
  const started = Date.now();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-demo-'));
  const sims = {} as Record<DemoProvider, RunningSimulator>;
  for (const [name, p] of Object.entries(PROVIDERS) as [DemoProvider, (typeof PROVIDERS)[DemoProvider]][])
    sims[name] = await startSimulator(p.simulator, {
      records: RECORDS,
      seed: 7,
      faults: { latency_ms: LATENCY_MS },
    });

  const config = loadConfig({
    ...process.env,
    PORT: process.env.PORT ?? '8080',
    TRELLIS_DATA_DIR: dataDir,
    TRELLIS_PROVIDER_OVERRIDES: JSON.stringify(
      Object.fromEntries(Object.entries(sims).map(([n, s]) => [n, s.url])),
    ),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  });
  const runtime = await startRuntime(config, createLogger(config.logLevel), { api: true, worker: true });
  const apiKey = runtime.bootstrapKey!;
  const project = await findProject(runtime.deps.db, 'default');
  const mgmt = async (method: string, route: string, body: object) => {
    const res = await fetch(`${config.publicUrl}/mgmt/v2${route}`, {
      method,
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${route} answered ${res.status}: ${await res.text()}`);
  };

  for (const [name, p] of Object.entries(PROVIDERS)) {
    await mgmt('POST', '/providers', {
      auth_type: 'oauth2',
      category: 'crm',
      name,
      config: {
        provider_app_id: '',
        oauth: {
          oauth_scopes: [],
          credentials: { oauth_client_id: 'sim-client-id', oauth_client_secret: 'sim-client-secret' },
        },
      },
    });
    await mgmt('POST', '/sync_configs', {
      destination_name: BUILT_IN_DESTINATION_NAME,
      provider_name: name,
      config: {
        default_config: {
          period_ms: SYNC_EVERY_MS,
          strategy: 'full then incremental',
          auto_start_on_connection: true,
        },
        standard_objects: p.objects.map((object) => ({ object })),
      },
    });
  }
  for (const customer of CUSTOMERS) {
    await mgmt('PUT', '/customers', {
      customer_id: customer.id,
      name: customer.name,
      email: `it@${customer.id}.example`,
    });
    for (const provider of customer.providers) {
      // A refresh token as the provider's token endpoint gives it, with the account's own host
      // where the provider names one (Salesforce's instance_url, Pipedrive's api_domain).
      const tokens = await control(sims[provider], 'tokens', {});
      const instanceUrl = tokens.instance_url ?? tokens.api_domain;
      await createConnection(runtime.deps, project.id, customer.id, {
        providerName: provider,
        credentials: {
          authType: 'oauth2',
          refreshToken: tokens.refresh_token!,
          ...(instanceUrl === undefined ? {} : { instanceUrl }),
        },
      });
    }
  }

  // Records keep changing in every simulator, so each scheduled run has something to bring.
  const activity = setInterval(() => {
    for (const [name, p] of Object.entries(PROVIDERS) as [DemoProvider, (typeof PROVIDERS)[DemoProvider]][])
      for (const object of p.objects)
        void control(sims[name], 'mutate', { object, create: 5, update: 10, delete: 1 }).catch(
          () => undefined,
        );
  }, ACTIVITY_MS);

  process.stdout.write(
    [
      '',
      `Trellis demo is running (ready in ${((Date.now() - started) / 1000).toFixed(1)} s).`,
      `  Console   ${config.publicUrl}/console`,
      `  API key   ${apiKey}`,
      '',
      '  Three customers are connected to simulated HubSpot, Salesforce and Pipedrive accounts; their',
      '  records sync into the built-in destination every minute while the simulators keep changing.',
      '  Ctrl-C stops everything and removes the demo data.',
      '',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = async () => {
    if (stopping) process.exit(1);
    stopping = true;
    clearInterval(activity);
    await runtime.stop();
    await Promise.all(Object.values(sims).map((s) => s.close()));
    fs.rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  process.stderr.write(`The demo failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
