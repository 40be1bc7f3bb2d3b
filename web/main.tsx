import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, type Session, setSession } from './api.ts';
import {
  ApiKeysPage,
  CustomersPage,
  DestinationsPage,
  IntegrationsPage,
  OverviewPage,
  ProviderAppsPage,
  RunPage,
  RunsPage,
  SyncsPage,
  WebhooksPage,
} from './pages.tsx';

/** The console's pages, by the hash of the address (`#/syncs`), in the order of the menu. */
const MENU: [string, string][] = [
  ['#/', 'Overview'],
  ['#/customers', 'Customers'],
  ['#/syncs', 'Syncs'],
  ['#/runs', 'Runs'],
  ['#/webhooks', 'Webhooks'],
  ['#/provider-apps', 'Provider apps'],
  ['#/destinations', 'Destinations'],
  ['#/integrations', 'Integrations'],
  ['#/api-keys', 'API keys'],
];

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/');
  useEffect(() => {
    const changed = () => setHash(location.hash || '#/');
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return hash;
}

function SignIn({ signedIn }: { signedIn: (s: Session) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      signedIn(await call<Session>('POST', '/session', { apiKey: key }));
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401 ? 'That API key is not valid.' : (err as Error).message,
      );
    }
  };
  return (
    <main class="sign-in">
      <h1>Trellis console</h1>
      <form onSubmit={submit}>
        <label for="api-key">Project API key</label>
        <input
          id="api-key"
          type="password"
          autoComplete="off"
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          required
        />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit">Sign in</button>
      </form>
      <p class="muted">The key `npm start` printed, or one made with `npx trellis keys create`.</p>
    </main>
  );
}

function Page({ hash, session, signedOut }: { hash: string; session: Session; signedOut: () => void }) {
  const run = /^#\/runs\/([^/]+)$/.exec(hash);
  if (run) return <RunPage id={decodeURIComponent(run[1]!)} />;
  switch (hash) {
    case '#/customers':
      return <CustomersPage />;
    case '#/syncs':
      return <SyncsPage />;
    case '#/runs':
      return <RunsPage />;
    case '#/webhooks':
      return <WebhooksPage />;
    case '#/provider-apps':
      return <ProviderAppsPage />;
    case '#/destinations':
      return <DestinationsPage />;
    case '#/integrations':
      return <IntegrationsPage />;
    case '#/api-keys':
      return <ApiKeysPage session={session} signedOut={signedOut} />;
    default:
      return <OverviewPage />;
  }
}

/** Keeps a session's CSRF token for the calls to come, and shows its pages. */
function begin(s: Session, setCurrent: (s: Session | null) => void): void {
  setSession(s.csrfToken, () => setCurrent(null));
  setCurrent(s);
}

function App() {
  const [session, setCurrent] = useState<Session | null | undefined>(undefined);
  const hash = useHash();
  const signedOut = () => setCurrent(null);
  useEffect(() => {
    call<Session>('GET', '/session').then(
      (s) => begin(s, setCurrent),
      () => setCurrent(null),
    );
  }, []);
  if (session === undefined) return <p class="muted">Loading…</p>;
  if (session === null) return <SignIn signedIn={(s) => begin(s, setCurrent)} />;
  const signOut = () => call('DELETE', '/session').finally(signedOut);
  return (
    <div class="layout">
      <nav>
        <p class="brand">Trellis</p>
        <p class="muted project">{session.project.name}</p>
        <ul>
          {MENU.map(([href, label]) => (
            <li key={href}>
              <a
                href={href}
                class={hash === href || (href !== '#/' && hash.startsWith(href)) ? 'current' : ''}
              >
                {label}
              </a>
            </li>
          ))}
        </ul>
        <button type="button" class="secondary" onClick={signOut}>
          Sign out
        </button>
      </nav>
      <main>
        <Page hash={hash} session={session} signedOut={signedOut} />
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
