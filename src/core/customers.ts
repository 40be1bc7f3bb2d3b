import type pg from 'pg';
import { transaction } from '../db/pool.ts';
import type { CoreDeps } from './deps.ts';
import { notFound } from './errors.ts';
import { emitEvent } from './events.ts';

export interface Customer {
  id: string;
  projectId: string;
  /** The customer's id in the project's own system (what the API surfaces call the customer id or group reference). */
  ref: string;
  name: string;
  email: string;
}

const columns = 'id, project_id as "projectId", external_id as "ref", name, email';

export async function listCustomers(deps: CoreDeps, projectId: string): Promise<Customer[]> {
  const { rows } = await deps.db.query<Customer>(
    `select ${columns} from customers where project_id = $1 order by external_id`,
    [projectId],
  );
  return rows;
}

export async function findCustomer(deps: CoreDeps, projectId: string, ref: string): Promise<Customer> {
  const { rows } = await deps.db.query<Customer>(
    `select ${columns} from customers where project_id = $1 and external_id = $2`,
    [projectId, ref],
  );
  if (!rows[0]) throw notFound(`customer "${ref}"`);
  return rows[0];
}

export async function upsertCustomer(
  deps: CoreDeps,
  projectId: string,
  input: { ref: string; name: string; email: string },
): Promise<Customer> {
  const { rows } = await deps.db.query<Customer>(
    `insert into customers (project_id, external_id, name, email) values ($1, $2, $3, $4)
     on conflict (project_id, external_id) do update set name = excluded.name, email = excluded.email, updated_at = now()
     returning ${columns}`,
    [projectId, input.ref, input.name, input.email],
  );
  return rows[0]!;
}

/**
 * The customer with this ref, made on first use (with no email) when a flow names a customer
 * that is not there yet; a name given replaces the old one, and the email is never touched.
 */
export async function ensureCustomer(
  client: Pick<pg.ClientBase, 'query'>,
  projectId: string,
  input: { ref: string; name?: string },
): Promise<Customer> {
  const { rows } = await client.query<Customer>(
    `insert into customers (project_id, external_id, name, email) values ($1, $2, coalesce($3::text, $2), '')
     on conflict (project_id, external_id) do update
       set name = coalesce($3::text, customers.name),
         updated_at = case when coalesce($3::text, customers.name) = customers.name then customers.updated_at else now() end
     returning ${columns}`,
    [projectId, input.ref, input.name ?? null],
  );
  return rows[0]!;
}

/** Deletes the customer with its connections, syncs and links; each connection's deletion is announced. */
export async function deleteCustomer(deps: CoreDeps, projectId: string, ref: string): Promise<void> {
  await transaction(deps.db, async (client) => {
    const { rows } = await client.query<Customer>(
      `select ${columns} from customers where project_id = $1 and external_id = $2 for update`,
      [projectId, ref],
    );
    const customer = rows[0];
    if (!customer) throw notFound(`customer "${ref}"`);
    const { rows: connections } = await client.query<{
      id: string;
      providerAppId: string;
      providerName: string;
      category: string;
    }>(
      `select id, provider_app_id as "providerAppId", provider_name as "providerName", category
         from connections where customer_id = $1`,
      [customer.id],
    );
    await client.query('delete from customers where id = $1', [customer.id]);
    for (const c of connections) {
      await emitEvent(deps, client, projectId, {
        type: 'connection.deleted',
        connection: {
          connectionId: c.id,
          customerRef: ref,
          providerAppId: c.providerAppId,
          providerName: c.providerName,
          category: c.category,
        },
      });
    }
  });
}
