// The pipeline's configuration: a plain typed object (the agent maps its YAML onto it), checked
// and completed here, once, with the standard OTEL_* environment variables as fallbacks.
import type { Writable } from 'node:stream';
import { DEFAULT_KNOWN_METHODS } from './attributes.ts';
import type { Temporality } from './kernel-producer.ts';

export interface TlsOptions {
  /** Plain-text connection (gRPC without TLS). Default: from the endpoint scheme (`http://` is insecure). */
  readonly insecure?: boolean;
  /** PEM file of the CA that signed the endpoint's certificate. */
  readonly caFile?: string;
  /** PEM text of that CA (instead of caFile). */
  readonly ca?: string;
}

interface OtlpCommon {
  /** Extra headers (gRPC metadata), e.g. `x-honeycomb-team`. Merged with OTEL_EXPORTER_OTLP_(METRICS_)HEADERS. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly compression?: 'gzip' | 'none';
  readonly timeoutMillis?: number;
  readonly tls?: TlsOptions;
  /** Default: OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, else cumulative. */
  readonly temporality?: Temporality;
  /** Default: the pipeline's exportIntervalMillis. */
  readonly intervalMillis?: number;
}

export interface OtlpGrpcExporterOptions extends OtlpCommon {
  readonly type: 'otlp-grpc';
  /** e.g. `http://collector:4317`. Default: OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT, else http://localhost:4317. */
  readonly endpoint?: string;
}

export interface OtlpHttpExporterOptions extends OtlpCommon {
  readonly type: 'otlp-http';
  /** The full metrics URL, e.g. `http://collector:4318/v1/metrics`. Default: from OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT. */
  readonly endpoint?: string;
}

export interface PrometheusExporterOptions {
  readonly type: 'prometheus';
  /** Address to listen on. Default 0.0.0.0: the exporter's own default (localhost) is unreachable from outside a pod. */
  readonly host?: string;
  /** Default 9464. */
  readonly port?: number;
  /** Default /metrics. */
  readonly path?: string;
}

export interface JsonLinesExporterOptions {
  readonly type: 'json-lines';
  /** Default: process.stdout. */
  readonly stream?: Writable;
  /** Default cumulative (running totals, like the seed's logJson example). */
  readonly temporality?: Temporality;
  readonly intervalMillis?: number;
}

export type ExporterOptions =
  | OtlpGrpcExporterOptions
  | OtlpHttpExporterOptions
  | PrometheusExporterOptions
  | JsonLinesExporterOptions;

/** Where the pipeline reports its own trouble (export failures, bad snapshots). pino fits. */
export interface PipelineLogger {
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

export interface PipelineOptions {
  /** One or more, of any types; each gets its own reader and temporality. */
  readonly exporters: readonly ExporterOptions[];
  /** Default: OTEL_METRIC_EXPORT_INTERVAL, else 60000. */
  readonly exportIntervalMillis?: number;
  /** Default: OTEL_METRIC_EXPORT_TIMEOUT, else 30000 (clamped to the interval). */
  readonly exportTimeoutMillis?: number;
  /** Series per metric before the overflow series takes the rest. Default 2000 (the SDK's). */
  readonly cardinalityLimit?: number;
  /** The seed library's RED set (owlk8s.seed.*). Default true. */
  readonly seedMetrics?: boolean;
  /** The agent's own resource attributes (service.name defaults to owlk8s). OTEL_RESOURCE_ATTRIBUTES adds to them. */
  readonly resource?: Readonly<Record<string, string | number | boolean>>;
  /** Known HTTP methods; others become _OTHER. Default: OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS, else RFC 9110 + PATCH. */
  readonly knownMethods?: readonly string[];
  /** How long a removed target's series wait for a reader that never collects. Default: 5 export intervals. */
  readonly finalRetentionMillis?: number;
  /** Minimum time between two logs of the same exporter's failures. Default 60000. */
  readonly failureLogIntervalMillis?: number;
  readonly logger?: PipelineLogger;
  /** The environment to read OTEL_* from. Default: process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface ResolvedOptions {
  readonly exporters: readonly ExporterOptions[];
  readonly exportIntervalMillis: number;
  readonly exportTimeoutMillis: number;
  readonly cardinalityLimit: number;
  readonly seedMetrics: boolean;
  readonly resource: Readonly<Record<string, string | number | boolean>>;
  readonly knownMethods: ReadonlySet<string>;
  readonly finalRetentionMillis: number;
  readonly failureLogIntervalMillis: number;
  readonly defaultTemporality: Temporality;
  readonly logger: PipelineLogger;
  readonly env: Readonly<Record<string, string | undefined>>;
}

const stderrLogger: PipelineLogger = {
  warn: (details, message) =>
    process.stderr.write(`${JSON.stringify({ level: 'warn', msg: message, ...details })}\n`),
  error: (details, message) =>
    process.stderr.write(`${JSON.stringify({ level: 'error', msg: message, ...details })}\n`),
};

/** Checks the options and fills in defaults; throws a RangeError naming the bad setting. */
export function resolveOptions(options: PipelineOptions): ResolvedOptions {
  const env = options.env ?? process.env;
  if (!Array.isArray(options.exporters) || options.exporters.length === 0) {
    throw new RangeError(
      'exporters: at least one is needed (otlp-grpc, otlp-http, prometheus or json-lines)',
    );
  }
  const exportIntervalMillis = positive(
    'exportIntervalMillis',
    options.exportIntervalMillis ?? envNumber(env, 'OTEL_METRIC_EXPORT_INTERVAL') ?? 60_000,
  );
  const exportTimeoutMillis = Math.min(
    positive(
      'exportTimeoutMillis',
      options.exportTimeoutMillis ?? envNumber(env, 'OTEL_METRIC_EXPORT_TIMEOUT') ?? 30_000,
    ),
    exportIntervalMillis,
  );
  const cardinalityLimit = options.cardinalityLimit ?? 2000;
  if (!Number.isInteger(cardinalityLimit) || cardinalityLimit < 1) {
    throw new RangeError(
      `cardinalityLimit: ${cardinalityLimit} is not a positive integer (series per metric)`,
    );
  }
  const defaultTemporality = temporalityFromEnv(env);
  const ports = new Set<number>();
  options.exporters.forEach((exporter, i) => {
    checkExporter(exporter, i, ports);
  });
  const envMethods = env.OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS?.split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');
  return {
    exporters: options.exporters,
    exportIntervalMillis,
    exportTimeoutMillis,
    cardinalityLimit,
    seedMetrics: options.seedMetrics ?? true,
    resource: { ...options.resource },
    knownMethods: new Set(options.knownMethods ?? envMethods ?? DEFAULT_KNOWN_METHODS),
    finalRetentionMillis: options.finalRetentionMillis ?? 5 * exportIntervalMillis,
    failureLogIntervalMillis: options.failureLogIntervalMillis ?? 60_000,
    defaultTemporality,
    logger: options.logger ?? stderrLogger,
    env,
  };
}

function checkExporter(exporter: ExporterOptions, i: number, ports: Set<number>): void {
  const where = `exporters[${i}]`;
  switch (exporter?.type) {
    case 'otlp-grpc':
    case 'otlp-http': {
      if (exporter.endpoint !== undefined && !/^https?:\/\/[^/]/.test(exporter.endpoint)) {
        throw new RangeError(`${where}.endpoint: "${exporter.endpoint}" is not an http:// or https:// URL`);
      }
      if (
        exporter.compression !== undefined &&
        exporter.compression !== 'gzip' &&
        exporter.compression !== 'none'
      ) {
        throw new RangeError(`${where}.compression: "${exporter.compression}" is neither "gzip" nor "none"`);
      }
      if (exporter.timeoutMillis !== undefined) positive(`${where}.timeoutMillis`, exporter.timeoutMillis);
      if (exporter.intervalMillis !== undefined) positive(`${where}.intervalMillis`, exporter.intervalMillis);
      checkTemporality(`${where}.temporality`, exporter.temporality);
      if (
        exporter.tls?.insecure === true &&
        (exporter.tls.ca !== undefined || exporter.tls.caFile !== undefined)
      ) {
        throw new RangeError(`${where}.tls: insecure and a CA contradict each other; set one`);
      }
      return;
    }
    case 'prometheus': {
      const port = exporter.port ?? 9464;
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new RangeError(`${where}.port: ${port} is not a TCP port (1..65535)`);
      }
      if (ports.has(port))
        throw new RangeError(`${where}.port: ${port} is used by another prometheus exporter`);
      ports.add(port);
      if (exporter.path !== undefined && !exporter.path.startsWith('/')) {
        throw new RangeError(`${where}.path: "${exporter.path}" must start with /`);
      }
      return;
    }
    case 'json-lines':
      checkTemporality(`${where}.temporality`, exporter.temporality);
      if (exporter.intervalMillis !== undefined) positive(`${where}.intervalMillis`, exporter.intervalMillis);
      return;
    default:
      throw new RangeError(
        `${where}.type: ${JSON.stringify((exporter as { type?: unknown })?.type)} is not one of otlp-grpc, otlp-http, prometheus, json-lines`,
      );
  }
}

function checkTemporality(where: string, value: unknown): void {
  if (value !== undefined && value !== 'cumulative' && value !== 'delta') {
    throw new RangeError(`${where}: ${JSON.stringify(value)} is neither "cumulative" nor "delta"`);
  }
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new RangeError(`${name}: ${value} is not a positive number of milliseconds`);
  return value;
}

function envNumber(env: Readonly<Record<string, string | undefined>>, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new RangeError(`${name}: "${raw}" is not a positive number of milliseconds`);
  return value;
}

function temporalityFromEnv(env: Readonly<Record<string, string | undefined>>): Temporality {
  const raw = env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE?.trim().toLowerCase();
  if (raw === undefined || raw === '' || raw === 'cumulative') return 'cumulative';
  // "lowmemory" means delta for counters and histograms, which is all the kernel histograms are.
  if (raw === 'delta' || raw === 'lowmemory') return 'delta';
  throw new RangeError(
    `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: "${raw}" is not cumulative, delta or lowmemory`,
  );
}
