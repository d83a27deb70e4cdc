// The OTLP metric exporters of @opentelemetry/exporter-metrics-otlp-{grpc,proto}, assembled from
// the same parts (configuration with OTEL_EXPORTER_OTLP_* fallbacks, transports, retries) but with
// the caching serializer: the stock classes hard-wire the SDK's serializer, which spent ~50 ms per
// export at 10,000 histogram series re-encoding attribute strings that never change.

import type { ExportResult } from '@opentelemetry/core';
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
import { MetricsExporterMetricsHelper } from '@opentelemetry/otlp-transformer';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { CachingMetricsSerializer } from './otlp-serializer.ts';

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
 * that answers before reading the whole body (an error status) or a gzip stream still compressing
 * for a destroyed request may read bytes written by the next export, but those belong to a
 * request nobody uses.
 */
export class OtlpHttpMetricExporter extends OTLPMetricExporterBase {
  readonly #serializer: CachingMetricsSerializer;

  constructor(config: OtlpHttpConfig) {
    const serializer = new CachingMetricsSerializer({ reuseOutput: true });
    super(
      createOtlpHttpExportDelegate(
        convertLegacyHttpOptions(config, 'METRICS', 'v1/metrics', {
          'Content-Type': 'application/x-protobuf',
        }),
        serializer,
        'otlp_http_metric_exporter',
        MetricsExporterMetricsHelper,
        undefined,
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
