// One consumer's view of the series store (one per exporter): the kernel's metrics of one
// collection, grouped by target, with the temporality of that consumer. A delta consumer counts
// from what its receiver last acknowledged, so an export that failed is carried by the next one.
import type { Attributes, HrTime } from '@opentelemetry/api';
import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics';
import {
  activeRequestsMetric,
  goLibraryCounterMetric,
  goLibraryDurationMetric,
  histogramMetric,
  numberPoint,
} from './metric-data.ts';
import type { Temporality } from './options.ts';
import type { PipelineState } from './pipeline-state.ts';
import { type GoLibraryRow, METRICS, type Series, type SeriesStore, type TargetRef } from './series-store.ts';

export interface KernelMetricsOptions {
  /** The exporter's name, e.g. `otlp-http[1]`: the attribute of its `owlk8s.agent.export.dropped`. */
  readonly name: string;
  readonly temporality: Temporality;
  /** Append `_seconds` to the histogram names (Prometheus). */
  readonly unitSuffix?: boolean;
  readonly goLibraryMetrics: boolean;
  /** Delta: counts unacknowledged for longer than this are given up (and counted as dropped). */
  readonly maxUnacknowledgedMs: number;
  readonly now?: () => number;
}

/** One target's metrics of one collection. */
export interface TargetBatch {
  /** Its target; undefined for the overflow series, which belong to no single target. */
  readonly target: TargetRef | undefined;
  readonly metrics: MetricData[];
  /**
   * The receiver has them: a delta consumer's next points start from here, and removed series
   * of this batch have had their final export. Not calling it means they are sent again.
   */
  acknowledge(): void;
}

/** What a consumer keeps per series or Go-library row. */
interface Slot {
  /** Delta: the totals the receiver acknowledged, and the end time of that export. */
  ackCount: number;
  ackSumNs: bigint;
  ackBuckets: number[] | undefined;
  /** Go-library rows: acknowledged 4xx and 5xx totals. */
  ack4xx: number;
  ack5xx: number;
  ackTime: HrTime | undefined;
  /** Delta: since when there are counts the receiver has not acknowledged. */
  unackedSinceMs: number | undefined;
  /** Removed: this consumer made the final export. */
  finalDone: boolean;
}

interface Group {
  readonly target: TargetRef | undefined;
  readonly histograms: [
    DataPoint<Histogram>[],
    DataPoint<Histogram>[],
    DataPoint<Histogram>[],
    DataPoint<Histogram>[],
  ];
  readonly active: DataPoint<number>[];
  readonly goLibrary: [DataPoint<number>[], DataPoint<number>[], DataPoint<number>[]];
  readonly goLibraryDuration: DataPoint<number>[];
  readonly onAcknowledge: (() => void)[];
}

export class KernelMetrics {
  readonly #store: SeriesStore;
  readonly #state: PipelineState;
  readonly #options: KernelMetricsOptions;
  readonly #now: () => number;
  readonly #slot: number;

  constructor(store: SeriesStore, state: PipelineState, options: KernelMetricsOptions) {
    this.#store = store;
    this.#state = state;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#slot = store.registerConsumer();
  }

  /**
   * The metrics of the last recorded snapshot, one batch per target (plus one for the overflow
   * series). A batch with nothing to send but final exports is acknowledged here.
   */
  collect(): TargetBatch[] {
    const endTime = this.#store.lastSnapshotTime;
    if (endTime === undefined) return [];
    const groups = new Map<TargetRef | undefined, Group>();
    const group = (target: TargetRef | undefined): Group => {
      let g = groups.get(target);
      if (g === undefined) {
        g = {
          target,
          histograms: [[], [], [], []],
          active: [],
          goLibrary: [[], [], []],
          goLibraryDuration: [],
          onAcknowledge: [],
        };
        groups.set(target, g);
      }
      return g;
    };
    const boundaries = this.#store.boundariesSeconds;
    for (const series of this.#store.series()) {
      const slot = this.#slotOf(series.consumerSlots);
      if (slot.finalDone) continue;
      const g = group(series.target);
      const point =
        this.#options.temporality === 'delta'
          ? this.#deltaPoint(series, slot, boundaries, endTime, g)
          : cumulativePoint(series, boundaries, endTime);
      if (point !== undefined) g.histograms[series.metric].push(point);
      if (series.removedAtMs !== undefined) {
        g.onAcknowledge.push(() => {
          if (slot.finalDone) return;
          slot.finalDone = true;
          this.#store.finalExported(series);
        });
      }
    }
    for (const active of this.#state.activeRequests()) {
      group(active.target).active.push(
        numberPoint(active.startTime, endTime, active.attributes, active.count),
      );
    }
    if (this.#options.goLibraryMetrics) {
      for (const row of this.#store.goLibraryRows()) this.#goLibraryPoints(row, endTime, group(row.target));
    }
    const batches: TargetBatch[] = [];
    for (const g of groups.values()) {
      const metrics = this.#metricsOf(g);
      const acknowledge = () => {
        for (const f of g.onAcknowledge) f();
      };
      if (metrics.length === 0) acknowledge();
      else batches.push({ target: g.target, metrics, acknowledge });
    }
    return batches;
  }

  #metricsOf(g: Group): MetricData[] {
    const { temporality, unitSuffix = false } = this.#options;
    const metrics: MetricData[] = [];
    for (const metric of METRICS) {
      const points = g.histograms[metric];
      if (points.length > 0) metrics.push(histogramMetric(metric, temporality, unitSuffix, points));
    }
    if (g.active.length > 0) metrics.push(activeRequestsMetric(g.active));
    if (g.goLibrary[0].length > 0) {
      for (const i of [0, 1, 2] as const)
        metrics.push(goLibraryCounterMetric(i, temporality, g.goLibrary[i]));
    }
    if (g.goLibraryDuration.length > 0) metrics.push(goLibraryDurationMetric(g.goLibraryDuration));
    return metrics;
  }

  /** Exactly what happened since the receiver last acknowledged the series; nothing when nothing did. */
  #deltaPoint(
    series: Series,
    slot: Slot,
    boundaries: number[],
    endTime: HrTime,
    g: Group,
  ): DataPoint<Histogram> | undefined {
    if (series.count === slot.ackCount) return undefined;
    const n = series.buckets.length;
    slot.ackBuckets ??= new Array<number>(n).fill(0);
    if (this.#givenUp(slot)) {
      this.#state.exportDropped(this.#options.name, series.count - slot.ackCount);
      slot.ackCount = series.count;
      slot.ackSumNs = series.sumNs;
      slot.ackBuckets = series.buckets.slice();
      slot.ackTime = endTime;
      slot.unackedSinceMs = undefined;
      return undefined;
    }
    const last = slot.ackBuckets;
    const counts = new Array<number>(n);
    for (let i = 0; i < n; i++) counts[i] = series.buckets[i]! - last[i]!;
    const sent = { count: series.count, sumNs: series.sumNs, buckets: series.buckets.slice() };
    g.onAcknowledge.push(() => {
      // A late answer to an older export never moves the baseline back.
      if (sent.count <= slot.ackCount) return;
      slot.ackCount = sent.count;
      slot.ackSumNs = sent.sumNs;
      slot.ackBuckets = sent.buckets;
      slot.ackTime = endTime;
      if (sent.count === series.count) slot.unackedSinceMs = undefined;
    });
    return {
      // The first point of a series starts with it; later ones where the acknowledged one ended.
      startTime: slot.ackTime ?? series.startTime,
      endTime,
      attributes: series.attributes,
      // No min/max: the kernel keeps neither, and a made-up one would be wrong.
      value: {
        buckets: { boundaries, counts },
        count: series.count - slot.ackCount,
        sum: Number(series.sumNs - slot.ackSumNs) / 1e9,
      },
    };
  }

  /** The Go-library row's counters (and last-interval gauge) for this consumer. */
  #goLibraryPoints(row: GoLibraryRow, endTime: HrTime, g: Group): void {
    const slot = this.#slotOf(row.consumerSlots);
    if (slot.finalDone) return;
    if (row.removedAtMs !== undefined) {
      g.onAcknowledge.push(() => {
        if (slot.finalDone) return;
        slot.finalDone = true;
        this.#store.goLibraryFinalExported(row);
      });
    }
    if (row.requests === 0) return;
    const values = [row.requests, row.errors4xx, row.errors5xx] as const;
    if (this.#options.temporality === 'cumulative') {
      for (const i of [0, 1, 2] as const)
        g.goLibrary[i].push(numberPoint(row.startTime, endTime, row.attributes, values[i]));
    } else if (row.requests !== slot.ackCount) {
      if (this.#givenUp(slot)) {
        // Given up silently here: the histograms of the same requests count what was dropped.
        Object.assign(slot, {
          ackCount: values[0],
          ack4xx: values[1],
          ack5xx: values[2],
          ackTime: endTime,
          unackedSinceMs: undefined,
        });
      } else {
        const before = [slot.ackCount, slot.ack4xx, slot.ack5xx] as const;
        const start = slot.ackTime ?? row.startTime;
        for (const i of [0, 1, 2] as const) {
          g.goLibrary[i].push(numberPoint(start, endTime, row.attributes, values[i] - before[i]));
        }
        g.onAcknowledge.push(() => {
          if (values[0] <= slot.ackCount) return;
          [slot.ackCount, slot.ack4xx, slot.ack5xx] = values;
          slot.ackTime = endTime;
          if (values[0] === row.requests) slot.unackedSinceMs = undefined;
        });
      }
    }
    if (row.lastDurationSeconds !== undefined) {
      g.goLibraryDuration.push(numberPoint(endTime, endTime, row.attributes, row.lastDurationSeconds));
    }
  }

  /** Delta: starts the unacknowledged clock, or says it ran out. */
  #givenUp(slot: Slot): boolean {
    const now = this.#now();
    if (slot.unackedSinceMs === undefined) {
      slot.unackedSinceMs = now;
      return false;
    }
    return now - slot.unackedSinceMs > this.#options.maxUnacknowledgedMs;
  }

  #slotOf(slots: unknown[]): Slot {
    let slot = slots[this.#slot] as Slot | undefined;
    if (slot === undefined) {
      slot = {
        ackCount: 0,
        ackSumNs: 0n,
        ackBuckets: undefined,
        ack4xx: 0,
        ack5xx: 0,
        ackTime: undefined,
        unackedSinceMs: undefined,
        finalDone: false,
      };
      slots[this.#slot] = slot;
    }
    return slot;
  }
}

/** The series' totals since its start time; nothing before its first request. */
function cumulativePoint(
  series: Series,
  boundaries: number[],
  endTime: HrTime,
): DataPoint<Histogram> | undefined {
  if (series.count === 0) return undefined;
  return {
    startTime: series.startTime,
    endTime,
    attributes: series.attributes,
    value: {
      buckets: { boundaries, counts: series.buckets.slice() },
      count: series.count,
      sum: Number(series.sumNs) / 1e9,
    },
  };
}

/** The point attributes with the target's identity merged in: Prometheus labels. */
export function withIdentity(attributes: Attributes, target: TargetRef | undefined): Attributes {
  return target === undefined ? attributes : { ...target.identity.resource, ...attributes };
}
