import type { FastifyError } from 'fastify';

/**
 * What the hosted connect pages take from a browser: their own small forms and the provider's
 * redirect to the OAuth callback. Anything larger is refused before it reaches the flow.
 */

/** A key, secret or token typed into a form; as long as the Management API's long-text limit. */
const MAX_FIELD_LENGTH = 16_384;
/** Forms have at most three fields; room for a browser or extension adding some. */
const MAX_FIELDS = 32;

/**
 * A form of a few fields, percent-encoded (a non-ASCII character takes up to 12 bytes); the
 * server's 5 MB limit is for the API's bodies.
 */
export const FORM_BODY_LIMIT = 256 * 1024;

/** The body of a link page's form: named text fields only. */
export const FORM_SCHEMA = {
  body: {
    type: 'object',
    maxProperties: MAX_FIELDS,
    additionalProperties: { type: 'string', maxLength: MAX_FIELD_LENGTH },
  },
} as const;

/** A redirect parameter; providers add their own beside `code` and `state`, given once or repeated. */
const QUERY_VALUE_LENGTH = 4096;
const queryValue = {
  anyOf: [
    { type: 'string', maxLength: QUERY_VALUE_LENGTH },
    { type: 'array', maxItems: 8, items: { type: 'string', maxLength: QUERY_VALUE_LENGTH } },
  ],
} as const;

/** The query of the provider's redirect to the OAuth callback. */
export const CALLBACK_SCHEMA = {
  querystring: { type: 'object', maxProperties: MAX_FIELDS, additionalProperties: queryValue },
} as const;

/** What a person is told about a request the pages refused before reading it. */
export function refusedInput(err: FastifyError): string {
  if (err.statusCode === 413) return 'What the browser sent is larger than this page accepts.';
  if (err.statusCode === 415) return 'This page accepts only its own form.';
  if (err.validation) return `What the browser sent is not what this page accepts (${err.message}).`;
  return 'What the browser sent could not be read.';
}
