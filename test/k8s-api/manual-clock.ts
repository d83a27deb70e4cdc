// A clock that tests move by hand: delays wait until advance() passes them, so retry and backoff
// behaviour is checked exactly and without sleeping. Matches the Clock of @owlk8s/k8s structurally.

interface PendingDelay {
  readonly ms: number;
  readonly at: number;
  readonly resolve: () => void;
}

export class ManualClock {
  #now = 0;
  #pending: PendingDelay[] = [];
  readonly #waiters = new Set<() => void>();
  /** Every delay ever requested, in order. */
  readonly requested: number[] = [];

  now(): number {
    return this.#now;
  }

  delay(ms: number, signal: AbortSignal): Promise<void> {
    this.requested.push(ms);
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const entry: PendingDelay = {
        ms,
        at: this.#now + ms,
        resolve: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.#pending = this.#pending.filter((p) => p !== entry);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#pending.push(entry);
      for (const w of [...this.#waiters]) w();
    });
  }

  /** Delays waiting now. */
  get pending(): number[] {
    return this.#pending.map((p) => p.ms);
  }

  /** Moves time on by `ms`, releasing every delay that ends by then. */
  advance(ms: number): void {
    this.#now += ms;
    const due = this.#pending.filter((p) => p.at <= this.#now);
    this.#pending = this.#pending.filter((p) => p.at > this.#now);
    for (const p of due) p.resolve();
  }

  /** Resolves once at least `count` delays are waiting; rejects after `timeoutMs` (real time). */
  async waitForPending(count: number, timeoutMs = 10_000): Promise<void> {
    if (this.#pending.length >= count) return;
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.#pending.length < count) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(
          new Error(
            `ManualClock: ${this.#pending.length} delays pending after ${timeoutMs} ms, wanted ${count}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }
}
