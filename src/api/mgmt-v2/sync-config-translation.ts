import { badRequest } from '../../core/errors.ts';
import { identifierProblem } from '../../core/identifiers.ts';
import type { ObjectKind, ReadObject, ReadOverrides, ReadPolicy, ReadSpec } from '../../core/read-plan.ts';

/**
 * Supaglue's sync configs and connection sync configs, translated to and from the core's read
 * spec and read overrides. Everything a sync config can say has a place in the core types, so a
 * config reads back as it was written (empty object lists read back absent).
 */

interface SyncStrategy {
  period_ms: number;
  strategy: 'full then incremental' | 'full only';
  auto_start_on_connection?: boolean;
  full_sync_every_n_incrementals?: number;
}

interface ObjectSelection {
  object: string;
  sync_strategy_override?: SyncStrategy;
  associations_to_fetch?: string[];
}

export interface SyncConfigData {
  default_config: SyncStrategy;
  common_objects?: ObjectSelection[];
  standard_objects?: ObjectSelection[];
  custom_objects?: ObjectSelection[];
  entities?: { entity_id: string }[];
}

export interface ConnectionSyncConfig {
  destination_config?: { type: string; schema?: string; dataset?: string };
  standard_objects?: { object: string; table?: string }[];
  custom_objects?: { object: string; table?: string }[];
}

const OBJECT_LISTS = [
  ['common', 'common_objects'],
  ['standard', 'standard_objects'],
  ['custom', 'custom_objects'],
] as const satisfies readonly (readonly [ObjectKind, string])[];

function policyOf(s: SyncStrategy, where: string): ReadPolicy {
  const fullEvery = s.full_sync_every_n_incrementals;
  if (fullEvery !== undefined) {
    if (s.strategy === 'full only')
      throw badRequest(
        `${where}: full_sync_every_n_incrementals only applies to the "full then incremental" strategy`,
      );
    if (!Number.isInteger(fullEvery) || fullEvery < 1)
      throw badRequest(`${where}: full_sync_every_n_incrementals must be a whole number >= 1`);
  }
  return {
    schedule: { everyMs: s.period_ms },
    mode: s.strategy === 'full only' ? 'full' : 'incremental',
    ...(fullEvery === undefined ? {} : { fullEvery }),
    ...(s.auto_start_on_connection === undefined ? {} : { startOnInstall: s.auto_start_on_connection }),
  };
}

/** Sync configs are made with a period, never a cron schedule. */
function periodOf(p: ReadPolicy): number {
  if (!('everyMs' in p.schedule)) throw new Error('a sync config holds a cron schedule');
  return p.schedule.everyMs;
}

function strategyOf(p: ReadPolicy): SyncStrategy {
  return {
    period_ms: periodOf(p),
    strategy: p.mode === 'full' ? 'full only' : 'full then incremental',
    ...(p.startOnInstall === undefined ? {} : { auto_start_on_connection: p.startOnInstall }),
    ...(p.fullEvery === undefined ? {} : { full_sync_every_n_incrementals: p.fullEvery }),
  };
}

export function readSpecOf(config: SyncConfigData): ReadSpec {
  const objects: ReadObject[] = [];
  for (const [kind, key] of OBJECT_LISTS) {
    for (const o of config[key] ?? []) {
      objects.push({
        target: { kind, object: o.object },
        ...(o.sync_strategy_override
          ? { policy: policyOf(o.sync_strategy_override, `${key} "${o.object}"`) }
          : {}),
        ...(o.associations_to_fetch ? { associations: o.associations_to_fetch } : {}),
      });
    }
  }
  for (const e of config.entities ?? []) objects.push({ target: { kind: 'entity', entityId: e.entity_id } });
  return { defaults: policyOf(config.default_config, 'default_config'), objects };
}

export function syncConfigDataOf(spec: ReadSpec): SyncConfigData {
  const data: SyncConfigData = { default_config: strategyOf(spec.defaults) };
  for (const [kind, key] of OBJECT_LISTS) {
    const listed: ObjectSelection[] = [];
    for (const o of spec.objects) {
      if (o.target.kind !== kind) continue;
      listed.push({
        object: o.target.object,
        ...(o.policy ? { sync_strategy_override: strategyOf(o.policy) } : {}),
        ...(o.associations ? { associations_to_fetch: o.associations } : {}),
      });
    }
    if (listed.length > 0) data[key] = listed;
  }
  const entities = spec.objects.flatMap((o) =>
    o.target.kind === 'entity' ? [{ entity_id: o.target.entityId }] : [],
  );
  if (entities.length > 0) data.entities = entities;
  return data;
}

/** Schema and table names are checked here too, so that an answer names the field at fault. */
function checkNames(c: ConnectionSyncConfig): void {
  const named = [{ field: 'destination_config.schema', name: c.destination_config?.schema }];
  for (const key of ['standard_objects', 'custom_objects'] as const) {
    (c[key] ?? []).forEach((o, i) => {
      named.push({ field: `${key}[${i}].table`, name: o.table });
    });
  }
  for (const { field, name } of named) {
    const problem = name === undefined ? undefined : identifierProblem(name);
    if (problem) throw badRequest(`${field} ${problem}`);
  }
}

/** Where the connection's records go: the destination's type, and a schema or dataset within it. */
const placeOf = (d: { schema?: string; dataset?: string }) => ({
  ...(d.schema === undefined ? {} : { schema: d.schema }),
  ...(d.dataset === undefined ? {} : { dataset: d.dataset }),
});

const tableOf = (o: { table?: string }) => (o.table === undefined ? {} : { table: o.table });

export function readOverridesOf(c: ConnectionSyncConfig): ReadOverrides {
  checkNames(c);
  const objects = [
    ...(c.standard_objects ?? []).map((o) => ({
      kind: 'standard' as const,
      object: o.object,
      ...tableOf(o),
    })),
    ...(c.custom_objects ?? []).map((o) => ({ kind: 'custom' as const, object: o.object, ...tableOf(o) })),
  ];
  const d = c.destination_config;
  return {
    ...(d ? { destination: { kind: d.type, ...placeOf(d) } } : {}),
    ...(c.standard_objects || c.custom_objects ? { objects } : {}),
  };
}

export function connectionSyncConfigOf(o: ReadOverrides): ConnectionSyncConfig {
  const d = o.destination;
  const listOf = (kind: 'standard' | 'custom') =>
    (o.objects ?? []).filter((x) => x.kind === kind).map((x) => ({ object: x.object, ...tableOf(x) }));
  const standard = listOf('standard');
  const custom = listOf('custom');
  return {
    ...(d ? { destination_config: { type: d.kind, ...placeOf(d) } } : {}),
    ...(standard.length > 0 ? { standard_objects: standard } : {}),
    ...(custom.length > 0 ? { custom_objects: custom } : {}),
  };
}
