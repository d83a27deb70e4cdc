// The pipeline's configuration: a plain typed object, already resolved by its caller (the agent
// reads the environment and the files; this package reads neither). Checked and completed here.
import type { Writable } from 'node:stream';
import { DEFAULT_KNOWN_METHODS } from './attributes.ts';

/**
 * Series per metric of one pod, by default: a pod's usual series (a few methods × a dozen status
 * codes × its ports) fit with room to spare; 110 pods (the kubelet's default maximum per node) at
 * this budget make 11,000, the agent's default node-wide cardinalityLimit.
 */
export const DEFAULT_CARDINALITY_LIMIT_PER_POD = 100;
/**
 * Distinct peers one pod's series of a metric may name, by default: from the same per-pod budget,
 * a pod's series to one peer are its methods × status codes × ports (about five for a usual
 * dependency), so 20 peers fill DEFAULT_CARDINALITY_LIMIT_PER_POD (100).
 */
export const DEFAULT_PEERS_PER_POD = 20;
export type Temporality = 'cumulative' | 'delta';

/** The one default export interval: 10 s. */
export const DEFAULT_EXPORT_INTERVAL_MILLIS = 10_000;

export interface TlsOptions {
  /** PEM text of the CA(s) that sign the endpoint's certificate. Default: Node's bundled CAs. */
  readonly ca?: string;
  /** PEM text of the client certificate, for mutual TLS (with `key`; both or neither). */
  readonly cert?: string;
  /** PEM text of the client's private key, for mutual TLS (with `cert`). */
  readonly key?: string;
}

export interface OtlpExporterOptions {
  /** `otlp-http` is OTLP/HTTP with protobuf bodies. */
  readonly type: 'otlp-grpc' | 'otlp-http';
  /**
   * Full URL; `http://` is plain text, `https://` is TLS: the scheme alone decides.
   * otlp-http: the metrics URL itself (`http://collector:4318/v1/metrics`);
   * otlp-grpc: `scheme://host:port` (`https://collector:4317`).
   */
  readonly endpoint: string;
  /** Headers (gRPC metadata), e.g. `x-honeycomb-team`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Default `none`. */
  readonly compression?: 'gzip' | 'none';
  /** Default: the pipeline's exportTimeoutMillis. */
  readonly timeoutMillis?: number;
  /** Only with an `https://` endpoint. */
  readonly tls?: TlsOptions;
  /** Default cumulative. */
  readonly temporality?: Temporality;
}

export interface PrometheusExporterOptions {
  readonly type: 'prometheus';
  /** Address to listen on. Default 0.0.0.0: the exporter's own default (localhost) is unreachable from outside a pod. */
  readonly host?: string;
  /** Default 9464. */
  readonly port?: number;
  /** Default /metrics. */
  readonly path?: string;
  /**
   * An exporter-toolkit web configuration file (`tls_server_config`, `basic_auth_users`,
   * `http_server_config`), as Prometheus's `--web.config.file`. Read at start and again when it
   * or a file it names changes. Default: plain HTTP, no authentication.
   */
  readonly webConfigFile?: string;
  /** A file holding a token scrapers must send as `Authorization: Bearer …`; read again when it changes. */
  readonly bearerTokenFile?: string;
  /** Requests served at once; the next ones get 503. Default DEFAULT_MAX_CONCURRENT_SCRAPES. */
  readonly maxConcurrentScrapes?: number;
}

/** Scrapes served at once by default: an HA pair of Prometheus servers, a Collector and a person with curl. */
export const DEFAULT_MAX_CONCURRENT_SCRAPES = 4;

export interface JsonLinesExporterOptions {
  readonly type: 'json-lines';
  /** Default: process.stdout. */
  readonly stream?: Writable;
  /** Default cumulative (running totals, like the Go library's logJson example). */
  readonly temporality?: Temporality;
}

export type ExporterOptions = OtlpExporterOptions | PrometheusExporterOptions | JsonLinesExporterOptions;

/** Where the pipeline reports its own trouble (export failures, bad snapshots). pino fits. */
export interface PipelineLogger {
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

export interface PipelineOptions {
  /** Zero or more, of any types. Zero: nothing is exported (the agent's OTEL_SDK_DISABLED). */
  readonly exporters: readonly ExporterOptions[];
  /**
   * Time between two exports of each push exporter (OTLP, JSON lines). Each export, and each
   * Prometheus scrape, first calls the `onCollect` hook (the agent reads the kernel there).
   * Default DEFAULT_EXPORT_INTERVAL_MILLIS.
   */
  readonly exportIntervalMillis?: number;
  /** One export's time budget, at most the interval. Default min(30000, interval). */
  readonly exportTimeoutMillis?: number;
  /** Series per metric before the overflow series takes the rest. Default 2000 (the SDK's). */
  readonly cardinalityLimit?: number;
  /**
   * Series per metric of one pod before its own overflow series takes the rest of its series (with
   * its identity). Default 100.
   */
  readonly cardinalityLimitPerPod?: number;
  /**
   * Distinct peers (Services, pods, nodes it called; with serverPeers, callers) one pod's series of a
   * metric may name, once Pipeline.setPeers is called; the series of further peers share one
   * overflow peer per pod, counted in `owlk8s.agent.peers.overflowed`. Default 20.
   */
  readonly peersPerPod?: number;
  /**
   * Client-side requests to a port outside `Pipeline.setKnownClientPorts` go into one series per
   * pod and method, status, protocol version and error, without `server.port` and marked
   * `owlk8s.server.port.collapsed=true`. Default false (every port its own series).
   */
  readonly collapseUnknownClientPorts?: boolean;
  /** The Go library's compatibility set (`owlk8s.go_library.*`). Default false. */
  readonly goLibraryMetrics?: boolean;
  /** The agent's own resource (its self metrics). Default `{service.name: owlk8s}`. */
  readonly resource?: Readonly<Record<string, string | number | boolean>>;
  /** Known HTTP methods; others become _OTHER. Default RFC 9110 + PATCH. */
  readonly knownMethods?: readonly string[];
  /**
   * Delta temporality: how long counts a receiver has not acknowledged are held and sent again.
   * Past it they are given up and counted in `owlk8s.agent.export.dropped`. Default 300000 (5 min).
   */
  readonly maxUnacknowledgedMillis?: number;
  /** Minimum time between two logs of the same exporter's failures. Default 60000. */
  readonly failureLogIntervalMillis?: number;
  readonly logger?: PipelineLogger;
}

export interface ResolvedOptions {
  readonly exporters: readonly ExporterOptions[];
  readonly exportIntervalMillis: number;
  readonly exportTimeoutMillis: number;
  readonly cardinalityLimit: number;
  readonly cardinalityLimitPerPod: number;
  readonly peersPerPod: number;
  readonly collapseUnknownClientPorts: boolean;
  readonly goLibraryMetrics: boolean;
  readonly resource: Readonly<Record<string, string | number | boolean>>;
  readonly knownMethods: ReadonlySet<string>;
  readonly maxUnacknowledgedMillis: number;
  /** How long a removed target's series wait for a consumer that never collects or never succeeds. */
  readonly finalRetentionMillis: number;
  readonly failureLogIntervalMillis: number;
  readonly logger: PipelineLogger;
}

const stderrLogger: PipelineLogger = {
  warn: (details, message) =>
    process.stderr.write(`${JSON.stringify({ level: 'warn', msg: message, ...details })}\n`),
  error: (details, message) =>
    process.stderr.write(`${JSON.stringify({ level: 'error', msg: message, ...details })}\n`),
};

/** Checks the options and fills in defaults; throws a RangeError naming the bad setting. */
export function resolveOptions(options: PipelineOptions): ResolvedOptions {
  if (!Array.isArray(options.exporters)) {
    throw new RangeError(
      'exporters: a list is needed (otlp-grpc, otlp-http, prometheus, json-lines; may be empty)',
    );
  }
  const exportIntervalMillis = positive(
    'exportIntervalMillis',
    options.exportIntervalMillis ?? DEFAULT_EXPORT_INTERVAL_MILLIS,
  );
  const exportTimeoutMillis = Math.min(
    positive('exportTimeoutMillis', options.exportTimeoutMillis ?? 30_000),
    exportIntervalMillis,
  );
  const cardinalityLimit = options.cardinalityLimit ?? 2000;
  if (!Number.isInteger(cardinalityLimit) || cardinalityLimit < 1) {
    throw new RangeError(
      `cardinalityLimit: ${cardinalityLimit} is not a positive integer (series per metric)`,
    );
  }
  const cardinalityLimitPerPod = options.cardinalityLimitPerPod ?? DEFAULT_CARDINALITY_LIMIT_PER_POD;
  if (!Number.isInteger(cardinalityLimitPerPod) || cardinalityLimitPerPod < 1) {
    throw new RangeError(
      `cardinalityLimitPerPod: ${cardinalityLimitPerPod} is not a positive integer (series per metric of one pod)`,
    );
  }
  const peersPerPod = options.peersPerPod ?? DEFAULT_PEERS_PER_POD;
  if (!Number.isInteger(peersPerPod) || peersPerPod < 1) {
    throw new RangeError(`peersPerPod: ${peersPerPod} is not a positive integer (distinct peers of one pod)`);
  }
  const maxUnacknowledgedMillis = positive(
    'maxUnacknowledgedMillis',
    options.maxUnacknowledgedMillis ?? 300_000,
  );
  const ports = new Set<number>();
  options.exporters.forEach((exporter, i) => {
    checkExporter(exporter, i, ports);
  });
  return {
    exporters: options.exporters,
    exportIntervalMillis,
    exportTimeoutMillis,
    cardinalityLimit,
    cardinalityLimitPerPod,
    peersPerPod,
    collapseUnknownClientPorts: options.collapseUnknownClientPorts ?? false,
    goLibraryMetrics: options.goLibraryMetrics ?? false,
    resource: { 'service.name': 'owlk8s', ...options.resource },
    knownMethods: new Set(options.knownMethods ?? DEFAULT_KNOWN_METHODS),
    maxUnacknowledgedMillis,
    finalRetentionMillis: Math.max(5 * exportIntervalMillis, maxUnacknowledgedMillis + exportIntervalMillis),
    failureLogIntervalMillis: positive(
      'failureLogIntervalMillis',
      options.failureLogIntervalMillis ?? 60_000,
    ),
    logger: options.logger ?? stderrLogger,
  };
}

function checkExporter(exporter: ExporterOptions, i: number, ports: Set<number>): void {
  const where = `exporters[${i}]`;
  switch (exporter?.type) {
    case 'otlp-grpc':
    case 'otlp-http': {
      if (typeof exporter.endpoint !== 'string' || !/^https?:\/\/[^/]/.test(exporter.endpoint)) {
        throw new RangeError(
          `${where}.endpoint: ${JSON.stringify(exporter.endpoint)} is not an http:// or https:// URL`,
        );
      }
      if (
        exporter.compression !== undefined &&
        exporter.compression !== 'gzip' &&
        exporter.compression !== 'none'
      ) {
        throw new RangeError(`${where}.compression: "${exporter.compression}" is neither "gzip" nor "none"`);
      }
      if (exporter.timeoutMillis !== undefined) positive(`${where}.timeoutMillis`, exporter.timeoutMillis);
      checkTemporality(`${where}.temporality`, exporter.temporality);
      const tls = exporter.tls;
      if (tls !== undefined && (tls.ca !== undefined || tls.cert !== undefined || tls.key !== undefined)) {
        if (exporter.endpoint.startsWith('http://')) {
          throw new RangeError(
            `${where}.tls: a CA or client certificate with the plain-text endpoint ${exporter.endpoint}; use https://`,
          );
        }
        if ((tls.cert === undefined) !== (tls.key === undefined)) {
          throw new RangeError(`${where}.tls: a client certificate needs its key, and a key its certificate`);
        }
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
      const max = exporter.maxConcurrentScrapes ?? DEFAULT_MAX_CONCURRENT_SCRAPES;
      if (!Number.isInteger(max) || max < 1) {
        throw new RangeError(`${where}.maxConcurrentScrapes: ${max} is not a positive integer`);
      }
      for (const key of ['webConfigFile', 'bearerTokenFile'] as const) {
        const file = exporter[key];
        if (file !== undefined && (typeof file !== 'string' || file === '')) {
          throw new RangeError(`${where}.${key}: ${JSON.stringify(file)} is not a file path`);
        }
      }
      return;
    }
    case 'json-lines':
      checkTemporality(`${where}.temporality`, exporter.temporality);
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
