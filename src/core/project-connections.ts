import type { AuthType, ProviderName } from '../connectors/catalog.ts';
import { type ConnectionStatus, deleteConnection } from './connections.ts';
import type { CoreDeps } from './deps.ts';
import { notFound } from './errors.ts';
import { isUuid } from './ids.ts';

/** When a row was made and when it last changed. */
export interface Timestamps {
  createdAt: Date;
  updatedAt: Date;
}

/**
 * A connection as a project sees it across all its customers, for surfaces that name connections
 * by id: with the customer and the provider app it belongs to, and when each was made and changed.
 */
export interface ProjectConnection extends Timestamps {
  id: string;
  projectId: string;
  providerName: ProviderName;
  status: ConnectionStatus;
  authType: AuthType;
  /** The account's own host, for providers whose API lives on one (or its portal URL); '' if none. */
  instanceUrl: string;
  customer: { ref: string; name: string } & Timestamps;
  /** The end user who connected it, when the project named one. */
  consumer: { ref: string; name: string; createdAt: Date } | null;
  providerApp: {
    id: string;
    clientId: string | null;
    useManagedOauth: boolean;
    scopes: string[];
    externalRef: string | null;
  } & Timestamps;
}

export interface ProjectConnectionFilter {
  providerName?: string;
  customerRef?: string;
}

interface Row {
  id: string;
  projectId: string;
  providerName: ProviderName;
  status: ConnectionStatus;
  authType: AuthType;
  instanceUrl: string;
  createdAt: Date;
  updatedAt: Date;
  customerRef: string;
  customerName: string;
  customerCreatedAt: Date;
  customerUpdatedAt: Date;
  /** As JSON, so its time is text. */
  consumer: { ref: string; name: string; createdAt: string } | null;
  appId: string;
  appClientId: string | null;
  appUseManagedOauth: boolean;
  appScopes: string[];
  appExternalRef: string | null;
  appCreatedAt: Date;
  appUpdatedAt: Date;
}

const select = `select c.id, c.project_id as "projectId", c.provider_name as "providerName", c.status,
    c.auth_type as "authType", c.instance_url as "instanceUrl", c.created_at as "createdAt", c.updated_at as "updatedAt",
    cu.external_id as "customerRef", cu.name as "customerName",
    cu.created_at as "customerCreatedAt", cu.updated_at as "customerUpdatedAt",
    case when co.id is null then null
      else json_build_object('ref', co.ref, 'name', co.name, 'createdAt', co.created_at) end as consumer,
    a.id as "appId", a.client_id as "appClientId", a.use_managed_oauth as "appUseManagedOauth",
    a.scopes as "appScopes", a.external_ref as "appExternalRef",
    a.created_at as "appCreatedAt", a.updated_at as "appUpdatedAt"
  from connections c
  join customers cu on cu.id = c.customer_id
  join provider_apps a on a.id = c.provider_app_id
  left join consumers co on co.id = c.consumer_id`;

const projectConnectionOf = (r: Row): ProjectConnection => ({
  id: r.id,
  projectId: r.projectId,
  providerName: r.providerName,
  status: r.status,
  authType: r.authType,
  instanceUrl: r.instanceUrl,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
  customer: {
    ref: r.customerRef,
    name: r.customerName,
    createdAt: r.customerCreatedAt,
    updatedAt: r.customerUpdatedAt,
  },
  consumer: r.consumer && { ...r.consumer, createdAt: new Date(r.consumer.createdAt) },
  providerApp: {
    id: r.appId,
    clientId: r.appClientId,
    useManagedOauth: r.appUseManagedOauth,
    scopes: r.appScopes,
    externalRef: r.appExternalRef,
    createdAt: r.appCreatedAt,
    updatedAt: r.appUpdatedAt,
  },
});

/** The project's connections, oldest first, of one provider or one customer when the filter says so. */
export async function listProjectConnections(
  deps: CoreDeps,
  projectId: string,
  filter: ProjectConnectionFilter = {},
): Promise<ProjectConnection[]> {
  const { rows } = await deps.db.query<Row>(
    `${select} where c.project_id = $1 and ($2::text is null or c.provider_name = $2)
       and ($3::text is null or cu.external_id = $3)
     order by c.created_at, c.id`,
    [projectId, filter.providerName ?? null, filter.customerRef ?? null],
  );
  return rows.map(projectConnectionOf);
}

export async function getProjectConnection(
  deps: CoreDeps,
  projectId: string,
  connectionId: string,
): Promise<ProjectConnection> {
  if (!isUuid(connectionId)) throw notFound(`connection "${connectionId}"`);
  const { rows } = await deps.db.query<Row>(`${select} where c.project_id = $1 and c.id = $2`, [
    projectId,
    connectionId,
  ]);
  if (!rows[0]) throw notFound(`connection "${connectionId}"`);
  return projectConnectionOf(rows[0]);
}

/** Deletes a connection named by its id, as every deletion is done (`deleteConnection`): announced. */
export async function deleteProjectConnection(
  deps: CoreDeps,
  projectId: string,
  connectionId: string,
): Promise<void> {
  const connection = await getProjectConnection(deps, projectId, connectionId);
  await deleteConnection(deps, projectId, connection.customer.ref, connection.providerName);
}
