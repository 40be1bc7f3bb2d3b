import type { FastifyInstance } from 'fastify';
import type { ContractOperation } from '../../surface/contract.ts';
import { UnservedOperation } from '../errors.ts';
import { AMPERSAND_CONTRACT } from '../openapi.ts';

/**
 * Parts of Ampersand's service that a self-hosted Trellis does not offer, and what to use instead.
 * The first family that covers an operation names it.
 */
const NOT_OFFERED: { covers: (op: ContractOperation) => boolean; why: string; instead?: string }[] = [
  {
    covers: (op) => /billingAccount/i.test(op.path),
    why: 'Trellis is self-hosted and keeps no billing accounts',
  },
  {
    covers: (op) =>
      /^\/(orgs|my-info|invites|claimed-domains)\b/.test(op.path) || op.operationId === 'createProject',
    why: 'Trellis has no organizations, builders or invitations: each project stands alone and is reached with its API keys',
    instead:
      'Create and list projects with the command line: npx trellis projects create <name>, npx trellis projects list.',
  },
  {
    covers: (op) => op.path.includes('/api-keys'),
    why: "a project's API keys are managed with the command line",
    instead: 'npx trellis keys create --project <name> (also: keys list, keys revoke <key-id>).',
  },
  {
    covers: (op) => /\/(topics|notification-event-topic-routes|topic-destination-routes)\b/.test(op.path),
    why: "Trellis sends its events as signed webhooks to the project's registered endpoints",
    instead: 'Register an endpoint with POST /mgmt/v2/webhooks.',
  },
];

/** The error an operation Trellis does not serve answers with: 501, saying which and why. */
export function unservedError(op: ContractOperation): UnservedOperation {
  const name = `${op.operationId} (${op.method} ${op.path})`;
  const family = NOT_OFFERED.find((f) => f.covers(op));
  return family
    ? new UnservedOperation(false, `${name} is not offered by Trellis: ${family.why}`, family.instead)
    : new UnservedOperation(true, `${name} is not implemented by Trellis yet`);
}

/**
 * The document's path template as a route: `{name}` is a parameter and a literal colon is
 * escaped (`integrations:batch`); a parameter followed by a colon verb (`{connectionId}:oauth-update`)
 * stops at the colon, or it would take the verb in.
 */
export const routePathOf = (template: string) =>
  template.replace(/\{([^}]+)\}(:)?|:/g, (_match, name: string | undefined, verb: string | undefined) =>
    name === undefined ? '::' : verb ? `:${name}(^[^:]+)::` : `:${name}`,
  );

/**
 * Every operation of the document that no route serves answers 501 with the operation's name,
 * once the request is authenticated and its project checked, whatever its parameters and body:
 * a client learns first that the operation is not there, not what else is wrong with its request.
 */
export function unservedRoutes(served: ReadonlySet<string>) {
  return async (app: FastifyInstance) => {
    for (const operationId of AMPERSAND_CONTRACT.operationIds) {
      if (served.has(operationId)) continue;
      const op = AMPERSAND_CONTRACT.operation(operationId)!;
      const error = unservedError(op);
      app.route({
        method: op.method,
        url: routePathOf(op.path),
        config: { operationId },
        onRequest: async () => {
          throw error;
        },
        handler: async () => {
          throw error;
        },
      });
    }
  };
}
