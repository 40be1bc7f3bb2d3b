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
  return (raw) => {
    let gathered: Fields | undefined;
    const all = () => {
      gathered ??= valuesOf(raw);
      return gathered;
    };
    let mapped = NONE;
    if (mappings.length > 0) {
      const values = all();
      mapped = {};
      for (const [name, field] of mappings) if (field in values) mapped[name] = values[field];
    }
    return {
      mapped,
      fields() {
        const values = all();
        if (!select) return values;
        const out: Fields = {};
        for (const name of select) if (name in values) out[name] = values[name];
        return out;
      },
    };
  };
}
