import { describe, expect, it } from 'vitest';
import { prefetch } from '../../src/engine/prefetch.ts';

const tick = () => new Promise((r) => setImmediate(r));

/** A source of `items` that logs when it starts and ends, one item per turn of the event loop. */
function source(name: string, items: number[], log: string[]) {
  return async function* () {
    log.push(`${name} starts`);
    for (const item of items) {
      await tick();
      yield item;
    }
    log.push(`${name} ends`);
  };
}

/** A source without end that logs `<name> closed` when it is closed. */
function endless(name: string, log: string[]) {
  return async function* () {
    try {
      for (let i = 1; ; i++) {
        await tick();
        yield i;
      }
    } finally {
      log.push(`${name} closed`);
    }
  };
}

/** A source whose second item never comes: it ends when `stopping` aborts, as a provider request would. */
function untilAborted(stopping: AbortController) {
  return async function* () {
    yield 1;
    await new Promise((_, reject) =>
      stopping.signal.addEventListener('abort', () => reject(stopping.signal.reason)),
    );
  };
}

describe('prefetch', () => {
  it('starts a phase once the sources before it are read to their end, not once their items are taken', async () => {
    const log: string[] = [];
    const pages = prefetch([[source('a', [1, 2], log), source('b', [3], log)], [source('last', [4], log)]], {
      budget: 100,
      size: () => 1,
      concurrency: 4,
    });
    const first = await pages.next();
    expect(first.value).toEqual({ source: 0, item: 1 });
    // The consumer holds back: the first phase ends meanwhile, and the last phase starts.
    for (let i = 0; i < 10; i++) await tick();
    expect(log).toEqual(['a starts', 'b starts', 'b ends', 'a ends', 'last starts', 'last ends']);
    const rest: { source: number; item: number }[] = [];
    for await (const page of pages) rest.push(page);
    // Items of the first phase all come before the last phase's.
    expect(rest.at(-1)).toEqual({ source: 2, item: 4 });
    expect(
      rest
        .slice(0, -1)
        .map((p) => p.item)
        .sort(),
    ).toEqual([2, 3]);
  });

  it('never starts a later phase while a source of an earlier one is still being read', async () => {
    const log: string[] = [];
    const items: number[] = [];
    for await (const { item } of prefetch(
      [[source('slow', [1, 2, 3, 4, 5], log)], [source('last', [6], log)]],
      { budget: 100, size: () => 1, concurrency: 8 },
    ))
      items.push(item);
    expect(log).toEqual(['slow starts', 'slow ends', 'last starts', 'last ends']);
    expect(items).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("has a source's next item on its way while the one before waits for room, and no further one", async () => {
    const asked: number[] = [];
    async function* numbers() {
      for (let i = 1; i <= 10; i++) {
        asked.push(i);
        await tick();
        yield i;
      }
    }
    const pages = prefetch([[numbers]], { budget: 2, size: () => 1, concurrency: 1 });
    expect((await pages.next()).value).toEqual({ source: 0, item: 1 });
    for (let i = 0; i < 10; i++) await tick();
    // 2 and 3 fill the buffer; 4 was asked for meanwhile and waits; 5 is not asked for.
    expect(asked).toEqual([1, 2, 3, 4]);
    const rest: number[] = [];
    for await (const { item } of pages) rest.push(item);
    expect(rest).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('closes a source whose next item is on its way when the consumer stops', async () => {
    const log: string[] = [];
    for await (const { item } of prefetch([[endless('it', log)]], {
      budget: 1,
      size: () => 1,
      concurrency: 1,
    }))
      if (item === 1) break;
    expect(log).toEqual(['it closed']);
  });

  it('ends with the error of a read ahead that failed while its source waited for room', async () => {
    async function* failing() {
      yield 1;
      yield 2;
      throw new Error('provider down');
    }
    const items: number[] = [];
    const read = async () => {
      for await (const { item } of prefetch([[failing]], { budget: 1, size: () => 1, concurrency: 1 })) {
        items.push(item);
        // The source fails while 2 waits for room.
        for (let i = 0; i < 5; i++) await tick();
      }
    };
    await expect(read()).rejects.toThrow('provider down');
    expect(items).toEqual([1, 2]);
  });

  it('closes a source whose item could not be taken, and ends with that error', async () => {
    const log: string[] = [];
    const size = (item: number) => {
      if (item === 2) throw new Error('a page without records');
      return 1;
    };
    const read = async () => {
      for await (const _ of prefetch([[endless('it', log)]], { budget: 10, size, concurrency: 1 }));
    };
    await expect(read()).rejects.toThrow('a page without records');
    expect(log).toEqual(['it closed']);
  });

  it('closes every other source, after the item on its way, when one fails', async () => {
    const log: string[] = [];
    async function* failing() {
      yield 0;
      await tick();
      await tick();
      await tick();
      throw new Error('provider down');
    }
    const read = async () => {
      for await (const _ of prefetch([[endless('a', log), failing, endless('b', log)]], {
        budget: 100,
        size: () => 1,
        concurrency: 3,
      }));
    };
    await expect(read()).rejects.toThrow('provider down');
    expect(log.sort()).toEqual(['a closed', 'b closed']);
  });

  it('aborts `stopping` when the consumer leaves while a source reads, so its item on its way ends', async () => {
    const stopping = new AbortController();
    for await (const { item } of prefetch([[untilAborted(stopping)]], {
      budget: 10,
      size: () => 1,
      concurrency: 1,
      stopping,
    }))
      if (item === 1) break;
    expect(stopping.signal.aborted).toBe(true);
  });

  it('does not abort `stopping` when the read ends', async () => {
    const stopping = new AbortController();
    const items: number[] = [];
    for await (const { item } of prefetch([[source('a', [1, 2], [])], [source('b', [3], [])]], {
      budget: 10,
      size: () => 1,
      concurrency: 2,
      stopping,
    }))
      items.push(item);
    expect(items).toEqual([1, 2, 3]);
    expect(stopping.signal.aborted).toBe(false);
  });

  it('aborts `stopping` when a source fails while another reads, and ends with the failure', async () => {
    const stopping = new AbortController();
    async function* failing() {
      yield 2;
      await tick();
      throw new Error('provider down');
    }
    const read = async () => {
      for await (const _ of prefetch([[untilAborted(stopping), failing]], {
        budget: 10,
        size: () => 1,
        concurrency: 2,
        stopping,
      }));
    };
    await expect(read()).rejects.toThrow('provider down');
    expect(stopping.signal.aborted).toBe(true);
  });
});
