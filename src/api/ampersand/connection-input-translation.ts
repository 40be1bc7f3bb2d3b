import { isProviderName, type ProviderName } from '../../connectors/catalog.ts';
import { CATALOG, providerModule } from '../../connectors/index.ts';
import type { ConnectionChanges, HeldCredentials } from '../../core/connections.ts';
import type { Consumer } from '../../core/consumers.ts';
import { missingBody, RequestRefused } from '../surface/errors.ts';

/**
 * The Platform API's connection requests (`connections:generate` and the update with its
 * `updateMask`) in the core's words: a group is a customer, a consumer the end user who connected,
 * an API key is an API key and basic auth an access key with its secret.
 */

/** The document's `ConnectionRequest`, as far as Trellis reads it. */
export interface ConnectionRequestBody {
  groupRef?: string;
  groupName?: string;
  consumerRef?: string;
  consumerName?: string;
  provider?: string;
  apiKey?: string;
  basicAuth?: { username: string; password: string };
  oauth2ClientCredentials?: object;
  oauth2PasswordCredentials?: object;
  oauth2AuthorizationCode?: object;
  customAuth?: object;
  providerWorkspaceRef?: string;
  providerMetadata?: Record<string, unknown>;
}

/** What may be named in an update's `updateMask` (the document's enum). */
export type ConnectionField =
  | 'providerWorkspaceRef'
  | 'providerMetadata'
  | 'apiKey'
  | 'basicAuth'
  | 'oauth2ClientCredentials'
  | 'oauth2PasswordCredentials';

export interface UpdateConnectionBody {
  updateMask: ConnectionField[];
  connection: ConnectionRequestBody;
}

/** A refusal that names the body's offending value by its JSON pointer. */
const refuse = (pointer: string, detail: string) =>
  new RequestRefused('invalid_input', `${pointer.slice(1).replaceAll('/', '.')} ${detail}`, {
    issues: [{ in: 'body', name: pointer, detail }],
  });

const CREDENTIAL_FIELDS = [
  'apiKey',
  'basicAuth',
  'oauth2ClientCredentials',
  'oauth2PasswordCredentials',
  'oauth2AuthorizationCode',
  'customAuth',
] as const;

/** How each auth scheme is named in this API, for answers that say which one a provider takes. */
const SCHEME_WORDS: Record<string, string> = {
  api_key: 'an API key (apiKey)',
  access_key_secret: 'basic auth (basicAuth)',
  oauth2: 'OAuth, through /oauth-connect',
};

/** Key-based credentials in the core's words; schemes Trellis does not take are refused, saying which it does. */
function credentialsOf(
  body: ConnectionRequestBody,
  field: (typeof CREDENTIAL_FIELDS)[number],
  providerName: ProviderName,
  base: string,
): Extract<HeldCredentials, { authType: 'api_key' | 'access_key_secret' }> {
  const offered = CATALOG[providerName].authTypes;
  const takes = () =>
    `${providerName} connections are made with ${offered.map((t) => SCHEME_WORDS[t]).join(' or ')}`;
  if (field === 'apiKey') {
    if (!offered.includes('api_key')) throw refuse(`${base}/apiKey`, `is not taken: ${takes()}`);
    if (!body.apiKey?.trim()) throw refuse(`${base}/apiKey`, 'must not be empty');
    return { authType: 'api_key', apiKey: body.apiKey.trim() };
  }
  if (field === 'basicAuth') {
    if (!offered.includes('access_key_secret')) throw refuse(`${base}/basicAuth`, `is not taken: ${takes()}`);
    const { username, password } = body.basicAuth ?? { username: '', password: '' };
    if (!username.trim()) throw refuse(`${base}/basicAuth/username`, 'must not be empty');
    if (!password.trim()) throw refuse(`${base}/basicAuth/password`, 'must not be empty');
    return { authType: 'access_key_secret', accessKey: username.trim(), accessKeySecret: password.trim() };
  }
  throw refuse(`${base}/${field}`, `is not supported by Trellis: ${takes()}`);
}

/**
 * Provider metadata: Trellis's providers ask for none (their catalog entries list no metadata
 * inputs), so only an empty object is taken.
 */
function checkNoMetadata(body: ConnectionRequestBody, base: string, providerName: ProviderName): void {
  const names = Object.keys(body.providerMetadata ?? {});
  if (names.length > 0)
    throw refuse(`${base}/providerMetadata`, `names ${names.join(', ')}: ${providerName} takes no metadata`);
}

/** The provider a request names, when Trellis connects to it. */
function connectableProvider(name: string): ProviderName {
  if (!isProviderName(name) || !providerModule(name))
    throw refuse(
      '/provider',
      `names a provider Trellis does not connect to ("${name}"); see GET /v1/providers`,
    );
  return name;
}

/**
 * A `connections:generate` request: who connects, and the credentials of which kind. The document
 * leaves its body optional, but a connection cannot be made of nothing.
 */
export function generateRequestOf(body: ConnectionRequestBody | undefined): {
  customer: { ref: string; name?: string };
  consumer: Consumer;
  connection: { providerName: ProviderName; credentials: HeldCredentials };
} {
  if (body === undefined) throw missingBody();
  const providerName = connectableProvider(body.provider ?? '');
  if (!body.groupRef?.trim()) throw refuse('/groupRef', 'must not be empty');
  if (!body.consumerRef?.trim()) throw refuse('/consumerRef', 'must not be empty');
  const given = CREDENTIAL_FIELDS.filter((field) => body[field] !== undefined);
  if (given.length !== 1)
    throw refuse(
      given.length === 0 ? '' : `/${given[1]}`,
      `one kind of credentials is sent, and ${given.length} were (${given.join(', ') || 'none'})`,
    );
  const credentials = credentialsOf(body, given[0]!, providerName, '');
  if (body.providerWorkspaceRef)
    throw refuse(
      '/providerWorkspaceRef',
      `is not taken: ${providerName} accounts have no workspace of their own`,
    );
  checkNoMetadata(body, '', providerName);
  return {
    customer: { ref: body.groupRef, ...(body.groupName ? { name: body.groupName } : {}) },
    consumer: { ref: body.consumerRef, name: body.consumerName ?? '' },
    connection: { providerName, credentials },
  };
}

/**
 * An update's changes, for a connection to `providerName` whose credentials are of `authType`.
 * Every field the mask names must be in `connection`; credentials must be of the connection's
 * own kind; a workspace is the host of the account's own API.
 */
export function connectionChangesOf(
  body: UpdateConnectionBody,
  providerName: ProviderName,
  authType: string,
): ConnectionChanges {
  if (body.updateMask.length === 0) throw refuse('/updateMask', 'must name at least one field');
  const changes: ConnectionChanges = {};
  for (const field of new Set(body.updateMask)) {
    if (body.connection[field] === undefined)
      throw refuse(`/connection/${field}`, 'is required: updateMask names it');
    if (field === 'providerMetadata') checkNoMetadata(body.connection, '/connection', providerName);
    else if (field === 'providerWorkspaceRef') {
      const ref = body.connection.providerWorkspaceRef ?? '';
      if (!ref.trim()) throw refuse('/connection/providerWorkspaceRef', 'must not be empty');
      changes.instanceUrl = /^https?:\/\//.test(ref) ? ref : `https://${ref}`;
    } else {
      const credentials = credentialsOf(body.connection, field, providerName, '/connection');
      if (credentials.authType !== authType)
        throw refuse(
          `/connection/${field}`,
          `does not match the connection: its credentials are ${SCHEME_WORDS[authType] ?? authType}`,
        );
      if (changes.credentials) throw refuse('/updateMask', 'names two kinds of credentials');
      changes.credentials = credentials;
    }
  }
  return changes;
}
