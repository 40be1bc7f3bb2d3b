import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { createDestination, destinationSigningSecret } from '../../src/core/destinations.ts';
import { authenticateApiKey } from '../../src/core/projects.ts';
import { expectSigned, startReceiver } from '../helpers/receiver.ts';
import { simControl, simOAuthProvider, simRecords } from '../helpers/simulator.ts';
import { connectHubspot, endedRuns } from '../helpers/syncs.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';
import { answerChecker } from './contract-check.ts';

/**
 * Ampersand's flow end to end through the Platform API: a manifest deployed with
 * `integrations:batch`, an installation made on a group's HubSpot connection, and the scheduled
 * read delivering the simulator's contacts to the manifest's webhook destination, signed.
 */

const RECORDS = 150;

interface ReadMessage {
  groupRef: string;
  installationId: string;
  objectName: string;
  resultInfo: { type: 'inline' | 'url'; numRecords: number; downloadUrl?: string };
  result: {
    fields: Record<string, unknown>;
    mappedFields: Record<string, unknown>;
    raw: { id: string; archived?: boolean; properties: Record<string, unknown> };
  }[];
}

describe('a manifest deployed and installed through /v1 delivers its reads to a webhook', () => {
  let sim: RunningSimulator;
  let t: TestTrellis;
  let mgmt: Client;
  let v1: Client;
  let secret: string;
  let installationId: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  const messagesFrom = (from: number) =>
    receiver.received.slice(from).map((delivery) => {
      expectSigned(secret, delivery);
      return JSON.parse(delivery.body) as ReadMessage;
    });
  const idsOf = (messages: ReadMessage[]) => messages.flatMap((m) => m.result.map((r) => r.raw.id));

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: RECORDS });
    await simControl(sim.url, 'limits', { ten_second: 5000, search_per_second: 100 });
    t = await startTrellis({ env: { TRELLIS_PROVIDER_OVERRIDES: JSON.stringify({ hubspot: sim.url }) } });
    mgmt = client(t.baseUrl, t.apiKey);
    v1 = client(t.baseUrl, t.apiKey, '/v1');
    const projectId = (await authenticateApiKey(t.runtime.deps.db, t.apiKey))!;
    receiver = await startReceiver(() => 200);
    const hooks = await createDestination(t.runtime.deps, projectId, {
      name: 'contactsWebhook',
      type: 'webhook',
      config: { url: receiver.url },
    });
    secret = await destinationSigningSecret(t.runtime.deps, projectId, hooks.id);
    expect((await mgmt('POST', '/providers', { body: simOAuthProvider('hubspot', ['oauth']) })).status).toBe(
      201,
    );
  });

  afterAll(async () => {
    await t?.stop();
    await receiver?.close();
    await sim?.close();
  });

  it('installs from the manifest and the first read delivers exactly the simulator’s contacts', async () => {
    const manifest = [
      'specVersion: 1.0.0',
      'integrations:',
      '  - name: hubspot-contacts',
      '    provider: hubspot',
      '    read:',
      '      objects:',
      '        - objectName: contacts',
      '          destination: contactsWebhook',
      '          schedule: "*/10 * * * *"',
      '          requiredFields: [{ fieldName: email }, { fieldName: firstname, mapToName: givenName }]',
      '          optionalFields: [{ mapToName: familyName, prompt: "Which field holds the family name?" }]',
      '          optionalFieldsAuto: all',
      '          backfill: { defaultPeriod: { fullHistory: true } }',
    ].join('\n');
    const deployed = await v1('PUT', '/projects/default/integrations:batch', {
      body: { sourceYaml: manifest },
    });
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(200);
    await connectHubspot(mgmt, (await simControl(sim.url, 'tokens', {})).refresh_token);
    const installed = await v1('POST', `/projects/default/integrations/hubspot-contacts/installations`, {
      body: {
        groupRef: 'acme',
        config: {
          content: {
            provider: 'hubspot',
            read: {
              objects: {
                contacts: {
                  objectName: 'contacts',
                  selectedFields: { createdate: true, hs_object_id: false },
                  selectedFieldMappings: { familyName: 'lastname' },
                },
              },
            },
          },
        },
      },
    });
    expect(installed.status, JSON.stringify(installed.body)).toBe(201);
    installationId = installed.body.id;

    const [run] = await endedRuns(mgmt, 'contacts', 1);
    expect(run).toMatchObject({ status: 'SUCCESS', num_records_synced: RECORDS });
    const messages = messagesFrom(0);
    for (const m of messages)
      expect(m).toMatchObject({ groupRef: 'acme', installationId, objectName: 'contacts' });
    const ids = idsOf(messages);
    const live = (await simRecords(sim.url, 'contacts')).filter((r) => !r.deleted).map((r) => r.id);
    expect(ids.length).toBe(new Set(ids).size);
    expect([...ids].sort()).toEqual([...live].sort());
  });

  it('delivers the fields the installation selected, and its mapped names', () => {
    // The required fields, the optional one chosen, and the field behind each mapped name; the
    // record's other properties (hs_object_id, lastmodifieddate) only in `raw`.
    for (const entry of messagesFrom(0).flatMap((m) => m.result)) {
      const p = entry.raw.properties;
      expect(entry.fields).toEqual({
        email: p.email,
        firstname: p.firstname,
        createdate: p.createdate,
        lastname: p.lastname,
      });
      expect(entry.mappedFields).toEqual({ givenName: p.firstname, familyName: p.lastname });
      expect(p).toHaveProperty('hs_object_id');
    }
  });

  it('hydrates the revision with the account’s fields: all but the required ones optional', async () => {
    const [integration] = (await v1('GET', '/projects/default/integrations')).body;
    const [connection] = (await v1('GET', '/projects/default/connections?groupRef=acme')).body;
    const hydrated = await v1(
      'GET',
      `/projects/default/integrations/${integration.id}/revisions/${integration.latestRevision.id}:hydrate`,
      { query: { connectionId: connection.id } },
    );
    expect(hydrated.status, JSON.stringify(hydrated.body)).toBe(200);
    const [contacts] = hydrated.body.content.read.objects;
    expect(contacts.error).toBeUndefined();
    const all = contacts.allFields.map((f: { fieldName: string }) => f.fieldName);
    expect(all).toContain('email');
    expect(contacts.requiredFields).toEqual([
      { fieldName: 'email', displayName: expect.any(String) },
      { fieldName: 'firstname', mapToName: 'givenName', displayName: expect.any(String) },
    ]);
    const optional = contacts.optionalFields.map((f: { fieldName: string }) => f.fieldName);
    expect(optional.sort()).toEqual(
      all.filter((name: string) => name !== 'email' && name !== 'firstname').sort(),
    );
  });

  it('after changes and deletions, the next read delivers exactly those, deletions flagged', async () => {
    const before = receiver.received.length;
    await simControl(sim.url, 'clock', { advance_ms: 120_000 });
    const changes = await simControl(sim.url, 'mutate', {
      object: 'contacts',
      create: 3,
      update: 5,
      delete: 2,
    });
    const trigger = await mgmt('POST', '/syncs/_trigger', {
      headers: { 'x-customer-id': 'acme', 'x-provider-name': 'hubspot' },
      body: { object_type: 'standard', object: 'contacts' },
    });
    expect(trigger.status, JSON.stringify(trigger.body)).toBe(200);
    const [latest] = await endedRuns(mgmt, 'contacts', 2);
    expect(latest.status).toBe('SUCCESS');
    const messages = messagesFrom(before);
    const ids = idsOf(messages);
    // Exactly the changes: what the read before already delivered is not delivered again, although
    // the engine rereads a margin before it (for provider clock skew).
    expect([...ids].sort()).toEqual([...changes.created, ...changes.updated, ...changes.deleted].sort());
    const deleted = new Set(changes.deleted);
    for (const r of messages.flatMap((m) => m.result))
      expect(r.raw.archived === true).toBe(deleted.has(r.raw.id));
  });

  it('lists the installation’s reads as operations, each with its logs, in the document’s shapes', async () => {
    const { check, neverSucceeded } = answerChecker([]);
    const get = async (path: string, query: Record<string, string> = {}) => {
      const res = await v1('GET', path, { query });
      check('GET', path, res);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body;
    };
    const [integration] = await get('/projects/default/integrations');
    const base = `/projects/default/integrations/${integration.id}/installations/${installationId}/operations`;
    const listed = await get(base);
    const runs = (await mgmt('GET', '/sync-runs', { query: { customer_id: 'acme' } })).body.results;
    expect(listed.results.map((o: { id: string }) => o.id)).toEqual(runs.map((r: { id: string }) => r.id));
    expect(listed.pagination).toEqual({ done: true });
    expect(listed.results[0]).toMatchObject({
      installationId,
      integrationId: integration.id,
      actionType: 'read',
      status: 'success',
      metadata: {
        objects: ['contacts'],
        progress: { objectName: 'contacts', recordsProcessed: runs[0].num_records_synced },
      },
    });
    const first = await get(base, { pageSize: '1' });
    expect(first.results).toEqual([listed.results[0]]);
    const second = await get(base, { pageSize: '1', pageToken: first.pagination.nextPageToken });
    expect(second.results).toEqual([listed.results[1]]);
    const one = await get(`/projects/default/operations/${listed.results[0].id}`);
    expect(one).toEqual(listed.results[0]);
    const logs = await get(`/projects/default/operations/${one.id}/logs`);
    expect(logs.map((l: { message: { msg: string } }) => l.message.msg)).toEqual([
      'read of contacts started',
      one.result,
    ]);
    // The backfill is the first read: its progress is that run's, ended with every record.
    const progress = await get(
      `/projects/default/integrations/${integration.id}/installations/${installationId}/objects/contacts/backfill-progress`,
    );
    const backfill = runs[runs.length - 1];
    expect(progress).toEqual({
      installationId,
      objectName: 'contacts',
      operationId: backfill.id,
      recordsProcessed: RECORDS,
      createTime: backfill.start_timestamp,
      updateTime: backfill.end_timestamp,
    });
    const unread = await v1(
      'GET',
      `/projects/default/integrations/${integration.id}/installations/${installationId}/objects/deals/backfill-progress`,
    );
    expect(unread.status).toBe(404);
    expect(
      neverSucceeded(['listOperations', 'getOperation', 'listOperationLogs', 'getBackfillProgress']),
    ).toEqual([]);
    const missing = await v1('GET', '/projects/default/operations/00000000-0000-0000-0000-000000000000');
    expect(missing.status).toBe(404);
  });

  it('sends a record too large for a message by a signed download URL on Trellis', async () => {
    const before = receiver.received.length;
    const [target] = (await simRecords(sim.url, 'contacts')).filter((r) => !r.deleted);
    const { access_token } = await simControl(sim.url, 'tokens', { scopes: ['crm.objects.contacts.write'] });
    await simControl(sim.url, 'clock', { advance_ms: 120_000 });
    const grown = await fetch(`${sim.url}/crm/v3/objects/contacts/${target!.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ properties: { firstname: 'x'.repeat(400_000) } }),
    });
    expect(grown.status, await grown.clone().text()).toBe(200);
    await mgmt('POST', '/syncs/_trigger', {
      headers: { 'x-customer-id': 'acme', 'x-provider-name': 'hubspot' },
      body: { object_type: 'standard', object: 'contacts' },
    });
    const [latest] = await endedRuns(mgmt, 'contacts', 3);
    expect(latest.status, latest.error_message).toBe('SUCCESS');

    for (const d of receiver.received.slice(before))
      expect(Buffer.byteLength(d.body)).toBeLessThanOrEqual(300_000);
    const [byUrl] = messagesFrom(before).filter((m) => m.resultInfo.type === 'url');
    expect(byUrl).toMatchObject({ objectName: 'contacts', resultInfo: { numRecords: 1 } });
    expect(byUrl).not.toHaveProperty('result');
    const url = new URL(byUrl?.resultInfo.downloadUrl ?? 'about:blank');
    expect(url.origin).toBe(new URL(t.baseUrl).origin);
    const download = await fetch(url);
    expect(download.status).toBe(200);
    const [entry] = (await download.json()) as ReadMessage['result'];
    expect(entry!.raw.id).toBe(target!.id);
    // The installation maps firstname to givenName: the large value is both a field and a mapped one.
    expect(entry!.fields.firstname).toBe('x'.repeat(400_000));
    expect(entry!.mappedFields.givenName).toBe('x'.repeat(400_000));

    url.searchParams.set('signature', `${url.searchParams.get('signature')!.slice(0, -2)}AA`);
    const forged = await fetch(url);
    expect(forged.status).toBe(403);
    expect(forged.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});
