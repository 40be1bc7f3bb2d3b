import { CATALOG } from '../../connectors/index.ts';
import type { ProjectConnection } from '../../core/project-connections.ts';

/**
 * Connections in the Platform API's shape (its `Connection`, as seed 004 lists them). A group is
 * the connection's customer: `groupRef` is the customer's ref, `groupName` its name.
 */

/**
 * The end user inside the group who made the connection. A connection made where nobody names one
 * (the Management API, magic links) has none in the core, and the document requires one: its
 * consumer is then made up from its customer (same ref, name and times), and the `consumerRef`
 * filter matches that. The core keeps no time a consumer changed, so a named one has no `updateTime`.
 */
const consumerOf = (c: ProjectConnection) =>
  c.consumer
    ? {
        consumerRef: c.consumer.ref,
        consumerName: c.consumer.name,
        projectId: c.projectId,
        createTime: c.consumer.createdAt.toISOString(),
      }
    : {
        consumerRef: c.customer.ref,
        consumerName: c.customer.name,
        projectId: c.projectId,
        createTime: c.customer.createdAt.toISOString(),
        updateTime: c.customer.updatedAt.toISOString(),
      };

export const consumerRefOf = (c: ProjectConnection) => consumerOf(c).consumerRef;

/**
 * The connection's auth scheme in Ampersand's words: OAuth connections use the authorization-code
 * grant, with PKCE where the provider's catalog entry says so; an access key with its secret is
 * basic auth.
 */
export function authSchemeOf(c: ProjectConnection) {
  switch (c.authType) {
    case 'api_key':
      return 'apiKey' as const;
    case 'access_key_secret':
      return 'basic' as const;
    case 'oauth2':
      return CATALOG[c.providerName].api?.pkce
        ? ('oauth2/authorizationCodePKCE' as const)
        : ('oauth2/authorizationCode' as const);
  }
}

/**
 * The provider workspace: for a provider whose API lives on the account's own host (Salesforce
 * instances, Pipedrive company domains), that host; other connections have none.
 */
export function workspaceRefOf(c: ProjectConnection): string | undefined {
  if (!c.instanceUrl || !CATALOG[c.providerName].api?.baseUrl.includes('{instance_url}')) return undefined;
  return new URL(c.instanceUrl).host;
}

/** The project's OAuth client the connection authorized with; key-based connections have none. */
function providerAppOf(c: ProjectConnection) {
  const app = c.providerApp;
  if (!app.clientId || app.useManagedOauth) return undefined;
  return {
    id: app.id,
    projectId: c.projectId,
    ...(app.externalRef ? { externalRef: app.externalRef } : {}),
    provider: c.providerName,
    clientId: app.clientId,
    scopes: app.scopes,
    createTime: app.createdAt.toISOString(),
    updateTime: app.updatedAt.toISOString(),
  };
}

/**
 * A connection, never with its credentials (`oauth2AuthorizationCode`, `apiKey`): Trellis does not
 * return stored secrets (decision 0004, and 0013 for this API). Trellis does not know the user's
 * id at the provider (`providerConsumerRef`) nor keeps provider metadata (always `{}`).
 */
export function ampersandConnection(c: ProjectConnection) {
  const providerApp = providerAppOf(c);
  const workspaceRef = workspaceRefOf(c);
  return {
    id: c.id,
    projectId: c.projectId,
    provider: c.providerName,
    ...(providerApp ? { providerApp } : {}),
    group: {
      groupRef: c.customer.ref,
      groupName: c.customer.name,
      projectId: c.projectId,
      createTime: c.customer.createdAt.toISOString(),
      updateTime: c.customer.updatedAt.toISOString(),
    },
    consumer: consumerOf(c),
    ...(workspaceRef === undefined ? {} : { providerWorkspaceRef: workspaceRef }),
    createTime: c.createdAt.toISOString(),
    updateTime: c.updatedAt.toISOString(),
    authScheme: authSchemeOf(c),
    status: c.status,
    providerMetadata: {},
  };
}
