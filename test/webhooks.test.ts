import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver } from './helpers/receiver.ts';
import { webhookSchema } from './helpers/seed-spec.ts';
import { type Client, client, startTrellis, type TestTrellis } from './helpers/trellis.ts';

const connectionCreatedSchema = webhookSchema('connection.created');

/** The Standard Webhooks check, written out here rather than imported so the test is independent. */
function expectSigned(secret: string, headers: Record<string, unknown>, body: string) {
  const id = String(headers['webhook-id']);
  const timestamp = String(headers['webhook-timestamp']);
  expect(Math.abs(Date.now() / 1000 - Number(timestamp))).toBeLessThan(60);
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  expect(String(headers['webhook-signature']).split(' ')).toContain(`v1,${expected}`);
}

describe('webhooks', () => {
  let t: TestTrellis;
  let api: Client;
  beforeAll(async () => {
    t = await startTrellis();
    api = client(t.baseUrl, t.apiKey);
    await api('PUT', '/customers', { body: { customer_id: 'acme', name: 'Acme', email: 'it@acme.test' } });
  });
  afterAll(() => t.stop());

  it('delivers a signed connection.created with the spec payload after a manual connection', async () => {
    const receiver = await startReceiver();
    const endpoint = await api('POST', '/webhooks', {
      body: { url: receiver.url, event_types: ['connection.created'] },
    });
    expect(endpoint.status).toBe(201);
    expect(endpoint.body.secret).toMatch(/^whsec_/);

    const conn = await api('POST', '/customers/acme/connections', {
      body: { provider_name: 'apollo', type: 'api_key', api_key: 'apollo-secret' },
    });
    expect(conn.status).toBe(200);

    const [delivery] = await receiver.waitFor(1);
    expectSigned(endpoint.body.secret, delivery!.headers, delivery!.body);
    const payload = JSON.parse(delivery!.body);
    expect(connectionCreatedSchema(payload), JSON.stringify(connectionCreatedSchema.errors)).toBe(true);
    expect(payload).toMatchObject({
      webhook_event_type: 'connection.created',
      customer_id: 'acme',
      provider_name: 'apollo',
      category: 'engagement',
      provider_id: conn.body.provider_id,
      result: 'SUCCESS',
    });
    expect(delivery!.body).not.toContain('apollo-secret');
    await receiver.close();
  });

  it('retries with backoff until the receiver accepts: fails twice, delivered on the third attempt', async () => {
    const receiver = await startReceiver((n) => (n <= 2 ? 503 : 200));
    const endpoint = await api('POST', '/webhooks', {
      body: { url: receiver.url, event_types: ['connection.deleted'] },
    });
    await api('DELETE', '/customers/acme/connections/apollo');

    const attempts = await receiver.waitFor(3, 30_000);
    const ids = new Set(attempts.map((a) => a.headers['webhook-id']));
    expect(ids.size).toBe(1);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(900);
    for (const a of attempts) expectSigned(endpoint.body.secret, a.headers, a.body);
    expect(JSON.parse(attempts[2]!.body)).toMatchObject({
      webhook_event_type: 'connection.deleted',
      customer_id: 'acme',
    });

    // Each attempt is recorded, newest first.
    let deliveries = await api('GET', `/webhooks/${endpoint.body.id}/deliveries`);
    for (let i = 0; i < 20 && deliveries.body.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 100));
      deliveries = await api('GET', `/webhooks/${endpoint.body.id}/deliveries`);
    }
    expect(
      deliveries.body.map((d: { attempt: number; succeeded: boolean; response_status: number }) => [
        d.attempt,
        d.succeeded,
        d.response_status,
      ]),
    ).toEqual([
      [3, true, 200],
      [2, false, 503],
      [1, false, 503],
    ]);
    // Nothing more arrives once it succeeded.
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.received).toHaveLength(3);
    await receiver.close();
  });

  it('only delivers the event types an endpoint subscribed to', async () => {
    const receiver = await startReceiver();
    await api('POST', '/webhooks', { body: { url: receiver.url, event_types: ['sync.complete'] } });
    await api('POST', '/customers/acme/connections', {
      body: { provider_name: 'apollo', type: 'api_key', api_key: 'another-key' },
    });
    await new Promise((r) => setTimeout(r, 2000));
    expect(receiver.received).toHaveLength(0);
    await receiver.close();
  });

  it('rejects endpoints with a bad url or unknown event types', async () => {
    const badUrl = await api('POST', '/webhooks', { body: { url: 'not a url' } });
    expect(badUrl.status).toBe(400);
    const badType = await api('POST', '/webhooks', {
      body: { url: 'http://127.0.0.1:1/x', event_types: ['nope'] },
    });
    expect(badType.status).toBe(400);
  });
});
