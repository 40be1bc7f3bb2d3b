import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/**
 * What this process counts for Prometheus (served at /metrics; docs/decisions/0020-operations.md).
 * Counters live in the process that did the work; what the database knows for every process (queue
 * depth, schedule lag, runs in flight) is read when /metrics is scraped.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

/** Provider requests sent (retries included), by provider and class of answer (`2xx` … `5xx`, `none`). */
export const providerRequests = new Counter({
  name: 'trellis_provider_requests_total',
  help: 'Requests sent to providers, retries included, by provider and HTTP status class (none: no answer)',
  labelNames: ['provider', 'status_class'] as const,
  registers: [registry],
});

export const providerRequestSeconds = new Histogram({
  name: 'trellis_provider_request_duration_seconds',
  help: 'Time from sending a provider request to reading its whole answer, by provider',
  labelNames: ['provider'] as const,
  buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
  registers: [registry],
});

/** Answers the provider's own policy calls a rate limit: 429s, and e.g. Salesforce's 403 REQUEST_LIMIT_EXCEEDED. */
export const providerRateLimited = new Counter({
  name: 'trellis_provider_rate_limited_total',
  help: 'Provider answers that said a rate limit was reached, by provider',
  labelNames: ['provider'] as const,
  registers: [registry],
});

export type RefreshOutcome = 'refreshed' | 'adopted' | 'revoked' | 'error';
export const tokenRefreshes = new Counter({
  name: 'trellis_token_refreshes_total',
  help: 'OAuth token renewals by outcome: refreshed, adopted (another process had refreshed), revoked (the provider refused the refresh token), error',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/**
 * Delivery attempts to webhooks: `event` for notifications to a project's endpoints, `records` for
 * the messages of synced records a webhook destination receives.
 */
export const webhookDeliveries = new Counter({
  name: 'trellis_webhook_deliveries_total',
  help: 'Delivery attempts to webhooks, by kind (event: notifications; records: synced records sent to a webhook destination) and outcome (delivered, failed)',
  labelNames: ['kind', 'outcome'] as const,
  registers: [registry],
});

export const syncRunsEnded = new Counter({
  name: 'trellis_sync_runs_total',
  help: 'Sync runs that ended, by status (succeeded, failed)',
  labelNames: ['status'] as const,
  registers: [registry],
});

export const recordsSynced = new Counter({
  name: 'trellis_records_synced_total',
  help: 'Records written by sync runs that ended',
  registers: [registry],
});
