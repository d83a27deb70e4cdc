export { type BackoffOptions, DEFAULT_BACKOFF } from './backoff.ts';
export { type Clock, systemClock } from './clock.ts';
export { loadKubeConfig, resolveNodeName } from './config.ts';
export { type CreateOptions, createPodTargetWatcher } from './create.ts';
export { ApiError, ConfigError, ForbiddenError, GoneError } from './errors.ts';
export { consoleLogger, type Logger, silentLogger } from './logger.ts';
export type { PodTarget, ServiceRef, ServingPort, TargetEvent, Workload } from './pod-target.ts';
export type { Scope } from './pod-targets.ts';
export { IGNORE_ANNOTATION, SERVICE_NAME_ANNOTATION } from './records.ts';
export type { ReflectorPhase, ReflectorStatus } from './reflector.ts';
export {
  ClientNodeTransport,
  type ClientNodeTransportOptions,
  type ListOptions,
  type ListPage,
  type OwnerKind,
  type RawWatchEvent,
  type Transport,
  type WatchedResource,
  type WatchHandle,
  type WatchOptions,
} from './transport.ts';
export {
  type ConnectionState,
  PodTargetWatcher,
  type PodTargetWatcherOptions,
  type WatcherStatus,
} from './watcher.ts';
