/** A source's next item, or how asking for it failed. */
type Asked<T> = { result: IteratorResult<T> } | { error: unknown };

/**
 * Pulls several sources at once ahead of the consumer, at most `concurrency` of them at a time (the
 * next one starts when one ends), while fewer than `budget` units (e.g. records) are buffered
 * across all of them, so that fetching overlaps writing and memory stays bounded (backpressure): a
 * source's item waits for room in the buffer with the source's next item already asked for, so
 * the buffer holds at most `budget` plus one item per source, and each source holds one more, on
 * its way or come. Asking only once there was room left a consumer slower than the sources idle
 * for a round trip each time it drained the buffer (decision 0024). Sources come in phases: a
 * phase's sources start once every source of the phases before it has ended (read to its end,
 * whether or not the consumer has taken its items yet). Yields each item with the index of its
 * source (counted across the phases), in the order they arrive; each source's items keep their
 * order. A source that fails stops the others; the consumer gets what was buffered, then the error.
 * Stopping early (the consumer left, or a source failed) aborts `stopping`, which the caller has
 * given the sources' provider requests, so that their items on their way end at once; it then
 * waits for each source to close.
 */
export async function* prefetch<T>(
  phases: (() => AsyncIterable<T>)[][],
  opts: { budget: number; size: (item: T) => number; concurrency: number; stopping?: AbortController },
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

  const stop = () => {
    stopped = true;
    if (running > 0) opts.stopping?.abort(new Error('the read stopped'));
    makeRoom();
  };
  const fail = (error: unknown) => {
    failure ??= { error };
    stop();
  };

  const produce = async (index: number) => {
    /** The source from its start until it ends by itself: one left before then is closed. */
    let open: AsyncIterator<T> | undefined;
    let next: Promise<Asked<T>> | undefined;
    try {
      await room();
      if (stopped) return;
      const source = sources[index]!()[Symbol.asyncIterator]();
      open = source;
      // Settled either way at once: a read ahead that fails while its source waits for room must
      // not be an unhandled rejection.
      const ask = (): Promise<Asked<T>> =>
        source.next().then(
          (result) => ({ result }),
          (error: unknown) => ({ error }),
        );
      next = ask();
      for (;;) {
        const asked = await next;
        next = undefined;
        if ('error' in asked) {
          open = undefined;
          throw asked.error;
        }
        if (asked.result.done) {
          open = undefined;
          return;
        }
        if (stopped) return;
        next = ask();
        buffer.push({ source: index, item: asked.result.value });
        buffered += size(asked.result.value);
        wake();
        await room();
        if (stopped) return;
      }
    } catch (error) {
      // After a stop, a source fails by being aborted: only a failure before it counts.
      if (!stopped) fail(error);
    } finally {
      // A source left early (stopped, or this loop failed) is closed once the item on its way has
      // come, so that its cleanup runs; that item is dropped.
      try {
        await next;
        await open?.return?.();
      } catch (error) {
        fail(error);
      }
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
    stop();
    await Promise.all(producers);
  }
}
