import type { FieldDescription } from '../../connectors/types.ts';
import { badRequest } from '../../core/errors.ts';
import type { InstallationConfig } from '../../core/installation-config.ts';
import type { Installation } from '../../core/installations.ts';
import type { Integration, IntegrationRevision } from '../../core/integrations.ts';
import type { ProjectConnection } from '../../core/project-connections.ts';
import { ampersandConnection } from './connection-translation.ts';
import type { ManifestIntegration, RevisionSource } from './manifest.ts';

/**
 * Integrations, revisions and installations in the Platform API's shapes. A revision's content is
 * the manifest entry it was deployed from; an installation's config content is the document it
 * was given (both kept as sources beside the core's typed rows).
 */

/** The manifest entry of a revision; one made without a manifest shows its name and provider only. */
function contentOf(integration: Integration, revision: IntegrationRevision): ManifestIntegration {
  const source = revision.source as RevisionSource | null;
  return source?.content ?? { name: integration.name, provider: integration.providerName };
}

export const ampersandRevision = (integration: Integration, revision: IntegrationRevision) => ({
  id: revision.id,
  specVersion: (revision.source as RevisionSource | null)?.specVersion ?? '1.0.0',
  createTime: revision.createdAt.toISOString(),
  content: contentOf(integration, revision),
});

export const ampersandIntegration = (integration: Integration, latest: IntegrationRevision) => ({
  id: integration.id,
  projectId: integration.projectId,
  name: integration.name,
  provider: integration.providerName,
  createTime: integration.createdAt.toISOString(),
  updateTime: integration.updatedAt.toISOString(),
  latestRevision: ampersandRevision(integration, latest),
});

/** "Account ID" for `account_id`, "First Name" for `firstname` is beyond it: the provider's label wins. */
const labelOf = (fields: Map<string, FieldDescription>, name: string) => fields.get(name)?.label ?? name;

/**
 * A revision with each read object's fields from the connection's account: names with display
 * names, required and optional as the manifest says, and every field the account has. An object
 * the provider could not describe says why in `error` and lists the manifest's fields alone.
 */
export function hydratedRevision(
  integration: Integration,
  revision: IntegrationRevision,
  described: Map<string, FieldDescription[] | Error>,
) {
  const content = contentOf(integration, revision);
  const objects = (content.read?.objects ?? []).map((o) => {
    const result = described.get(o.objectName);
    const fields = new Map((Array.isArray(result) ? result : []).map((f) => [f.name, f]));
    const hydrate = (list: { fieldName?: string; mapToName?: string }[] | undefined) =>
      (list ?? []).map((f) =>
        f.fieldName === undefined
          ? f
          : { ...f, fieldName: f.fieldName, displayName: labelOf(fields, f.fieldName) },
      );
    // `optionalFieldsAuto: all`: every field of the account that is not required is optional.
    const required = new Set((o.requiredFields ?? []).flatMap((f) => (f.fieldName ? [f.fieldName] : [])));
    const optional =
      o.optionalFieldsAuto === 'all'
        ? [...fields.values()].filter((f) => !required.has(f.name)).map((f) => ({ fieldName: f.name }))
        : o.optionalFields;
    return {
      ...o,
      displayName: o.objectName,
      requiredFields: hydrate(o.requiredFields),
      optionalFields: hydrate(optional),
      ...(result instanceof Error ? { error: result.message } : {}),
      allFields: [...fields.values()].map((f) => ({ fieldName: f.name, displayName: f.label })),
      allFieldsMetadata: Object.fromEntries(
        [...fields.values()].map((f) => [
          f.name,
          { fieldName: f.name, displayName: f.label, providerType: f.type, readOnly: f.readOnly },
        ]),
      ),
    };
  });
  return {
    id: revision.id,
    specVersion: (revision.source as RevisionSource | null)?.specVersion ?? '1.0.0',
    createTime: revision.createdAt.toISOString(),
    content: {
      ...content,
      ...(content.read ? { read: { ...content.read, objects } } : {}),
      ...(content.write
        ? {
            write: {
              objects: (content.write.objects ?? []).map((w) => ({ ...w, displayName: w.objectName })),
            },
          }
        : {}),
    },
  };
}

/** An installation's configuration document, as the Platform API writes it. */
export interface ConfigContent {
  provider: string;
  read?: {
    objects?: Record<
      string,
      {
        objectName: string;
        selectedFields?: Record<string, boolean>;
        selectedFieldMappings?: Record<string, string>;
      }
    >;
  };
  write?: { objects?: Record<string, { objectName: string }> };
  proxy?: { enabled?: boolean };
}

/** What the core keeps of a configuration document: the objects read, with their fields and mappings, and written. */
export function installationConfigOf(content: ConfigContent, provider: string): InstallationConfig {
  if (content.provider !== provider)
    throw badRequest(`the configuration is for ${content.provider}, the integration for ${provider}`);
  return {
    read: Object.entries(content.read?.objects ?? {}).map(([object, o]) => ({
      object,
      selectedFields: Object.entries(o.selectedFields ?? {}).flatMap(([field, on]) => (on ? [field] : [])),
      fieldMappings: o.selectedFieldMappings ?? {},
    })),
    write: Object.keys(content.write?.objects ?? {}).map((object) => ({ object })),
  };
}

/** The stored source of an installation: who made its configuration and the document itself. */
export interface InstallationSource extends Record<string, unknown> {
  createdBy: string;
  content: ConfigContent;
  configId: string;
}

export function ampersandInstallation(
  installation: Installation,
  connection: ProjectConnection,
  revisionId: string,
) {
  const source = installation.source as InstallationSource | null;
  const createdBy = source?.createdBy ?? 'builder:trellis';
  const shown = ampersandConnection(connection);
  return {
    id: installation.id,
    projectId: installation.projectId,
    integrationId: installation.integrationId,
    group: shown.group,
    healthStatus: connection.status === 'bad_credentials' ? 'unhealthy' : 'healthy',
    connection: shown,
    createTime: installation.createdAt.toISOString(),
    createdBy,
    config: {
      id: source?.configId ?? installation.id,
      revisionId,
      createTime: installation.updatedAt.toISOString(),
      createdBy,
      content: source?.content ?? { provider: connection.providerName },
    },
  };
}
