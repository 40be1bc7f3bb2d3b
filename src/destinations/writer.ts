import type { ProviderRecord } from '../connectors/types.ts';

/** Where a batch goes in a database destination; destinations without tables ignore it. */
export interface TableRef {
  schema: string;
  table: string;
}

/** Whose records a batch holds, and which read produced them. */
export interface RowOwner {
  projectId: string;
  providerName: string;
  /** The customer's id in the project's own system. */
  customerRef: string;
  customerName: string;
  installationId: string;
  /** The provider object the records were read from. */
  objectName: string;
}

export interface WriteRecord extends ProviderRecord {
  /** The record's values under the names its sync maps fields to. */
  mapped: Record<string, unknown>;
  /** The record's field values as its sync delivers them: those selected, by lower-case name. */
  fields(): Record<string, unknown>;
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
}
