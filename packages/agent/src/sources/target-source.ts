// Where wanted targets come from: the Kubernetes watcher, or the static list in the configuration.
// Both look the same to the agent.
import type { PodTarget, TargetEvent } from '@owlk8s/k8s';

export interface SourceStatus {
  /** The first complete set of targets is known. */
  readonly synced: boolean;
  /** Connection state, for readiness and logs (e.g. 'synced', 'degraded', 'static'). */
  readonly state: string;
  readonly sinceLastSyncMs?: number | undefined;
  readonly lastError?: string | undefined;
}

export interface TargetSource {
  start(): void;
  stop(): Promise<void>;
  subscribe(listener: (event: TargetEvent) => void): () => void;
  snapshot(): PodTarget[];
  /**
   * The destination ports a pod's client-side requests keep their own series on (the configured
   * HTTP ports, the Services' ports); requests to other ports are collapsed by the pipeline.
   * Complete once synced.
   */
  knownPorts(): readonly number[];
  /** Calls `listener` with the new list each time knownPorts changes; returns the unsubscriber. */
  subscribeKnownPorts(listener: (ports: readonly number[]) => void): () => void;
  whenSynced(): Promise<void>;
  status(): SourceStatus;
}
