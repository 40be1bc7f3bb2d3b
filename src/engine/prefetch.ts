/**
 * Runs `source` up to `depth` items ahead of the consumer, so that fetching the next page overlaps
 * writing the previous one, while memory stays bounded by `depth` pages (backpressure).
 */
export async function* prefetch<T>(source: AsyncIterable<T>, depth: number): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  const pending: Promise<IteratorResult<T>>[] = [];
  const fill = () => {
    while (pending.length < depth) pending.push(iterator.next());
  };
  try {
    fill();
    for (;;) {
      const next = await pending.shift()!;
      if (next.done) return;
      fill();
      yield next.value;
    }
  } finally {
    // Let any in-flight fetch settle before closing the source, so nothing runs after we return.
    await Promise.allSettled(pending);
    await iterator.return?.();
  }
}
