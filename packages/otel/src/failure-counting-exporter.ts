// Wraps a push exporter to count its failures (a self metric) and log them without flooding:
// the first failure at once, then at most one summary per interval, and one line on recovery.
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type {
  AggregationTemporality,
  InstrumentType,
  PushMetricExporter,
  ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import type { PipelineLogger } from './options.ts';

export interface FailureSink {
  /** Counts one failure; returns the exporter's total so far. */
  exportFailed(exporter: string): number;
}

export class FailureCountingExporter implements PushMetricExporter {
  readonly #inner: PushMetricExporter;
  readonly #name: string;
  readonly #sink: FailureSink;
  readonly #logger: PipelineLogger;
  readonly #logIntervalMs: number;
  readonly #now: () => number;
  #failingSince: number | undefined;
  #failuresSinceLog = 0;
  #failuresInOutage = 0;
  #lastLogMs = 0;
  readonly #timeoutMs: number;

  constructor(
    inner: PushMetricExporter,
    name: string,
    sink: FailureSink,
    logger: PipelineLogger,
    logIntervalMs: number,
    timeoutMs: number,
    now: () => number = Date.now,
  ) {
    this.#timeoutMs = timeoutMs;
    this.#inner = inner;
    this.#name = name;
    this.#sink = sink;
    this.#logger = logger;
    this.#logIntervalMs = logIntervalMs;
    this.#now = now;
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    let done = false;
    // The reader gives up on an export after its timeout without telling the exporter; an OTLP
    // exporter may still be retrying then. Deciding here keeps the count and the log honest.
    const timer = setTimeout(
      () =>
        finish({ code: ExportResultCode.FAILED, error: new Error(`no answer within ${this.#timeoutMs} ms`) }),
      this.#timeoutMs,
    );
    timer.unref();
    const finish = (result: ExportResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (result.code === ExportResultCode.SUCCESS) this.#succeeded();
      else this.#failed(result.error);
      resultCallback(result);
    };
    try {
      this.#inner.export(metrics, finish);
    } catch (error) {
      finish({
        code: ExportResultCode.FAILED,
        error: error instanceof Error ? error : new Error(String(error)),
      });
    }
  }

  #failed(error: Error | undefined): void {
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

  #succeeded(): void {
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

  selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    return this.#inner.selectAggregationTemporality!(instrumentType);
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }
}
