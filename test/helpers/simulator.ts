import { expect } from 'vitest';
import { simControl } from '../../bench/lib.ts';

/** `GET /__sim/<path>` on a simulator, or `POST` with `body` as JSON; resolves with the JSON answer. */
export { simControl };

/** A line of `GET /__sim/records/<object>`: a record in the provider's shape, and its state. */
interface SimRecord<R = any> {
  id: string;
  deleted: boolean;
  updated_at: string;
  record: R;
}

/** Every current record of `object` in the simulator. */
export async function simRecords<R = any>(simUrl: string, object: string): Promise<SimRecord<R>[]> {
  const text = await (await fetch(`${simUrl}/__sim/records/${object}`)).text();
  return text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as SimRecord<R>);
}

/** A provider body for the Management API with the simulators' OAuth client. */
export function simOAuthProvider(name: string, scopes: string[] = []) {
  return {
    auth_type: 'oauth2',
    category: 'crm',
    name,
    config: {
      provider_app_id: '',
      oauth: {
        oauth_scopes: scopes,
        credentials: { oauth_client_id: 'sim-client-id', oauth_client_secret: 'sim-client-secret' },
      },
    },
  };
}

/** Submits the simulator's consent form (by default: allow, as `sim-client-id`); returns the redirect. */
export async function simConsent(simUrl: string, form: Record<string, string>): Promise<URL> {
  const res = await fetch(`${simUrl}/__sim/consent`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: 'sim-client-id', decision: 'allow', ...form }),
  });
  return new URL(res.headers.get('location')!);
}

/** Opens `authorizeUrl`, checks that it shows the simulator's consent page, and submits it with `form`. */
export async function consentThroughPage(simUrl: string, authorizeUrl: string, form: Record<string, string>) {
  const page = await fetch(authorizeUrl);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('id="allow"');
  return simConsent(simUrl, form);
}

/** Refreshes through `token` without, then with rotation (old token then refused); returns the new tokens. */
export async function expectRefreshRotation(
  simUrl: string,
  token: (params: Record<string, string>) => Promise<Response>,
  refreshToken: string,
) {
  const refresh = () => token({ grant_type: 'refresh_token', refresh_token: refreshToken });
  const same: any = await (await refresh()).json();
  expect(same.refresh_token).toBe(refreshToken);
  await simControl(simUrl, 'faults', { rotate_refresh_tokens: true });
  const rotated: any = await (await refresh()).json();
  expect(rotated.refresh_token).not.toBe(refreshToken);
  expect((await refresh()).status).toBe(400);
  await simControl(simUrl, 'faults', { rotate_refresh_tokens: false });
  return rotated;
}

/** Requests a simulator has served per API route (its /__sim control routes left out). */
export async function simServed(simUrl: string): Promise<Record<string, number>> {
  const { requests } = (await simControl(simUrl, 'stats')) as { requests: Record<string, number> };
  return Object.fromEntries(Object.entries(requests).filter(([route]) => !route.includes(' /__sim/')));
}

/** The API requests a simulator served since `before` (a `simServed` answer), per route. */
export async function simServedSince(simUrl: string, before: Record<string, number>) {
  return Object.fromEntries(
    Object.entries(await simServed(simUrl))
      .map(([route, n]) => [route, n - (before[route] ?? 0)] as const)
      .filter(([, n]) => n > 0),
  );
}

/** The fields of a provider's authorize URL that its consent form carries back. */
export function consentFields(authorize: URL): Record<string, string> {
  const form: Record<string, string> = {};
  for (const k of [
    'client_id',
    'redirect_uri',
    'state',
    'scope',
    'code_challenge',
    'code_challenge_method',
  ]) {
    const v = authorize.searchParams.get(k);
    if (v !== null) form[k] = v;
  }
  return form;
}
