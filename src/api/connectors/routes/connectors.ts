import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CoreDeps } from '../../../core/deps.ts';
import { notFound } from '../../../core/errors.ts';
import {
  checkProjectOwnedConnection,
  createProjectOwnedConnection,
  deleteProjectOwnedConnection,
  describeProjectOwnedConnectionObject,
  getProjectOwnedConnection,
  listProjectOwnedConnections,
  type ProjectOwnedConnection,
  type ProjectOwnedConnectionQuery,
  updateProjectOwnedConnection,
} from '../../../core/project-owned-connections.ts';
import {
  changesOf,
  connectorResource,
  newConnectionOf,
  type StoreBody,
  type UpdateBody,
} from '../connector-translation.ts';
import { CONNECTORS_PREFIX } from '../openapi.ts';
import { type ConnectorQuery, connectorQueryOf } from '../query-translation.ts';

type Params = { connector: string };

/**
 * The filters as the core's query. Every filter naming the system (its id, canonical key or
 * template) narrows the providers, so that together they keep the providers all of them name;
 * sessions and platform app keys are what the connector was stored with.
 */
function coreQueryOf(q: ConnectorQuery): Omit<ProjectOwnedConnectionQuery, 'offset' | 'limit'> {
  const systemFilters = [
    q.filters.system,
    q.filters.canonical_key,
    q.filters.system_template_id,
    q.filters.forSystemTemplate,
  ].filter((values): values is string[] => values !== undefined);
  const providerNames = systemFilters.reduce<string[] | undefined>(
    (names, values) => (names ? names.filter((n) => values.includes(n)) : values),
    undefined,
  );
  const sourceValues = [
    ...(q.filters.forSession ? [{ key: 'session_id', values: q.filters.forSession }] : []),
    ...(q.filters.platformSession ? [{ key: 'platform_app_key', values: q.filters.platformSession }] : []),
  ];
  return {
    ...(providerNames ? { providerNames } : {}),
    sourceValues,
    order: q.sort ?? 'created',
  };
}

/** This API's own URL on this server, as its links and logos name it. */
const baseUrlOf = (deps: CoreDeps) => `${deps.config.publicUrl}${CONNECTORS_PREFIX}`;

export async function connectorRoutes(app: FastifyInstance, { deps }: { deps: CoreDeps }) {
  const resource = (req: FastifyRequest, c: ProjectOwnedConnection, includes: ReadonlySet<string>) =>
    connectorResource(c, {
      includes,
      baseUrl: baseUrlOf(deps),
      describe: (object) => describeProjectOwnedConnectionObject(deps, req.projectId, c.id, object),
    });

  app.get('/', { config: { operationId: 'connectorsIndex' } }, async (req) => {
    const rawQuery = req.query as Record<string, string>;
    const q = connectorQueryOf(rawQuery);
    const { connections, total } = await listProjectOwnedConnections(deps, req.projectId, {
      ...coreQueryOf(q),
      offset: (q.page - 1) * q.perPage,
      limit: q.perPage,
    });
    const lastPage = Math.max(1, Math.ceil(total / q.perPage));
    const path = baseUrlOf(deps);
    const pageUrl = (page: number) => {
      const url = new URL(path);
      for (const [name, value] of Object.entries(rawQuery))
        if (name !== 'page' && typeof value === 'string') url.searchParams.set(name, value);
      url.searchParams.set('page', String(page));
      return url.toString();
    };
    const from = connections.length > 0 ? (q.page - 1) * q.perPage + 1 : null;
    return {
      data: await Promise.all(connections.map((c) => resource(req, c, q.includes))),
      links: {
        first: pageUrl(1),
        last: pageUrl(lastPage),
        prev: q.page > 1 ? pageUrl(q.page - 1) : null,
        next: q.page < lastPage ? pageUrl(q.page + 1) : null,
      },
      meta: {
        current_page: q.page,
        from,
        last_page: lastPage,
        path,
        per_page: q.perPage,
        to: from === null ? null : from + connections.length - 1,
        total,
      },
    };
  });

  app.post<{ Body: StoreBody }>('/', { config: { operationId: 'connectorsStore' } }, async (req) => {
    const created = await createProjectOwnedConnection(deps, req.projectId, newConnectionOf(req.body));
    return { data: await resource(req, created, new Set()) };
  });

  app.get<{ Params: Params }>('/:connector', { config: { operationId: 'connectorsShow' } }, async (req) => {
    const q = connectorQueryOf(req.query as Record<string, string>);
    const connection = await getProjectOwnedConnection(deps, req.projectId, req.params.connector);
    // As a query builder would: the filters apply to the one connector too.
    const filtered = coreQueryOf(q);
    const kept =
      (!filtered.providerNames || filtered.providerNames.includes(connection.providerName)) &&
      (filtered.sourceValues ?? []).every(({ key, values }) =>
        values.includes(String(connection.source?.[key] ?? '')),
      );
    if (!kept) throw notFound(`connection "${req.params.connector}"`);
    return { data: await resource(req, connection, q.includes) };
  });

  app.put<{ Params: Params; Body: UpdateBody | undefined }>(
    '/:connector',
    { config: { operationId: 'connectorsUpdate' } },
    async (req) => {
      const current = await getProjectOwnedConnection(deps, req.projectId, req.params.connector);
      const updated = await updateProjectOwnedConnection(
        deps,
        req.projectId,
        current.id,
        changesOf(current, req.body ?? {}),
      );
      return { data: await resource(req, updated, new Set()) };
    },
  );

  app.delete<{ Params: Params }>(
    '/:connector',
    { config: { operationId: 'connectorsDestroy' } },
    async (req) => {
      await deleteProjectOwnedConnection(deps, req.projectId, req.params.connector);
      return { message: 'Connector deleted.' };
    },
  );

  app.post<{ Params: Params }>(
    '/:connector/test',
    { config: { operationId: 'connectorsTest' } },
    async (req, reply) => {
      await checkProjectOwnedConnection(deps, req.projectId, req.params.connector);
      return reply.code(200).send();
    },
  );
}
