// What the agent reports besides the histograms, held for the instruments and the producer: the
// in-flight requests and self counters of the last snapshot, the agent's own figures, export failures.
import type { Attributes, HrTime } from '@opentelemetry/api';
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_SERVER_PORT,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import type { SelfCounters, Snapshot } from '@owlk8s/ebpf';
import { podAttributes } from './attributes.ts';
import type { SeriesStore } from './series-store.ts';

/** One `http.server.active_requests` value: requests in flight per pod, method and port. */
export interface ActiveRequests {
  readonly attributes: Attributes;
  /** The target's start time: the start of the cumulative up-down counter. */
  readonly startTime: HrTime;
  readonly count: number;
}

export class PipelineState {
  readonly #store: SeriesStore;
  #active: ActiveRequests[] = [];
  #self: SelfCounters | undefined;
  #targetsAttached: number | undefined;
  #collectionSeconds: number | undefined;
  readonly #exportFailures = new Map<string, number>();
  /** Pod identity per target and active-request attributes per target, method and port, built once. */
  readonly #activeAttributes = new Map<number, Map<string, Attributes>>();

  constructor(store: SeriesStore) {
    this.#store = store;
  }

  /** Takes the in-flight counts and self counters of one snapshot (after the store recorded it). */
  record(snapshot: Snapshot): void {
    this.#self = snapshot.self;
    const active: ActiveRequests[] = [];
    for (const inflight of snapshot.inFlight) {
      if (inflight.role !== 'server' || inflight.count === 0) continue;
      const attributes = this.#attributesFor(inflight.targetId, inflight.method, inflight.port);
      const startTime = this.#store.startTime(inflight.targetId);
      if (attributes !== undefined && startTime !== undefined) {
        active.push({ attributes, startTime, count: inflight.count });
      }
    }
    this.#active = active;
  }

  removeTarget(targetId: number): void {
    this.#activeAttributes.delete(targetId);
    this.#active = [];
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

  #attributesFor(targetId: number, method: string, port: number): Attributes | undefined {
    let perTarget = this.#activeAttributes.get(targetId);
    if (perTarget === undefined) {
      const pod = this.#store.pod(targetId);
      if (pod === undefined) return undefined;
      perTarget = new Map();
      this.#activeAttributes.set(targetId, perTarget);
    }
    const key = `${method} ${port}`;
    let attributes = perTarget.get(key);
    if (attributes === undefined) {
      attributes = {
        [ATTR_HTTP_REQUEST_METHOD]: method,
        [ATTR_URL_SCHEME]: 'http',
        [ATTR_SERVER_PORT]: port,
        ...podAttributes(this.#store.pod(targetId)!),
      };
      perTarget.set(key, attributes);
    }
    return attributes;
  }
}
