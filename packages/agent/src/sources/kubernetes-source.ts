// The Kubernetes watcher as a TargetSource.
import type { PodTarget, PodTargetWatcher, TargetEvent } from '@owlk8s/k8s';
import type { SourceStatus, TargetSource } from './target-source.ts';

export class KubernetesSource implements TargetSource {
  readonly #watcher: PodTargetWatcher;

  constructor(watcher: PodTargetWatcher) {
    this.#watcher = watcher;
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
