// The agent's resolved export configuration (config/resolve.ts) as @owlk8s/otel pipeline options:
// a field-for-field mapping; every value, URL and TLS file is resolved before it gets here.
import type { ExporterOptions, PipelineLogger, PipelineOptions } from '@owlk8s/otel';
import type { AgentConfig } from './config/types.ts';

export function pipelineOptions(config: AgentConfig, logger: PipelineLogger): PipelineOptions {
  const p = config.pipeline;
  const exporters: ExporterOptions[] = [];
  if (p.prometheus !== undefined) exporters.push({ type: 'prometheus', ...p.prometheus });
  if (p.otlp !== undefined) {
    exporters.push({
      type: p.otlp.protocol === 'grpc' ? 'otlp-grpc' : 'otlp-http',
      endpoint: p.otlp.url,
      headers: p.otlp.headers,
      compression: p.otlp.compression,
      timeoutMillis: p.otlp.timeoutMs,
      ...(p.otlp.tls === undefined ? {} : { tls: p.otlp.tls }),
      temporality: p.otlp.temporality,
    });
  }
  if (p.stdout !== undefined) exporters.push({ type: 'json-lines', temporality: p.stdout.temporality });
  return {
    exporters,
    exportIntervalMillis: p.intervalMs,
    exportTimeoutMillis: p.timeoutMs,
    cardinalityLimit: p.cardinalityLimit,
    cardinalityLimitPerPod: p.cardinalityLimitPerPod,
    peersPerPod: p.peersPerPod,
    collapseUnknownClientPorts: p.collapseUnknownClientPorts,
    goLibraryMetrics: p.goLibraryMetrics,
    resource: p.resource,
    knownMethods: p.knownMethods,
    logger,
  };
}
