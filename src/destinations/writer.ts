import type { ProviderRecord } from '../connectors/types.ts';

/** Where a batch goes in a database destination; destinations without tables ignore it. */
export interface TableRef {
  schema: string;
  table: string;
  /**
   * Set for a unified table (a common object's): its model's own columns, written from each
   * record's `unified` values between Supaglue's fixed columns. Unset: the provider object layout.
   */
  unified?: { columns: readonly UnifiedColumn[] };
}

/** A column of a unified table's model, and its SQL type. */
export interface UnifiedColumn {
  name: string;
  type: 'text' | 'timestamp(3)' | 'boolean' | 'integer' | 'float' | 'jsonb';
  notNull: boolean;
}

/** Whose records a batch holds, and which read produced them. */
export interface RowOwner {
  projectId: string;
  providerName: string;
  /** The customer's id in the project's own system. */
  customerRef: string;
  customerName: string;
  installationId: string;
  /** The provider object the records were read from, or the common object they were mapped to. */
  objectName: string;
}

export interface WriteRecord extends ProviderRecord {
  /** The record's values under the names its sync maps fields to. */
  mapped: Record<string, unknown>;
  /**
   * The record's field values as its sync delivers them: those selected, by lower-case name; a
   * common object's record, its unified fields.
   */
  fields(): Record<string, unknown>;
  /**
   * A common object's record: its unified fields by column name, base fields (`id`, `created_at`,
   * `updated_at`, `is_deleted`, `last_modified_at`) included; `raw` is the provider record.
   */
  unified?: Record<string, unknown>;
}

/**
 * What the engine does with a destination, whatever its kind: prepare once per run, write each
 * batch (a batch that returns is delivered; one that throws is written again from the checkpoint),
 * and after a completed full run account for what the run did not see.
 */
export interface DestinationWriter {
  prepare(target: TableRef): Promise<void>;
  write(target: TableRef, owner: RowOwner, records: WriteRecord[], emittedAt: Date): Promise<void>;
  /** Returns how many records were marked deleted. */
  markUnseenDeleted(target: TableRef, owner: RowOwner, runStartedAt: Date): Promise<number>;
  /**
   * Whether any of the owner's records not marked deleted is there: a full run that begins with
   * none has nothing to mark deleted at its end.
   */
  holdsRecords(target: TableRef, owner: RowOwner): Promise<boolean>;
}
