import type { Vault } from '../auth/vault.ts';
import type { Config } from '../config.ts';
import type { Db } from '../db/pool.ts';
import type { Queue } from '../db/queue.ts';
import type { Logger } from '../logger.ts';
import type { OutboundPolicy } from '../net/outbound.ts';
import type { WebhookFormat } from './domain-events.ts';

/** What every core service needs; built once per process by src/runtime.ts. */
export interface CoreDeps {
  config: Config;
  db: Db;
  vault: Vault;
  queue: Queue;
  log: Logger;
  /** Every outbound connection (providers, webhooks, destinations, proxy) goes through it. */
  outbound: OutboundPolicy;
  /** How events are rendered for the project's webhook endpoints. */
  webhookFormat: WebhookFormat;
}
