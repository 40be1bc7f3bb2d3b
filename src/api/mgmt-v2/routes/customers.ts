import type { FastifyInstance } from 'fastify';
import { listConnections } from '../../../core/connections.ts';
import { deleteCustomer, findCustomer, listCustomers, upsertCustomer } from '../../../core/customers.ts';
import type { RouteOptions } from '../route-context.ts';
import * as to from '../serializers.ts';

type CustomerBody = { customer_id: string; name: string; email: string };
type CustomerParams = { customer_id: string };

export async function customerRoutes(app: FastifyInstance, { deps }: RouteOptions) {
  app.get('/customers', { config: { operationId: 'getCustomers' } }, async (req) =>
    (await listCustomers(deps, req.projectId)).map(to.customer),
  );

  app.put<{ Body: CustomerBody }>(
    '/customers',
    { config: { operationId: 'upsertCustomer' } },
    async (req) => {
      const c = await upsertCustomer(deps, req.projectId, {
        ref: req.body.customer_id,
        name: req.body.name,
        email: req.body.email,
      });
      const connections = await listConnections(deps, req.projectId, c.ref);
      return { ...to.customer(c), connections: connections.map(to.connection) };
    },
  );

  app.get<{ Params: CustomerParams }>(
    '/customers/:customer_id',
    { config: { operationId: 'getCustomer' } },
    async (req) => to.customer(await findCustomer(deps, req.projectId, req.params.customer_id)),
  );

  app.delete<{ Params: CustomerParams }>(
    '/customers/:customer_id',
    { config: { operationId: 'deleteCustomer' } },
    async (req, reply) => {
      await deleteCustomer(deps, req.projectId, req.params.customer_id);
      return reply.code(204).send();
    },
  );
}
