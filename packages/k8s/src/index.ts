export { normalizeAddress } from './address.ts';
export { type BackoffOptions, DEFAULT_BACKOFF } from './backoff.ts';
export { type Clock, systemClock } from './clock.ts';
export { resolveNodeName } from './config.ts';
export { type CreateOptions, createPodTargetWatcher } from './create.ts';
export { ApiError, ConfigError, ForbiddenError, GoneError } from './errors.ts';
export { consoleLogger, type Logger, silentLogger } from './logger.ts';
export {
  type NodePeer,
  OUTSIDE_PEER,
  type OutsidePeer,
  type Peer,
  type PeerChange,
  type PodPeer,
  type ServicePeer,
  serviceDnsName,
} from './peer.ts';
export type { PeerIndex } from './peer-index.ts';
export {
  type PeerWorkloadLookup,
  PeerWorkloads,
  type PeerWorkloadsOptions,
} from './peer-workloads.ts';
export type { PodTarget, ServiceRef, ServingPort, TargetEvent, Workload } from './pod-target.ts';
export type { Scope } from './pod-targets.ts';
export { IGNORE_ANNOTATION, SERVICE_NAME_ANNOTATION } from './records.ts';
export type { ReflectorPhase, ReflectorStatus } from './reflector.ts';
export {
  SERVICE_ACCOUNT_DIR,
  ServiceAccountTransport,
  type ServiceAccountTransportOptions,
} from './service-account-transport.ts';
export type {
  GetKind,
  ListOptions,
  ListPage,
  OwnerKind,
  RawWatchEvent,
  Transport,
  WatchedResource,
  WatchHandle,
  WatchOptions,
} from './transport.ts';
export {
  type ConnectionState,
  PodTargetWatcher,
  type PodTargetWatcherOptions,
  type WatcherStatus,
} from './watcher.ts';
