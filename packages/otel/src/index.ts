export {
  ATTR_K8S_SERVICE_NAME,
  ATTR_OTEL_METRIC_OVERFLOW,
  DEFAULT_KNOWN_METHODS,
  podServiceName,
} from './attributes.ts';
export { INSTRUMENT_NAMES } from './instruments.ts';
export type { Temporality } from './kernel-producer.ts';
export type {
  ExporterOptions,
  JsonLinesExporterOptions,
  OtlpGrpcExporterOptions,
  OtlpHttpExporterOptions,
  PipelineLogger,
  PipelineOptions,
  PrometheusExporterOptions,
  TlsOptions,
} from './options.ts';
export { resolveOptions } from './options.ts';
export type { AgentStats, Pipeline } from './pipeline.ts';
export { createPipeline, SCOPE } from './pipeline.ts';
export type { RecordResult } from './series-store.ts';
