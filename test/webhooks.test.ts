import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { QUEUES } from '../src/db/queue.ts';
import { type Received, startReceiver } from './helpers/receiver.ts';
import { webhookSchema } from './helpers/seed-spec.ts';
import { type Client, client, startTrellis, type TestTrellis } from './helpers/trellis.ts';
import { until } from './helpers/wait.ts';

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

/** The event a delivery carries, from its Standard Webhooks id (`msg_<event id>`). */
const eventIdOf = (delivery: Received) => String(delivery.headers['webhook-id']).replace(/^msg_/, '');

describe('webhooks', () => {
  let t: TestTrellis;
  let api: Client;
  beforeAll(async () => {
    t = await startTrellis();
    api = client(t.baseUrl, t.apiKey);
    await api('PUT', '/customers', { body: { customer_id: 'acme', name: 'Acme', email: 'it@acme.test' } });
  });
  afterAll(() => t.stop());

  /** Adds an endpoint for this test only: deleted when the test ends, so later events skip it. */
  const addEndpoint = async (url: string, eventTypes: string[]) => {
    const endpoint = await api('POST', '/webhooks', { body: { url, event_types: eventTypes } });
    expect(endpoint.status, JSON.stringify(endpoint.body)).toBe(201);
    onTestFinished(async () => {
      await api('DELETE', `/webhooks/${endpoint.body.id}`);
    });
    return endpoint.body as { id: string; secret: string };
  };
  /** A customer of this test's own with an Apollo connection; resolves once the API recorded it. */
  const connectApollo = async (customerId: string) => {
    await api('PUT', '/customers', {
      body: { customer_id: customerId, name: customerId, email: 'it@x.test' },
    });
    const conn = await api('POST', `/customers/${customerId}/connections`, {
      body: { provider_name: 'apollo', type: 'api_key', api_key: `${customerId}-key` },
    });
    expect(conn.status, JSON.stringify(conn.body)).toBe(200);
    return conn.body;
  };
  /**
   * The queue's delivery jobs of event `eventId` to the endpoints `endpointIds`, with their states
   * (pg-boss: created, retry, active, then completed, failed or cancelled). A job is enqueued with
   * its event, in the same transaction, for each endpoint subscribed to the event's type.
   */
  const deliveryJobs = async (eventId: string, endpointIds: string[]) => {
    const { rows } = await t.runtime.deps.db.query<{ endpointId: string; state: string }>(
      `select data->>'endpointId' as "endpointId", state::text as state from (
         select data, state from pgboss.job where name = $1
         union all select data, state from pgboss.archive where name = $1) jobs
        where data->>'eventId' = $2 and data->>'endpointId' = any($3::text[])`,
      [QUEUES.webhookDelivery, eventId, endpointIds],
    );
    return rows;
  };

  it('delivers a signed connection.created with the spec payload after a manual connection', async () => {
    const receiver = await startReceiver();
    const endpoint = await api('POST', '/webhooks', {
      body: { url: receiver.url, event_types: ['connection.created'] },
    });
    expect(endpoint.status).toBe(201);
    expect(endpoint.body.secret).toMatch(/^whsec_/);
    onTestFinished(async () => {
      await api('DELETE', `/webhooks/${endpoint.body.id}`);
    });

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
    const endpoint = await addEndpoint(receiver.url, ['connection.deleted']);
    await connectApollo('retried');
    expect((await api('DELETE', '/customers/retried/connections/apollo')).status).toBe(204);

    const attempts = await receiver.waitFor(3, 60_000);
    const ids = new Set(attempts.map((a) => a.headers['webhook-id']));
    expect(ids.size).toBe(1);
    // The first retry waits the configured delay (1 s here); a lower bound holds on a machine of any speed.
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(900);
    for (const a of attempts) expectSigned(endpoint.secret, a.headers, a.body);
    expect(JSON.parse(attempts[2]!.body)).toMatchObject({
      webhook_event_type: 'connection.deleted',
      customer_id: 'retried',
    });

    // Each attempt is recorded, newest first.
    const deliveries = await until('three recorded attempts', async () => {
      const res = await api('GET', `/webhooks/${endpoint.id}/deliveries`);
      return res.body.length >= 3 && res;
    });
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
    // Nothing more arrives once it succeeded: the delivery's job is done for good (not waiting to
    // retry), and the receiver got exactly the three attempts.
    const eventId = eventIdOf(attempts[0]!);
    const [job, ...otherJobs] = await until('the delivery job to leave the active state', async () => {
      const jobs = await deliveryJobs(eventId, [endpoint.id]);
      return jobs.length > 0 && jobs.every((j) => j.state !== 'active') && jobs;
    });
    expect(otherJobs).toEqual([]);
    expect(job!.state).toBe('completed');
    expect(receiver.received).toHaveLength(3);
    await receiver.close();
  });

  it('only delivers the event types an endpoint subscribed to', async () => {
    const unsubscribed = await startReceiver();
    const subscribed = await startReceiver();
    const other = await addEndpoint(unsubscribed.url, ['sync.complete']);
    const listening = await addEndpoint(subscribed.url, ['connection.created']);
    await connectApollo('filtered');

    // The event was emitted and delivered where it was subscribed to…
    const [delivery] = await subscribed.waitFor(1);
    expect(JSON.parse(delivery!.body)).toMatchObject({
      webhook_event_type: 'connection.created',
      customer_id: 'filtered',
    });
    // …and once every delivery of it to these two endpoints is done, none went to the other one.
    const jobs = await until('the deliveries of the event to finish', async () => {
      const found = await deliveryJobs(eventIdOf(delivery!), [other.id, listening.id]);
      return found.every((j) => ['completed', 'failed', 'cancelled'].includes(j.state)) && found;
    });
    expect(jobs.map((j) => j.endpointId)).toEqual([listening.id]);
    expect(unsubscribed.received).toHaveLength(0);
    expect((await api('GET', `/webhooks/${other.id}/deliveries`)).body).toEqual([]);
    await Promise.all([unsubscribed.close(), subscribed.close()]);
  });

  it('rejects endpoints with a bad url or unknown event types', async () => {
    const badUrl = await api('POST', '/webhooks', { body: { url: 'not a url' } });
    expect(badUrl.status).toBe(400);
    const badType = await api('POST', '/webhooks', {
      body: { url: 'http://127.0.0.1:1/x', event_types: ['nope'] },
    });
    expect(badType.status).toBe(400);
  });
}, 120_000);
