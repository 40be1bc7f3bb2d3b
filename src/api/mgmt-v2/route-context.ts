import type { FastifyRequest } from 'fastify';
import type { CoreDeps } from '../../core/deps.ts';

/** What the Management API's route plugins are registered with. */
export interface RouteOptions {
  deps: CoreDeps;
}

/** The headers that name a connection on the header-addressed operations. */
export function connectionHeaders(req: FastifyRequest): { customerId: string; providerName: string } {
  return {
    customerId: req.headers['x-customer-id'] as string,
    providerName: req.headers['x-provider-name'] as string,
  };
}
