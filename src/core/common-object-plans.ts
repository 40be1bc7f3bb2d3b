import { commonObjectOf } from '../connectors/index.ts';
import type { PlannedSync } from './read-plan.ts';

/**
 * What a provider makes of a connection's common object syncs: each reads the provider object the
 * provider's mapping reads, into the model's unified table, with the associated objects the mapping
 * needs besides those the config asks for. A common object the provider does not map keeps its
 * plan as it is: its runs fail saying so (saving a config that names one is refused).
 */
export function withCommonObjects(providerName: string, planned: PlannedSync[]): PlannedSync[] {
  return planned.map((p): PlannedSync => {
    if (p.kind !== 'common') return p;
    const common = commonObjectOf(providerName, p.object);
    if (!common) return p;
    const associations = [
      ...new Set([...(common.source.associations ?? []), ...(p.plan.associations ?? [])]),
    ];
    return {
      ...p,
      plan: {
        ...p.plan,
        reads: { kind: 'standard', object: common.source.object },
        defaultTable: common.model.table,
        ...(associations.length > 0 ? { associations } : {}),
      },
    };
  });
}
