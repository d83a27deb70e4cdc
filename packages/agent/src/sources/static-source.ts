// Targets given by hand (no Kubernetes): the seed's NewBPFLoader(IP, ifIndex) use, for VMs and
// bare metal. Each entry becomes a PodTarget so the metrics carry the names the user gave.
import type { PodTarget, TargetEvent } from '@owlk8s/k8s';
import type { StaticTarget } from '../config/types.ts';
import type { SourceStatus, TargetSource } from './target-source.ts';

export const STATIC_UID_PREFIX = 'static:';

/** The PodTarget a static entry stands for; `ports` lists the HTTP ports to name its Service on. */
export function staticPodTarget(t: StaticTarget, node: string, ports: readonly number[]): PodTarget {
  const namespace = t.namespace ?? 'default';
  return {
    uid: `${STATIC_UID_PREFIX}${t.name}`,
    name: t.name,
    namespace,
    node,
    ips: [t.ip],
    phase: 'Running',
    ready: true,
    workload: { kind: 'Pod', name: t.name },
    labels: { ...t.labels },
    ports:
      t.service === undefined
        ? []
        : ports.map((port) => ({ port, services: [{ namespace, name: t.service!, port }] })),
  };
}

export class StaticSource implements TargetSource {
  readonly #targets: PodTarget[];
  readonly #ports: readonly number[];

  /** `ports`: the configured HTTP ports (empty for `all`); static targets have no ports of their own. */
  constructor(targets: readonly StaticTarget[], node: string, ports: readonly number[]) {
    this.#targets = targets.map((t) => staticPodTarget(t, node, ports));
    this.#ports = [...new Set(ports)].sort((a, b) => a - b);
  }
  start(): void {}
  async stop(): Promise<void> {}
  subscribe(_listener: (event: TargetEvent) => void): () => void {
    return () => {};
  }
  snapshot(): PodTarget[] {
    return [...this.#targets];
  }
  knownPorts(): readonly number[] {
    return this.#ports;
  }
  subscribeKnownPorts(_listener: (ports: readonly number[]) => void): () => void {
    return () => {};
  }
  async whenSynced(): Promise<void> {}
  status(): SourceStatus {
    return { synced: true, state: 'static' };
  }
}
