import { InvalidInput } from '../../core/errors.ts';
import { httpStatus, type RenderError, type RequestIssue, RequestRefused } from '../surface/errors.ts';

/**
 * Errors as a Laravel API answers them: `{message}`, and for invalid input a 422
 * `{message, errors: {<field>: [<message>, …]}}` with fields named as Laravel's validator names
 * them (`variables.0.key`). A request the framework cannot read (JSON syntax, a parameter given
 * twice, an include, filter or sort not offered) is a 400 `{message}`.
 */

/** The core's names of the inputs it checks, as this API names them. */
function wireField(coreField: string): string {
  if (coreField === 'scheme') return 'authentication_implementation_id';
  if (coreField.startsWith('rateLimit')) return 'rate_limit_duration';
  if (coreField === 'settings' || coreField.startsWith('settings.')) return 'variables';
  return coreField;
}

/** The field an issue of the contract names, with a required property's own name. */
function issueField(issue: RequestIssue): string {
  const path = issue.in === 'body' ? issue.name.split('/').filter(Boolean) : [issue.name];
  const missing = /^must have required property '(.+)'$/.exec(issue.detail)?.[1];
  if (missing !== undefined) path.push(missing);
  return path.join('.') || 'body';
}

function issueMessage(field: string, issue: RequestIssue): string {
  if (/^must have required property/.test(issue.detail) || issue.detail === 'is required')
    return `The ${field} field is required.`;
  return `The ${field} field ${issue.detail}.`;
}

/** Laravel's summary: the first message, and how many more there are. */
function summary(errors: Record<string, string[]>): string {
  const messages = Object.values(errors).flat();
  const more = messages.length - 1;
  return more > 0 ? `${messages[0]} (and ${more} more error${more > 1 ? 's' : ''})` : (messages[0] ?? '');
}

function validationErrors(error: unknown): Record<string, string[]> | undefined {
  if (error instanceof InvalidInput) {
    const field = wireField(error.field);
    const sentence = error.message.startsWith('must')
      ? `The ${field} field ${error.message}`
      : `${error.message[0]!.toUpperCase()}${error.message.slice(1)}`;
    return { [field]: [sentence.endsWith('.') ? sentence : `${sentence}.`] };
  }
  if (
    error instanceof RequestRefused &&
    (error.reason === 'invalid_input' || error.reason === 'missing_input')
  ) {
    const errors: Record<string, string[]> = {};
    for (const issue of error.issues) {
      const field = issueField(issue);
      errors[field] = [...(errors[field] ?? []), issueMessage(field, issue)];
    }
    return Object.keys(errors).length > 0 ? errors : { body: [error.message] };
  }
  return undefined;
}

export const renderConnectorsError: RenderError = (error, reply) => {
  const errors = validationErrors(error);
  if (errors)
    return reply
      .code(422)
      .type('application/json')
      .send({ message: summary(errors), errors });
  const status = httpStatus(error);
  if (error instanceof RequestRefused && error.reason === 'method_not_allowed')
    reply.header('allow', error.allowedMethods.join(', '));
  return reply.code(status).type('application/json').send({ message: error.message });
};
