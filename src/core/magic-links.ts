import { isProviderName, type ProviderName } from '../connectors/catalog.ts';
import { transaction } from '../db/pool.ts';
import { findCustomer } from './customers.ts';
import type { CoreDeps } from './deps.ts';
import { badRequest, notFound } from './errors.ts';
import { isUuid } from './ids.ts';
import { providerAppForConnection } from './provider-apps.ts';

/** A link the project sends its customer to connect one provider on Trellis's hosted page. */
export interface MagicLink {
  id: string;
  projectId: string;
  customerRef: string;
  providerAppId: string;
  providerName: ProviderName;
  returnUrl: string;
  expiresAt: Date;
  status: 'new' | 'consumed';
}

const MAX_EXPIRATION_SECS = 30 * 24 * 3600;

const select = `select m.id, m.project_id as "projectId", cu.external_id as "customerRef",
    m.provider_app_id as "providerAppId", p.provider_name as "providerName", m.return_url as "returnUrl",
    m.expires_at as "expiresAt", m.status
  from magic_links m join customers cu on cu.id = m.customer_id join provider_apps p on p.id = m.provider_app_id`;

export function magicLinkUrl(deps: CoreDeps, id: string): string {
  return `${deps.config.publicUrl}/links/${id}`;
}

export async function listMagicLinks(deps: CoreDeps, projectId: string): Promise<MagicLink[]> {
  const { rows } = await deps.db.query<MagicLink>(
    `${select} where m.project_id = $1 order by m.created_at, m.id`,
    [projectId],
  );
  return rows;
}

export async function createMagicLink(
  deps: CoreDeps,
  projectId: string,
  input: { customerRef: string; providerName: string; returnUrl: string; expirationSecs: number },
): Promise<MagicLink> {
  if (!isProviderName(input.providerName)) throw badRequest(`unknown provider "${input.providerName}"`);
  const providerName = input.providerName;
  if (!(input.expirationSecs > 0 && input.expirationSecs <= MAX_EXPIRATION_SECS)) {
    throw badRequest(`expiration_secs must be between 1 and ${MAX_EXPIRATION_SECS}`);
  }
  let returnUrl: URL;
  try {
    returnUrl = new URL(input.returnUrl);
  } catch {
    throw badRequest('return_url must be an absolute URL');
  }
  if (returnUrl.protocol !== 'https:' && returnUrl.protocol !== 'http:') {
    throw badRequest('return_url must be an http(s) URL');
  }
  const customer = await findCustomer(deps, projectId, input.customerRef);
  return transaction(deps.db, async (client) => {
    const app = await providerAppForConnection(deps, client, projectId, providerName);
    const { rows } = await client.query<{ id: string }>(
      `insert into magic_links (project_id, customer_id, provider_app_id, return_url, expires_at)
       values ($1, $2, $3, $4, now() + make_interval(secs => $5)) returning id`,
      [projectId, customer.id, app.id, input.returnUrl, input.expirationSecs],
    );
    const { rows: links } = await client.query<MagicLink>(`${select} where m.id = $1`, [rows[0]!.id]);
    return links[0]!;
  });
}

export async function deleteMagicLink(deps: CoreDeps, projectId: string, id: string): Promise<void> {
  if (!isUuid(id)) throw notFound('magic link');
  const { rowCount } = await deps.db.query('delete from magic_links where project_id = $1 and id = $2', [
    projectId,
    id,
  ]);
  if (!rowCount) throw notFound('magic link');
}
