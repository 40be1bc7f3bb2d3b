import type { ProviderHttp } from './http.ts';

/**
 * Capability interfaces. A connector implements the ones its provider supports; the provider's
 * catalog entry (definition.ts in its folder) carries everything that is data rather than code,
 * the objects it reads and writes included.
 */

/** A record as read from a provider, before any mapping. */
export interface ProviderRecord {
  id: string;
  lastModifiedAt: Date;
  isDeleted: boolean;
  raw: Record<string, unknown>;
}

export interface ReadRequest {
  object: string;
  /** Only records modified after this instant (an incremental run); absent for a full run. */
  since?: Date;
  /** Where an interrupted read stopped: the `cursor` of the last page that was saved. */
  cursor?: string;
  /** Fields to ask for, when the provider needs them listed. */
  fields?: string[];
  /**
   * Associated objects whose ids each record carries, where the provider has associations
   * (HubSpot); kept in `raw` as the provider shows them. Others ignore it.
   */
  associations?: string[];
  /**
   * One partition of a full read, as `partitions` described it: the read returns that part of the
   * object only, and its cursors resume within it.
   */
  partition?: string;
  /**
   * The last `state` this sync's pages handed back (in its last successful run, or in this run
   * before it was resumed); absent if none ever did.
   */
  state?: string;
}

export interface ReadPage {
  records: ProviderRecord[];
  /** Opaque position after this page; passing it back resumes right after it. Null at the end. */
  cursor: string | null;
  /**
   * Opaque state for this sync's next reads (their request's `state`), kept once the run succeeds:
   * what the connector learnt of the account and would otherwise ask the provider again every run.
   * Absent: the state stays as it was.
   */
  state?: string;
  /**
   * The connector reads other fields than the sync's last run read (a property was added or
   * removed): records may come back different at a version that run wrote, so none is skipped.
   */
  fieldsChanged?: boolean;
}

/** What a connector needs about one connection to talk to its provider. */
export interface ConnectorContext {
  http: ProviderHttp;
  instanceUrl: string;
  /** The current OAuth access token, for the few APIs that take it as a parameter. */
  accessToken(): Promise<string | undefined>;
}

export interface ReadCapability {
  /**
   * Pages of an object. A full read returns every live record (and, where the provider shows
   * them, deleted ones flagged); an incremental read returns exactly the records created, changed
   * or deleted after `since`.
   */
  read(ctx: ConnectorContext, req: ReadRequest): AsyncIterable<ReadPage>;
}

/**
 * How a full read splits into partitions that can be read at the same time, each resumable from
 * its own cursors. A record a full read skips is taken for deleted, so the partitions must not
 * lose a record that changes while they are read: either ranges no change moves a record out of
 * (ids, never page offsets), or ranges of modification times followed by a `last` partition that
 * reads every record changed since the split, started only once the ranges are read (a record
 * that moved out of a range not read yet, or into one read already, has changed since the split).
 */
export interface PartitionCapability {
  /**
   * How to split the full read; undefined when the object is better read whole (few records, or
   * no range to split on).
   */
  partitions(
    ctx: ConnectorContext,
    req: Pick<ReadRequest, 'object' | 'fields'>,
  ): Promise<PartitionPlan | undefined>;
}

/**
 * Opaque descriptors whose reads (`partition` in the read request) together return every record
 * one full read of the object returns, each in at least one of them. A record in two partitions is
 * delivered twice (writers keep the newest version).
 */
export interface PartitionPlan {
  /** Read at the same time. */
  partitions: string[];
  /** Read only after all the others have been read to their end. */
  last?: string;
}

export interface WriteCapability {
  create(ctx: ConnectorContext, object: string, fields: Record<string, unknown>): Promise<ProviderRecord>;
  update(
    ctx: ConnectorContext,
    object: string,
    id: string,
    fields: Record<string, unknown>,
  ): Promise<ProviderRecord>;
  delete(ctx: ConnectorContext, object: string, id: string): Promise<void>;
}

export interface FieldDescription {
  name: string;
  label: string;
  type: string;
  readOnly: boolean;
}

export interface DescribeCapability {
  listObjects(ctx: ConnectorContext): Promise<string[]>;
  describeFields(ctx: ConnectorContext, object: string): Promise<FieldDescription[]>;
}

/** The account and user behind a connection; also how credentials are verified before saving. */
export interface AccountInfo {
  userId: string;
  accountId?: string;
  raw: Record<string, unknown>;
  additional?: Record<string, unknown>;
}

export interface AccountCapability {
  whoAmI(ctx: ConnectorContext): Promise<AccountInfo>;
}

export interface RateLimitWindow {
  limit: number;
  remaining: number;
  /** Epoch seconds when the window resets, when the provider says. */
  resetTime?: number;
}

export interface RateLimitCapability {
  rateLimitInfo(ctx: ConnectorContext): Promise<{
    daily?: RateLimitWindow;
    hourly?: RateLimitWindow;
    other?: Record<string, RateLimitWindow>;
  }>;
}

export type Connector = Partial<
  ReadCapability &
    PartitionCapability &
    WriteCapability &
    DescribeCapability &
    AccountCapability &
    RateLimitCapability
>;
