import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import {
  createDestination,
  type Destination,
  destinationSigningSecret,
  getDestinationSecretConfig,
  listDestinations,
  updateDestination,
} from '../../src/core/destinations.ts';
import { createInstallation } from '../../src/core/installations.ts';
import { createIntegration } from '../../src/core/integrations.ts';
import { authenticateApiKey } from '../../src/core/projects.ts';
import { MAX_MESSAGE_BYTES } from '../../src/destinations/webhook.ts';
import { expectSigned, startReceiver } from '../helpers/receiver.ts';
import { simControl, simOAuthProvider, simRecords } from '../helpers/simulator.ts';
import { connectHubspot, endedRuns } from '../helpers/syncs.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

const RECORDS = 700;

interface ReadMessage {
  projectId: string;
  provider: string;
  groupRef: string;
  groupName: string;
  installationId: string;
  objectName: string;
  resultInfo: { type: string; numRecords: number };
  result: {
    fields: Record<string, unknown>;
    mappedFields: Record<string, unknown>;
    raw: { id: string; archived?: boolean; properties: Record<string, string | null> };
  }[];
}

describe('webhook destinations', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let api: Client;
  let projectId: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  /** What the receiver answers, changed by the tests. */
  let answer = 200;
  let hooks: Destination;

  const deps = () => t.runtime.deps;
  const webhookConfig = (over: Record<string, unknown> = {}) => ({
    url: receiver.url,
    headers: { Authorization: 'Bearer hook-token-1' },
    ...over,
  });

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: RECORDS });
    await simControl(sim.url, 'limits', { ten_second: 5000, search_per_second: 100 });
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) } });
    api = client(t.baseUrl, t.apiKey);
    projectId = (await authenticateApiKey(t.runtime.deps.db, t.apiKey))!;
    receiver = await startReceiver(() => answer);
    // No API makes webhook destinations yet: the core does.
    hooks = await createDestination(deps(), projectId, {
      name: 'hooks',
      type: 'webhook',
      config: webhookConfig(),
    });
  });
  afterAll(async () => {
    await t?.stop();
    await receiver?.close();
    await sim?.close();
  });

  it('keeps the headers sealed: a webhook destination shows its URL only', async () => {
    expect(hooks.config).toEqual({ url: receiver.url });
    const listed = (await listDestinations(deps(), projectId)).find((d) => d.id === hooks.id);
    expect(listed).toMatchObject({ type: 'webhook', config: { url: receiver.url } });
    const { rows } = await deps().db.query('select config, secrets_sealed from destinations where id = $1', [
      hooks.id,
    ]);
    expect(rows[0].config).toEqual({ url: receiver.url });
    expect(rows[0].secrets_sealed).not.toContain('hook-token');
    expect(await destinationSigningSecret(deps(), projectId, hooks.id)).toMatch(/^whsec_/);
  });

  it('refuses a config Trellis cannot deliver to', async () => {
    const refused: [Record<string, unknown>, RegExp][] = [
      [{ url: 'ftp://example.test/x' }, /http or https/],
      [{ url: 'not a url' }, /absolute http\(s\) URL/],
      [{ url: 'http://user:pw@example.test/x' }, /user name or password/],
      [{ url: 'http://169.254.169.254/latest' }, /not reachable for destinations/],
      [webhookConfig({ headers: { 'Webhook-Signature': 'v1,forged' } }), /set by Trellis/],
      [webhookConfig({ headers: { 'x-a': 1 } }), /must be a string/],
      [webhookConfig({ headers: { 'x-a': 'one\r\nx-b: two' } }), /no line breaks/],
      [webhookConfig({ headers: { 'bad name': 'x' } }), /not a valid header name/],
      [webhookConfig({ schema: 'public' }), /config.schema is not a webhook setting/],
    ];
    for (const [config, message] of refused) {
      await expect(
        createDestination(deps(), projectId, { name: 'refused', type: 'webhook', config }),
        JSON.stringify(config),
      ).rejects.toMatchObject({ kind: 'bad_request', message: expect.stringMatching(message) });
    }
    expect((await listDestinations(deps(), projectId)).some((d) => d.name === 'refused')).toBe(false);
  });

  it('replaces headers as a whole on update, keeps the signing secret, and rotates it on demand', async () => {
    const other = await createDestination(deps(), projectId, {
      name: 'other-hooks',
      type: 'webhook',
      config: webhookConfig({ headers: { 'X-A': '1', 'X-B': '2' } }),
    });
    const secret = await destinationSigningSecret(deps(), projectId, other.id);
    const update = (config: Record<string, unknown>, version: number) =>
      updateDestination(deps(), projectId, other.id, {
        name: 'other-hooks',
        type: 'webhook',
        config,
        version,
      });

    const updated = await update({ url: `${receiver.url}/v2`, headers: { 'X-B': '3' } }, other.version);
    expect(updated.config).toEqual({ url: `${receiver.url}/v2` });
    expect(await getDestinationSecretConfig(deps(), projectId, other.id)).toEqual({
      url: `${receiver.url}/v2`,
      headers: { 'X-B': '3' },
      signingSecret: secret,
    });
    // Headers left out are kept.
    const kept = await update({ url: receiver.url }, updated.version);
    expect((await getDestinationSecretConfig(deps(), projectId, other.id)).headers).toEqual({ 'X-B': '3' });

    const rotated = await destinationSigningSecret(deps(), projectId, other.id, { rotate: true });
    expect(rotated).not.toBe(secret);
    expect(await destinationSigningSecret(deps(), projectId, other.id)).toBe(rotated);
    // An update made before the rotation would seal the old secret back: it is a conflict.
    await expect(update({ url: receiver.url }, kept.version)).rejects.toMatchObject({ kind: 'conflict' });
  });

  it('does not exist for the Management API: not listed, not found, not creatable', async () => {
    const listed = await api('GET', '/destinations');
    expect(listed.status).toBe(200);
    expect(listed.body.map((d: { type: string }) => d.type)).not.toContain('webhook');
    expect((await api('GET', `/destinations/${hooks.id}`)).status).toBe(404);
    const put = await api('PUT', `/destinations/${hooks.id}`, {
      body: {
        name: 'hooks',
        type: 'postgres',
        version: hooks.version,
        config: { host: '127.0.0.1', port: 5432, database: 'd', schema: 'crm', user: 'u' },
      },
    });
    expect(put.status).toBe(404);
    const created = await api('POST', '/destinations', {
      body: { name: 'wh', type: 'webhook', config: { url: receiver.url } },
    });
    expect(created.status).toBe(400);
    // Nor can a sync config name one: the destination does not exist for this API.
    const syncConfig = await api('POST', '/sync_configs', {
      body: {
        destination_name: 'hooks',
        provider_name: 'hubspot',
        config: { default_config: { period_ms: 3_600_000, strategy: 'full only' } },
      },
    });
    expect(syncConfig.status).toBe(404);
    expect(syncConfig.body.errors[0].detail).toBe('destination named "hooks" not found');
  });

  describe('a HubSpot sync into a webhook destination', () => {
    let secret: string;
    let installationId: string;

    /** The messages received from `from` on, checked as a receiver would, parsed. */
    const messagesFrom = (from: number) =>
      receiver.received.slice(from).map((delivery) => {
        expectSigned(secret, delivery);
        expect(delivery.headers.authorization).toBe('Bearer hook-token-1');
        expect(Buffer.byteLength(delivery.body)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
        const message = JSON.parse(delivery.body) as ReadMessage;
        expect(message).toMatchObject({
          projectId,
          provider: 'hubspot',
          groupRef: 'acme',
          groupName: 'Acme',
          installationId,
          objectName: 'contacts',
          resultInfo: { type: 'inline', numRecords: message.result.length },
        });
        return message;
      });

    /** Each delivered record is the simulator's current version of it; deletions are flagged in raw. */
    const expectSimulatorVersions = async (messages: ReadMessage[]) => {
      const current = new Map((await simRecords(sim.url, 'contacts')).map((r) => [r.id, r]));
      for (const { fields, mappedFields, raw } of messages.flatMap((m) => m.result)) {
        const record = current.get(raw.id)!;
        expect(raw.archived === true, `record ${raw.id} deleted`).toBe(record.deleted);
        // HubSpot's archived listing carries only the modification time of a deleted record.
        if (!record.deleted) expect(raw.properties, `record ${raw.id}`).toEqual(record.record.properties);
        // With no field selection (a Management API sync), every field, as HubSpot nests them.
        expect(fields).toEqual(raw.properties);
        expect(mappedFields).toEqual({});
      }
    };

    const deliveredIds = (messages: ReadMessage[]) =>
      messages.flatMap((m) => m.result.map((entry) => entry.raw.id));

    const triggerContacts = async () => {
      const trigger = await api('POST', '/syncs/_trigger', {
        headers: { 'x-customer-id': 'acme', 'x-provider-name': 'hubspot' },
        body: { object_type: 'standard', object: 'contacts' },
      });
      expect(trigger.status, JSON.stringify(trigger.body)).toBe(200);
    };

    beforeAll(async () => {
      secret = await destinationSigningSecret(deps(), projectId, hooks.id);
      expect((await api('POST', '/providers', { body: simOAuthProvider('hubspot', ['oauth']) })).status).toBe(
        201,
      );
      // Webhook destinations belong to the Ampersand dialect: its integrations are installed on request.
      const integration = await createIntegration(deps(), projectId, {
        name: 'hubspot-contacts',
        installs: 'on_request',
        destinationName: 'hooks',
        providerName: 'hubspot',
        read: {
          defaults: { schedule: { everyMs: 3_600_000 }, mode: 'incremental' },
          objects: [{ target: { kind: 'standard', object: 'contacts' } }],
        },
      });
      const connection = await connectHubspot(api, (await simControl(sim.url, 'tokens', {})).refresh_token);
      const installation = await createInstallation(deps(), projectId, {
        integrationId: integration.id,
        connectionId: connection.id,
        config: { read: [{ object: 'contacts' }], write: [] },
      });
      installationId = installation.id;
    });

    it("the first run delivers exactly the simulator's records, each once, in signed messages", async () => {
      const [run] = await endedRuns(api, 'contacts', 1);
      expect(run).toMatchObject({ status: 'SUCCESS', num_records_synced: RECORDS, error_message: null });
      const messages = messagesFrom(0);
      // The records are about 700 KB as messages: more than one.
      expect(messages.length).toBeGreaterThan(1);
      const ids = deliveredIds(messages);
      const live = (await simRecords(sim.url, 'contacts')).filter((r) => !r.deleted).map((r) => r.id);
      expect(ids.length).toBe(new Set(ids).size);
      expect([...ids].sort()).toEqual([...live].sort());
      await expectSimulatorVersions(messages);
    });

    it('after changes and deletions, the next run delivers those, deletions flagged', async () => {
      await endedRuns(api, 'contacts', 1);
      const before = receiver.received.length;
      await simControl(sim.url, 'clock', { advance_ms: 120_000 });
      const changes = await simControl(sim.url, 'mutate', {
        object: 'contacts',
        create: 4,
        update: 10,
        delete: 3,
      });
      await triggerContacts();
      const [latest] = await endedRuns(api, 'contacts', 2);
      expect(latest.status).toBe('SUCCESS');
      const messages = messagesFrom(before);
      const ids = deliveredIds(messages);
      expect(ids.length).toBe(new Set(ids).size);
      // Exactly the changes, although the read overlaps the one before by the watermark margin.
      expect([...ids].sort()).toEqual([...changes.created, ...changes.updated, ...changes.deleted].sort());
      await expectSimulatorVersions(messages);
    });

    it('a receiver refusing a batch fails the run in Trellis words; the next run delivers it', async () => {
      await endedRuns(api, 'contacts', 2);
      await simControl(sim.url, 'clock', { advance_ms: 120_000 });
      const changes = await simControl(sim.url, 'mutate', { object: 'contacts', update: 5 });
      answer = 400;
      const before = receiver.received.length;
      await triggerContacts();
      const [failed] = await endedRuns(api, 'contacts', 3);
      expect(failed).toMatchObject({
        status: 'FAILURE',
        error_message: 'writing to destination "hooks" failed: the webhook answered HTTP 400',
      });
      // Refused answers are not retried.
      expect(receiver.received.length).toBe(before + 1);

      answer = 200;
      const afterFailure = receiver.received.length;
      await triggerContacts();
      const [latest] = await endedRuns(api, 'contacts', 4);
      expect(latest.status).toBe('SUCCESS');
      const messages = messagesFrom(afterFailure);
      expect(deliveredIds(messages)).toEqual(expect.arrayContaining(changes.updated));
      await expectSimulatorVersions(messages);
    });
  });
});
