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
  whenSynced(): Promise<void>;
  status(): SourceStatus;
}
