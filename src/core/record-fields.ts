import { objectsOf } from '../connectors/index.ts';
import type { FieldPlan } from './read-plan.ts';

type Fields = Record<string, unknown>;

const NONE: Fields = Object.freeze({}) as Fields;

/** One record as its destination sees it: its mapped names' values, and its selected fields on demand. */
export interface ShapedRecord {
  /** Empty (and shared) when the plan maps no name. */
  mapped: Fields;
  fields(): Fields;
}

/**
 * How one provider's records look under a field plan. Field values are found where the
 * provider's catalog entry says they sit, and named in lower case (see FieldPlan); a record's
 * values are gathered once, however many of its shapes are asked for.
 */
export function recordShape(
  providerName: string,
  plan: FieldPlan | undefined,
): (raw: Fields) => ShapedRecord {
  const layout = objectsOf(providerName)?.fieldValues;
  const omit = new Set(layout?.omit ?? []);
  const valuesOf = (raw: Fields): Fields => {
    const nested = layout?.under === undefined ? undefined : raw[layout.under];
    const source = nested !== null && typeof nested === 'object' ? (nested as Fields) : raw;
    const out: Fields = {};
    for (const key in source) if (!omit.has(key)) out[key.toLowerCase()] = source[key];
    return out;
  };
  const select = plan?.select;
  const mappings = Object.entries(plan?.map ?? {});
  // Runs for every record, so it makes one object and one method: tsx (esbuild's keepNames) gives
  // an arrow function held in a variable its name with a defineProperty call each time it is made.
  return (raw) => {
    let gathered: Fields | undefined;
    let mapped = NONE;
    if (mappings.length > 0) {
      gathered = valuesOf(raw);
      mapped = {};
      for (const [name, field] of mappings) if (field in gathered) mapped[name] = gathered[field];
    }
    return {
      mapped,
      fields() {
        gathered ??= valuesOf(raw);
        const values = gathered;
        if (!select) return values;
        const out: Fields = {};
        for (const name of select) if (name in values) out[name] = values[name];
        return out;
      },
    };
  };
}
