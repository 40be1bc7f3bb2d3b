import type { FieldDescription } from '../connectors/types.ts';
import type { CoreDeps } from './deps.ts';
import { badRequest, notFound } from './errors.ts';
import { isUuid } from './ids.ts';
import { callProvider, openConnector } from './provider-access.ts';

/**
 * The fields an object has in one connection's account, as the provider describes them. `owner`
 * says whose connections the caller names: its customers' (the default) or the project's own.
 */
export async function describeObjectFields(
  deps: CoreDeps,
  projectId: string,
  connectionId: string,
  object: string,
  owner: 'customer' | 'project' = 'customer',
): Promise<FieldDescription[]> {
  if (!isUuid(connectionId)) throw notFound('connection');
  const { rowCount } = await deps.db.query(
    'select 1 from connections where project_id = $1 and id = $2 and (customer_id is null) = $3',
    [projectId, connectionId, owner === 'project'],
  );
  if (!rowCount) throw notFound('connection');
  return callProvider(async () => {
    const { connector, ctx } = await openConnector(deps, connectionId, { interactive: true });
    if (!connector.describeFields) throw badRequest('this provider does not describe its fields');
    return connector.describeFields(ctx, object);
  });
}
