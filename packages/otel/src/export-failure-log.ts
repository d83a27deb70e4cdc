// One push exporter's failures: counted (a self metric) and logged without flooding — the first
// failure at once, then at most one summary per interval, and one line on recovery.
import type { PipelineLogger } from './options.ts';

export interface FailureSink {
  /** Counts one failure; returns the exporter's total so far. */
  exportFailed(exporter: string): number;
}

export class ExportFailureLog {
  readonly #name: string;
  readonly #sink: FailureSink;
  readonly #logger: PipelineLogger;
  readonly #logIntervalMs: number;
  readonly #now: () => number;
  #failingSince: number | undefined;
  #failuresSinceLog = 0;
  #failuresInOutage = 0;
  #lastLogMs = 0;

  constructor(
    name: string,
    sink: FailureSink,
    logger: PipelineLogger,
    logIntervalMs: number,
    now: () => number = Date.now,
  ) {
    this.#name = name;
    this.#sink = sink;
    this.#logger = logger;
    this.#logIntervalMs = logIntervalMs;
    this.#now = now;
  }

  failed(error: Error | undefined): void {
    const total = this.#sink.exportFailed(this.#name);
    const now = this.#now();
    this.#failuresSinceLog++;
    this.#failuresInOutage++;
    if (this.#failingSince === undefined) {
      this.#failingSince = now;
      this.#lastLogMs = now;
      this.#failuresSinceLog = 0;
      this.#logger.error(
        { exporter: this.#name, error: error?.message, failures: total },
        'metrics export failed',
      );
    } else if (now - this.#lastLogMs >= this.#logIntervalMs) {
      this.#logger.error(
        {
          exporter: this.#name,
          error: error?.message,
          failuresSinceLastLog: this.#failuresSinceLog,
          failingForSeconds: Math.round((now - this.#failingSince) / 1000),
        },
        'metrics export still failing',
      );
      this.#lastLogMs = now;
      this.#failuresSinceLog = 0;
    }
  }

  succeeded(): void {
    if (this.#failingSince === undefined) return;
    this.#logger.warn(
      {
        exporter: this.#name,
        failedExports: this.#failuresInOutage,
        outageSeconds: Math.round((this.#now() - this.#failingSince) / 1000),
      },
      'metrics export recovered',
    );
    this.#failingSince = undefined;
    this.#failuresInOutage = 0;
    this.#failuresSinceLog = 0;
  }
}
