import type { Credentials } from '../../auth/connection-auth.ts';
import type { CoreDeps } from '../deps.ts';
import { unprocessable } from '../errors.ts';
import { verifyCredentials } from '../provider-access.ts';
import { ConnectFailure, describeLink, usableLink, withOutcome } from './links.ts';
import { saveAuthorizedConnection } from './save-connection.ts';

/** Saves credentials typed on a link's page (API key, access key pair) after the provider accepted them. */
export async function submitLinkCredentials(
  deps: CoreDeps,
  linkId: string,
  fields: Record<string, string>,
): Promise<string> {
  const link = usableLink(await describeLink(deps, linkId));
  let credentials: Credentials;
  if (link.authType === 'api_key') {
    if (!fields.api_key?.trim()) throw unprocessable('Enter the API key.');
    credentials = { type: 'api_key', api_key: fields.api_key.trim() };
  } else if (link.authType === 'access_key_secret') {
    if (!fields.access_key?.trim() || !fields.access_key_secret?.trim())
      throw unprocessable('Enter the access key and its secret.');
    credentials = {
      type: 'access_key_secret',
      access_key: fields.access_key.trim(),
      access_key_secret: fields.access_key_secret.trim(),
    };
  } else {
    throw new ConnectFailure(`${link.provider.displayName} is connected through OAuth, not with a key.`);
  }
  await verifyCredentials(deps, link.provider.name, credentials);
  await saveAuthorizedConnection(deps, {
    projectId: link.projectId,
    customerId: link.customerId,
    providerAppId: link.providerAppId,
    providerName: link.provider.name,
    authType: link.authType,
    credentials,
    instanceUrl: '',
    tokenExpiresAt: null,
    magicLinkId: link.linkId,
  });
  return withOutcome(link.returnUrl, { result: 'success', provider_name: link.provider.name });
}
