// Delivers events to every subscriber; one subscriber's exception is logged and stops nothing.

import type { Logger } from './logger.ts';

export class Dispatcher<E> {
  readonly #listeners = new Set<(e: E) => void>();
  readonly #logger: Logger;
  readonly #what: string;

  constructor(logger: Logger, what: string) {
    this.#logger = logger;
    this.#what = what;
  }

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: (e: E) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  emit(e: E): void {
    for (const l of [...this.#listeners]) {
      try {
        l(e);
      } catch (err) {
        this.#logger.error(
          { err: err instanceof Error ? err.stack : String(err) },
          `${this.#what} listener threw; ignored`,
        );
      }
    }
  }

  get size(): number {
    return this.#listeners.size;
  }
}
