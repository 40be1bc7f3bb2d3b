import type pg from 'pg';

/** An end user inside a customer: who connected an account, as the project names them. */
export interface Consumer {
  ref: string;
  name: string;
}

/** The consumer's row in the customer, made on first use; a name given later replaces the old one. */
export async function ensureConsumer(
  client: Pick<pg.ClientBase, 'query'>,
  projectId: string,
  customerId: string,
  consumer: Consumer,
): Promise<string> {
  const { rows } = await client.query<{ id: string }>(
    `insert into consumers (project_id, customer_id, ref, name) values ($1, $2, $3, $4)
     on conflict (customer_id, ref) do update set name = case when excluded.name = '' then consumers.name else excluded.name end
     returning id`,
    [projectId, customerId, consumer.ref, consumer.name],
  );
  return rows[0]!.id;
}
