/**
 * Checks on request input shared by the core services. Each runs in time linear in its input:
 * a request body can hold tens of thousands of items, and the server has one event loop.
 */

/** The first value that occurs a second time, in one pass (a Set, not a search per value). */
export function firstDuplicate<T>(values: Iterable<T>): T | undefined {
  const seen = new Set<T>();
  for (const value of values) {
    if (seen.has(value)) return value;
    seen.add(value);
  }
  return undefined;
}
