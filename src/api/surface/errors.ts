import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, type ErrorKind } from '../../core/errors.ts';

/** Why a request was refused before any operation ran: by the HTTP layer or by the contract. */
export type Refusal =
  /** No route under the surface's prefix has this path. */
  | 'unknown_operation'
  /** The contract declares the path, but not with this method. */
  | 'method_not_allowed'
  /** The router could not decode the URL, or a path segment is over its length limit. */
  | 'bad_url'
  | 'unsupported_media_type'
  | 'body_too_large'
  /** The request cannot be read: JSON syntax, a parameter given twice or not of its type. */
  | 'malformed_request'
  /** A required parameter or a required body is absent (an empty body is an absent one). */
  | 'missing_input'
  /** A value breaks the contract's schema or its request limits. */
  | 'invalid_input';

const REFUSAL_STATUS: Record<Refusal, number> = {
  unknown_operation: 404,
  method_not_allowed: 405,
  bad_url: 400,
  unsupported_media_type: 415,
  body_too_large: 413,
  malformed_request: 400,
  missing_input: 400,
  invalid_input: 400,
};

/** One thing wrong with a request, for surfaces whose error shape lists them. */
export interface RequestIssue {
  in: 'query' | 'header' | 'path' | 'body';
  /** The parameter's name; for the body, the JSON pointer to the value ('' for the whole body). */
  name: string;
  /** What is wrong, worded to follow the value's name ("must be string"). */
  detail: string;
}

/** A refused request. It is a DomainError, so a surface that knows only kinds can still render it. */
export class RequestRefused extends DomainError {
  declare readonly reason: Refusal;
  /** The HTTP status the refusal calls for. */
  readonly status: number;
  readonly issues: readonly RequestIssue[];
  /** For `method_not_allowed`: the methods the contract declares on the path. */
  readonly allowedMethods: readonly string[];

  constructor(
    reason: Refusal,
    detail: string,
    opts: { status?: number; issues?: RequestIssue[]; allowedMethods?: string[] } = {},
  ) {
    const kind: ErrorKind =
      reason === 'unknown_operation' || reason === 'method_not_allowed' ? 'not_found' : 'bad_request';
    super(kind, detail, { reason });
    this.status = opts.status ?? REFUSAL_STATUS[reason];
    this.issues = opts.issues ?? [];
    this.allowedMethods = opts.allowedMethods ?? [];
  }
}

/**
 * A request without the body its operation needs. The contract refuses it where the document
 * requires the body; a handler whose document leaves the body optional refuses it so too.
 */
export const missingBody = () =>
  new RequestRefused('missing_input', 'a JSON request body is required', {
    issues: [{ in: 'body', name: '', detail: 'is required' }],
  });

const KIND_STATUS: Record<ErrorKind, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unprocessable: 422,
  remote_provider: 502,
  not_implemented: 501,
  internal: 500,
};

/** The usual HTTP status of an error: a refusal's own, or its kind's. Surfaces may answer otherwise. */
export function httpStatus(error: DomainError): number {
  return error instanceof RequestRefused ? error.status : KIND_STATUS[error.kind];
}

/** Renders an error in a surface's own shape, status included. */
export type RenderError = (error: DomainError, reply: FastifyReply, req: FastifyRequest) => FastifyReply;

const FRAMEWORK_REFUSALS: Record<string, Refusal> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_request',
  FST_ERR_BAD_URL: 'bad_url',
  FST_ERR_MAX_PARAM_LENGTH: 'bad_url',
};

/** Anything thrown while answering a request, as the error its surface renders; undefined for a server fault. */
export function toDomainError(err: unknown): DomainError | undefined {
  if (err instanceof DomainError) return err;
  const e = err as { statusCode?: number; code?: string; message?: string };
  const refusal = e.code === undefined ? undefined : FRAMEWORK_REFUSALS[e.code];
  if (refusal === 'unsupported_media_type')
    return new RequestRefused(refusal, 'the request body must be JSON (content-type: application/json)');
  if (refusal) return new RequestRefused(refusal, e.message ?? 'bad request', { status: e.statusCode });
  // A concurrent request won a uniqueness or reference race that the service's own checks lost.
  if (e.code === '23505')
    return new DomainError('conflict', 'a resource with the same identity already exists');
  if (e.code === '23503')
    return new DomainError('conflict', 'the resource is referenced by, or references, one that changed');
  // Postgres cannot hold NUL in text (22021) or in jsonb strings (22P05): the client sent one.
  if (e.code === '22021' || e.code === '22P05') {
    return new DomainError('bad_request', 'text values cannot contain the NUL character (\\u0000)');
  }
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500)
    return new RequestRefused('malformed_request', e.message ?? 'bad request', { status: e.statusCode });
  return undefined;
}

/** Answers with `err` in the surface's shape; a server fault is logged and answered without its details. */
export function renderFailure(
  renderError: RenderError,
  err: unknown,
  req: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const error = toDomainError(err);
  if (error) return renderError(error, reply, req);
  req.log.error({ err }, 'unhandled error');
  return renderError(
    new DomainError('internal', 'an unexpected error occurred; it has been logged'),
    reply,
    req,
  );
}
