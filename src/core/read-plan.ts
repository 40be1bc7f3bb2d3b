/**
 * What an integration reads and how, in the core's own words; every API surface translates its
 * configuration into these types at its edge. A sync's plan is resolved from them whenever the
 * integration or the connection's overrides change, so the engine reads one small typed value.
 */
import { Cron } from 'croner';

/** When a sync runs: every so often after its last run, or at the times of a cron expression (UTC). */
export type Schedule = { everyMs: number } | { cron: string };

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
  /** How far back the first run reads, in days; unset means the whole history. */
  backfillDays?: number;
}

export type ObjectKind = 'common' | 'standard' | 'custom';

/** One thing an integration reads: a provider object (by kind) or an entity (by id). */
export type ReadTarget = { kind: ObjectKind; object: string } | { kind: 'entity'; entityId: string };

/**
 * A name an object's records also carry a value under: a fixed provider field's, or (without
 * `field`) the value of the field each customer chooses for it.
 */
export interface FieldMapping {
  name: string;
  field?: string;
}

/**
 * Which of an object's fields a read delivers: those required and those a customer chose among
 * the optional ones (or among all, with `allOptional`), plus the names they are mapped to.
 */
export interface FieldSelection {
  required: string[];
  optional: string[];
  /** Every field the provider has, beyond the listed ones. */
  allOptional?: boolean;
  mappings?: FieldMapping[];
}

/** What one customer chose within an object's field selection. */
export interface FieldChoice {
  selectedFields?: string[];
  /** Mapped name → the provider field chosen for it. */
  fieldMappings?: Record<string, string>;
}

/**
 * How a sync shapes each record for its destination. Field names are matched and delivered in
 * lower case, as providers' names differ only in case between their APIs (Salesforce's REST and
 * Bulk answers, say).
 */
export interface FieldPlan {
  /** The fields delivered; absent when every field is. */
  select?: string[];
  /** Mapped name → the provider field whose value it carries. */
  map: Record<string, string>;
}

export interface ReadObject {
  target: ReadTarget;
  /** Overrides the integration's default policy for this object. */
  policy?: ReadPolicy;
  /** Associated objects to fetch with each record. */
  associations?: string[];
  /** Where this object's records go, when not the integration's destination. */
  destinationId?: string;
  fields?: FieldSelection;
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
  destinationId: string;
  /** Schema and table chosen by the connection (postgres destinations only); unset = defaults. */
  schema?: string;
  table?: string;
  /** Unset: every field, none mapped. */
  fields?: FieldPlan;
  /**
   * The provider object read, when the sync's own target is not one (an entity reads the object
   * mapped to it); an entity no mapping points at an object yet has none and cannot run.
   */
  reads?: { kind: 'standard' | 'custom'; object: string };
  /** The table records go to unless the connection chose one; unset = `<provider>_<object>`. */
  defaultTable?: string;
  /** Associated objects to read with each record (HubSpot's), as the provider names them. */
  associations?: string[];
}

/** A sync as an integration asks for it on one connection. */
export interface PlannedSync {
  kind: ObjectKind | 'entity';
  object: string;
  plan: SyncPlan;
}

export const targetName = (t: ReadTarget): string => (t.kind === 'entity' ? t.entityId : t.object);

/** One object a read spec asks a connection to sync, with what configured it and its chosen table. */
export interface PlannedTarget {
  kind: ObjectKind | 'entity';
  object: string;
  /** The spec's entry for it (absent for an object only the connection's overrides name). */
  source: ReadObject | undefined;
  table?: string;
}

/**
 * The objects a read spec asks for on one connection, after that connection's overrides. `only`
 * narrows them to those an installation selected.
 */
export function plannedTargets(
  spec: ReadSpec,
  overrides: ReadOverrides | null,
  only?: ReadonlySet<string>,
): PlannedTarget[] {
  const planned: PlannedTarget[] = [];
  for (const kind of ['common', 'standard', 'custom', 'entity'] as const) {
    const configured = spec.objects.filter(
      (o) => o.target.kind === kind && (!only || only.has(targetName(o.target))),
    );
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
        planned.push({
          kind,
          object: o.object,
          source: byName.get(o.object),
          ...(o.table === undefined ? {} : { table: o.table }),
        });
      }
      continue;
    }
    for (const o of configured) planned.push({ kind, object: targetName(o.target), source: o });
  }
  return planned;
}

/**
 * The syncs a read spec asks for on one connection, each with its resolved plan. Records go to the
 * object's own destination, else to the integration's (`destinationId`); saving an integration
 * makes sure one of the two exists.
 */
export function planSyncs(
  spec: ReadSpec,
  overrides: ReadOverrides | null,
  destinationId: string | null,
  chosen?: ReadonlyMap<string, FieldChoice>,
): PlannedSync[] {
  const schema = overrides?.destination?.schema;
  const only = chosen && new Set(chosen.keys());
  return plannedTargets(spec, overrides, only).map(({ kind, object, source, table }) => {
    const destination = source?.destinationId ?? destinationId;
    if (!destination) throw new Error(`object "${object}" has no destination`);
    const fields = source?.fields && fieldPlanOf(source.fields, chosen?.get(object));
    const associations = source?.associations?.length ? source.associations : undefined;
    return {
      kind,
      object,
      plan: {
        policy: source?.policy ?? spec.defaults,
        destinationId: destination,
        ...(schema === undefined ? {} : { schema }),
        ...(table === undefined ? {} : { table }),
        ...(fields === undefined ? {} : { fields }),
        ...(associations === undefined ? {} : { associations }),
      },
    };
  });
}

/**
 * The fields a sync delivers: the required ones, the optional ones the customer chose, and the
 * provider fields behind each mapped name (delivered under their own names too). A fixed mapping
 * of an optional field applies when the field is chosen; a customer's mapping, when the selection
 * offers its name. Undefined when the selection lists no field: every field is delivered.
 */
export function fieldPlanOf(selection: FieldSelection, choice: FieldChoice = {}): FieldPlan | undefined {
  const lower = (names: string[]) => names.map((n) => n.toLowerCase());
  const optional = new Set(lower(selection.optional));
  const chosen = lower(choice.selectedFields ?? []).filter((f) => selection.allOptional || optional.has(f));
  const delivered = new Set([...lower(selection.required), ...chosen]);
  const map: Record<string, string> = {};
  for (const m of selection.mappings ?? []) {
    const field = m.field === undefined ? choice.fieldMappings?.[m.name] : m.field;
    if (field === undefined || (m.field !== undefined && !delivered.has(field.toLowerCase()))) continue;
    map[m.name] = field.toLowerCase();
  }
  const listsFields = selection.required.length > 0 || optional.size > 0 || selection.allOptional === true;
  if (!listsFields && Object.keys(map).length === 0) return undefined;
  return {
    ...(listsFields ? { select: [...new Set([...delivered, ...Object.values(map)])] } : {}),
    map,
  };
}

/** When a sync whose run ended at `from` runs next, by its schedule. */
export function nextScheduledRun(schedule: Schedule, from: Date): Date {
  if ('everyMs' in schedule) return new Date(from.getTime() + schedule.everyMs);
  const next = new Cron(schedule.cron, { paused: true, timezone: 'UTC' }).nextRun(from);
  // A valid expression with no future time (a date long past): never again, as far as a scheduler cares.
  return next ?? new Date(8.64e15);
}

/** Why a cron expression cannot schedule syncs, or undefined when it can. */
export function cronProblem(expression: string): string | undefined {
  try {
    new Cron(expression, { paused: true, timezone: 'UTC' });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * What the next run reads. Everything when nothing was read yet (unless the policy bounds the
 * first read to recent days, then what changed since that instant), when asked, in `full` mode,
 * and every n-th incremental; otherwise what changed since the watermark.
 */
export function nextRead(
  policy: ReadPolicy,
  state: { synced?: boolean; watermark?: string; incrementalsSinceFull?: number; fullRequested: boolean },
  now: Date,
): { mode: 'full' } | { mode: 'incremental'; since: string } {
  if (
    !state.synced &&
    policy.backfillDays !== undefined &&
    !state.fullRequested &&
    policy.mode === 'incremental'
  )
    return {
      mode: 'incremental',
      since: new Date(now.getTime() - policy.backfillDays * 86_400_000).toISOString(),
    };
  if (!state.synced || !state.watermark || state.fullRequested || policy.mode === 'full')
    return { mode: 'full' };
  if (policy.fullEvery !== undefined && (state.incrementalsSinceFull ?? 0) >= policy.fullEvery)
    return { mode: 'full' };
  return { mode: 'incremental', since: state.watermark };
}
