// The Kubernetes watcher as a TargetSource.
import type { PodTarget, PodTargetWatcher, TargetEvent } from '@owlk8s/k8s';
import type { SourceStatus, TargetSource } from './target-source.ts';

export class KubernetesSource implements TargetSource {
  readonly #watcher: PodTargetWatcher;
  readonly #configuredPorts: readonly number[];

  /** `configuredPorts`: the configured HTTP ports (empty for `all`), known besides the Services' ports. */
  constructor(watcher: PodTargetWatcher, configuredPorts: readonly number[] = []) {
    this.#watcher = watcher;
    this.#configuredPorts = configuredPorts;
  }
  start(): void {
    this.#watcher.start();
  }
  stop(): Promise<void> {
    return this.#watcher.stop();
  }
  subscribe(listener: (event: TargetEvent) => void): () => void {
    return this.#watcher.subscribe(listener);
  }
  snapshot(): PodTarget[] {
    return this.#watcher.snapshot();
  }
  knownPorts(): readonly number[] {
    return this.#union(this.#watcher.servicePorts());
  }
  subscribeKnownPorts(listener: (ports: readonly number[]) => void): () => void {
    return this.#watcher.subscribeServicePorts((ports) => listener(this.#union(ports)));
  }
  #union(servicePorts: readonly number[]): readonly number[] {
    if (this.#configuredPorts.length === 0) return servicePorts;
    return [...new Set([...servicePorts, ...this.#configuredPorts])].sort((a, b) => a - b);
  }
  whenSynced(): Promise<void> {
    return this.#watcher.whenSynced();
  }
  status(): SourceStatus {
    const s = this.#watcher.status();
    return {
      synced: s.synced,
      state: `kubernetes ${s.state}`,
      sinceLastSyncMs: s.sinceLastSyncMs,
      lastError: s.lastError?.message,
    };
  }
}
