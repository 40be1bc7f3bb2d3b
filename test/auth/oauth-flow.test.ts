import { spawn } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { createProject } from '../../src/core/projects.ts';
import { queueKeepAlives } from '../../src/engine/keep-alive.ts';
import { freePort } from '../../src/util/net.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { simConsent, simControl, simOAuthProvider } from '../helpers/simulator.ts';
import { hourlySyncConfig } from '../helpers/syncs.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

const RETURN = 'http://127.0.0.1:9/app/connected';

describe('the OAuth flow and the token lifecycle, over HTTP', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let db: pg.Client;
  const simCall = (p: string, body?: unknown) => simControl(sim.url, p, body);

  const newLink = async (c: Client = api, customer = 'acme') => {
    const res = await c('POST', '/magic_links', {
      body: { customer_id: customer, provider_name: 'hubspot', return_url: RETURN, expiration_secs: 600 },
    });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  /** What the link page's button does: the provider's authorize URL. */
  const begin = async (linkId: string) => {
    const res = await fetch(`${t.baseUrl}/links/${linkId}/oauth`, { method: 'POST', redirect: 'manual' });
    expect(res.status).toBe(303);
    return new URL(res.headers.get('location')!);
  };
  /** The user's answer on the provider's consent page: where the provider sends the browser back. */
  const consent = async (authorize: URL, decision: 'allow' | 'deny' = 'allow') => {
    const form: Record<string, string> = { decision };
    for (const k of [
      'client_id',
      'redirect_uri',
      'state',
      'scope',
      'code_challenge',
      'code_challenge_method',
    ]) {
      const v = authorize.searchParams.get(k);
      if (v !== null) form[k] = v;
    }
    return simConsent(sim.url, form);
  };
  const callback = async (url: URL) => {
    const res = await fetch(url, { redirect: 'manual' });
    return { status: res.status, location: res.headers.get('location'), body: await res.text() };
  };
  const outcome = (location: string | null) => Object.fromEntries(new URL(location!).searchParams);

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: 50 });
    await simCall('limits', { ten_second: 100_000, search_per_second: 1000 });
    await simCall('faults', { rotate_refresh_tokens: true });
    const port = await freePort();
    t = await startTrellis({
      env: {
        PORT: String(port),
        TRELLIS_PUBLIC_URL: `http://127.0.0.1:${port}`,
        TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }),
      },
    });
    api = client(t.baseUrl, t.apiKey);
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    await api('PUT', '/customers', { body: { customer_id: 'acme', name: 'Acme', email: 'it@acme.test' } });
    await api('POST', '/providers', { body: simOAuthProvider('hubspot') });
    await api('POST', '/sync_configs', {
      body: {
        destination_name: 'Supaglue Managed Destination',
        provider_name: 'hubspot',
        config: hourlySyncConfig('contacts'),
      },
    });
  });
  afterAll(async () => {
    await db?.end();
    await t?.stop();
    await sim?.close();
  });

  it('rejects a tampered state', async () => {
    const back = await consent(await begin(await newLink()));
    const state = back.searchParams.get('state')!;
    back.searchParams.set('state', `${state.slice(0, -2)}${state.endsWith('A') ? 'BB' : 'AA'}`);
    const res = await callback(back);
    expect(res.status).toBe(400);
    expect(res.body).toContain('not one Trellis started');
  });

  it("rejects another project's state", async () => {
    const other = await createProject(t.runtime.deps.db, 'other-project');
    const back = await consent(await begin(await newLink()));
    const [id, , mac] = back.searchParams.get('state')!.split('.');
    back.searchParams.set('state', `${id}.${other.project.id}.${mac}`);
    const res = await callback(back);
    expect(res.status).toBe(400);
    expect(res.body).toContain('not one Trellis started');
  });

  it('rejects an expired state, sending the user back with the reason', async () => {
    const authorize = await begin(await newLink());
    const [stateId] = authorize.searchParams.get('state')!.split('.');
    await db.query(`update trellis.oauth_states set expires_at = now() - interval '1 minute' where id = $1`, [
      stateId,
    ]);
    const res = await callback(await consent(authorize));
    expect(res.status).toBe(302);
    expect(outcome(res.location)).toMatchObject({
      result: 'error',
      error: expect.stringContaining('expired'),
    });
  });

  it('a denial on the consent page comes back as an error, and no connection is made', async () => {
    const res = await callback(await consent(await begin(await newLink()), 'deny'));
    expect(outcome(res.location)).toMatchObject({
      result: 'error',
      error: expect.stringContaining('denied'),
    });
    expect((await api('GET', '/customers/acme/connections/hubspot')).status).toBe(404);
  });

  it('a replayed callback is rejected', async () => {
    const link = await newLink();
    const returned = await consent(await begin(link));
    const first = await callback(returned);
    expect(outcome(first.location).result).toBe('success');
    const again = await callback(returned);
    expect(again.status).toBe(400);
    expect(again.body).toContain('already completed');
  });

  it('a link opened in two tabs connects once', async () => {
    const link = await newLink();
    const [tabA, tabB] = [await begin(link), await begin(link)];
    const [backA, backB] = [await consent(tabA), await consent(tabB)];
    const [a, b] = await Promise.all([callback(backA), callback(backB)]);
    const results = [outcome(a.location).result, outcome(b.location).result].sort();
    expect(results).toEqual(['error', 'success']);
    const page = await fetch(`${t.baseUrl}/links/${link}`);
    expect(page.status).toBe(410);
    expect(await page.text()).toContain('already used');
    const links = await api('GET', '/magic_links');
    expect(links.body.find((l: { id: string }) => l.id === link).status).toBe('consumed');
  });

  it('the keep-alive refreshes an idle connection whose token is about to expire', async () => {
    const { rows: before } = await db.query(
      `select id, token_expires_at from trellis.connections where provider_name = 'hubspot'`,
    );
    // Make the stored token due within the keep-alive window.
    await db.query(
      `update trellis.connections set token_expires_at = now() + interval '2 minutes' where id = $1`,
      [before[0].id],
    );
    const sealed = (
      await db.query('select credentials_sealed from trellis.connections where id = $1', [before[0].id])
    ).rows[0];
    const credentials = t.runtime.deps.vault.decryptJson<Record<string, unknown>>(sealed.credentials_sealed);
    await db.query('update trellis.connections set credentials_sealed = $2 where id = $1', [
      before[0].id,
      t.runtime.deps.vault.encryptJson({
        ...credentials,
        expires_at: new Date(Date.now() + 120_000).toISOString(),
      }),
    ]);
    const refreshes = (await simCall('stats')).token_refreshes;
    expect(await queueKeepAlives(t.runtime.deps)).toBe(1);
    let after = before[0].token_expires_at;
    for (let i = 0; i < 50 && (await simCall('stats')).token_refreshes === refreshes; i++) {
      await new Promise((r) => setTimeout(r, 200));
    }
    after = (await db.query('select token_expires_at from trellis.connections where id = $1', [before[0].id]))
      .rows[0].token_expires_at;
    expect((await simCall('stats')).token_refreshes).toBe(refreshes + 1);
    expect(new Date(after).getTime()).toBeGreaterThan(Date.now() + 20 * 60_000);
  });

  it('20 concurrent calls from several processes on an expired token cause exactly one refresh', async () => {
    const conn = await api('GET', '/customers/acme/connections/hubspot');
    await simCall('faults', { expire_tokens_now: true });
    const before = (await simCall('stats')).token_refreshes;
    const env = {
      ...process.env,
      DATABASE_URL: t.databaseUrl,
      TRELLIS_ENCRYPTION_KEY: t.config.encryptionKey!.toString('hex'),
      TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }),
    };
    const runOne = () =>
      new Promise<{ ok: number; failed: string[]; after: number }>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', 'test/helpers/provider-calls.ts', conn.body.id, '7'],
          {
            cwd: path.resolve(import.meta.dirname, '../..'),
            env,
            stdio: ['ignore', 'pipe', 'inherit'],
          },
        );
        let out = '';
        child.stdout.on('data', (c) => {
          out += c;
        });
        child.once('exit', (code) =>
          code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}: ${out}`)),
        );
      });
    const results = await Promise.all([runOne(), runOne(), runOne()]);
    for (const r of results) expect(r).toMatchObject({ ok: 7, failed: [], after: 200 });
    expect((await simCall('stats')).token_refreshes - before).toBe(1);
    // The connection keeps working with the rotated refresh token.
    const user = await api('GET', '/customers/acme/connections/_provider_user_id', {
      query: { provider_name: 'hubspot' },
    });
    expect(user.status).toBe(200);
  }, 60_000);

  it('a revoked refresh token marks the connection bad_credentials, pauses its syncs, and re-authorizing resumes them', async () => {
    const receiver = await startReceiver();
    await api('POST', '/webhooks', { body: { url: receiver.url, event_types: ['sync.paused'] } });
    const { rows } = await db.query(
      'select credentials_sealed from trellis.connections where provider_name = $1',
      ['hubspot'],
    );
    const { refresh_token } = t.runtime.deps.vault.decryptJson<{ refresh_token: string }>(
      rows[0].credentials_sealed,
    );
    expect((await simCall('revoke', { refresh_token })).revoked).toBe(true);
    await simCall('faults', { expire_tokens_now: true });
    const trigger = await api('POST', '/syncs/_trigger', {
      headers: { 'x-customer-id': 'acme', 'x-provider-name': 'hubspot' },
      body: { object_type: 'standard', object: 'contacts' },
    });
    expect(trigger.status, JSON.stringify(trigger.body)).toBe(200);
    const [event] = await receiver.waitFor(1, 45_000).catch(async (err) => {
      // Say what the run did, should the event not come.
      const runs = await api('GET', '/sync-runs', { query: { customer_id: 'acme' } });
      throw new Error(`${(err as Error).message}; runs: ${JSON.stringify(runs.body.results.slice(0, 3))}`);
    });
    expect(JSON.parse(event!.body)).toMatchObject({
      webhook_event_type: 'sync.paused',
      object: 'contacts',
      customer_id: 'acme',
    });
    expect((await api('GET', '/customers/acme/connections/hubspot')).body.status).toBe('bad_credentials');
    expect((await api('GET', '/syncs', { query: { customer_id: 'acme' } })).body.results[0].paused).toBe(
      true,
    );

    const back = await callback(await consent(await begin(await newLink())));
    expect(outcome(back.location).result).toBe('success');
    expect((await api('GET', '/customers/acme/connections/hubspot')).body.status).toBe('working');
    expect((await api('GET', '/syncs', { query: { customer_id: 'acme' } })).body.results[0].paused).toBe(
      false,
    );
    let runs: { status: string }[] = [];
    for (let i = 0; i < 100 && runs[0]?.status !== 'SUCCESS'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      runs = (await api('GET', '/sync-runs', { query: { customer_id: 'acme' } })).body.results;
    }
    expect(runs[0]?.status).toBe('SUCCESS');
    await receiver.close();
  }, 90_000);
});
