import type { ConnectionRef, DomainEvent, SyncRef, WebhookFormat } from '../../core/domain-events.ts';

/** The webhook event types Supaglue clients subscribe to. */
export const EVENT_TYPES = [
  'connection.created',
  'connection.deleted',
  'sync.complete',
  'sync.paused',
  'entity.entity_mapping.created',
  'entity.entity_mapping.updated',
  'entity.entity_mapping.deleted',
  'object.field_mapping.created',
  'object.field_mapping.updated',
] as const;

type EventType = (typeof EVENT_TYPES)[number];

const connectionFields = (c: ConnectionRef) => ({
  connection_id: c.connectionId,
  customer_id: c.customerRef,
  provider_id: c.providerAppId,
  category: c.category,
  provider_name: c.providerName,
});

const syncFields = (s: SyncRef) => ({
  connection_id: s.connectionId,
  customer_id: s.customerRef,
  provider_name: s.providerName,
});

const syncTarget = (s: SyncRef) =>
  s.kind === 'entity'
    ? { type: 'entity', entity_id: s.object }
    : { type: 'object', object_type: s.kind, object: s.object };

function typeAndBody(event: DomainEvent, projectId: string): [EventType, Record<string, unknown>] {
  switch (event.type) {
    case 'connection.created':
    case 'connection.deleted':
      return [event.type, { ...connectionFields(event.connection), result: 'SUCCESS' }];
    case 'sync.paused':
      return [
        'sync.paused',
        { ...syncFields(event.sync), ...syncTarget(event.sync), pause_reason: event.reason },
      ];
    case 'sync.run_ended':
      return [
        'sync.complete',
        {
          run_id: event.runId,
          ...syncFields(event.sync),
          result: event.error === undefined ? 'SUCCESS' : 'ERROR',
          num_records_synced: event.records,
          ...(event.error === undefined ? {} : { error_message: event.error }),
          ...syncTarget(event.sync),
          ...(event.sync.kind === 'entity' ? { entity_name: event.sync.object } : {}),
        },
      ];
    case 'field_mapping.saved':
      return [
        event.created ? 'object.field_mapping.created' : 'object.field_mapping.updated',
        {
          connection_id: event.connection.connectionId,
          application_id: projectId,
          customer_id: event.connection.customerRef,
          provider_name: event.connection.providerName,
          object_name: event.object,
          object_type: event.objectKind,
          schema_id: event.schemaId,
          result: 'SUCCESS',
        },
      ];
    case 'entity_mapping.saved':
    case 'entity_mapping.deleted':
      return [
        event.type === 'entity_mapping.deleted'
          ? 'entity.entity_mapping.deleted'
          : event.created
            ? 'entity.entity_mapping.created'
            : 'entity.entity_mapping.updated',
        {
          connection_id: event.connection.connectionId,
          application_id: projectId,
          customer_id: event.connection.customerRef,
          provider_name: event.connection.providerName,
          entity_id: event.entityId,
          ...(event.object ? { object_name: event.object.name, object_type: event.object.kind } : {}),
          result: 'SUCCESS',
        },
      ];
  }
}

/** Events as Supaglue's webhooks deliver them: the type is repeated in the body. */
export const supaglueWebhooks: WebhookFormat = {
  eventTypes: EVENT_TYPES,
  render(event, projectId) {
    const [type, body] = typeAndBody(event, projectId);
    return { type, payload: { webhook_event_type: type, ...body } };
  },
};
