/**
 * Pulls several sources at once ahead of the consumer, at most `concurrency` of them at a time (the
 * next one starts when one ends), while fewer than `budget` units (e.g. records) are buffered
 * across all of them, so that fetching overlaps writing and memory stays bounded (backpressure): a
 * source's item waits for room in the buffer with the source's next item already asked for, so
 * the buffer holds at most `budget` plus one item per source, and one more per source is on its
 * way. Asking only once there was room left a consumer slower than the sources idle for a round
 * trip each time it drained the buffer (decision 0024). Sources come in phases: a phase's sources
 * start once every source of the phases before it has ended (read to its end, whether or not the
 * consumer has taken its items yet). Yields each item with the index of its source (counted across the phases),
 * in the order they arrive; each source's items keep their order. A source that fails stops the
 * others; the consumer gets what was buffered, then the error.
 */
export async function* prefetch<T>(
  phases: (() => AsyncIterable<T>)[][],
  opts: { budget: number; size: (item: T) => number; concurrency: number },
): AsyncGenerator<{ source: number; item: T }> {
  const { budget, size } = opts;
  const buffer: { source: number; item: T }[] = [];
  let buffered = 0;
  let failure: { error: unknown } | undefined;
  let stopped = false;
  let started = 0;
  let running = 0;
  const sources = phases.flat();
  /** Each source's phase, and each phase's sources not ended yet. */
  const phaseOf = phases.flatMap((phase, p) => phase.map(() => p));
  const unended = phases.map((phase) => phase.length);
  const startable = () =>
    started < sources.length && unended.slice(0, phaseOf[started]).every((n) => n === 0);
  const producers: Promise<void>[] = [];
  let wakeConsumer: (() => void) | undefined;
  let waitingForRoom: (() => void)[] = [];

  const wake = () => {
    const w = wakeConsumer;
    wakeConsumer = undefined;
    w?.();
  };
  const makeRoom = () => {
    const waiting = waitingForRoom;
    waitingForRoom = [];
    for (const w of waiting) w();
  };
  const room = async () => {
    while (buffered >= budget && !stopped) await new Promise<void>((r) => waitingForRoom.push(r));
  };

  const produce = async (index: number) => {
    try {
      await room();
      if (stopped) return;
      const items = sources[index]!()[Symbol.asyncIterator]();
      // Settled either way at once: a read ahead that fails while its source waits for room must
      // not be an unhandled rejection.
      const ask = () =>
        items.next().then(
          (result) => ({ result }),
          (error: unknown) => ({ error }),
        );
      let next: ReturnType<typeof ask> | undefined = ask();
      while (next) {
        const asked = await next;
        next = undefined;
        if ('error' in asked) throw asked.error;
        if (asked.result.done) return;
        if (stopped) break;
        next = ask();
        buffer.push({ source: index, item: asked.result.value });
        buffered += size(asked.result.value);
        wake();
        await room();
        if (stopped) break;
      }
      // Stopped: the item on its way is dropped, and the source closed so that its cleanup runs.
      await next;
      await items.return?.();
    } catch (error) {
      failure ??= { error };
      stopped = true;
      makeRoom();
    } finally {
      running--;
      unended[phaseOf[index]!]!--;
      while (!stopped && running < opts.concurrency && startable()) start();
      wake();
    }
  };
  const start = () => {
    const index = started++;
    running++;
    producers.push(produce(index));
  };
  while (running < opts.concurrency && startable()) start();

  try {
    for (;;) {
      const next = buffer.shift();
      if (next) {
        buffered -= size(next.item);
        if (buffered < budget) makeRoom();
        yield next;
        continue;
      }
      if (failure) throw failure.error;
      if (running === 0) return;
      await new Promise<void>((r) => {
        wakeConsumer = r;
      });
    }
  } finally {
    stopped = true;
    makeRoom();
    await Promise.all(producers);
  }
}
