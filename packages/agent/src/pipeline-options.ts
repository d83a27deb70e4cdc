// The agent's export settings as @owlk8s/otel pipeline options.
import { readFileSync } from 'node:fs';
import type { ExporterOptions, PipelineLogger, PipelineOptions } from '@owlk8s/otel';
import type { Origin } from './config/config-error.ts';
import { otlpExporterUrl } from './config/otlp-endpoint.ts';
import type { Config } from './config/types.ts';

export function pipelineOptions(
  config: Config,
  logger: PipelineLogger,
  origin?: (path: string) => Origin,
): PipelineOptions {
  const ex = config.export;
  const exporters: ExporterOptions[] = [];
  if (ex.prometheus.enabled) {
    exporters.push({
      type: 'prometheus',
      host: ex.prometheus.host,
      port: ex.prometheus.port,
      path: ex.prometheus.path,
    });
  }
  const endpoint = otlpExporterUrl(ex.otlp, origin?.('export.otlp.endpoint'));
  if (endpoint !== undefined) {
    const tls = ex.otlp.tls.caFile !== '' ? { ca: readFileSync(ex.otlp.tls.caFile, 'utf8') } : undefined;
    exporters.push({
      type: ex.otlp.protocol === 'grpc' ? 'otlp-grpc' : 'otlp-http',
      endpoint,
      headers: ex.otlp.headers,
      compression: ex.otlp.compression,
      timeoutMillis: ex.otlp.timeoutMs,
      ...(tls !== undefined ? { tls } : {}),
      temporality: ex.temporality,
    });
  }
  if (ex.stdout.enabled) exporters.push({ type: 'json-lines', temporality: ex.temporality });
  return {
    exporters,
    exportIntervalMillis: ex.intervalMs,
    cardinalityLimit: ex.cardinalityLimit,
    goLibraryMetrics: ex.seedMetrics,
    logger,
  };
}
