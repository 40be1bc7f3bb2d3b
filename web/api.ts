/** The console's JSON API (/console/api): the session's CSRF token goes with every change. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken = '';
let onSignedOut: () => void = () => {};

export function setSession(token: string, signedOut: () => void): void {
  csrfToken = token;
  onSignedOut = signedOut;
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`/console/api${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (res.status === 204) return undefined as T;
  const answer = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
  if (!res.ok) {
    if (res.status === 401 && path !== '/session') onSignedOut();
    throw new ApiError(res.status, answer.error?.message ?? `the server answered ${res.status}`);
  }
  return answer as T;
}

export interface Session {
  project: { id: string; name: string };
  apiKeyId: string;
  csrfToken: string;
}

export interface Progress {
  records: number;
  pages: number;
  recordsPerSecond: number;
  elapsedSeconds: number;
  reportedAt: string;
  expectedRecords: number | null;
}

export interface LastRun {
  id: string;
  status: string;
  startedAt: string;
  endedAt: string | null;
  records: number | null;
  error: string | null;
}

export interface Sync {
  id: string;
  customerRef: string;
  providerName: string;
  kind: string;
  object: string;
  paused: boolean;
  pauseReason: string | null;
  nextRunAt: string | null;
  running: boolean;
  lastRun: LastRun | null;
  progress: (Progress & { runId: string }) | null;
}

export interface Run {
  id: string;
  syncId: string;
  customerRef: string;
  providerName: string;
  kind: string;
  object: string;
  status: string;
  startedAt: string;
  endedAt: string | null;
  records: number | null;
  error: string | null;
  progress: Progress | null;
  log?: { at: string; level: string; message: string }[];
}

export interface Overview {
  connectionsByStatus: Record<string, number>;
  syncsByState: Record<string, number>;
  runsByHour: { hour: string; records: number; succeeded: number; failed: number }[];
  webhooks: { endpoints: number; delivered24h: number; failed24h: number };
}

export interface Customer {
  ref: string;
  name: string;
  email: string;
  connections: {
    id: string;
    providerName: string;
    status: string;
    authType: string;
    updatedAt: string;
    tokenExpiresAt: string | null;
  }[];
}

export interface WebhookEndpoint {
  id: string;
  url: string;
  eventTypes: string[];
  enabled: boolean;
  deliveries: {
    id: string;
    eventId: string;
    eventType: string;
    attempt: number;
    succeeded: boolean;
    responseStatus: number | null;
    error: string | null;
    durationMs: number;
    createdAt: string;
  }[];
}

export interface ApiKey {
  id: string;
  name: string;
  hint: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}
