import { objectsOf } from '../connectors/index.ts';
import type { FieldPlan } from './read-plan.ts';

type Fields = Record<string, unknown>;

const NONE: Fields = Object.freeze({}) as Fields;

/** How a sync's records look to its destination: their fields as its plan selects them, and their mapped names. */
export interface RecordShape {
  fields(raw: Fields): Fields;
  /** Empty (and shared) when the plan maps no name. */
  mapped(raw: Fields): Fields;
}

/**
 * The shape of one provider's records under a field plan. Field values are found where the
 * provider's catalog entry says they sit, and named in lower case (see FieldPlan).
 */
export function recordShape(providerName: string, plan: FieldPlan | undefined): RecordShape {
  const layout = objectsOf(providerName)?.fieldValues;
  const omit = new Set(layout?.omit ?? []);
  const values = (raw: Fields): Fields => {
    const nested = layout?.under === undefined ? undefined : raw[layout.under];
    const source = nested !== null && typeof nested === 'object' ? (nested as Fields) : raw;
    const out: Fields = {};
    for (const key in source) if (!omit.has(key)) out[key.toLowerCase()] = source[key];
    return out;
  };
  const select = plan?.select;
  const mappings = Object.entries(plan?.map ?? {});
  return {
    fields(raw) {
      const all = values(raw);
      if (!select) return all;
      const out: Fields = {};
      for (const name of select) if (name in all) out[name] = all[name];
      return out;
    },
    mapped(raw) {
      if (mappings.length === 0) return NONE;
      const all = values(raw);
      const out: Fields = {};
      for (const [name, field] of mappings) if (field in all) out[name] = all[field];
      return out;
    },
  };
}
