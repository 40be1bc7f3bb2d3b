import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.ts';
import { webhookDeliveries } from '../metrics.ts';
import { discard, OutboundDenied, type OutboundPolicy } from '../net/outbound.ts';
import type { DestinationWriter, RowOwner, TableRef, WriteRecord } from './writer.ts';

/** A webhook destination as the core resolved it, secrets included. */
export interface WebhookReceiver {
  url: string;
  /** The destination's own headers; their values may be secrets. */
  headers: Record<string, string>;
  /** The Standard Webhooks signature of a message, made with the destination's signing secret. */
  sign(messageId: string, timestampSeconds: number, body: string): string;
  /** Keeps a result too large for a message where the receiver can download it; answers its URL. */
  hold(resultJson: string): Promise<string>;
}

/**
 * Ampersand's limit for one read message. Counted in bytes of the JSON body, and in thousands so
 * that a receiver reading "300 KB" either way accepts it.
 */
export const MAX_MESSAGE_BYTES = 300_000;

/** How long one batch may keep retrying, and how each attempt and wait is bounded. */
export interface DeliveryTiming {
  attemptTimeoutMs: number;
  /** Retries stop once the next wait would end after this long from the first attempt. */
  retryForMs: number;
  firstDelayMs: number;
  maxDelayMs: number;
}

const DEFAULT_TIMING: DeliveryTiming = {
  attemptTimeoutMs: 30_000,
  retryForMs: 120_000,
  firstDelayMs: 1_000,
  maxDelayMs: 30_000,
};

/** What the receiver learns of a read, ahead of its records (Ampersand's read message). */
export interface MessageHead {
  projectId: string;
  provider: string;
  groupRef: string;
  groupName: string;
  installationId: string;
  objectName: string;
}

/** One message: its JSON body and how many records it carries. */
export interface Message {
  body: string;
  records: number;
}

/**
 * One record as a `result` entry, in JSON: the fields its sync delivers (mapped ones under their
 * provider names too), the values of its mapped names, and the record as the provider answered.
 */
function resultEntry(record: WriteRecord): string {
  return `{"fields":${JSON.stringify(record.fields())},"mappedFields":${JSON.stringify(record.mapped)},"raw":${JSON.stringify(record.raw)}}`;
}

/**
 * Packs result entries, in order, into messages of at most `maxBytes` bytes each. An entry too
 * large for any message is packed alone in one that is larger, for the writer to send by URL.
 */
export function packMessages(head: MessageHead, entries: string[], maxBytes = MAX_MESSAGE_BYTES): Message[] {
  const opening = (records: number) =>
    `${JSON.stringify({ ...head, action: 'read', resultInfo: { type: 'inline', numRecords: records } }).slice(0, -1)},"result":[`;
  const closing = ']}';
  // Only the digits of numRecords change the envelope's size.
  const envelopeBytes = Buffer.byteLength(opening(0)) - 1 + closing.length;
  const sizeOf = (records: number, entryBytes: number) =>
    envelopeBytes + String(records).length + entryBytes + (records - 1);
  const messages: Message[] = [];
  const emit = (from: number, to: number) =>
    messages.push({
      body: opening(to - from) + entries.slice(from, to).join(',') + closing,
      records: to - from,
    });
  let first = 0;
  let entryBytes = 0;
  for (let i = 0; i < entries.length; i++) {
    const bytes = Buffer.byteLength(entries[i]!);
    if (i > first && sizeOf(i - first + 1, entryBytes + bytes) > maxBytes) {
      emit(first, i);
      first = i;
      entryBytes = 0;
    }
    entryBytes += bytes;
  }
  if (first < entries.length) emit(first, entries.length);
  return messages;
}

/** A batch the receiver did not take; `summary` is Trellis's own account, safe to show callers. */
export class WebhookDeliveryFailed extends Error {
  constructor(readonly summary: string) {
    super(`webhook delivery failed: ${summary}`);
  }
}

type Attempt = { delivered: true } | { delivered: false; retry: boolean; summary: string; waitMs?: number };

/** Seconds or an HTTP date, as `Retry-After` may say; undefined when absent or unreadable. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * Delivers synced records to a webhook as Ampersand's scheduled reads do: each batch in signed
 * messages of at most 300 KB, one after another so the receiver gets records in read order. A
 * message is retried with backoff and jitter on 5xx, 408, 429 and connection failures for a bounded
 * time; then the batch fails, and with it the run, which resumes from its last checkpoint: every
 * record is delivered at least once, and a receiver deduplicates by `webhook-id` within a batch's
 * retries and by record id across runs.
 */
export class WebhookWriter implements DestinationWriter {
  readonly #timing: DeliveryTiming;

  constructor(
    private readonly env: { outbound: OutboundPolicy; log: Logger },
    private readonly receiver: WebhookReceiver,
    timing: Partial<DeliveryTiming> = {},
  ) {
    this.#timing = { ...DEFAULT_TIMING, ...timing };
  }

  /**
   * Checks the URL against the outbound policy without sending anything (a receiver may act on any
   * request), so a refused address fails the run before the provider is read. A name that does not
   * resolve now is left to the delivery's retries.
   */
  async prepare(_target: TableRef): Promise<void> {
    const host = new URL(this.receiver.url).hostname;
    const refusal = await this.env.outbound.refusal('destination', host);
    if (refusal) throw new OutboundDenied(host, refusal);
  }

  async write(_target: TableRef, owner: RowOwner, records: WriteRecord[], _emittedAt: Date): Promise<void> {
    if (records.length === 0) return;
    const head: MessageHead = {
      projectId: owner.projectId,
      provider: owner.providerName,
      groupRef: owner.customerRef,
      groupName: owner.customerName,
      installationId: owner.installationId,
      objectName: owner.objectName,
    };
    const entries = records.map(resultEntry);
    let sent = 0;
    for (const message of packMessages(head, entries)) {
      // Only an entry too large for any message makes one this large, alone: Ampersand then sends
      // the result by URL, and so does Trellis.
      const body =
        Buffer.byteLength(message.body) <= MAX_MESSAGE_BYTES
          ? message.body
          : JSON.stringify({
              ...head,
              action: 'read',
              resultInfo: {
                type: 'url',
                downloadUrl: await this.receiver.hold(`[${entries[sent]}]`),
                numRecords: message.records,
              },
            });
      await this.#deliver(body);
      sent += message.records;
    }
  }

  /**
   * Sends nothing. What the receiver keeps is not Trellis's to see, so there is no "unseen" to
   * compute, and Ampersand's read messages carry no deletions of their own: a record the provider
   * reports deleted arrives like any other, its provider flag in `raw` (HubSpot's `archived`).
   */
  async markUnseenDeleted(_target: TableRef, _owner: RowOwner, _runStartedAt: Date): Promise<number> {
    return 0;
  }

  /** It keeps no records. */
  async holdsRecords(_target: TableRef, _owner: RowOwner): Promise<boolean> {
    return false;
  }

  /** Sends one message until the receiver takes it or the retry time is spent. */
  async #deliver(body: string): Promise<void> {
    // One id for every attempt of a message: receivers deduplicate retries by it.
    const messageId = `msg_${randomUUID()}`;
    const { retryForMs, firstDelayMs, maxDelayMs } = this.#timing;
    const giveUpAt = Date.now() + retryForMs;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#attempt(messageId, body).catch((err: unknown) => {
        webhookDeliveries.inc({ kind: 'records', outcome: 'failed' });
        throw err;
      });
      webhookDeliveries.inc({ kind: 'records', outcome: outcome.delivered ? 'delivered' : 'failed' });
      if (outcome.delivered) return;
      if (!outcome.retry) throw new WebhookDeliveryFailed(outcome.summary);
      const backoff = Math.min(maxDelayMs, firstDelayMs * 2 ** (attempt - 1));
      // Half fixed, half random: retries of many runs failing together spread out.
      const waitMs = Math.max(backoff / 2 + Math.random() * (backoff / 2), outcome.waitMs ?? 0);
      if (Date.now() + waitMs > giveUpAt) {
        throw new WebhookDeliveryFailed(`${outcome.summary} (${attempt} attempts)`);
      }
      this.env.log.warn(
        { messageId, attempt, error: outcome.summary, waitMs },
        'webhook message not taken; retrying',
      );
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }

  async #attempt(messageId: string, body: string): Promise<Attempt> {
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const res = await this.env.outbound.request('destination', this.receiver.url, {
        method: 'POST',
        headers: {
          ...this.receiver.headers,
          'content-type': 'application/json',
          'user-agent': 'Trellis-Webhooks/1',
          'webhook-id': messageId,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': this.receiver.sign(messageId, timestamp, body),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timing.attemptTimeoutMs),
      });
      // Only the status counts: the answer is never read, so a receiver cannot make Trellis download.
      discard(res);
      if (res.status >= 200 && res.status < 300) return { delivered: true };
      const retry = res.status >= 500 || res.status === 408 || res.status === 429;
      const waitMs = retryAfterMs(res.headers.get('retry-after'));
      return {
        delivered: false,
        retry,
        summary: `the webhook answered HTTP ${res.status}`,
        ...(waitMs === undefined ? {} : { waitMs }),
      };
    } catch (err) {
      // The policy will not change its mind within a run: refused at once, in its own words.
      if (err instanceof OutboundDenied) throw err;
      this.env.log.debug({ err, messageId }, 'webhook connection failed');
      const timedOut = (err as Error).name === 'TimeoutError';
      return {
        delivered: false,
        retry: true,
        summary: timedOut ? 'the webhook did not answer in time' : 'could not connect to the webhook',
      };
    }
  }
}
