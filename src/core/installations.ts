import type pg from 'pg';
import { transaction } from '../db/pool.ts';
import type { CoreDeps } from './deps.ts';
import { badRequest, conflict, notFound } from './errors.ts';
import { isUuid } from './ids.ts';
import type { InstallationConfig } from './installation-config.ts';
import { targetName } from './read-plan.ts';
import { reconcileInstallation } from './syncs.ts';

/**
 * An integration installed on one connection (of one customer). Installations made on request pin
 * the integration's revision they were made from and carry their own configuration; automatic
 * ones (the Management API's) follow the latest revision and read every object.
 */
export interface Installation {
  id: string;
  projectId: string;
  integrationId: string;
  connectionId: string;
  customerRef: string;
  /** The revision it reads by; null for an automatic one, which follows the latest. */
  revision: number | null;
  config: InstallationConfig | null;
  /**
   * The configuration document it was given, kept as the surface that received it wrote it, for
   * that surface to show back; the core never reads it.
   */
  source: Record<string, unknown> | null;
  createdAt: Date;
  updatedAt: Date;
}

const select = `select ins.id, ins.project_id as "projectId", ins.integration_id as "integrationId",
    ins.connection_id as "connectionId", cu.external_id as "customerRef", ins.revision, ins.config, ins.source,
    ins.created_at as "createdAt", ins.updated_at as "updatedAt"
  from installations ins join connections c on c.id = ins.connection_id join customers cu on cu.id = c.customer_id`;

export async function getInstallation(
  deps: CoreDeps,
  projectId: string,
  id: string,
  client: Pick<pg.ClientBase, 'query'> = deps.db,
): Promise<Installation> {
  if (!isUuid(id)) throw notFound('installation');
  const { rows } = await client.query<Installation>(`${select} where ins.project_id = $1 and ins.id = $2`, [
    projectId,
    id,
  ]);
  if (!rows[0]) throw notFound('installation');
  return rows[0];
}

export async function listInstallations(
  deps: CoreDeps,
  projectId: string,
  filter: { integrationId?: string; customerRef?: string } = {},
): Promise<Installation[]> {
  const { rows } = await deps.db.query<Installation>(
    `${select} where ins.project_id = $1 and ($2::uuid is null or ins.integration_id = $2)
        and ($3::text is null or cu.external_id = $3)
      order by ins.created_at, ins.id`,
    [projectId, filter.integrationId ?? null, filter.customerRef ?? null],
  );
  return rows;
}

/** A configuration may choose only among what the integration's revision reads and writes. */
async function checkConfig(
  client: pg.ClientBase,
  integrationId: string,
  revision: number,
  config: InstallationConfig,
): Promise<void> {
  const { rows } = await client.query<{
    read: { objects: { target: Parameters<typeof targetName>[0] }[] };
    writeObjects: string[];
  }>(
    `select read_spec as read, write_objects as "writeObjects" from integration_revisions
      where integration_id = $1 and revision = $2`,
    [integrationId, revision],
  );
  const content = rows[0]!;
  const readable = new Set(content.read.objects.map((o) => targetName(o.target)));
  const unknownRead = config.read.find((o) => !readable.has(o.object));
  if (unknownRead) throw badRequest(`the integration does not read "${unknownRead.object}"`);
  const writable = new Set(content.writeObjects);
  const unknownWrite = config.write.find((o) => !writable.has(o.object));
  if (unknownWrite) throw badRequest(`the integration does not write "${unknownWrite.object}"`);
}

/**
 * Installs an integration made for installing on request on one connection of its provider app,
 * from its latest revision, and creates a sync for each object the configuration reads.
 */
export async function createInstallation(
  deps: CoreDeps,
  projectId: string,
  input: {
    integrationId: string;
    connectionId: string;
    config: InstallationConfig;
    source?: Record<string, unknown>;
  },
): Promise<Installation> {
  if (!isUuid(input.integrationId)) throw notFound('integration');
  if (!isUuid(input.connectionId)) throw notFound('connection');
  return transaction(deps.db, async (client) => {
    const { rows: integrations } = await client.query<{
      installs: string;
      providerAppId: string;
      revision: number;
    }>(
      `select installs, provider_app_id as "providerAppId", revision from integrations
        where project_id = $1 and id = $2 for share`,
      [projectId, input.integrationId],
    );
    const integration = integrations[0];
    if (!integration) throw notFound('integration');
    if (integration.installs !== 'on_request')
      throw conflict('this integration is installed automatically on every connection of its provider');
    const { rows: connections } = await client.query<{ providerAppId: string }>(
      `select provider_app_id as "providerAppId" from connections
        where project_id = $1 and id = $2 and customer_id is not null`,
      [projectId, input.connectionId],
    );
    if (!connections[0]) throw notFound('connection');
    if (connections[0].providerAppId !== integration.providerAppId)
      throw badRequest("the connection is not to the integration's provider app");
    await checkConfig(client, input.integrationId, integration.revision, input.config);
    const { rows } = await client.query<{ id: string }>(
      `insert into installations (project_id, integration_id, connection_id, revision, config, source)
       values ($1, $2, $3, $4, $5, $6) on conflict (integration_id, connection_id) do nothing returning id`,
      [
        projectId,
        input.integrationId,
        input.connectionId,
        integration.revision,
        input.config,
        input.source ?? null,
      ],
    );
    if (!rows[0]) throw conflict('the integration is already installed on this connection');
    await reconcileInstallation(client, rows[0].id);
    return getInstallation(deps, projectId, rows[0].id, client);
  });
}

/** Replaces an installation's configuration; it moves to the integration's latest revision. */
export async function updateInstallation(
  deps: CoreDeps,
  projectId: string,
  id: string,
  config: InstallationConfig,
  source?: Record<string, unknown>,
): Promise<Installation> {
  return transaction(deps.db, async (client) => {
    const current = await getInstallation(deps, projectId, id, client);
    if (current.revision === null)
      throw conflict('an automatic installation has no configuration of its own');
    const { rows } = await client.query<{ revision: number }>(
      'select revision from integrations where id = $1 for share',
      [current.integrationId],
    );
    const revision = rows[0]!.revision;
    await checkConfig(client, current.integrationId, revision, config);
    await client.query(
      'update installations set config = $2, revision = $3, source = $4, updated_at = now() where id = $1',
      [id, config, revision, source ?? null],
    );
    await reconcileInstallation(client, id);
    return getInstallation(deps, projectId, id, client);
  });
}

/** Uninstalls: the installation goes with its syncs and their state. */
export async function deleteInstallation(deps: CoreDeps, projectId: string, id: string): Promise<void> {
  await transaction(deps.db, async (client) => {
    const current = await getInstallation(deps, projectId, id, client);
    if (current.revision === null)
      throw conflict('an automatic installation goes when its integration or its connection does');
    await client.query('delete from installations where id = $1', [id]);
  });
}
