/** The simulator's notion of now: real time plus whatever tests advanced it by. */
export class SimClock {
  #offset = 0;

  now(): number {
    return Date.now() + this.#offset;
  }

  advance(ms: number): number {
    if (!(ms >= 0)) throw new Error('advance_ms must be a non-negative number');
    this.#offset += ms;
    return this.now();
  }
}
