export type { CallRecord } from './attributes.ts';
export {
  ATTR_OTEL_METRIC_OVERFLOW,
  ATTR_OWLK8S_SERVER_PORT_COLLAPSED,
  DEFAULT_KNOWN_METHODS,
  GRPC_STATUS_NAMES,
  RPC_STATUS_UNKNOWN,
} from './attributes.ts';
export type { H2Counter, H2DecoderCounters, H2InFlight, H2Report } from './h2-counters.ts';
export { H2_COUNTERS, kernelH2CounterName } from './h2-counters.ts';
export type { PeerNames, TargetIdentity } from './identity.ts';
export { INSTRUMENT_NAMES } from './instruments.ts';
export type { KernelCounter } from './kernel-counters.ts';
export { KERNEL_COUNTERS } from './kernel-counters.ts';
export type { RefusalReason } from './metrics-server.ts';
export type {
  ExporterOptions,
  JsonLinesExporterOptions,
  OtlpExporterOptions,
  PipelineLogger,
  PipelineOptions,
  PrometheusExporterOptions,
  Temporality,
  TlsOptions,
} from './options.ts';
export {
  DEFAULT_EXPORT_INTERVAL_MILLIS,
  DEFAULT_MAX_CONCURRENT_SCRAPES,
  resolveOptions,
} from './options.ts';
export type { AgentStats, Pipeline, SeriesTotals } from './pipeline.ts';
export { createPipeline, SCOPE } from './pipeline.ts';
export type { PeerUse, RecordResult } from './series-store.ts';
export type { ClientAuthType, WebConfig, WebConfigProblem, WebTlsConfig } from './web-config.ts';
export { parseWebConfig } from './web-config.ts';
export type { LoadedSecurity, SecurityFiles, SecurityProblem } from './web-security.ts';
export {
  describeProblem as describeSecurityProblem,
  fileErrorReason,
  loadSecurity,
  SecurityError,
} from './web-security.ts';
