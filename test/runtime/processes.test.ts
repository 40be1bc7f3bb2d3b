import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, describe, expect, it } from 'vitest';
import { runTrellis, runTrellisCommand, type TrellisProcess } from '../helpers/process.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { client, createTestDatabase } from '../helpers/trellis.ts';
import { until } from '../helpers/wait.ts';

const running: TrellisProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop('SIGKILL')));
});

function postgresAlive(dataDir: string): boolean {
  const pidFile = path.join(dataDir, 'pg', 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return false;
  try {
    process.kill(Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]), 0);
    return true;
  } catch {
    return false;
  }
}

/*
 * Every server process here listens on PORT=0, a port the kernel picks as it binds, and the test
 * reads the address back from what the process prints: no port is chosen first and bound later,
 * when another process could have taken it. Waits are bounded only by the test timeouts, far
 * above what starting takes on a busy machine.
 */

describe('trellis start on the embedded database', () => {
  it('starts, serves, stops cleanly on SIGINT, and a second start reuses the data directory', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-start-'));
    const env = { TRELLIS_DATA_DIR: dataDir, PORT: '0' };

    const first = runTrellis(['start'], env);
    running.push(first);
    const url = await first.apiUrl();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const out = await first.waitFor(/API key of the default project.*: (trls_\S+)\n/);
    const key = out.match(/API key of the default project.*: (trls_\S+)\n/)?.[1];
    expect(key).toBeDefined();
    const api = client(url, key!);
    expect(
      (await api('PUT', '/customers', { body: { customer_id: 'kept', name: 'K', email: 'k@x.test' } }))
        .status,
    ).toBe(200);
    expect((await api('GET', '/customers')).status).toBe(200);
    expect(postgresAlive(dataDir)).toBe(true);

    expect(await first.stop('SIGINT')).toBe(0);
    expect(postgresAlive(dataDir)).toBe(false);

    const second = runTrellis(['start'], env);
    running.push(second);
    const secondUrl = await second.apiUrl();
    // The banner's last line: where the first start showed the key, this one shows none.
    const again = await second.waitFor('Use your API key in the x-api-key header');
    expect(again).not.toContain('API key of the default project');
    const reused = client(secondUrl, key!);
    expect((await reused('GET', '/customers/kept')).body).toMatchObject({ customer_id: 'kept' });
    expect(await second.stop('SIGTERM')).toBe(0);
    expect(postgresAlive(dataDir)).toBe(false);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('rejects a bad configuration value with a clear message', async () => {
    const { code, output } = await runTrellisCommand(['start'], { PORT: 'eighty' });
    expect(code).toBe(78);
    expect(output).toContain('PORT must be a port number');
  });
}, 300_000);

describe('api and worker as separate processes on one DATABASE_URL', () => {
  it('serve the same data: the worker delivers what the API process recorded', async () => {
    const env = {
      DATABASE_URL: await createTestDatabase(),
      TRELLIS_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      TRELLIS_API_KEY: `trls_${randomBytes(18).toString('base64url')}`,
      TRELLIS_WEBHOOK_RETRY_DELAY_SECONDS: '1',
    };
    const apiProcess = runTrellis(['api'], { ...env, PORT: '0' });
    const workerProcess = runTrellis(['worker'], { ...env, TRELLIS_OPERATIONS_PORT: '0' });
    running.push(apiProcess, workerProcess);
    const [apiUrl, workerBanner] = await Promise.all([
      apiProcess.apiUrl(),
      workerProcess.waitFor(/Metrics +http:\/\/\S+\/metrics\r?\n/),
    ]);
    const workerMetricsUrl = String(/Metrics +(http:\/\/\S+\/metrics)/.exec(workerBanner)?.[1]);
    const operationsBase = workerMetricsUrl.replace(/\/metrics$/, '');
    expect((await fetch(`${operationsBase}/health`)).status).toBe(200);
    expect((await fetch(`${operationsBase}/ready`)).status).toBe(200);
    // A worker serves operations only: none of the APIs.
    expect((await fetch(`${operationsBase}/mgmt/v2/customers`)).status).toBe(404);

    const api = client(apiUrl, env.TRELLIS_API_KEY);
    const receiver = await startReceiver();
    expect(
      (await api('POST', '/webhooks', { body: { url: receiver.url, event_types: ['connection.created'] } }))
        .status,
    ).toBe(201);
    expect(
      (await api('PUT', '/customers', { body: { customer_id: 'two-procs', name: 'T', email: 't@x.test' } }))
        .status,
    ).toBe(200);
    const conn = await api('POST', '/customers/two-procs/connections', {
      body: { provider_name: 'gong', type: 'access_key_secret', access_key: 'ak', access_key_secret: 'sk' },
    });
    expect(conn.status).toBe(200);

    const [delivery] = await receiver.waitFor(1, 120_000);
    expect(JSON.parse(delivery!.body)).toMatchObject({
      webhook_event_type: 'connection.created',
      customer_id: 'two-procs',
    });

    // The delivery is counted where it happened, in the worker, and scraped from there.
    const delivered = (text: string) =>
      parsePrometheusTextFormat(text)
        .find((f) => f.name === 'trellis_webhook_deliveries_total')
        ?.metrics.find((m) => 'labels' in m && m.labels?.outcome === 'delivered');
    // The worker counts an attempt once its outcome is recorded, just after the receiver has it.
    const count = await until('the worker to count the delivery', async () => {
      const res = await fetch(workerMetricsUrl);
      expect(res.status).toBe(200);
      return (delivered(await res.text()) as { value?: string } | undefined)?.value;
    });
    expect(Number(count)).toBe(1);
    expect(delivered(await (await fetch(`${apiUrl}/metrics`)).text())).toBeUndefined();

    // A second API process on the same database answers with the same data.
    const secondApi = runTrellis(['api'], { ...env, PORT: '0' });
    running.push(secondApi);
    const secondUrl = await secondApi.apiUrl();
    expect(secondUrl).not.toBe(apiUrl);
    const other = client(secondUrl, env.TRELLIS_API_KEY);
    expect((await other('GET', '/customers/two-procs/connections/gong')).body.id).toBe(conn.body.id);

    expect(await apiProcess.stop()).toBe(0);
    expect(await secondApi.stop()).toBe(0);
    expect(await workerProcess.stop()).toBe(0);
    await receiver.close();
  });

  it('projects and keys are managed from the CLI', async () => {
    const env = {
      DATABASE_URL: await createTestDatabase(),
      TRELLIS_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    };
    const created = await runTrellisCommand(['projects', 'create', 'acme'], env);
    expect(created.code).toBe(0);
    const project = JSON.parse(created.output);
    expect(project).toMatchObject({
      name: 'acme',
      id: expect.any(String),
      api_key: expect.stringMatching(/^trls_/),
    });

    const key = JSON.parse(
      (await runTrellisCommand(['keys', 'create', '--project', 'acme', '--name', 'ci'], env)).output,
    );
    const listed = JSON.parse((await runTrellisCommand(['keys', 'list', '--project', 'acme'], env)).output);
    expect(listed.map((k: { id: string }) => k.id)).toContain(key.id);
    expect(JSON.stringify(listed)).not.toContain(key.api_key);

    const apiProcess = runTrellis(['api'], { ...env, PORT: '0' });
    running.push(apiProcess);
    const api = client(await apiProcess.apiUrl(), key.api_key);
    expect((await api('GET', '/customers')).status).toBe(200);
    expect((await runTrellisCommand(['keys', 'revoke', key.id], env)).code).toBe(0);
    expect((await api('GET', '/customers')).status).toBe(401);
    expect((await runTrellisCommand(['keys', 'revoke', key.id], env)).code).toBe(1);
    expect(await apiProcess.stop()).toBe(0);

    const wrongKey = await runTrellisCommand(['migrate'], {
      ...env,
      TRELLIS_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    });
    expect(wrongKey.code).toBe(78);
    expect(wrongKey.output).toContain('not the key this database was set up with');
  });
}, 300_000);
