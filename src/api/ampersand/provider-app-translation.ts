import { isProviderName, type ProviderName } from '../../connectors/catalog.ts';
import { CATALOG, providerModule } from '../../connectors/index.ts';
import type { ProviderApp, ProviderAppChanges, ProviderAppInput } from '../../core/provider-apps.ts';
import { RequestRefused } from '../surface/errors.ts';

/**
 * Provider apps in the Platform API's shape: a project's OAuth client for one provider, several
 * per provider allowed. Apps Trellis keeps for key-based connections (no OAuth client) and
 * managed OAuth are not OAuth clients of the project, so this API does not show them.
 */

/** The document's `ProviderAppMetadata`: Trellis keeps none, so only an empty one is taken. */
interface ProviderAppMetadata {
  authQueryParams?: Record<string, string[]>;
  providerParams?: Record<string, string>;
}

export interface CreateProviderAppBody {
  provider: string;
  clientId: string;
  clientSecret: string;
  scopes?: string[];
  externalRef?: string;
  metadata?: ProviderAppMetadata;
}

export interface UpdateProviderAppBody {
  updateMask: string[];
  providerApp: Partial<CreateProviderAppBody>;
}

const refuse = (pointer: string, detail: string) =>
  new RequestRefused('invalid_input', `${pointer.slice(1).replaceAll('/', '.')} ${detail}`, {
    issues: [{ in: 'body', name: pointer, detail }],
  });

export const isOAuthClient = (app: ProviderApp) =>
  app.authType === 'oauth2' && app.clientId !== null && !app.useManagedOauth;

/** An app as the document's `ProviderApp`; the client secret is write-only and never shown. */
export function ampersandProviderApp(app: ProviderApp) {
  return {
    id: app.id,
    projectId: app.projectId,
    ...(app.externalRef ? { externalRef: app.externalRef } : {}),
    provider: app.providerName,
    clientId: app.clientId ?? '',
    scopes: app.scopes,
    createTime: app.createdAt.toISOString(),
    updateTime: app.updatedAt.toISOString(),
  };
}

function checkNoMetadata(metadata: ProviderAppMetadata | undefined, pointer: string): void {
  const names = [
    ...Object.keys(metadata?.authQueryParams ?? {}),
    ...Object.keys(metadata?.providerParams ?? {}),
  ];
  if (names.length > 0)
    throw refuse(pointer, `names ${names.join(', ')}: Trellis keeps no provider app metadata`);
}

/** A provider Trellis connects to through OAuth. */
function oauthProvider(name: string, pointer: string): ProviderName {
  if (!isProviderName(name) || !providerModule(name))
    throw refuse(pointer, `names a provider Trellis does not connect to ("${name}"); see GET /v1/providers`);
  if (!CATALOG[name].authTypes.includes('oauth2'))
    throw refuse(pointer, `names ${name}, which Trellis connects to without OAuth: it takes no provider app`);
  return name;
}

const nonEmpty = (value: string | undefined, pointer: string): string => {
  if (!value?.trim()) throw refuse(pointer, 'must not be empty');
  return value.trim();
};

export function providerAppInputOf(body: CreateProviderAppBody): ProviderAppInput {
  checkNoMetadata(body.metadata, '/metadata');
  return {
    providerName: oauthProvider(body.provider, '/provider'),
    authType: 'oauth2',
    clientId: nonEmpty(body.clientId, '/clientId'),
    clientSecret: nonEmpty(body.clientSecret, '/clientSecret'),
    scopes: body.scopes ?? [],
    ...(body.externalRef ? { externalRef: body.externalRef } : {}),
  };
}

const MASKABLE = ['externalRef', 'clientId', 'clientSecret', 'provider', 'scopes', 'metadata'];

/**
 * An update's changes to `current`: each field the mask names, from `providerApp`. An external ref
 * the mask names and the body leaves out (or empty) is removed; the provider cannot change.
 */
export function providerAppChangesOf(body: UpdateProviderAppBody, current: ProviderApp): ProviderAppChanges {
  if (body.updateMask.length === 0) throw refuse('/updateMask', 'must name at least one field');
  const given = body.providerApp;
  const changes: ProviderAppChanges = {};
  for (const field of new Set(body.updateMask)) {
    if (!MASKABLE.includes(field))
      throw refuse('/updateMask', `names "${field}"; fields that can change: ${MASKABLE.join(', ')}`);
    const pointer = `/providerApp/${field}`;
    if (field === 'externalRef') changes.externalRef = given.externalRef || null;
    else if (field === 'clientId') changes.clientId = nonEmpty(given.clientId, pointer);
    else if (field === 'clientSecret') changes.clientSecret = nonEmpty(given.clientSecret, pointer);
    else if (field === 'metadata') checkNoMetadata(given.metadata, pointer);
    else if (field === 'scopes') {
      if (!given.scopes) throw refuse(pointer, 'is required: updateMask names it');
      changes.scopes = given.scopes;
    } else if (given.provider !== current.providerName)
      throw refuse(pointer, `cannot change: this app is ${current.providerName}'s`);
  }
  return changes;
}
