/**
 * What an integration reads and how, in the core's own words; every API surface translates its
 * configuration into these types at its edge. A sync's plan is resolved from them whenever the
 * integration or the connection's overrides change, so the engine reads one small typed value.
 */

/** How often a sync runs. (Cron schedules join this union when a surface needs them.) */
export interface Schedule {
  everyMs: number;
}

/**
 * How an object is read. `incremental`: the first run reads everything, later runs read what
 * changed since the last one (with a full read every `fullEvery` incrementals, when set); `full`:
 * every run reads everything.
 */
export interface ReadPolicy {
  schedule: Schedule;
  mode: 'incremental' | 'full';
  fullEvery?: number;
  /** Whether a new connection's syncs start at once; unset means they do. */
  startOnInstall?: boolean;
}

export type ObjectKind = 'common' | 'standard' | 'custom';

/** One thing an integration reads: a provider object (by kind) or an entity (by id). */
export type ReadTarget = { kind: ObjectKind; object: string } | { kind: 'entity'; entityId: string };

export interface ReadObject {
  target: ReadTarget;
  /** Overrides the integration's default policy for this object. */
  policy?: ReadPolicy;
  /** Associated objects to fetch with each record. */
  associations?: string[];
}

/** An integration's read configuration: defaults and the objects, in the order they were given. */
export interface ReadSpec {
  defaults: ReadPolicy;
  objects: ReadObject[];
}

/** A connection's own choices within an integration (what Supaglue calls a connection sync config). */
export interface ReadOverrides {
  /** Where this connection's records go within the integration's destination. */
  destination?: { kind: string; schema?: string; dataset?: string };
  /** The provider objects this connection reads instead of the integration's, each with its table. */
  objects?: { kind: 'standard' | 'custom'; object: string; table?: string }[];
}

/** A sync's resolved plan: everything the engine needs to run it, and nothing it must work out. */
export interface SyncPlan {
  policy: ReadPolicy;
  /** Schema and table chosen by the connection (postgres destinations only); unset = defaults. */
  schema?: string;
  table?: string;
}

/** A sync as an integration asks for it on one connection. */
export interface PlannedSync {
  kind: ObjectKind | 'entity';
  object: string;
  plan: SyncPlan;
}

export const targetName = (t: ReadTarget): string => (t.kind === 'entity' ? t.entityId : t.object);

/** The syncs a read spec asks for on one connection, after that connection's overrides. */
export function planSyncs(spec: ReadSpec, overrides: ReadOverrides | null): PlannedSync[] {
  const schema = overrides?.destination?.schema;
  const planned: PlannedSync[] = [];
  const plan = (policy: ReadPolicy, table?: string): SyncPlan => ({
    policy,
    ...(schema === undefined ? {} : { schema }),
    ...(table === undefined ? {} : { table }),
  });
  for (const kind of ['common', 'standard', 'custom', 'entity'] as const) {
    const configured = spec.objects.filter((o) => o.target.kind === kind);
    const chosen =
      kind === 'standard' || kind === 'custom' ? overrides?.objects?.filter((o) => o.kind === kind) : [];
    if (chosen && chosen.length > 0) {
      // By name, the first of each: one lookup per object instead of a search of the whole list.
      const byName = new Map<string, ReadObject>();
      for (const o of configured) {
        const name = targetName(o.target);
        if (!byName.has(name)) byName.set(name, o);
      }
      for (const o of chosen) {
        const policy = byName.get(o.object)?.policy ?? spec.defaults;
        planned.push({ kind, object: o.object, plan: plan(policy, o.table) });
      }
      continue;
    }
    for (const o of configured) {
      planned.push({ kind, object: targetName(o.target), plan: plan(o.policy ?? spec.defaults) });
    }
  }
  return planned;
}

/** Whether the next run reads everything: nothing read yet, asked for, `full` mode, or every n-th. */
export function nextRunIsFull(
  policy: ReadPolicy,
  state: { synced?: boolean; watermark?: string; incrementalsSinceFull?: number; fullRequested: boolean },
): boolean {
  if (!state.synced || !state.watermark || state.fullRequested || policy.mode === 'full') return true;
  return policy.fullEvery !== undefined && (state.incrementalsSinceFull ?? 0) >= policy.fullEvery;
}
