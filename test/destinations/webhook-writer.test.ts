import { createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { generateWebhookSecret, signWebhook } from '../../src/auth/webhook-signature.ts';
import { describeDestinationError } from '../../src/destinations/errors.ts';
import {
  type DeliveryTiming,
  MAX_MESSAGE_BYTES,
  type MessageHead,
  packMessages,
  WebhookDeliveryFailed,
  WebhookWriter,
} from '../../src/destinations/webhook.ts';
import type { RowOwner, WriteRecord } from '../../src/destinations/writer.ts';
import { createLogger } from '../../src/logger.ts';
import { webhookDeliveries } from '../../src/metrics.ts';
import { OutboundDenied, OutboundPolicy } from '../../src/net/outbound.ts';
import { type Received, startReceiver } from '../helpers/receiver.ts';

const owner: RowOwner = {
  projectId: 'project-1',
  providerName: 'hubspot',
  customerRef: 'acme',
  customerName: 'Acme Inc',
  installationId: 'installation-1',
  objectName: 'contacts',
};
const table = { schema: '', table: 'hubspot_contacts' };
/** Short waits so that retries fit a test; the bounds work the same at any scale. */
const timing: Partial<DeliveryTiming> = {
  firstDelayMs: 20,
  maxDelayMs: 200,
  retryForMs: 1500,
  attemptTimeoutMs: 2000,
};

/** Records of about `bytes` bytes of raw JSON each, ids r0, r1, ... */
const records = (count: number, bytes = 200, from = 0): WriteRecord[] =>
  Array.from({ length: count }, (_, i) => ({
    id: `r${from + i}`,
    lastModifiedAt: new Date('2024-05-01T00:00:00Z'),
    isDeleted: false,
    raw: { id: `r${from + i}`, properties: { email: `c${from + i}@acme.test`, notes: 'n'.repeat(bytes) } },
    mapped: { contactEmail: `c${from + i}@acme.test` },
    fields: () => ({ email: `c${from + i}@acme.test`, notes: 'n'.repeat(bytes) }),
  }));

interface ReadMessage extends MessageHead {
  resultInfo: { type: string; numRecords: number; downloadUrl?: string };
  result: { fields: Record<string, unknown>; mappedFields: Record<string, unknown>; raw: { id: string } }[];
}

/** The Standard Webhooks check as a receiver writes it, independent of Trellis's signer. */
function expectSigned(secret: string, delivery: Received) {
  const id = String(delivery.headers['webhook-id']);
  const timestamp = String(delivery.headers['webhook-timestamp']);
  expect(Math.abs(Date.now() / 1000 - Number(timestamp))).toBeLessThan(60);
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.${delivery.body}`).digest('base64');
  expect(String(delivery.headers['webhook-signature']).split(' ')).toContain(`v1,${mac}`);
}

/** The attempts at delivering records counted for /metrics so far, by outcome. */
async function recordDeliveries(): Promise<{ delivered: number; failed: number }> {
  const { values } = await webhookDeliveries.get();
  const count = (outcome: string) =>
    values.find((v) => v.labels.kind === 'records' && v.labels.outcome === outcome)?.value ?? 0;
  return { delivered: count('delivered'), failed: count('failed') };
}

describe('webhook destination writer', () => {
  const secret = generateWebhookSecret();
  const logs: { level: number; msg: string; [key: string]: unknown }[] = [];
  const log = createLogger(
    'debug',
    new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
        done();
      },
    }),
  );
  const localPolicy = new OutboundPolicy({
    strict: false,
    allowLoopback: true,
    allowed: [],
    providerHosts: [],
  });
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });
  afterAll(() => localPolicy.close());

  /** A receiver answering `respond(n)` to its n-th request, and a writer delivering to it. */
  const setUp = async (
    respond: (n: number) => number = () => 200,
    headers: Record<string, string> = {},
    outbound = localPolicy,
  ) => {
    const receiver = await startReceiver(respond);
    closers.push(receiver.close);
    // Results held for download, by the URL the writer was given for each.
    const held = new Map<string, string>();
    const writer = new WebhookWriter(
      { outbound, log },
      {
        url: receiver.url,
        headers,
        sign: (id, timestamp, body) => signWebhook(secret, id, timestamp, body),
        hold: async (json) => {
          const url = `https://trellis.test/results/${held.size}`;
          held.set(url, json);
          return url;
        },
      },
      timing,
    );
    return { receiver, writer, held };
  };

  /** Each request checked as a receiver would (signed, within the limit), parsed. */
  const messagesOf = (received: Received[]) =>
    received.map((delivery) => {
      expectSigned(secret, delivery);
      expect(delivery.headers['content-type']).toBe('application/json');
      expect(Buffer.byteLength(delivery.body)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
      return JSON.parse(delivery.body) as ReadMessage;
    });

  it('splits a batch into signed messages of at most 300 KB, every record once and in order', async () => {
    const { receiver, writer } = await setUp();
    const batch = records(1500, 1200);
    await writer.write(table, owner, batch, new Date());

    const messages = messagesOf(receiver.received);
    // About 3.8 MB of entries: split, and packed (each message but the last is nearly full).
    expect(messages.length).toBeGreaterThanOrEqual(13);
    for (const delivery of receiver.received.slice(0, -1)) {
      expect(Buffer.byteLength(delivery.body)).toBeGreaterThan(MAX_MESSAGE_BYTES - 3000);
    }
    expect(new Set(receiver.received.map((d) => d.headers['webhook-id'])).size).toBe(messages.length);
    for (const message of messages) {
      expect(message).toMatchObject({
        projectId: 'project-1',
        provider: 'hubspot',
        groupRef: 'acme',
        groupName: 'Acme Inc',
        installationId: 'installation-1',
        objectName: 'contacts',
        action: 'read',
        resultInfo: { type: 'inline', numRecords: message.result.length },
      });
      expect(message).not.toHaveProperty('mappedObjectName');
    }
    const delivered = messages.flatMap((m) => m.result);
    expect(delivered.map((entry) => entry.raw.id)).toEqual(batch.map((r) => r.id));
    delivered.forEach((entry, i) => {
      expect(entry).toEqual({
        fields: batch[i]!.fields(),
        mappedFields: batch[i]!.mapped,
        raw: batch[i]!.raw,
      });
    });
  });

  it('counts bytes, not characters, and sends an entry too large for any message alone', () => {
    const head: MessageHead = {
      projectId: 'project-1',
      provider: 'hubspot',
      groupRef: 'zürich',
      groupName: 'Zoë',
      installationId: 'installation-1',
      objectName: 'contacts',
    };
    const entry = (i: number, chars: number) =>
      JSON.stringify({ fields: {}, mappedFields: {}, raw: { id: `e${i}`, name: '東'.repeat(chars) } });
    // 3 bytes per character: a count in characters would pack three times too much.
    const entries = [...Array.from({ length: 40 }, (_, i) => entry(i, 60)), entry(40, 2000), entry(41, 60)];
    let offset = 0;
    const messages = packMessages(head, entries, 1000).map((message) => {
      const read = JSON.parse(message.body) as ReadMessage;
      const firstEntry = entries[offset] ?? '';
      offset += message.records;
      return {
        bytes: Buffer.byteLength(message.body),
        ids: read.result.map((r) => r.raw.id),
        numRecords: read.resultInfo.numRecords,
        firstEntryBytes: Buffer.byteLength(firstEntry),
      };
    });
    expect(messages.flatMap((m) => m.ids)).toEqual(entries.map((_, i) => `e${i}`));
    for (const message of messages) {
      expect(message.numRecords).toBe(message.ids.length);
      if (message.ids.includes('e40')) expect(message.ids).toEqual(['e40']);
      else expect(message.bytes).toBeLessThanOrEqual(1000);
    }
    // Packed: the next message's first entry would not have fitted in the one before.
    messages.reduce((previous, message) => {
      expect(previous.bytes + 1 + message.firstEntryBytes).toBeGreaterThan(1000);
      return message;
    });
  });

  it('sends a record larger than a message by URL, as Ampersand does, in order', async () => {
    const { receiver, writer, held } = await setUp();
    const [small1, small2] = records(2, 100);
    const [huge] = records(1, 400_000, 99);
    await writer.write(table, owner, [small1!, huge!, small2!], new Date());
    expect(receiver.received).toHaveLength(3);
    for (const d of receiver.received)
      expect(Buffer.byteLength(d.body)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    const [first, byUrl, last] = receiver.received.map((d) => JSON.parse(d.body) as ReadMessage);
    expect(first!.result.map((entry) => entry.raw.id)).toEqual(['r0']);
    expect(last!.result.map((entry) => entry.raw.id)).toEqual(['r1']);
    expect(byUrl).not.toHaveProperty('result');
    expect(byUrl).toMatchObject({
      objectName: 'contacts',
      action: 'read',
      resultInfo: {
        type: 'url',
        numRecords: 1,
        downloadUrl: expect.stringMatching(/^https:\/\/trellis\.test\//),
      },
    });
    const result = JSON.parse(held.get(byUrl?.resultInfo.downloadUrl ?? '') ?? 'null');
    expect(result).toEqual([{ fields: huge!.fields(), mappedFields: huge!.mapped, raw: huge!.raw }]);
  });

  it("sends the destination's headers with every message", async () => {
    const { receiver, writer } = await setUp(() => 200, {
      Authorization: 'Bearer receiver-token',
      'X-Tenant': 'acme',
    });
    await writer.write(table, owner, records(3), new Date());
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]!.headers).toMatchObject({
      authorization: 'Bearer receiver-token',
      'x-tenant': 'acme',
    });
  });

  it('retries 5xx and 429 with growing waits, then delivers the same message once', async () => {
    const { receiver, writer } = await setUp((n) => [503, 429, 500, 200][n - 1] ?? 200);
    const before = await recordDeliveries();
    await writer.write(table, owner, records(5), new Date());
    const attempts = receiver.received;
    expect(attempts).toHaveLength(4);
    // Every attempt is counted for /metrics, as a delivery of records.
    const after = await recordDeliveries();
    expect(after.failed - before.failed).toBe(3);
    expect(after.delivered - before.delivered).toBe(1);
    messagesOf(attempts);
    // One message: every attempt carries the same id and body, signed afresh.
    expect(new Set(attempts.map((d) => d.headers['webhook-id'])).size).toBe(1);
    expect(new Set(attempts.map((d) => d.body)).size).toBe(1);
    // Waits of at least half the backoff: 10, 20 and 40 ms.
    const gaps = attempts.slice(1).map((d, i) => d.at - attempts[i]!.at);
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual((timing.firstDelayMs! * 2 ** i) / 2);
    });
  });

  it("fails the batch with Trellis's own summary when the receiver keeps failing", async () => {
    const { receiver, writer } = await setUp(() => 502);
    const started = Date.now();
    const err = await writer.write(table, owner, records(2), new Date()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WebhookDeliveryFailed);
    const attempts = receiver.received.length;
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(describeDestinationError(err)).toBe(`the webhook answered HTTP 502 (${attempts} attempts)`);
    // Bounded: it gives up once the next wait would pass the retry time.
    expect(Date.now() - started).toBeLessThan(timing.retryForMs! + 1000);
  });

  it('does not retry an answer that will not change (4xx), nor follow redirects', async () => {
    for (const status of [400, 302]) {
      const { receiver, writer } = await setUp(() => status);
      const err = await writer.write(table, owner, records(2), new Date()).catch((e: unknown) => e);
      expect(receiver.received).toHaveLength(1);
      expect(describeDestinationError(err)).toBe(`the webhook answered HTTP ${status}`);
    }
  });

  it('retries connection failures within the bound, then says it could not connect', async () => {
    const { receiver, writer } = await setUp();
    await receiver.close();
    const err = await writer.write(table, owner, records(2), new Date()).catch((e: unknown) => e);
    expect(describeDestinationError(err)).toMatch(
      /^could not connect to the webhook \(([3-9]|\d\d+) attempts\)$/,
    );
  });

  it('refuses an address the outbound network policy denies, sending nothing', async () => {
    const noLoopback = new OutboundPolicy({
      strict: false,
      allowLoopback: false,
      allowed: [],
      providerHosts: [],
    });
    closers.push(() => noLoopback.close());
    const { receiver, writer } = await setUp(() => 200, {}, noLoopback);
    await expect(writer.prepare(table)).rejects.toBeInstanceOf(OutboundDenied);
    const err = await writer.write(table, owner, records(2), new Date()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutboundDenied);
    expect(describeDestinationError(err)).toBe(
      'the outbound network policy refused 127.0.0.1 (loopback is not allowed); see TRELLIS_ALLOWED_OUTBOUND',
    );
    expect(receiver.received).toHaveLength(0);

    // Never the cloud metadata address, whatever else is allowed.
    const metadata = new WebhookWriter(
      { outbound: localPolicy, log },
      { url: 'http://169.254.169.254/latest', headers: {}, sign: () => 'v1,x', hold: async () => '' },
      timing,
    );
    await expect(metadata.write(table, owner, records(1), new Date())).rejects.toBeInstanceOf(OutboundDenied);
  });

  it('sends nothing for unseen records after a full run', async () => {
    const { receiver, writer } = await setUp();
    await writer.prepare(table);
    expect(await writer.markUnseenDeleted(table, owner, new Date())).toBe(0);
    await writer.write(table, owner, [], new Date());
    expect(receiver.received).toHaveLength(0);
  });
});
