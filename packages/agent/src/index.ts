export type { AdminServer, AdminSource, Readiness } from './admin/admin-server.ts';
export { startAdminServer } from './admin/admin-server.ts';
export type { AgentLogger, AgentParts, CaptureEngine, TargetRecord } from './agent.ts';
export { Agent } from './agent.ts';
export type { ErrorKind } from './agent-error.ts';
export { AgentError, errorKind } from './agent-error.ts';
export type { ConfigProblem, Origin } from './config/config-error.ts';
export { ConfigError } from './config/config-error.ts';
export type { LoadedConfig, LoadOptions } from './config/load.ts';
export { checkConfig, loadConfig } from './config/load.ts';
export { otlpExporterUrl } from './config/otlp-endpoint.ts';
export { redactConfig } from './config/redact.ts';
export type { AgentConfig, Config, ResolvedPipeline, StaticTarget } from './config/types.ts';
export {
  ATTR_K8S_SERVICE_NAME,
  goLibraryAttributes,
  podIdentity,
  podResource,
  podServiceName,
  serviceNameForPort,
} from './enrichment/pod-identity.ts';
export type { H2CallsOptions, H2RecordSource, H2TargetStats } from './h2/h2-calls.ts';
export { H2_IDLE_POLL_MS, H2_POLL_MS, H2Calls, isH2RecordSource } from './h2/h2-calls.ts';
export { HostInterfaceLocator } from './host-locator.ts';
export type { Logger, LoggerOptions } from './log.ts';
export { createLogger, loggerFromConfig } from './log.ts';
export { pipelineOptions } from './pipeline-options.ts';
export type { CaptureControl, HostInterface, InterfaceLocator, WantedTarget } from './reconciler/ports.ts';
export type { IpState, IpStatus, ReconcileResult, TargetStatus } from './reconciler/reconciler.ts';
export { Reconciler } from './reconciler/reconciler.ts';
export type { RunOptions } from './run.ts';
export { runAgent } from './run.ts';
export { KubernetesSource } from './sources/kubernetes-source.ts';
export { StaticSource, staticPodTarget } from './sources/static-source.ts';
export type { SourceStatus, TargetSource } from './sources/target-source.ts';
