import type { FastifyReply } from 'fastify';

/** A REST API error answered as Salesforce does: an array of {message, errorCode[, fields]}. */
export class SfError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly fields?: string[],
  ) {
    super(message);
  }
}

/** One failure of one record in a write, later shaped as {message, errorCode} or {statusCode, message}. */
export interface RecordError {
  code: string;
  message: string;
  fields: string[];
}

export const notFound = () => new SfError(404, 'NOT_FOUND', 'The requested resource does not exist');

export function sendError(
  reply: FastifyReply,
  status: number,
  errorCode: string,
  message: string,
  fields?: string[],
) {
  return reply.code(status).send([{ message, errorCode, ...(fields ? { fields } : {}) }]);
}
