import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import {
  type ApiKey,
  type Customer,
  call,
  type Overview,
  type Run,
  type Session,
  type Sync,
  type WebhookEndpoint,
} from './api.ts';

/** How often a page that shows something moving reads it again. */
const REFRESH_MS = 2000;

/** Loads `path` now and every `everyMs` (when given); `reload` reads it again at once. */
function useApi<T>(path: string, everyMs?: number) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const reload = useCallback(() => {
    call<T>('GET', path).then(
      (d) => {
        setData(d);
        setError(undefined);
      },
      (e: Error) => setError(e.message),
    );
  }, [path]);
  useEffect(() => {
    reload();
    if (!everyMs) return;
    const timer = setInterval(reload, everyMs);
    return () => clearInterval(timer);
  }, [reload, everyMs]);
  return { data, error, reload };
}

const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '—');
const number = (n: number | null | undefined) => (n === null || n === undefined ? '—' : n.toLocaleString());

function Loading({ error }: { error?: string | undefined }) {
  return error ? (
    <p class="error" role="alert">
      {error}
    </p>
  ) : (
    <p class="muted">Loading…</p>
  );
}

function Badge({ value }: { value: string }) {
  return <span class={`badge badge-${value.replace(/[^a-z_]/g, '')}`}>{value.replace('_', ' ')}</span>;
}

function Counts({ title, counts }: { title: string; counts: Record<string, number> }) {
  const entries = Object.entries(counts);
  return (
    <section class="card" data-testid={`counts-${title.toLowerCase()}`}>
      <h2>{title}</h2>
      {entries.length === 0 ? (
        <p class="muted">None yet</p>
      ) : (
        <dl class="counts">
          {entries.map(([k, n]) => (
            <div key={k}>
              <dt>
                <Badge value={k} />
              </dt>
              <dd>{number(n)}</dd>
            </div>
          ))}
        </dl>
      )}
    </section>
  );
}

/** Records written per hour (bars) and failed runs (red marks), the last 24 hours. */
function RunsChart({ hours }: { hours: Overview['runsByHour'] }) {
  const width = 720;
  const height = 160;
  const slot = width / hours.length;
  const most = Math.max(1, ...hours.map((h) => h.records));
  return (
    <svg
      viewBox={`0 0 ${width} ${height + 20}`}
      class="chart"
      role="img"
      aria-label="Runs of the last 24 hours"
    >
      {hours.map((h, i) => {
        const barHeight = (h.records / most) * height;
        return (
          <g key={h.hour}>
            <title>{`${new Date(h.hour).getHours()}:00 — ${h.records} records, ${h.succeeded} runs succeeded, ${h.failed} failed`}</title>
            <rect class="bar" x={i * slot + 2} y={height - barHeight} width={slot - 4} height={barHeight} />
            {h.failed > 0 && (
              <rect class="failed" x={i * slot + 2} y={height + 4} width={slot - 4} height={8} />
            )}
          </g>
        );
      })}
    </svg>
  );
}

export function OverviewPage() {
  const { data, error } = useApi<Overview>('/overview', REFRESH_MS * 2);
  if (!data) return <Loading error={error} />;
  const recent = data.runsByHour.reduce(
    (sum, h) => ({
      records: sum.records + h.records,
      failed: sum.failed + h.failed,
      ok: sum.ok + h.succeeded,
    }),
    { records: 0, failed: 0, ok: 0 },
  );
  return (
    <>
      <h1>Overview</h1>
      <div class="grid">
        <Counts title="Connections" counts={data.connectionsByStatus} />
        <Counts title="Syncs" counts={data.syncsByState} />
        <section class="card">
          <h2>Webhooks, last 24 h</h2>
          <dl class="counts">
            <div>
              <dt>endpoints</dt>
              <dd>{data.webhooks.endpoints}</dd>
            </div>
            <div>
              <dt>delivered</dt>
              <dd>{number(data.webhooks.delivered24h)}</dd>
            </div>
            <div>
              <dt>failed</dt>
              <dd>{number(data.webhooks.failed24h)}</dd>
            </div>
          </dl>
        </section>
      </div>
      <section class="card">
        <h2>Runs, last 24 h</h2>
        <p class="muted" data-testid="runs-summary">
          {number(recent.records)} records · {recent.ok} runs succeeded · {recent.failed} failed
        </p>
        <RunsChart hours={data.runsByHour} />
      </section>
    </>
  );
}

export function CustomersPage() {
  const { data, error } = useApi<Customer[]>('/customers');
  const [links, setLinks] = useState<Record<string, string>>({});
  if (!data) return <Loading error={error} />;
  const makeLink = async (customer: string, provider: string) => {
    const { url } = await call<{ url: string }>(
      'POST',
      `/customers/${encodeURIComponent(customer)}/magic-links`,
      {
        providerName: provider,
      },
    );
    setLinks((l) => ({ ...l, [`${customer}/${provider}`]: url }));
    await navigator.clipboard?.writeText(url).catch(() => undefined);
  };
  return (
    <>
      <h1>Customers</h1>
      {data.length === 0 && <p class="muted">No customers yet.</p>}
      {data.map((c) => (
        <section class="card" key={c.ref} data-testid={`customer-${c.ref}`}>
          <h2>
            {c.name} <span class="muted">{c.ref}</span>
          </h2>
          <table>
            <thead>
              <tr>
                <th>Provider</th>
                <th>Status</th>
                <th>Auth</th>
                <th>Last refresh</th>
                <th>Token expires</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {c.connections.map((conn) => {
                const link = links[`${c.ref}/${conn.providerName}`];
                return (
                  <tr key={conn.id}>
                    <td>{conn.providerName}</td>
                    <td>
                      <Badge value={conn.status} />
                    </td>
                    <td>{conn.authType}</td>
                    <td>{when(conn.updatedAt)}</td>
                    <td>{when(conn.tokenExpiresAt)}</td>
                    <td>
                      {link ? (
                        <input class="link" readOnly value={link} aria-label="Re-authorization link" />
                      ) : (
                        <button type="button" onClick={() => makeLink(c.ref, conn.providerName)}>
                          Re-authorization link
                        </button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </section>
      ))}
    </>
  );
}

function ProgressBar({ progress }: { progress: NonNullable<Sync['progress']> }) {
  const { records, expectedRecords } = progress;
  return (
    <div class="progress" data-testid="progress">
      {expectedRecords ? (
        <progress value={Math.min(records, expectedRecords)} max={expectedRecords} />
      ) : (
        <progress />
      )}
      <span>
        <span data-testid="progress-records">{number(records)}</span> records
        {expectedRecords ? ` of ~${number(expectedRecords)}` : ''} · {progress.recordsPerSecond.toFixed(0)}/s
        · <span data-testid="progress-pages">{number(progress.pages)}</span> pages ·{' '}
        {progress.elapsedSeconds.toFixed(0)} s
      </span>
    </div>
  );
}

export function SyncsPage() {
  const { data, error, reload } = useApi<Sync[]>('/syncs', REFRESH_MS);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  if (!data) return <Loading error={error} />;
  const act = (sync: Sync, action: string, body?: unknown) =>
    call('POST', `/syncs/${sync.id}/${action}`, body).then(
      () => {
        setProblem(undefined);
        reload();
      },
      (e: Error) => setProblem(e.message),
    );
  return (
    <>
      <h1>Syncs</h1>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      <table>
        <thead>
          <tr>
            <th>Customer</th>
            <th>Provider</th>
            <th>Object</th>
            <th>State</th>
            <th>Last run</th>
            <th>Next run</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {data.map((s) => (
            <tr key={s.id} data-testid={`sync-${s.customerRef}-${s.providerName}-${s.object}`}>
              <td>{s.customerRef}</td>
              <td>{s.providerName}</td>
              <td>
                {s.object} <span class="muted">{s.kind}</span>
              </td>
              <td>
                <Badge value={s.running ? 'running' : s.paused ? 'paused' : 'idle'} />
                {s.progress && <ProgressBar progress={s.progress} />}
              </td>
              <td>
                {s.lastRun ? (
                  <a href={`#/runs/${s.lastRun.id}`}>
                    <Badge value={s.lastRun.status} />{' '}
                    {s.lastRun.records === null ? '' : `${number(s.lastRun.records)} records`}
                  </a>
                ) : (
                  <span class="muted">never</span>
                )}
              </td>
              <td>{s.paused ? <span class="muted">paused</span> : when(s.nextRunAt)}</td>
              <td class="actions">
                {s.paused ? (
                  <button type="button" onClick={() => act(s, 'resume')}>
                    Resume
                  </button>
                ) : (
                  <>
                    <button type="button" onClick={() => act(s, 'pause')}>
                      Pause
                    </button>
                    <button type="button" onClick={() => act(s, 'trigger', { fullRefresh: false })}>
                      Run now
                    </button>
                    <button type="button" onClick={() => act(s, 'trigger', { fullRefresh: true })}>
                      Full refresh
                    </button>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

export function RunsPage() {
  const { data, error } = useApi<Run[]>('/runs', REFRESH_MS);
  if (!data) return <Loading error={error} />;
  return (
    <>
      <h1>Runs</h1>
      <table>
        <thead>
          <tr>
            <th>Started</th>
            <th>Customer</th>
            <th>Object</th>
            <th>Status</th>
            <th>Records</th>
          </tr>
        </thead>
        <tbody>
          {data.map((r) => (
            <tr key={r.id}>
              <td>
                <a href={`#/runs/${r.id}`}>{when(r.startedAt)}</a>
              </td>
              <td>{r.customerRef}</td>
              <td>
                {r.providerName} {r.object}
              </td>
              <td>
                <Badge value={r.status} />
              </td>
              <td>{number(r.records ?? r.progress?.records)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

export function RunPage({ id }: { id: string }) {
  const { data, error } = useApi<Run>(`/runs/${encodeURIComponent(id)}`, REFRESH_MS);
  if (!data) return <Loading error={error} />;
  const ended = data.endedAt ? Date.parse(data.endedAt) : Date.now();
  const seconds = (ended - Date.parse(data.startedAt)) / 1000;
  return (
    <>
      <h1>
        Run of {data.providerName} {data.object} for {data.customerRef}
      </h1>
      <section class="card" data-testid="run-detail">
        <dl class="facts">
          <dt>Status</dt>
          <dd>
            <Badge value={data.status} />
          </dd>
          <dt>Records</dt>
          <dd data-testid="run-records">{number(data.records ?? data.progress?.records)}</dd>
          <dt>Started</dt>
          <dd>{when(data.startedAt)}</dd>
          <dt>Duration</dt>
          <dd>{seconds.toFixed(1)} s</dd>
          {data.error && (
            <>
              <dt>Error</dt>
              <dd class="error">{data.error}</dd>
            </>
          )}
        </dl>
        {data.progress && <ProgressBar progress={{ ...data.progress, runId: data.id }} />}
      </section>
      <section class="card">
        <h2>Log</h2>
        <ol class="log">
          {data.log?.map((line) => (
            <li key={`${line.at}${line.message}`} class={line.level}>
              <time>{when(line.at)}</time> {line.message}
            </li>
          ))}
        </ol>
      </section>
    </>
  );
}

export function WebhooksPage() {
  const { data, error, reload } = useApi<WebhookEndpoint[]>('/webhooks', REFRESH_MS * 2);
  if (!data) return <Loading error={error} />;
  const resend = (endpoint: string, event: string) =>
    call('POST', `/webhooks/${endpoint}/events/${event}/resend`).then(reload);
  return (
    <>
      <h1>Webhooks</h1>
      {data.length === 0 && <p class="muted">No endpoints yet.</p>}
      {data.map((w) => (
        <section class="card" key={w.id}>
          <h2>{w.url}</h2>
          <p class="muted">{w.eventTypes.join(', ')}</p>
          <table>
            <thead>
              <tr>
                <th>When</th>
                <th>Event</th>
                <th>Attempt</th>
                <th>Outcome</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {w.deliveries.map((d) => (
                <tr key={d.id}>
                  <td>{when(d.createdAt)}</td>
                  <td>{d.eventType}</td>
                  <td>{d.attempt}</td>
                  <td>
                    <Badge value={d.succeeded ? 'delivered' : 'failed'} /> {d.responseStatus ?? ''}{' '}
                    {d.error ?? ''}
                  </td>
                  <td>
                    <button type="button" onClick={() => resend(w.id, d.eventId)}>
                      Re-send
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ))}
    </>
  );
}

/** A page that lists rows of one kind as a table of the given columns. */
function ListPage<T extends { id: string }>({
  title,
  path,
  columns,
}: {
  title: string;
  path: string;
  columns: [string, (row: T) => ComponentChildren][];
}) {
  const { data, error } = useApi<T[]>(path);
  if (!data) return <Loading error={error} />;
  return (
    <>
      <h1>{title}</h1>
      <table>
        <thead>
          <tr>
            {columns.map(([name]) => (
              <th key={name}>{name}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {data.map((row) => (
            <tr key={row.id}>
              {columns.map(([name, cell]) => (
                <td key={name}>{cell(row)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

interface ProviderApp {
  id: string;
  providerName: string;
  authType: string;
  clientId: string | null;
  hasClientSecret: boolean;
  scopes: string[];
}
export const ProviderAppsPage = () => (
  <ListPage<ProviderApp>
    title="Provider apps"
    path="/provider-apps"
    columns={[
      ['Provider', (a) => a.providerName],
      ['Auth', (a) => a.authType],
      ['Client id', (a) => a.clientId ?? '—'],
      ['Client secret', (a) => (a.hasClientSecret ? 'stored, sealed' : 'none')],
      ['Scopes', (a) => a.scopes.join(' ')],
    ]}
  />
);

interface Destination {
  id: string;
  name: string;
  type: string;
  config: Record<string, unknown>;
}
export const DestinationsPage = () => (
  <ListPage<Destination>
    title="Destinations"
    path="/destinations"
    columns={[
      ['Name', (d) => d.name],
      ['Type', (d) => (d.type === 'supaglue' ? 'built-in' : d.type)],
      [
        'Where',
        (d) =>
          ['host', 'port', 'database', 'schema', 'user', 'url']
            .filter((k) => d.config[k] !== undefined)
            .map((k) => `${k}: ${String(d.config[k])}`)
            .join(' · ') || '—',
      ],
    ]}
  />
);

interface Integration {
  id: string;
  name: string;
  providerName: string;
  revision: number;
  installs: string;
  destinationName: string | null;
  objects: string[];
}
export const IntegrationsPage = () => (
  <ListPage<Integration>
    title="Integrations"
    path="/integrations"
    columns={[
      ['Name', (i) => i.name],
      ['Provider', (i) => i.providerName],
      ['Revision', (i) => i.revision],
      ['Installs', (i) => i.installs],
      ['Destination', (i) => i.destinationName ?? '—'],
      ['Objects', (i) => i.objects.join(', ')],
    ]}
  />
);

export function ApiKeysPage({ session, signedOut }: { session: Session; signedOut: () => void }) {
  const { data, error, reload } = useApi<ApiKey[]>('/api-keys');
  const [made, setMade] = useState<string | undefined>(undefined);
  const [name, setName] = useState('');
  if (!data) return <Loading error={error} />;
  const create = async (e: Event) => {
    e.preventDefault();
    const key = await call<{ apiKey: string }>('POST', '/api-keys', { name: name || 'console' });
    setMade(key.apiKey);
    setName('');
    reload();
  };
  const revoke = async (id: string) => {
    await call('DELETE', `/api-keys/${id}`);
    if (id === session.apiKeyId) signedOut();
    else reload();
  };
  return (
    <>
      <h1>API keys</h1>
      <form class="inline" onSubmit={create}>
        <input
          placeholder="Name of the new key"
          value={name}
          maxLength={100}
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
        />
        <button type="submit">Create key</button>
      </form>
      {made && (
        <p class="notice" data-testid="new-key">
          New key (shown once, store it now): <code>{made}</code>
        </p>
      )}
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th>Key</th>
            <th>Created</th>
            <th>Last used</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {data.map((k) => (
            <tr key={k.id} data-testid={`key-${k.name}`}>
              <td>
                {k.name} {k.id === session.apiKeyId && <span class="muted">(this session)</span>}
              </td>
              <td>
                <code>{k.hint}</code>
              </td>
              <td>{when(k.createdAt)}</td>
              <td>{when(k.lastUsedAt)}</td>
              <td>
                {k.revokedAt ? (
                  <span class="muted">revoked {when(k.revokedAt)}</span>
                ) : (
                  <button type="button" onClick={() => revoke(k.id)}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
