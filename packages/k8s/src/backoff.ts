// Capped exponential backoff with jitter: initial, 2x, 4x ... up to max, each delay drawn in
// [d/2, d] so thousands of agents that lost the API at once do not come back at once.

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000 };

export class Backoff {
  readonly #opts: BackoffOptions;
  readonly #random: () => number;
  #attempt = 0;

  constructor(opts: BackoffOptions, random: () => number = Math.random) {
    if (!(opts.initialMs > 0) || !(opts.maxMs >= opts.initialMs)) {
      throw new RangeError(`backoff: need 0 < initialMs <= maxMs, got ${opts.initialMs} and ${opts.maxMs}`);
    }
    this.#opts = opts;
    this.#random = random;
  }

  /** The delay before the next attempt; each call doubles the base, up to maxMs. */
  next(): number {
    const base = Math.min(this.#opts.initialMs * 2 ** this.#attempt, this.#opts.maxMs);
    this.#attempt = Math.min(this.#attempt + 1, 52);
    return Math.round(base / 2 + (base / 2) * this.#random());
  }

  reset(): void {
    this.#attempt = 0;
  }

  get attempts(): number {
    return this.#attempt;
  }
}
