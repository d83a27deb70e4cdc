// One MetricReader per configured exporter, each with its own kernel-histogram producer (and so
// its own temporality). Push exporters are wrapped to count and log their failures.
import { readFileSync } from 'node:fs';
import { credentials, Metadata } from '@grpc/grpc-js';
import type { InstrumentationScope } from '@opentelemetry/core';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import {
  AggregationTemporality,
  type MetricReader,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import { FailureCountingExporter, type FailureSink } from './failure-counting-exporter.ts';
import { JsonLinesMetricExporter } from './json-lines-exporter.ts';
import { KernelMetricProducer, type Temporality } from './kernel-producer.ts';
import type {
  ExporterOptions,
  OtlpGrpcExporterOptions,
  OtlpHttpExporterOptions,
  ResolvedOptions,
  TlsOptions,
} from './options.ts';
import {
  type OtlpGrpcConfig as GrpcConfig,
  type OtlpHttpConfig as HttpConfig,
  OtlpGrpcMetricExporter as OtlpGrpcExporter,
  OtlpHttpMetricExporter as OtlpHttpExporter,
} from './otlp-exporters.ts';
import type { PipelineState } from './pipeline-state.ts';
import type { SeriesStore } from './series-store.ts';

export interface BuiltReader {
  /** e.g. `otlp-grpc[0]`: the exporter's type and its index in the options. */
  readonly name: string;
  readonly reader: MetricReader;
  /** Set for Prometheus: the server to start before the pipeline is ready. */
  readonly prometheus?: PrometheusExporter;
}

export function buildReaders(
  options: ResolvedOptions,
  store: SeriesStore,
  state: PipelineState,
  scope: InstrumentationScope,
): BuiltReader[] {
  return options.exporters.map((exporter, i) =>
    buildReader(exporter, `${exporter.type}[${i}]`, options, store, state, scope),
  );
}

function buildReader(
  exporter: ExporterOptions,
  name: string,
  options: ResolvedOptions,
  store: SeriesStore,
  state: PipelineState,
  scope: InstrumentationScope,
): BuiltReader {
  const sink: FailureSink = state;
  if (exporter.type === 'prometheus') {
    // Prometheus is cumulative by nature; `_seconds` makes the names the ones Prometheus users
    // know (and what the Collector's Prometheus exporters produce), which the JS exporter omits.
    const producer = new KernelMetricProducer(store, {
      temporality: 'cumulative',
      scope,
      unitSuffix: true,
      state,
      seedMetrics: options.seedMetrics,
    });
    const prometheus = new PrometheusExporter({
      host: exporter.host ?? '0.0.0.0',
      port: exporter.port ?? 9464,
      endpoint: exporter.path ?? '/metrics',
      preventServerStart: true,
      metricProducers: [producer],
    });
    return { name, reader: prometheus, prometheus };
  }
  const temporality = exporter.temporality ?? options.defaultTemporality;
  const interval = exporter.intervalMillis ?? options.exportIntervalMillis;
  const timeout = Math.min(options.exportTimeoutMillis, interval);
  let push: PushMetricExporter;
  switch (exporter.type) {
    case 'otlp-grpc':
      push = new OtlpGrpcExporter(grpcConfig(otlpTimeout(exporter, timeout, options.env), temporality));
      break;
    case 'otlp-http':
      push = new OtlpHttpExporter(httpConfig(otlpTimeout(exporter, timeout, options.env), temporality));
      break;
    case 'json-lines':
      push = new JsonLinesMetricExporter(exporter.stream ?? process.stdout, sdkTemporality(temporality));
      break;
  }
  const producer = new KernelMetricProducer(store, {
    temporality,
    scope,
    state,
    seedMetrics: options.seedMetrics,
  });
  const reader = new PeriodicExportingMetricReader({
    exporter: new FailureCountingExporter(
      push,
      name,
      sink,
      options.logger,
      options.failureLogIntervalMillis,
      timeout,
    ),
    exportIntervalMillis: interval,
    exportTimeoutMillis: timeout,
    metricProducers: [producer],
    cardinalityLimits: { default: options.cardinalityLimit },
  });
  return { name, reader };
}

/**
 * An OTLP exporter retries until its own timeout (10 s by default), longer than a short export
 * interval: unless set explicitly (option or OTEL_EXPORTER_OTLP_(METRICS_)TIMEOUT), it gets the
 * reader's timeout, so that a failed export ends before the next one starts.
 */
function otlpTimeout<T extends OtlpGrpcExporterOptions | OtlpHttpExporterOptions>(
  exporter: T,
  readerTimeout: number,
  env: Readonly<Record<string, string | undefined>>,
): T {
  if (exporter.timeoutMillis !== undefined) return exporter;
  if (env.OTEL_EXPORTER_OTLP_METRICS_TIMEOUT || env.OTEL_EXPORTER_OTLP_TIMEOUT) return exporter;
  return { ...exporter, timeoutMillis: readerTimeout };
}

function sdkTemporality(temporality: Temporality): AggregationTemporality {
  return temporality === 'delta' ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE;
}

/** Only what is set is passed: the exporter itself falls back to OTEL_EXPORTER_OTLP_* and its defaults. */
function grpcConfig(exporter: OtlpGrpcExporterOptions, temporality: Temporality): GrpcConfig {
  const config: GrpcConfig = { temporalityPreference: sdkTemporality(temporality) };
  if (exporter.endpoint !== undefined) config.url = exporter.endpoint;
  if (exporter.timeoutMillis !== undefined) config.timeoutMillis = exporter.timeoutMillis;
  if (exporter.compression !== undefined)
    config.compression = exporter.compression as GrpcConfig['compression'];
  if (exporter.headers !== undefined) {
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(exporter.headers)) metadata.set(key, value);
    config.metadata = metadata;
  }
  const ca = caOf(exporter.tls);
  if (exporter.tls?.insecure === true) config.credentials = credentials.createInsecure();
  else if (ca !== undefined) config.credentials = credentials.createSsl(ca);
  return config;
}

function httpConfig(exporter: OtlpHttpExporterOptions, temporality: Temporality): HttpConfig {
  const config: HttpConfig = { temporalityPreference: sdkTemporality(temporality) };
  if (exporter.endpoint !== undefined) config.url = exporter.endpoint;
  if (exporter.timeoutMillis !== undefined) config.timeoutMillis = exporter.timeoutMillis;
  if (exporter.compression !== undefined)
    config.compression = exporter.compression as HttpConfig['compression'];
  if (exporter.headers !== undefined) config.headers = { ...exporter.headers };
  const ca = caOf(exporter.tls);
  if (ca !== undefined) config.httpAgentOptions = { ca };
  else if (exporter.tls?.insecure === true) config.httpAgentOptions = { rejectUnauthorized: false };
  return config;
}

function caOf(tls: TlsOptions | undefined): Buffer | undefined {
  if (tls?.ca !== undefined) return Buffer.from(tls.ca);
  if (tls?.caFile === undefined) return undefined;
  try {
    return readFileSync(tls.caFile);
  } catch (error) {
    throw new Error(`tls.caFile: cannot read ${tls.caFile}: ${(error as Error).message}`);
  }
}
