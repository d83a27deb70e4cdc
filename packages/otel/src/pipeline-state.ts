// What the agent reports besides the histograms, held for the instruments and the kernel metrics:
// the in-flight requests and self counters of the last snapshot, the agent's own figures, export
// failures and counts given up.
import type { Attributes, HrTime } from '@opentelemetry/api';
import type { SelfCounters, Snapshot } from '@owlk8s/ebpf';
import { activeRequestAttributes } from './attributes.ts';
import type { H2Counter, H2Report } from './h2-counters.ts';
import { HISTOGRAM_NAMES } from './metric-data.ts';
import { METRICS, type SeriesStore, type TargetRef } from './series-store.ts';

/** One `http.server.active_requests` value: requests in flight per target, method and port. */
export interface ActiveRequests {
  readonly target: TargetRef;
  readonly attributes: Attributes;
  /** The target's start time: the start of the cumulative up-down counter. */
  readonly startTime: HrTime;
  readonly count: number;
}

export class PipelineState {
  readonly #store: SeriesStore;
  #active: ActiveRequests[] = [];
  /** The HTTP/2 requests in flight of the last report that had them (reportH2). */
  #h2Active: ActiveRequests[] = [];
  #self: SelfCounters | undefined;
  /** The last kernel values, and what earlier runs of the program counted (added after a reset). */
  #selfLast: SelfCounters | undefined;
  #selfBase: Record<keyof SelfCounters, bigint> | undefined;
  #targetsAttached: number | undefined;
  #collectionSeconds: number | undefined;
  /** Peer address writes the kernel refused (reported by the agent); undefined: no peers, not exported. */
  #peerWritesRefused: number | undefined;
  #peerWorkloadsUnnamed: number | undefined;
  readonly #exportFailures = new Map<string, number>();
  /** `exporter\0reason` → requests refused by a Prometheus endpoint. */
  readonly #scrapesRefused = new Map<string, number>();
  readonly #exportDropped = new Map<string, number>();
  /** Attribute values the enrichment bounded, by what it did: truncated, unprintable. */
  readonly #bounded = new Map<string, number>([
    ['truncated', 0],
    ['unprintable', 0],
  ]);
  /** The HTTP/2 path's last report (running totals); undefined: HTTP/2 off, nothing exported. */
  #h2: H2Report | undefined;
  /** Attributes per method and port, built once. */
  readonly #activeAttributes = new Map<string, Attributes>();

  constructor(store: SeriesStore) {
    this.#store = store;
  }

  /** Takes the in-flight counts and self counters of one snapshot (after the store recorded it). */
  record(snapshot: Snapshot): void {
    this.#self = this.#monotonic(snapshot.self);
    // One value per target, method and port: in-flight groups of different peers are summed.
    const active = new Map<string, ActiveRequests>();
    for (const inflight of snapshot.inFlight) {
      if (inflight.role !== 'server' || inflight.count === 0) continue;
      const target = this.#store.target(inflight.targetId);
      const startTime = this.#store.startTime(inflight.targetId);
      if (target === undefined || startTime === undefined) continue;
      this.#addActive(active, inflight, target, startTime);
    }
    this.#active = [...active.values()];
  }

  /** One value per target, method and port: in-flight groups with the same three are summed. */
  #addActive(
    active: Map<string, ActiveRequests>,
    inflight: {
      readonly targetId: number;
      readonly method: string;
      readonly port: number;
      readonly count: number;
    },
    target: TargetRef,
    startTime: HrTime,
  ): void {
    const key = `${inflight.method} ${inflight.port}`;
    const seen = active.get(`${inflight.targetId} ${key}`);
    if (seen !== undefined) {
      active.set(`${inflight.targetId} ${key}`, { ...seen, count: seen.count + inflight.count });
      return;
    }
    let attributes = this.#activeAttributes.get(key);
    if (attributes === undefined) {
      attributes = activeRequestAttributes(inflight.method, inflight.port);
      this.#activeAttributes.set(key, attributes);
    }
    active.set(`${inflight.targetId} ${key}`, { target, attributes, startTime, count: inflight.count });
  }

  /**
   * The exported totals: the kernel's, plus, for a counter that went down (the program was loaded
   * again, its counters starting from zero), what it had counted before. Every exported counter
   * only grows, whatever the kernel side does.
   */
  #monotonic(self: SelfCounters): SelfCounters {
    const last = this.#selfLast;
    this.#selfLast = self;
    if (last === undefined) return self;
    let base = this.#selfBase;
    for (const k of Object.keys(self) as (keyof SelfCounters)[]) {
      if (self[k] < last[k]) {
        base ??= Object.fromEntries(Object.keys(self).map((f) => [f, 0n])) as Record<
          keyof SelfCounters,
          bigint
        >;
        base[k] += last[k];
      }
    }
    this.#selfBase = base;
    if (base === undefined) return self;
    const out: Record<keyof SelfCounters, bigint> = { ...self };
    for (const k of Object.keys(base) as (keyof SelfCounters)[]) out[k] += base[k];
    return out;
  }

  removeTarget(targetId: number): void {
    this.#active = this.#active.filter((a) => a.target.id !== targetId);
    this.#h2Active = this.#h2Active.filter((a) => a.target.id !== targetId);
  }

  reportAgent(stats: {
    targetsAttached?: number;
    collectionSeconds?: number;
    peerWritesRefused?: number;
    peerWorkloadsUnnamed?: number;
  }): void {
    if (stats.targetsAttached !== undefined) this.#targetsAttached = stats.targetsAttached;
    if (stats.peerWritesRefused !== undefined) this.#peerWritesRefused = stats.peerWritesRefused;
    if (stats.peerWorkloadsUnnamed !== undefined) this.#peerWorkloadsUnnamed = stats.peerWorkloadsUnnamed;
    if (stats.collectionSeconds !== undefined) this.#collectionSeconds = stats.collectionSeconds;
  }

  /** A push exporter starts at zero failures (and, for delta, zero requests dropped). */
  registerExporter(exporter: string, delta: boolean): void {
    this.#exportFailures.set(exporter, 0);
    if (delta) this.#exportDropped.set(exporter, 0);
  }

  /** A Prometheus endpoint starts at zero refusals of each reason. */
  registerScrapeEndpoint(exporter: string, reasons: readonly string[]): void {
    for (const reason of reasons) this.#scrapesRefused.set(`${exporter}\0${reason}`, 0);
  }

  scrapeRefused(exporter: string, reason: string): void {
    const key = `${exporter}\0${reason}`;
    this.#scrapesRefused.set(key, (this.#scrapesRefused.get(key) ?? 0) + 1);
  }

  /** [exporter, reason, count] of every Prometheus endpoint. */
  scrapesRefused(): [string, string, number][] {
    return [...this.#scrapesRefused].map(([key, n]) => {
      const [exporter, reason] = key.split('\0') as [string, string];
      return [exporter, reason, n];
    });
  }

  exportFailed(exporter: string): number {
    const failures = (this.#exportFailures.get(exporter) ?? 0) + 1;
    this.#exportFailures.set(exporter, failures);
    return failures;
  }

  /** Requests a delta exporter gave up after its receiver did not acknowledge them in time. */
  exportDropped(exporter: string, requests: number): void {
    this.#exportDropped.set(exporter, (this.#exportDropped.get(exporter) ?? 0) + requests);
  }

  reportH2(report: H2Report): void {
    this.#h2 = report;
    if (report.inFlight === undefined) return;
    const active = new Map<string, ActiveRequests>();
    for (const inflight of report.inFlight) {
      const target = this.#store.target(inflight.targetId);
      const startTime = this.#store.startTime(inflight.targetId);
      if (target === undefined || startTime === undefined || inflight.count === 0) continue;
      this.#addActive(active, inflight, target, startTime);
    }
    this.#h2Active = [...active.values()];
  }

  /** A decoder counter (or the calls not attributed), once the agent reported its HTTP/2 path. */
  h2Counter(field: H2Counter['field']): number | undefined {
    const h2 = this.#h2;
    if (h2 === undefined) return undefined;
    return field === 'callsUnknownTarget' ? this.#store.callsUnknownTarget : h2.decoder[field];
  }

  /** A kernel HTTP/2 counter of the last report. */
  kernelH2Counter(field: string): number | undefined {
    const v = this.#h2?.kernel?.[field];
    return v === undefined ? undefined : Number(v);
  }

  /** The kernel's HTTP/1.x requests in flight and the HTTP/2 ones, summed per target, method and port. */
  activeRequests(): readonly ActiveRequests[] {
    if (this.#h2Active.length === 0) return this.#active;
    const merged = new Map<string, ActiveRequests>();
    for (const a of [...this.#active, ...this.#h2Active]) {
      const key = `${a.target.id} ${String(a.attributes['http.request.method'])} ${String(a.attributes['server.port'])}`;
      const seen = merged.get(key);
      merged.set(key, seen === undefined ? a : { ...seen, count: seen.count + a.count });
    }
    return [...merged.values()];
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

  /** Counts the values a target's identity had bounded (TargetIdentity.bounded). */
  countBounded(bounded: { readonly truncated: number; readonly unprintable: number }): void {
    this.#bounded.set('truncated', this.#bounded.get('truncated')! + bounded.truncated);
    this.#bounded.set('unprintable', this.#bounded.get('unprintable')! + bounded.unprintable);
  }

  boundedValues(): ReadonlyMap<string, number> {
    return this.#bounded;
  }

  exportDroppedCounts(): ReadonlyMap<string, number> {
    return this.#exportDropped;
  }

  peerWritesRefused(): number | undefined {
    return this.#peerWritesRefused;
  }

  peerWorkloadsUnnamed(): number | undefined {
    return this.#peerWorkloadsUnnamed;
  }

  overflowedPeers(): number {
    return this.#store.overflowedPeersCount;
  }

  collapsedClientSeries(): number {
    return this.#store.collapsedClientSeriesCount;
  }

  /** Per histogram: series routed to an overflow series; the RPC ones once a call was recorded. */
  *overflowedSeries(): IterableIterator<[string, number]> {
    const metrics = this.#store.callsRecorded ? METRICS : METRICS.slice(0, 2);
    for (const m of metrics) yield [HISTOGRAM_NAMES[m], this.#store.overflowedSeriesCount(m)];
  }
}
