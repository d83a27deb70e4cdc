// The numbers the observable instruments read: derived from the last snapshot and the agent's
// reports, held here so that callbacks stay cheap and never touch the kernel.
import type { Attributes } from '@opentelemetry/api';
import { ATTR_K8S_NAMESPACE_NAME, ATTR_K8S_POD_NAME } from '@opentelemetry/semantic-conventions';
import type { SelfCounters, Snapshot } from '@owlk8s/ebpf';
import { ATTR_K8S_SERVICE_NAME, podAttributes, workloadAttribute } from './attributes.ts';
import type { SeedRow } from './instruments.ts';
import type { SeriesStore } from './series-store.ts';

export interface ActiveRequests {
  readonly pod: Attributes;
  readonly method: string;
  readonly port: number;
  readonly count: number;
}

interface SeedTotals {
  readonly attributes: Attributes;
  requests: number;
  errors4xx: number;
  errors5xx: number;
  sumNs: bigint;
  lastDurationSeconds: number | undefined;
}

export class PipelineState {
  readonly #store: SeriesStore;
  #active: ActiveRequests[] = [];
  readonly #seed = new Map<number, SeedTotals>();
  #self: SelfCounters | undefined;
  #targetsAttached: number | undefined;
  #collectionSeconds: number | undefined;
  readonly #exportFailures = new Map<string, number>();
  readonly #podAttributes = new Map<number, Attributes>();

  constructor(store: SeriesStore) {
    this.#store = store;
  }

  /** Updates everything the instruments read from one snapshot (after the store has recorded it). */
  record(snapshot: Snapshot): void {
    this.#self = snapshot.self;
    const active: ActiveRequests[] = [];
    for (const inflight of snapshot.inFlight) {
      if (inflight.role !== 'server' || inflight.count === 0) continue;
      const pod = this.#pod(inflight.targetId);
      if (pod !== undefined)
        active.push({ pod, method: inflight.method, port: inflight.port, count: inflight.count });
    }
    this.#active = active;

    const now = new Map<number, { requests: number; e4: number; e5: number; sumNs: bigint }>();
    for (const a of snapshot.aggregates) {
      if (a.role !== 'server' || !this.#store.hasTarget(a.targetId)) continue;
      let t = now.get(a.targetId);
      if (t === undefined) {
        t = { requests: 0, e4: 0, e5: 0, sumNs: 0n };
        now.set(a.targetId, t);
      }
      const count = Number(a.count);
      t.requests += count;
      if (a.statusCode >= 400 && a.statusCode < 500) t.e4 += count;
      if (a.statusCode >= 500) t.e5 += count;
      t.sumNs += a.durationSumNs;
    }
    for (const [targetId, t] of now) {
      let seed = this.#seed.get(targetId);
      if (seed === undefined) {
        const pod = this.#store.pod(targetId)!;
        const services = [...new Set(pod.ports.flatMap((p) => p.services.map((s) => s.name)))].sort();
        // The seed's own fields (pod, namespace, owner, Service), not the full identity: these
        // series go through the SDK, which hashes every attribute set at every collection.
        const attributes: Attributes = {
          [ATTR_K8S_POD_NAME]: pod.name,
          [ATTR_K8S_NAMESPACE_NAME]: pod.namespace,
          [workloadAttribute(pod.workload.kind)]: pod.workload.name,
        };
        if (services.length > 0) attributes[ATTR_K8S_SERVICE_NAME] = services.join(',');
        seed = {
          attributes,
          requests: 0,
          errors4xx: 0,
          errors5xx: 0,
          sumNs: 0n,
          lastDurationSeconds: undefined,
        };
        this.#seed.set(targetId, seed);
      }
      if (t.requests > seed.requests) {
        seed.lastDurationSeconds = Number(t.sumNs - seed.sumNs) / 1e9 / (t.requests - seed.requests);
      }
      seed.requests = t.requests;
      seed.errors4xx = t.e4;
      seed.errors5xx = t.e5;
      seed.sumNs = t.sumNs;
    }
  }

  /** Forgets a removed target's per-pod rows (the histograms keep their own final export). */
  removeTarget(targetId: number): void {
    const pod = this.#podAttributes.get(targetId);
    this.#active = this.#active.filter((a) => a.pod !== pod);
    this.#seed.delete(targetId);
    this.#podAttributes.delete(targetId);
  }

  reportAgent(stats: { targetsAttached?: number; collectionSeconds?: number }): void {
    if (stats.targetsAttached !== undefined) this.#targetsAttached = stats.targetsAttached;
    if (stats.collectionSeconds !== undefined) this.#collectionSeconds = stats.collectionSeconds;
  }

  exportFailed(exporter: string): number {
    const failures = (this.#exportFailures.get(exporter) ?? 0) + 1;
    this.#exportFailures.set(exporter, failures);
    return failures;
  }

  activeRequests(): readonly ActiveRequests[] {
    return this.#active;
  }

  *seedRows(): IterableIterator<SeedRow> {
    yield* this.#seed.values();
  }

  selfCounters(): SelfCounters | undefined {
    return this.#self;
  }

  targetsAttached(): number {
    return this.#targetsAttached ?? this.#store.targetCount;
  }

  collectionSeconds(): number | undefined {
    return this.#collectionSeconds;
  }

  exportFailures(): ReadonlyMap<string, number> {
    return this.#exportFailures;
  }

  *overflowedSeries(): IterableIterator<[string, number]> {
    yield ['http.server.request.duration', this.#store.overflowedSeriesCount(0)];
    yield ['http.client.request.duration', this.#store.overflowedSeriesCount(1)];
  }

  #pod(targetId: number): Attributes | undefined {
    let attributes = this.#podAttributes.get(targetId);
    if (attributes === undefined) {
      const pod = this.#store.pod(targetId);
      if (pod === undefined) return undefined;
      attributes = podAttributes(pod);
      this.#podAttributes.set(targetId, attributes);
    }
    return attributes;
  }
}
