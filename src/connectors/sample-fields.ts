import type { FieldDescription } from './types.ts';

/**
 * Field descriptions read off a record as the provider returns it, for providers without a
 * field-metadata endpoint (Apollo, Gong). Types are JSON's, with ISO date-times told apart.
 */
export function fieldsFromSample(
  sample: Record<string, unknown>,
  writable: ReadonlySet<string> = new Set(),
): FieldDescription[] {
  return Object.entries(sample).map(([name, value]) => ({
    name,
    label: (name.charAt(0).toUpperCase() + name.slice(1)).replaceAll('_', ' '),
    type: typeOf(value),
    readOnly: !writable.has(name),
  }));
}

function typeOf(value: unknown): string {
  if (typeof value === 'number') return 'number';
  if (typeof value === 'boolean') return 'boolean';
  if (Array.isArray(value)) return 'array';
  if (value !== null && typeof value === 'object') return 'object';
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)) return 'datetime';
  return 'string';
}
