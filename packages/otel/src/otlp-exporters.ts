// The OTLP metric exporters of @opentelemetry/exporter-metrics-otlp-{grpc,proto}, assembled from
// the same parts (configuration with OTEL_EXPORTER_OTLP_* fallbacks, transports, retries) but with
// the caching serializer: the stock classes hard-wire the SDK's serializer, which spent ~50 ms per
// export at 10,000 histogram series re-encoding attribute strings that never change.

import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import {
  OTLPMetricExporterBase,
  type OTLPMetricExporterOptions,
} from '@opentelemetry/exporter-metrics-otlp-http';
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
  type OTLPExporterNodeConfigBase,
} from '@opentelemetry/otlp-exporter-base/node-http';
import {
  convertLegacyOtlpGrpcOptions,
  createOtlpGrpcExportDelegate,
  type OTLPGRPCExporterConfigNode,
} from '@opentelemetry/otlp-grpc-exporter-base';
import {
  type ISerializer,
  MetricsExporterMetricsHelper,
  ProtobufMetricsSerializer,
} from '@opentelemetry/otlp-transformer';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { CachingMetricsSerializer } from './otlp-serializer.ts';
import { GzipInParts } from './parallel-gzip.ts';

type Response = ReturnType<typeof ProtobufMetricsSerializer.deserializeResponse>;
type HeadersFactory = () => Promise<Record<string, string>>;

export type OtlpGrpcConfig = OTLPGRPCExporterConfigNode & OTLPMetricExporterOptions;
export type OtlpHttpConfig = OTLPExporterNodeConfigBase & OTLPMetricExporterOptions;

/**
 * Reuses its output buffer as the HTTP exporter does (below), which spares the serializer a fresh
 * 7 MB buffer and its copies of every point's cached block at 10,000 series. The SDK's gRPC
 * transport copies the request (`Buffer.from`) before grpc-js sees it and never resends it, so the
 * buffer is free once `export()` returns; the lease is still held until the answer, as for HTTP,
 * so that a transport which keeps the bytes longer stays correct.
 */
export class OtlpGrpcMetricExporter extends OTLPMetricExporterBase {
  readonly #serializer: CachingMetricsSerializer;

  constructor(config: OtlpGrpcConfig) {
    const serializer = new CachingMetricsSerializer({ reuseOutput: true });
    super(
      createOtlpGrpcExportDelegate(
        convertLegacyOtlpGrpcOptions(config, 'METRICS'),
        serializer,
        'otlp_grpc_metric_exporter',
        MetricsExporterMetricsHelper,
        undefined,
        'MetricsExportService',
        '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
      ),
      config,
    );
    this.#serializer = serializer;
  }

  override export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    exportLeased(this.#serializer, resultCallback, (callback) => super.export(metrics, callback));
  }
}

/**
 * Reuses its output buffer from one export to the next: at 10,000 series a fresh 7 MB buffer per
 * export cost more in page faults than the encoding itself. The SDK's HTTP transport answers once
 * the receiver has answered (after reading the body), the request timed out (destroyed: nothing
 * more is written) or failed, after its retries, which resend the same bytes; only then is the
 * buffer released (a test serialises another export while one waits for its retry). A receiver
 * that answers before reading the whole body (an error status) may read bytes written by the next
 * export, but those belong to a request nobody uses.
 *
 * With gzip (owlk8s's default), the request is compressed here, in parts on several threads, each
 * part as soon as the serializer has written it (`GzipInParts`), and the SDK's transport sends the
 * compressed bytes as they are with `Content-Encoding: gzip`: its own gzip pipes the request
 * through a zlib stream at the default level, 16 KiB at a time, 115–145 ms per collection at 10,000
 * series. The output buffer is free again once every part is compressed (or, when serialisation
 * fails, once the parts already compressing are done).
 */
export class OtlpHttpMetricExporter extends OTLPMetricExporterBase {
  readonly #serializer: CachingMetricsSerializer;
  /** Set when compressing here: hands the SDK's delegate the bytes compressed for its request. */
  readonly #compressed: CompressedRequests | undefined;
  /** Exports still compressing, not yet handed to the delegate (whose flush would miss them). */
  readonly #compressing = new Set<Promise<void>>();

  constructor(config: OtlpHttpConfig) {
    const options = convertLegacyHttpOptions(config, 'METRICS', 'v1/metrics', {
      'Content-Type': 'application/x-protobuf',
    });
    const serializer = new CachingMetricsSerializer({ reuseOutput: true });
    const compressed = options.compression === 'gzip' ? new CompressedRequests() : undefined;
    super(
      createOtlpHttpExportDelegate(
        compressed === undefined
          ? options
          : { ...options, compression: 'none', headers: gzipHeaders(options.headers) },
        compressed ?? serializer,
        'otlp_http_metric_exporter',
        MetricsExporterMetricsHelper,
        undefined,
      ),
      config,
    );
    this.#serializer = serializer;
    this.#compressed = compressed;
  }

  override export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    const compressed = this.#compressed;
    if (compressed === undefined) {
      exportLeased(this.#serializer, resultCallback, (callback) => super.export(metrics, callback));
      return;
    }
    const lease = this.#serializer.lease();
    // Parts of the request are compressed on the pool while the serializer writes the rest.
    const gzip = new GzipInParts();
    const fail = (error: Error) => {
      // Not before the parts already compressing are done reading the buffer.
      void gzip.settled().then(() => {
        lease.release();
        resultCallback({ code: ExportResultCode.FAILED, error });
      });
    };
    let bytes: Uint8Array | undefined;
    try {
      bytes = this.#serializer.serializeRequest(metrics, gzip);
    } catch (error) {
      fail(error as Error);
      return;
    } finally {
      lease.close();
    }
    if (bytes === undefined) {
      fail(new Error('Nothing to send'));
      return;
    }
    // A request the SDK's serializer wrote was not announced.
    if (!gzip.begun) gzip.begin(bytes);
    const done = gzip.finish().then((gzipped) => {
      lease.release();
      compressed.next(metrics, gzipped);
      try {
        super.export(metrics, resultCallback);
      } catch (error) {
        resultCallback({ code: ExportResultCode.FAILED, error: error as Error });
      }
    }, fail);
    this.#compressing.add(done);
    // Neither branch throws: `done` always fulfils.
    void done.then(() => this.#compressing.delete(done));
  }

  override async forceFlush(): Promise<void> {
    await Promise.all(this.#compressing);
    return super.forceFlush();
  }

  override async shutdown(): Promise<void> {
    await Promise.all(this.#compressing);
    return super.shutdown();
  }
}

/** The SDK delegate's serializer when the exporter compresses: the bytes made for the request it is given. */
class CompressedRequests implements ISerializer<ResourceMetrics, Response> {
  #pending: { readonly request: ResourceMetrics; readonly bytes: Uint8Array } | undefined;

  /** The delegate serialises synchronously in `export()`, which is called right after this. */
  next(request: ResourceMetrics, bytes: Uint8Array): void {
    this.#pending = { request, bytes };
  }

  serializeRequest(request: ResourceMetrics): Uint8Array | undefined {
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending?.request !== request)
      throw new Error('OTLP HTTP exporter: no compressed bytes for this request');
    return pending.bytes;
  }

  deserializeResponse(data: Uint8Array): Response {
    return ProtobufMetricsSerializer.deserializeResponse(data);
  }
}

function gzipHeaders(headers: HeadersFactory): HeadersFactory {
  return async () => ({ ...(await headers()), 'Content-Encoding': 'gzip' });
}

/**
 * One export under a lease on the serializer's output buffer: the delegate serialises
 * synchronously inside `send` and calls back after the transport, when the buffer is free again.
 */
function exportLeased(
  serializer: CachingMetricsSerializer,
  resultCallback: (result: ExportResult) => void,
  send: (callback: (result: ExportResult) => void) => void,
): void {
  const lease = serializer.lease();
  try {
    send((result) => {
      lease.release();
      resultCallback(result);
    });
  } finally {
    lease.close();
  }
}
