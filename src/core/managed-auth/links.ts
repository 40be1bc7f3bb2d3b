import type pg from 'pg';
import type { AuthType, CatalogEntry, ProviderName } from '../../connectors/catalog.ts';
import { CATALOG } from '../../connectors/index.ts';
import type { CoreDeps } from '../deps.ts';
import { isUuid } from '../ids.ts';

/**
 * Magic links as their hosted page sees them, and how a managed-auth flow ends: back at the
 * link's return URL with an outcome, or with a failure a person can act on.
 */

export type LinkStatus = 'valid' | 'expired' | 'consumed' | 'not_found';

export interface LinkView {
  status: LinkStatus;
  linkId: string;
  projectId: string;
  customerId: string;
  customerRef: string;
  customerName: string;
  providerAppId: string;
  provider: CatalogEntry;
  authType: AuthType;
  returnUrl: string;
}

/**
 * Why a flow failed, as the `error` its return URL receives: codes Trellis defines, so that no
 * provider text (an `error_description`, say) reaches the application through the browser.
 */
export type ConnectErrorCode =
  /** The person declined on the provider's consent page. */
  | 'access_denied'
  /** The authorization took longer than its state lives. */
  | 'expired'
  /** The provider answered the authorization or the code exchange with an error, or not at all. */
  | 'provider_error'
  /** The provider granted no refresh token (no offline access). */
  | 'no_refresh_token'
  /** The provider named an account host that is not its own. */
  | 'invalid_account'
  /** The link was used or expired while the person was away. */
  | 'link_unusable'
  /** The project's provider app was removed while the person was away. */
  | 'not_configured'
  /** A popup's authorization was already opened in another window, or completed. */
  | 'already_used'
  /** The connection a re-authorization was for was deleted while the person was away. */
  | 'connection_removed';

/** Where a flow reports how it ended. */
export type FlowEnd =
  /** A magic link's: the browser goes back to the project's return URL, the outcome in its query. */
  | { returnUrl: string }
  /** A popup's: the outcome is posted to the page that opened it, at exactly this origin. */
  | { openerOrigin: string };

/** Fails with a message a person can act on; the hosted pages show it as is. */
export class ConnectFailure extends Error {
  constructor(
    message: string,
    /** Where the flow reports its end, when known, and the code it reports. */
    readonly back?: { end: FlowEnd; code: ConnectErrorCode },
  ) {
    super(message);
  }
}

export async function describeLink(
  deps: CoreDeps,
  linkId: string,
  client?: pg.ClientBase,
): Promise<LinkView | undefined> {
  if (!isUuid(linkId)) return undefined;
  const { rows } = await (client ?? deps.db).query<{
    projectId: string;
    customerId: string;
    customerRef: string;
    customerName: string;
    providerAppId: string;
    providerName: ProviderName;
    authType: AuthType;
    returnUrl: string;
    status: string;
    expired: boolean;
  }>(
    `select m.project_id as "projectId", m.customer_id as "customerId", cu.external_id as "customerRef",
            cu.name as "customerName", m.provider_app_id as "providerAppId", p.provider_name as "providerName",
            p.auth_type as "authType", m.return_url as "returnUrl", m.status, m.expires_at <= now() as expired
       from magic_links m join customers cu on cu.id = m.customer_id join provider_apps p on p.id = m.provider_app_id
      where m.id = $1`,
    [linkId],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    status: row.status === 'consumed' ? 'consumed' : row.expired ? 'expired' : 'valid',
    linkId,
    projectId: row.projectId,
    customerId: row.customerId,
    customerRef: row.customerRef,
    customerName: row.customerName,
    providerAppId: row.providerAppId,
    provider: CATALOG[row.providerName],
    authType: row.authType,
    returnUrl: row.returnUrl,
  };
}

export function usableLink(link: LinkView | undefined): LinkView {
  if (!link) throw new ConnectFailure('This link does not exist. Ask for a new one.');
  if (link.status === 'consumed')
    throw new ConnectFailure('This link was already used to connect. Ask for a new one to connect again.');
  if (link.status === 'expired') throw new ConnectFailure('This link has expired. Ask for a new one.');
  return link;
}

export function withOutcome(returnUrl: string, outcome: Record<string, string>): string {
  const url = new URL(returnUrl);
  for (const [k, v] of Object.entries(outcome)) url.searchParams.set(k, v);
  return url.toString();
}
