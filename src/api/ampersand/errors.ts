import { STATUS_CODES } from 'node:http';
import { DomainError } from '../../core/errors.ts';
import { httpStatus, type RenderError, RequestRefused } from '../surface/errors.ts';
import { AMPERSAND_PREFIX } from './openapi.ts';

/**
 * An operation of the Platform API document that Trellis does not serve: not built yet, or not
 * offered at all (a part of Ampersand's service that a self-hosted Trellis has no use for). Both
 * answer 501, each with its own problem type.
 */
export class UnservedOperation extends DomainError {
  readonly remedy: string | undefined;
  constructor(offered: boolean, detail: string, remedy?: string) {
    super('not_implemented', detail, { reason: offered ? 'not_implemented' : 'not_offered' });
    this.remedy = remedy;
  }
}

/** What a client can do about a refusal, where there is one thing to say. */
function remedyOf(error: DomainError): string | undefined {
  if (error instanceof UnservedOperation) return error.remedy;
  if (error.kind === 'unauthorized' && error.reason === 'invalid_token')
    return "Sign a new token on your server with one of the project's active JWT keys: RS256, the key's id as kid in its header, groupRef and consumerRef claims, iat, and exp at most 600 seconds after iat.";
  if (error.kind === 'unauthorized')
    return "Send one of the project's API keys in the X-Api-Key header (npx trellis keys create --project <name> makes one).";
  if (!(error instanceof RequestRefused)) return undefined;
  switch (error.reason) {
    case 'unsupported_media_type':
      return 'Send the body as JSON with content-type: application/json.';
    case 'method_not_allowed':
      return `Use one of: ${error.allowedMethods.join(', ')}.`;
    case 'unknown_operation':
      return `The operations of this API are listed in its document, ${AMPERSAND_PREFIX}/openapi.json.`;
    default:
      return undefined;
  }
}

/** A problem type per refusal reason or error kind, e.g. `urn:trellis:problem:unknown-operation`. */
function problemType(error: DomainError): string {
  const name =
    error instanceof RequestRefused || error instanceof UnservedOperation
      ? (error.reason ?? error.kind)
      : error.kind;
  return `urn:trellis:problem:${name.replaceAll('_', '-')}`;
}

/**
 * The Platform API's error body: `application/problem+json` as the document's `ApiProblem`
 * (RFC 9457 with `requestId`, `time` and, where there is one, a `remedy`), and its
 * `InputValidationProblem` on 400 and 422, whose `issues` name each input that is wrong (empty when
 * the core refused the request as a whole). Input values are never echoed: they may be secrets.
 */
export const renderProblem: RenderError = (error, reply, req) => {
  const status = httpStatus(error);
  const refused = error instanceof RequestRefused ? error : undefined;
  if (refused?.reason === 'method_not_allowed') reply.header('allow', refused.allowedMethods.join(', '));
  const remedy = remedyOf(error);
  const body = {
    type: problemType(error),
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail: error.message,
    ...(remedy === undefined ? {} : { remedy }),
    ...(status === 400 || status === 422
      ? {
          issues: (refused?.issues ?? []).map((issue) => ({
            in: issue.in,
            name: issue.name,
            detail: issue.detail,
          })),
        }
      : {}),
    requestId: req.id,
    time: new Date().toISOString(),
  };
  return reply.code(status).type('application/problem+json').send(body);
};
