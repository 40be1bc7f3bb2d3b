import { randomUUID } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { DomainError } from '../../core/errors.ts';

/** The Management API's error body: `{"errors":[{id,title,detail,problem_type,code,status,meta}]}`. */
export function sendError(reply: FastifyReply, error: DomainError): FastifyReply {
  const body = {
    errors: [
      {
        id: randomUUID(),
        title: error.title,
        detail: error.message,
        problem_type: error.code,
        code: error.code,
        status: String(error.status),
        meta: { origin: error.kind === 'remote_provider' ? 'remote-provider' : 'supaglue' },
      },
    ],
  };
  return reply.code(error.status).type('application/json').send(body);
}

const FRAMEWORK_CODES: Record<string, DomainError['kind']> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'bad_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'bad_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'bad_request',
  FST_ERR_CTP_BODY_TOO_LARGE: 'bad_request',
};

/** Turns anything thrown in a handler into a DomainError, or undefined when it is a server fault. */
export function toDomainError(err: unknown): DomainError | undefined {
  if (err instanceof DomainError) return err;
  const e = err as { statusCode?: number; code?: string; message?: string };
  if (e.code && FRAMEWORK_CODES[e.code]) {
    const detail =
      e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? 'the request body must be JSON (content-type: application/json)'
        : (e.message ?? 'bad request');
    const error = new DomainError('bad_request', detail);
    if (e.statusCode && e.statusCode !== 400) Object.defineProperty(error, 'status', { value: e.statusCode });
    return error;
  }
  // A concurrent request won a uniqueness or reference race that the service's own checks lost.
  if (e.code === '23505')
    return new DomainError('conflict', 'a resource with the same identity already exists');
  if (e.code === '23503')
    return new DomainError('conflict', 'the resource is referenced by, or references, one that changed');
  // Postgres cannot hold NUL in text (22021) or in jsonb strings (22P05): the client sent one.
  if (e.code === '22021' || e.code === '22P05') {
    return new DomainError('bad_request', 'text values cannot contain the NUL character (\\u0000)');
  }
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    const error = new DomainError('bad_request', e.message ?? 'bad request');
    if (e.statusCode !== 400) Object.defineProperty(error, 'status', { value: e.statusCode });
    return error;
  }
  return undefined;
}
