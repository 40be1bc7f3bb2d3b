import { discard, type OutboundPolicy, readCapped } from '../net/outbound.ts';
import { type CatalogEntry, providerHostOrigin, providerUrl } from './catalog.ts';

/** A token-info answer is a small JSON document; anything larger is not one. */
const MAX_ACCOUNT_INFO_BYTES = 1024 * 1024;

/**
 * The instance URL of a newly authorized account, as the provider's catalog entry says to find
 * it: the account's own API host from the token response (checked to be the provider's own), or
 * a URL built from the account named by the token response or, failing that, by the provider's
 * token-info endpoint. Empty when the provider has neither. Throws when the token response names
 * a host that is not the provider's.
 */
export async function discoverInstanceUrl(
  provider: CatalogEntry,
  tokens: Record<string, unknown>,
  opts: { outbound: OutboundPolicy; override?: string },
): Promise<string> {
  const api = provider.api;
  if (!api) return '';
  const host = api.instanceUrlField ? tokens[api.instanceUrlField] : undefined;
  if (typeof host === 'string') return providerHostOrigin(provider, host, opts.override);
  if (!api.accountField || !api.accountUrl) return '';
  let account = tokens[api.accountField];
  if (account === undefined && api.accountInfoPath) {
    const path = api.accountInfoPath.replace(
      '{access_token}',
      encodeURIComponent(String(tokens.access_token)),
    );
    const res = await opts.outbound
      .request('provider', providerUrl(api.baseUrl, { override: opts.override }) + path, {
        signal: AbortSignal.timeout(15_000),
      })
      .catch(() => undefined);
    if (res && !res.ok) discard(res);
    const info = res?.ok
      ? (JSON.parse(await readCapped(res, MAX_ACCOUNT_INFO_BYTES).catch(() => '{}')) as Record<
          string,
          unknown
        >)
      : {};
    account = info[api.accountField];
  }
  return account === undefined ? '' : api.accountUrl.replace('{account}', String(account));
}
