import v8 from 'node:v8';

/**
 * How far past what survived its last full collection V8 lets the heap grow before the next one:
 * 100 %, twice the live heap. V8's own choice goes up to four times on a machine whose heap limit
 * is 2 GB or more, and a sync run's records live through a batch, long enough to be promoted
 * (decision 0027).
 */
const HEAP_GROWING_PERCENT = 100;

/**
 * Makes V8 collect a process that runs syncs when its heap has doubled, rather than quadrupled.
 * A growth factor, not a ceiling: a process parsing the largest provider answer (256 MB) still
 * has the whole heap limit. A node flag the operator gave (`node --heap-growing-percent=N`) stays.
 */
export function limitHeapGrowth(): void {
  if (process.execArgv.some((arg) => arg.startsWith('--heap-growing-percent'))) return;
  // Read by V8 each time it sets the next collection's threshold, so it holds from here on.
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
