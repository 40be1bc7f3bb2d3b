import type { RateLimitWindow } from '../../connectors/types.ts';
import type { Connection } from '../../core/connections.ts';
import type { Customer } from '../../core/customers.ts';
import type { DataModel } from '../../core/data-model-types.ts';
import type { Destination } from '../../core/destinations.ts';
import type { Integration } from '../../core/integrations.ts';
import type { MagicLink } from '../../core/magic-links.ts';
import type { MergedObjectFields } from '../../core/mappings.ts';
import type { MappedBy, MergedEntityMapping, MergedField } from '../../core/merged-mappings.ts';
import type { Page } from '../../core/pagination.ts';
import type { ProviderApp } from '../../core/provider-apps.ts';
import type { RunProgress } from '../../core/run-progress.ts';
import type { Sync, SyncRun, SyncRunStatus } from '../../core/syncs.ts';
import type { WebhookEndpoint } from '../../core/webhooks.ts';
import {
  dataModelConfigOf,
  entityMappingConfigOf,
  objectsConfigOf,
  schemaMappingsConfigOf,
} from './mapping-translation.ts';
import { connectionSyncConfigOf, syncConfigDataOf } from './sync-config-translation.ts';

/** Domain objects in the Supaglue dialect's shapes. The project is the Supaglue "application". */

export const customer = (c: Customer) => ({
  application_id: c.projectId,
  customer_id: c.ref,
  name: c.name,
  email: c.email,
});

/** Only the `*_safe` part of a destination's configuration is ever returned. */
export const destination = (d: Destination) =>
  d.type === 'supaglue'
    ? { id: d.id, application_id: d.projectId, type: d.type, version: d.version }
    : {
        id: d.id,
        application_id: d.projectId,
        name: d.name,
        type: d.type,
        config: d.config,
        version: d.version,
      };

/** The OAuth client secret is write-only: it reads back as an empty string. */
export const provider = (p: ProviderApp) => ({
  id: p.id,
  application_id: p.projectId,
  category: p.category,
  auth_type: p.authType,
  name: p.providerName,
  ...(p.authType === 'oauth2'
    ? {
        config: {
          provider_app_id: p.externalRef ?? '',
          use_managed_oauth: p.useManagedOauth,
          oauth: {
            oauth_scopes: p.scopes,
            credentials: {
              oauth_client_id: p.useManagedOauth ? '' : (p.clientId ?? ''),
              oauth_client_secret: '',
            },
          },
        },
      }
    : {}),
  objects: objectsConfigOf(p.objects),
  entity_mappings: p.entityMappings.map(entityMappingConfigOf),
});

export const dataModel = (m: DataModel) => ({
  id: m.id,
  application_id: m.projectId,
  name: m.name,
  config: dataModelConfigOf(m),
});

export const syncConfig = (i: Integration) => ({
  id: i.id,
  application_id: i.projectId,
  destination_name: i.destinationName,
  provider_name: i.providerName,
  config: syncConfigDataOf(i.read),
});

export const connection = (c: Connection) => ({
  id: c.id,
  application_id: c.projectId,
  customer_id: c.customerRef,
  provider_id: c.providerAppId,
  provider_name: c.providerName,
  category: c.category,
  instance_url: c.instanceUrl,
  status: c.status,
  schema_mappings_config: schemaMappingsConfigOf(c.fieldMappings),
  entity_mappings: c.entityMappings.map(entityMappingConfigOf),
  ...(c.readOverrides ? { connection_sync_config: connectionSyncConfigOf(c.readOverrides) } : {}),
});

const mappedName = (f: MergedField, by: MappedBy) => (f.mappedBy === by ? f.providerField : undefined);

/** One object's schema fields, each with the provider field the developer or the customer chose. */
export const objectFieldMappings = (m: MergedObjectFields) => ({
  object_name: m.object,
  object_type: m.kind,
  allow_additional_field_mappings: m.allowsAdditionalFields,
  schema_id: m.schemaId,
  fields: m.fields.map((f) => {
    const bySchema = mappedName(f, 'developer');
    const byCustomer = mappedName(f, 'customer');
    return {
      name: f.name,
      is_added_by_customer: f.additional,
      ...(bySchema === undefined ? {} : { schema_mapped_name: bySchema }),
      ...(byCustomer === undefined ? {} : { customer_mapped_name: byCustomer }),
    };
  }),
});

export const mergedEntityMapping = (m: MergedEntityMapping) => ({
  entity_id: m.entityId,
  entity_name: m.entityName,
  allow_additional_field_mappings: m.allowsAdditionalFields,
  ...(m.object ? { object: { type: m.object.kind, name: m.object.name, from: m.object.mappedBy } } : {}),
  field_mappings: m.fields.map((f) => ({
    entity_field: f.name,
    ...(f.providerField === undefined ? {} : { mapped_field: f.providerField }),
    ...(f.mappedBy === undefined ? {} : { from: f.mappedBy }),
    is_additional: f.additional,
  })),
});

export const magicLink = (m: MagicLink, url: string) => ({
  id: m.id,
  url,
  return_url: m.returnUrl,
  application_id: m.projectId,
  customer_id: m.customerRef,
  provider_id: m.providerAppId,
  provider_name: m.providerName,
  expires_at: m.expiresAt.toISOString(),
  status: m.status,
});

const syncTarget = (s: { kind: string; object: string }) =>
  s.kind === 'entity'
    ? { type: 'entity' as const, entity_id: s.object }
    : { type: 'object' as const, object_type: s.kind, object: s.object };

export const sync = (s: Sync) => ({
  id: s.id,
  ...syncTarget(s),
  connection_id: s.connectionId,
  sync_config_id: s.integrationId,
  paused: s.paused,
});

export const syncWithProviderAndCustomer = (s: Sync) => ({
  ...sync(s),
  provider_name: s.providerName,
  customer_id: s.customerRef,
});

export const RUN_STATUS: Record<SyncRunStatus, 'IN_PROGRESS' | 'SUCCESS' | 'FAILURE'> = {
  running: 'IN_PROGRESS',
  succeeded: 'SUCCESS',
  failed: 'FAILURE',
};

/** A running run's progress as the Management API shows it: a Trellis extension, `trellis_progress`. */
export const runProgress = (p: RunProgress) => ({
  records: p.records,
  pages: p.pages,
  records_per_second: Math.round(p.recordsPerSecond * 10) / 10,
  elapsed_seconds: Math.round(p.elapsedSeconds * 10) / 10,
  reported_at: p.reportedAt.toISOString(),
  expected_records: p.expectedRecords,
});

export const syncRun = (r: SyncRun, projectId: string, progress?: RunProgress) => ({
  id: r.id,
  sync_id: r.syncId,
  ...(r.kind === 'entity' ? { entity_id: r.object } : { object_type: r.kind, object: r.object }),
  error_message: r.errorMessage,
  start_timestamp: new Date(r.startedAt).toISOString(),
  end_timestamp: r.endedAt ? new Date(r.endedAt).toISOString() : null,
  application_id: projectId,
  customer_id: r.customerRef,
  provider_name: r.providerName,
  category: r.category,
  connection_id: r.connectionId,
  status: RUN_STATUS[r.status],
  num_records_synced: r.recordsSynced,
  ...(progress ? { trellis_progress: runProgress(progress) } : {}),
});

export const page = <T, U>(p: Page<T>, map: (item: T) => U) => ({
  next: p.next,
  previous: p.previous,
  total_count: p.totalCount,
  results: p.results.map(map),
});

export const webhookEndpoint = (w: WebhookEndpoint) => ({
  id: w.id,
  url: w.url,
  event_types: w.eventTypes,
  enabled: w.enabled,
  created_at: w.createdAt.toISOString(),
});

const rateLimitWindow = (w: RateLimitWindow) => ({
  limit: w.limit,
  remaining: w.remaining,
  ...(w.resetTime === undefined ? {} : { reset_time: w.resetTime }),
});

/** A connector's rate-limit windows; `reset_time` (epoch seconds) only where a window resets at a set time. */
export const rateLimitInfo = (info: {
  daily?: RateLimitWindow;
  hourly?: RateLimitWindow;
  other?: Record<string, RateLimitWindow>;
}) => ({
  ...(info.daily ? { daily: rateLimitWindow(info.daily) } : {}),
  ...(info.hourly ? { hourly: rateLimitWindow(info.hourly) } : {}),
  ...(info.other
    ? { other: Object.fromEntries(Object.entries(info.other).map(([k, w]) => [k, rateLimitWindow(w)])) }
    : {}),
});
