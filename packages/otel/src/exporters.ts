// One consumer per configured exporter, each with its own temporality. OTLP goes through the
// SDK's own exporters (@opentelemetry/exporter-metrics-otlp-grpc and -proto), configured through
// their public options; Prometheus through the SDK's PrometheusExporter.
import { credentials, Metadata } from '@grpc/grpc-js';
import type { InstrumentationScope } from '@opentelemetry/core';
import { OTLPMetricExporter as OtlpGrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { AggregationTemporalityPreference } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OtlpProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import {
  AggregationTemporality,
  type MetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import { ExportFailureLog } from './export-failure-log.ts';
import { JsonLinesMetricExporter } from './json-lines-exporter.ts';
import { KernelMetrics } from './kernel-metrics.ts';
import { REFUSAL_REASONS } from './metrics-server.ts';
import type {
  OtlpExporterOptions,
  PrometheusExporterOptions,
  ResolvedOptions,
  Temporality,
} from './options.ts';
import type { PipelineState } from './pipeline-state.ts';
import { PrometheusKernelProducer } from './prometheus-producer.ts';
import { OnDemandReader, PushExportLoop } from './push-export-loop.ts';
import type { SeriesStore } from './series-store.ts';

export interface BuiltExporters {
  /** Readers for the MeterProvider: the Prometheus exporters and each push loop's reader. */
  readonly readers: MetricReader[];
  readonly loops: PushExportLoop[];
  readonly prometheus: {
    readonly exporter: PrometheusExporter;
    readonly options: PrometheusExporterOptions;
    readonly name: string;
  }[];
}

export function buildExporters(
  options: ResolvedOptions,
  store: SeriesStore,
  state: PipelineState,
  scope: InstrumentationScope,
  onCollect: () => void,
): BuiltExporters {
  const built: BuiltExporters = { readers: [], loops: [], prometheus: [] };
  options.exporters.forEach((exporter, i) => {
    const name = `${exporter.type}[${i}]`;
    if (exporter.type === 'prometheus') {
      // Prometheus is cumulative by nature; `_seconds` makes the names the ones Prometheus users
      // know (and what the Collector's Prometheus exporters produce), which the JS exporter omits.
      const kernel = new KernelMetrics(store, state, {
        name,
        temporality: 'cumulative',
        unitSuffix: true,
        goLibraryMetrics: options.goLibraryMetrics,
        maxUnacknowledgedMs: options.maxUnacknowledgedMillis,
      });
      // Its own server is never started: metrics-server.ts serves its handler, with TLS and
      // authentication.
      const prometheus = new ReadingPrometheusExporter(
        {
          preventServerStart: true,
          metricProducers: [new PrometheusKernelProducer(kernel, scope)],
        },
        onCollect,
      );
      built.readers.push(prometheus);
      state.registerScrapeEndpoint(name, REFUSAL_REASONS);
      built.prometheus.push({ exporter: prometheus, options: exporter, name });
      return;
    }
    const temporality = exporter.temporality ?? 'cumulative';
    const timeoutMs = options.exportTimeoutMillis;
    const push: PushMetricExporter =
      exporter.type === 'json-lines'
        ? new JsonLinesMetricExporter(exporter.stream ?? process.stdout, sdkTemporality(temporality))
        : otlpExporter(exporter, temporality, timeoutMs);
    const reader = new OnDemandReader(
      (instrumentType) => push.selectAggregationTemporality!(instrumentType),
      options.cardinalityLimit,
    );
    state.registerExporter(name, temporality === 'delta');
    built.readers.push(reader);
    built.loops.push(
      new PushExportLoop({
        name,
        exporter: push,
        reader,
        kernel: new KernelMetrics(store, state, {
          name,
          temporality,
          goLibraryMetrics: options.goLibraryMetrics,
          maxUnacknowledgedMs: options.maxUnacknowledgedMillis,
        }),
        scope,
        intervalMs: options.exportIntervalMillis,
        timeoutMs,
        failures: new ExportFailureLog(name, state, options.logger, options.failureLogIntervalMillis),
        onCollect,
      }),
    );
  });
  return built;
}

/**
 * The SDK's Prometheus exporter, reading the kernel (the onCollect hook) when a scrape starts its
 * collection: before the agent's instruments observe the self counters and before the kernel
 * metrics are made, so that both come from the same fresh read.
 */
class ReadingPrometheusExporter extends PrometheusExporter {
  readonly #onCollect: () => void;

  constructor(config: ConstructorParameters<typeof PrometheusExporter>[0], onCollect: () => void) {
    super(config);
    this.#onCollect = onCollect;
  }

  override collect(
    options?: Parameters<PrometheusExporter['collect']>[0],
  ): ReturnType<PrometheusExporter['collect']> {
    this.#onCollect();
    return super.collect(options);
  }
}

function sdkTemporality(temporality: Temporality): AggregationTemporality {
  return temporality === 'delta' ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE;
}

/**
 * The SDK's OTLP exporter, every setting given explicitly (the agent resolved the OTEL_*
 * variables already). The exporter's own timeout is the round's, so that a failed export ends
 * before the next round starts.
 */
function otlpExporter(
  exporter: OtlpExporterOptions,
  temporality: Temporality,
  readerTimeoutMs: number,
): PushMetricExporter {
  const common = {
    url: exporter.endpoint,
    timeoutMillis: Math.min(exporter.timeoutMillis ?? readerTimeoutMs, readerTimeoutMs),
    compression: exporter.compression ?? 'none',
    temporalityPreference:
      temporality === 'delta'
        ? AggregationTemporalityPreference.DELTA
        : AggregationTemporalityPreference.CUMULATIVE,
  } as const;
  const tls = exporter.tls ?? {};
  if (exporter.type === 'otlp-grpc') {
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(exporter.headers ?? {})) metadata.set(key, value);
    return new OtlpGrpcMetricExporter({
      ...common,
      compression: common.compression as never,
      metadata,
      credentials: exporter.endpoint.startsWith('https://')
        ? credentials.createSsl(
            tls.ca === undefined ? null : Buffer.from(tls.ca),
            tls.key === undefined ? null : Buffer.from(tls.key),
            tls.cert === undefined ? null : Buffer.from(tls.cert),
          )
        : credentials.createInsecure(),
    });
  }
  return new OtlpProtoMetricExporter({
    ...common,
    compression: common.compression as never,
    headers: { ...exporter.headers },
    // The SDK's default agent options are `{keepAlive: true}`; options given replace them, so
    // keep-alive is restated: a connection per request cost 40 ms a round at 110 pods.
    httpAgentOptions: {
      keepAlive: true,
      ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
      ...(tls.cert !== undefined ? { cert: tls.cert, key: tls.key } : {}),
    },
  });
}
