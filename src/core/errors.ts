/**
 * Domain errors. Services throw these with a kind and a detail; each API surface decides how a
 * kind is answered (status, code, title, body shape).
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

export class DomainError extends Error {
  readonly kind: ErrorKind;
  /**
   * A finer reason within the kind, for surfaces that tell them apart: for `remote_provider`, how
   * the provider failed (a connector error kind, e.g. `rate_limited`).
   */
  readonly reason?: string;
  override readonly cause?: unknown;

  constructor(kind: ErrorKind, detail: string, opts: { reason?: string; cause?: unknown } = {}) {
    super(detail);
    this.kind = kind;
    this.reason = opts.reason;
    this.cause = opts.cause;
  }
}

export const badRequest = (detail: string) => new DomainError('bad_request', detail);
export const notFound = (what: string) => new DomainError('not_found', `${what} not found`);
export const conflict = (detail: string) => new DomainError('conflict', detail);
export const unprocessable = (detail: string) => new DomainError('unprocessable', detail);

/**
 * Input a service refuses, naming the input by its core name (`name`, `settings.api_key`, …) so
 * that a surface whose errors list fields can say which of its own fields was wrong.
 */
export class InvalidInput extends DomainError {
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super('unprocessable', detail, { reason: 'invalid_input' });
  }
}
