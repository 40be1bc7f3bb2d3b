import type { ObjectKind } from './read-plan.ts';

/** The connection an event is about, as every surface needs to name it. */
export interface ConnectionRef {
  connectionId: string;
  /** The customer's id in the project's own system. */
  customerRef: string;
  providerAppId: string;
  providerName: string;
  category: string;
}

/** The sync an event is about. */
export interface SyncRef {
  connectionId: string;
  customerRef: string;
  providerName: string;
  kind: ObjectKind | 'entity';
  /** The object's name, or the entity's id. */
  object: string;
}

/** What happened, in the core's words; a webhook format renders it for a surface's clients. */
export type DomainEvent =
  | { type: 'connection.created' | 'connection.deleted'; connection: ConnectionRef }
  | { type: 'sync.paused'; sync: SyncRef; reason: string }
  | { type: 'sync.run_ended'; sync: SyncRef; runId: string; records: number; error?: string }
  | {
      type: 'field_mapping.saved';
      created: boolean;
      connection: ConnectionRef;
      objectKind: 'common' | 'standard';
      object: string;
      schemaId: string;
    }
  | ({ type: 'entity_mapping.saved'; created: boolean } & EntityMappingChange)
  | ({ type: 'entity_mapping.deleted' } & EntityMappingChange);

interface EntityMappingChange {
  connection: ConnectionRef;
  entityId: string;
  /** The provider object the entity is mapped to, when the mapping names one. */
  object?: { kind: 'standard' | 'custom'; name: string };
}

/**
 * How events reach the project's webhook endpoints: the event types endpoints may subscribe to,
 * and each event as the type and body an endpoint receives. The API surface that manages the
 * endpoints supplies it (src/runtime.ts wires it in).
 */
export interface WebhookFormat {
  eventTypes: readonly string[];
  render(event: DomainEvent, projectId: string): { type: string; payload: Record<string, unknown> };
}
