import { randomUUID } from 'node:crypto';
import type { DomainError, ErrorKind } from '../../core/errors.ts';
import { httpStatus, type RenderError, RequestRefused } from '../surface/errors.ts';

// The codes and titles Supaglue clients already know.
const CODE: Record<ErrorKind, string> = {
  bad_request: 'BAD_REQUEST',
  unauthorized: 'UNAUTHORIZED_ERROR',
  forbidden: 'FORBIDDEN_ERROR',
  not_found: 'NOT_FOUND_ERROR',
  conflict: 'CONFLICT_ERROR',
  unprocessable: 'UNPROCESSABLE_ENTITY_ERROR',
  remote_provider: 'REMOTE_PROVIDER_ERROR',
  not_implemented: 'NOT_IMPLEMENTED_ERROR',
  internal: 'INTERNAL_SERVER_ERROR',
};

const TITLE: Record<ErrorKind, string> = {
  bad_request: 'Bad request',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  not_found: 'Not found',
  conflict: 'Conflict',
  unprocessable: 'Unprocessable entity',
  remote_provider: 'Remote provider error',
  not_implemented: 'Not implemented',
  internal: 'Internal server error',
};

/** Supaglue answers a provider's failure with 499, and a method its path lacks as an unknown operation. */
function statusOf(error: DomainError): number {
  if (error.kind === 'remote_provider') return 499;
  if (error instanceof RequestRefused && error.reason === 'method_not_allowed') return 404;
  return httpStatus(error);
}

/** Values that break the spec are VALIDATION_ERROR; a provider's failure names how it failed. */
function codeOf(error: DomainError): string {
  if (error instanceof RequestRefused && error.reason === 'invalid_input') return 'VALIDATION_ERROR';
  if (error.kind === 'remote_provider' && error.reason)
    return `REMOTE_PROVIDER_${error.reason.toUpperCase()}`;
  return CODE[error.kind];
}

/** The Management API's error body: `{"errors":[{id,title,detail,problem_type,code,status,meta}]}`. */
export const renderSupaglueError: RenderError = (error, reply) => {
  const status = statusOf(error);
  const code = codeOf(error);
  const body = {
    errors: [
      {
        id: randomUUID(),
        title: TITLE[error.kind],
        detail: error.message,
        problem_type: code,
        code,
        status: String(status),
        meta: { origin: error.kind === 'remote_provider' ? 'remote-provider' : 'supaglue' },
      },
    ],
  };
  return reply.code(status).type('application/json').send(body);
};
