/**
 * Domain errors. Services throw these; each API surface renders them in its own error shape.
 * `code` is a stable machine-readable identifier.
 */
export type ErrorKind =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'unprocessable'
  | 'remote_provider'
  | 'not_implemented'
  | 'internal';

const STATUS: Record<ErrorKind, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unprocessable: 422,
  remote_provider: 499,
  not_implemented: 501,
  internal: 500,
};

// The codes Supaglue clients already know.
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

export class DomainError extends Error {
  readonly kind: ErrorKind;
  readonly title: string;
  readonly code: string;
  override readonly cause?: unknown;

  constructor(
    kind: ErrorKind,
    detail: string,
    opts: { title?: string; code?: string; cause?: unknown } = {},
  ) {
    super(detail);
    this.kind = kind;
    this.title = opts.title ?? TITLE[kind];
    this.code = opts.code ?? CODE[kind];
    this.cause = opts.cause;
  }

  get status(): number {
    return STATUS[this.kind];
  }
}

export const badRequest = (detail: string, code?: string) => new DomainError('bad_request', detail, { code });
export const notFound = (what: string) => new DomainError('not_found', `${what} not found`);
export const conflict = (detail: string) => new DomainError('conflict', detail);
export const unprocessable = (detail: string) => new DomainError('unprocessable', detail);
