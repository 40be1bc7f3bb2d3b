/**
 * Pulls `source` ahead of the consumer while fewer than `budget` units (e.g. records) are
 * buffered, so that fetching overlaps writing, and memory stays bounded (backpressure): the
 * producer waits whenever the buffer is full.
 */
export async function* prefetch<T>(
  source: AsyncIterable<T>,
  budget: number,
  size: (item: T) => number,
): AsyncGenerator<T> {
  const buffer: T[] = [];
  let buffered = 0;
  let done = false;
  let failure: { error: unknown } | undefined;
  let wakeConsumer: (() => void) | undefined;
  let wakeProducer: (() => void) | undefined;
  let stopped = false;

  const producer = (async () => {
    try {
      for await (const item of source) {
        buffer.push(item);
        buffered += size(item);
        wakeConsumer?.();
        while (buffered >= budget && !stopped) {
          await new Promise<void>((r) => {
            wakeProducer = r;
          });
        }
        if (stopped) return;
      }
    } catch (error) {
      failure = { error };
    } finally {
      done = true;
      wakeConsumer?.();
    }
  })();

  try {
    for (;;) {
      if (buffer.length > 0) {
        const item = buffer.shift()!;
        buffered -= size(item);
        wakeProducer?.();
        yield item;
        continue;
      }
      if (failure) throw failure.error;
      if (done) return;
      await new Promise<void>((r) => {
        wakeConsumer = r;
      });
    }
  } finally {
    stopped = true;
    wakeProducer?.();
    await producer;
  }
}
