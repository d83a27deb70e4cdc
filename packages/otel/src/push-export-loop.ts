// The periodic export of one push exporter (OTLP or JSON lines), one resource per target: the
// SDK's MeterProvider has a single resource, so its PeriodicExportingMetricReader cannot carry
// the pods' own. Each round reads the kernel (the onCollect hook), collects the agent's own
// instruments through a MetricReader of the provider, and hands the stock exporter one
// ResourceMetrics per target; a target's counts are acknowledged only when its export succeeded.
import type { InstrumentationScope } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import { type Resource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  type AggregationTemporality,
  type InstrumentType,
  MetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import type { ExportFailureLog } from './export-failure-log.ts';
import type { KernelMetrics, TargetBatch } from './kernel-metrics.ts';
import type { TargetRef } from './series-store.ts';

/** A reader the loop collects on demand: the agent's own instruments, with the exporter's temporality. */
export class OnDemandReader extends MetricReader {
  constructor(
    temporality: (instrumentType: InstrumentType) => AggregationTemporality,
    cardinalityLimit: number,
  ) {
    super({ aggregationTemporalitySelector: temporality, cardinalitySelector: () => cardinalityLimit });
  }

  protected async onForceFlush(): Promise<void> {}

  protected async onShutdown(): Promise<void> {}
}

export interface PushExportLoopOptions {
  /** e.g. `otlp-http[1]`. */
  readonly name: string;
  readonly exporter: PushMetricExporter;
  readonly reader: OnDemandReader;
  readonly kernel: KernelMetrics;
  readonly scope: InstrumentationScope;
  readonly intervalMs: number;
  /** One round's budget: each export and the whole round. */
  readonly timeoutMs: number;
  readonly failures: ExportFailureLog;
  /** Reads the kernel into the store before a round collects. */
  readonly onCollect: () => void;
  /** Exports in flight at once within a round. Default 4. */
  readonly concurrency?: number;
}

interface Request {
  readonly resourceMetrics: ResourceMetrics;
  readonly batch: TargetBatch | undefined;
}

export class PushExportLoop {
  readonly #o: PushExportLoopOptions;
  readonly #resources = new WeakMap<TargetRef, Resource>();
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #stopped = false;

  constructor(options: PushExportLoopOptions) {
    this.#o = options;
  }

  start(): void {
    this.#timer = setInterval(() => void this.#runRound(), this.#o.intervalMs);
    this.#timer.unref();
  }

  /** Waits for a round in progress, then exports once more. */
  async forceFlush(): Promise<void> {
    await this.#round;
    await this.#runRound();
    await this.#o.exporter.forceFlush();
  }

  /** The last round, then the exporter's shutdown. */
  async shutdown(): Promise<void> {
    if (this.#stopped) return;
    clearInterval(this.#timer);
    await this.forceFlush().catch(() => {});
    this.#stopped = true;
    await this.#o.exporter.shutdown();
  }

  /** One round at a time: a timer tick while one runs is skipped (the next carries its counts). */
  #runRound(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#round !== undefined) return this.#round;
    this.#round = this.#exportRound().finally(() => {
      this.#round = undefined;
    });
    return this.#round;
  }

  async #exportRound(): Promise<void> {
    const o = this.#o;
    let requests: Request[];
    try {
      o.onCollect();
      const agent = await o.reader.collect({ timeoutMillis: o.timeoutMs });
      requests = this.#requests(agent.resourceMetrics, o.kernel.collect());
    } catch (error) {
      o.failures.failed(error as Error);
      return;
    }
    const deadline = Date.now() + o.timeoutMs;
    let firstError: Error | undefined;
    let failed = false;
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const request = requests[next++]!;
        const error = await this.#exportOne(request.resourceMetrics, Math.max(1, deadline - Date.now()));
        if (error === undefined) request.batch?.acknowledge();
        else {
          failed = true;
          firstError ??= error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 4, requests.length) }, worker));
    if (failed) o.failures.failed(firstError);
    else o.failures.succeeded();
  }

  /** The agent's resource (its instruments and the overflow series), then one per target. */
  #requests(agent: ResourceMetrics, batches: TargetBatch[]): Request[] {
    const scope = this.#o.scope;
    const requests: Request[] = [];
    const overflow = batches.find((b) => b.target === undefined);
    const agentScopes = agent.scopeMetrics.filter((s) => s.metrics.length > 0);
    if (overflow !== undefined) {
      const own = agentScopes.find((s) => s.scope.name === scope.name);
      if (own !== undefined) own.metrics.push(...overflow.metrics);
      else agentScopes.push({ scope, metrics: overflow.metrics });
    }
    if (agentScopes.length > 0) {
      requests.push({
        resourceMetrics: { resource: agent.resource, scopeMetrics: agentScopes },
        batch: overflow,
      });
    }
    for (const batch of batches) {
      if (batch.target === undefined) continue;
      requests.push({
        resourceMetrics: {
          resource: this.#resourceOf(batch.target),
          scopeMetrics: [{ scope, metrics: batch.metrics }],
        },
        batch,
      });
    }
    return requests;
  }

  #resourceOf(target: TargetRef): Resource {
    let resource = this.#resources.get(target);
    if (resource === undefined) {
      resource = resourceFromAttributes(target.identity.resource);
      this.#resources.set(target, resource);
    }
    return resource;
  }

  /** Resolves with undefined on success, the error otherwise; an answer after the budget is ignored. */
  #exportOne(resourceMetrics: ResourceMetrics, budgetMs: number): Promise<Error | undefined> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (error: Error | undefined) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(error);
      };
      const timer = setTimeout(() => finish(new Error(`no answer within ${this.#o.timeoutMs} ms`)), budgetMs);
      timer.unref();
      try {
        this.#o.exporter.export(resourceMetrics, (result) =>
          finish(
            result.code === ExportResultCode.SUCCESS
              ? undefined
              : (result.error ?? new Error('export failed')),
          ),
        );
      } catch (error) {
        finish(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }
}
