// The public face of the package: feed it snapshots and targets, it exports OpenTelemetry.
import { type Attributes, diag } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { Snapshot } from '@owlk8s/ebpf';
import type { PodTarget } from '@owlk8s/k8s';
import { registerInstruments } from './instruments.ts';
import { type PipelineOptions, type ResolvedOptions, resolveOptions } from './options.ts';
import { PipelineState } from './pipeline-state.ts';
import { type BuiltReader, buildReaders } from './readers.ts';
import { type RecordResult, SeriesStore } from './series-store.ts';

export const SCOPE = { name: '@owlk8s/otel', version: '0.1.0' } as const;

export interface AgentStats {
  /** Targets attached in the kernel (default: the targets the pipeline knows). */
  readonly targetsAttached?: number;
  /** How long the last collection (map read + decode) took, in seconds. */
  readonly collectionSeconds?: number;
}

export interface Pipeline {
  /**
   * Gives a kernel target id its pod, before or after its first snapshot. `startTime` is when the
   * target was added to the kernel (default: now): the start time of its cumulative series.
   */
  setTarget(targetId: number, pod: PodTarget, startTime?: Date): void;
  /** The target was detached: its series are exported one last time, then dropped. */
  removeTarget(targetId: number): void;
  /** Feeds one snapshot (values cumulative since each target was added). Never throws on bad aggregates. */
  record(snapshot: Snapshot): RecordResult;
  reportAgent(stats: AgentStats): void;
  /** Exports now on every push exporter (Prometheus serves on scrape). */
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
  /** Where each Prometheus exporter listens, e.g. `http://0.0.0.0:9464/metrics`. */
  readonly prometheusUrls: readonly string[];
}

/**
 * Builds the readers and exporters and starts the Prometheus servers.
 * @throws RangeError for a bad option (naming it); Error when a Prometheus port cannot be bound.
 */
export async function createPipeline(options: PipelineOptions): Promise<Pipeline> {
  const resolved = resolveOptions(options);
  const store = new SeriesStore({
    cardinalityLimit: resolved.cardinalityLimit,
    knownMethods: resolved.knownMethods,
    finalRetentionMs: resolved.finalRetentionMillis,
  });
  const state = new PipelineState(store);
  const readers = buildReaders(resolved, store, state, SCOPE);
  const provider = new MeterProvider({
    resource: resourceFromAttributes(resourceAttributes(resolved, options.env ?? process.env)),
    readers: readers.map((r) => r.reader),
  });
  registerInstruments(provider.getMeter(SCOPE.name, SCOPE.version), state);
  const prometheusUrls: string[] = [];
  try {
    for (const built of readers) {
      if (built.prometheus === undefined) continue;
      const exporter = options.exporters[readers.indexOf(built)];
      if (exporter?.type !== 'prometheus') continue;
      await startPrometheus(built);
      prometheusUrls.push(
        `http://${exporter.host ?? '0.0.0.0'}:${exporter.port ?? 9464}${exporter.path ?? '/metrics'}`,
      );
    }
  } catch (error) {
    await provider.shutdown().catch(() => {});
    throw error;
  }
  return new PipelineImpl(store, state, provider, resolved, prometheusUrls);
}

async function startPrometheus(built: BuiltReader): Promise<void> {
  try {
    await built.prometheus!.startServer();
  } catch (error) {
    throw new Error(`${built.name}: cannot listen: ${(error as Error).message}`);
  }
}

class PipelineImpl implements Pipeline {
  readonly #store: SeriesStore;
  readonly #state: PipelineState;
  readonly #provider: MeterProvider;
  readonly #options: ResolvedOptions;
  readonly prometheusUrls: readonly string[];
  #lastRecordErrorLogMs = 0;

  constructor(
    store: SeriesStore,
    state: PipelineState,
    provider: MeterProvider,
    options: ResolvedOptions,
    prometheusUrls: readonly string[],
  ) {
    this.#store = store;
    this.#state = state;
    this.#provider = provider;
    this.#options = options;
    this.prometheusUrls = prometheusUrls;
  }

  setTarget(targetId: number, pod: PodTarget, startTime?: Date): void {
    this.#store.setTarget(targetId, pod, startTime?.getTime());
  }

  removeTarget(targetId: number): void {
    this.#state.removeTarget(targetId);
    this.#store.removeTarget(targetId);
  }

  record(snapshot: Snapshot): RecordResult {
    const result = this.#store.record(snapshot);
    this.#state.record(snapshot);
    const now = Date.now();
    if (
      result.errors.length > 0 &&
      now - this.#lastRecordErrorLogMs >= this.#options.failureLogIntervalMillis
    ) {
      this.#lastRecordErrorLogMs = now;
      this.#options.logger.error(
        { errors: result.errors.length, first: result.errors[0]?.message },
        'snapshot aggregates skipped',
      );
    }
    return result;
  }

  reportAgent(stats: AgentStats): void {
    this.#state.reportAgent(stats);
  }

  forceFlush(): Promise<void> {
    return this.#provider.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#provider.shutdown();
  }
}

/** Defaults, then OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES, then the explicit options. */
function resourceAttributes(
  options: ResolvedOptions,
  env: Readonly<Record<string, string | undefined>>,
): Attributes {
  const fromEnv: Attributes = {};
  for (const pair of (env.OTEL_RESOURCE_ATTRIBUTES ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    try {
      fromEnv[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim());
    } catch {
      diag.warn(`OTEL_RESOURCE_ATTRIBUTES: cannot decode "${pair}", ignored`);
    }
  }
  const serviceName = env.OTEL_SERVICE_NAME?.trim();
  if (serviceName) fromEnv['service.name'] = serviceName;
  return { 'service.name': 'owlk8s', ...fromEnv, ...options.resource };
}
