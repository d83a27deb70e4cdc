// The MetricProducer that hands the kernel's histograms to one MetricReader. The SDK passes a
// producer's data to the exporter as it is (no views, no temporality conversion, no cardinality
// limit), so temporality is done here: one producer per reader, each with its own memory of what
// it last exported.
import type { Attributes, HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import { emptyResource } from '@opentelemetry/resources';
import type {
  CollectionResult,
  DataPoint,
  Histogram,
  HistogramMetricData,
  MetricData,
  MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import {
  METRIC_HTTP_CLIENT_REQUEST_DURATION,
  METRIC_HTTP_SERVER_REQUEST_DURATION,
} from '@opentelemetry/semantic-conventions';
import { ENCODING_CACHE } from './otlp-serializer.ts';
import type { PipelineState } from './pipeline-state.ts';
import { activeRequestsMetrics, type SeedExported, seedMetrics } from './pod-metrics.ts';
import type { MetricIndex, SeedRow, Series, SeriesStore } from './series-store.ts';

export type Temporality = 'cumulative' | 'delta';

export interface KernelProducerOptions {
  readonly temporality: Temporality;
  readonly scope: InstrumentationScope;
  /** Append `_seconds` to the histogram names (for the Prometheus exporter, which adds no unit suffix). */
  readonly unitSuffix?: boolean;
  /** Source of `http.server.active_requests`; without it the producer makes histograms only. */
  readonly state?: PipelineState;
  /** Also make the seed's RED set (`owlk8s.seed.*`). */
  readonly seedMetrics?: boolean;
}

const NAMES: readonly [string, string] = [
  METRIC_HTTP_SERVER_REQUEST_DURATION,
  METRIC_HTTP_CLIENT_REQUEST_DURATION,
];
const DESCRIPTIONS: readonly [string, string] = [
  'Duration of HTTP server requests, measured in the kernel at the pod interface.',
  'Duration of HTTP client requests, measured in the kernel at the pod interface.',
];

/**
 * One series' point as this producer hands it out, reused from one collection to the next: every
 * reader serialises synchronously in its exporter, before its producer collects again, so
 * rewriting the same objects is safe, and 10,000 series cost no new objects per collection. For a
 * delta producer it also remembers what it exported last.
 */
interface PointSlot {
  readonly point: ReusedPoint;
  /** Delta only: the totals at the last export, and its end time (the next point's start). */
  lastCount: number;
  lastSumNs: bigint;
  /** Delta only (empty for cumulative). */
  readonly lastBuckets: number[];
  lastTime: HrTime | undefined;
}

/** A histogram point whose times and values this producer rewrites in place. */
interface ReusedPoint {
  startTime: HrTime;
  endTime: HrTime;
  readonly attributes: Attributes;
  readonly value: { buckets: { boundaries: number[]; counts: number[] }; count: number; sum: number };
  /** Filled by the OTLP serializer: the encoded bytes of what never changes (see there). */
  [ENCODING_CACHE]: unknown;
}

export class KernelMetricProducer implements MetricProducer {
  readonly #store: SeriesStore;
  readonly #options: KernelProducerOptions;
  /** This producer's index into `Series.producerSlots`. */
  readonly #slot: number;
  readonly #seedExported = new Map<SeedRow, SeedExported>();

  constructor(store: SeriesStore, options: KernelProducerOptions) {
    this.#store = store;
    this.#options = options;
    this.#slot = store.registerProducer();
  }

  async collect(): Promise<CollectionResult> {
    return { resourceMetrics: { resource: emptyResource(), scopeMetrics: this.#scopeMetrics() }, errors: [] };
  }

  #scopeMetrics(): CollectionResult['resourceMetrics']['scopeMetrics'] {
    const endTime = this.#store.lastSnapshotTime;
    if (endTime === undefined) return [];
    const delta = this.#options.temporality === 'delta';
    const points: [DataPoint<Histogram>[], DataPoint<Histogram>[]] = [[], []];
    const boundaries = this.#store.boundariesSeconds;
    const finals: Series[] = [];
    for (const series of this.#store.series()) {
      const point = delta
        ? this.#deltaPoint(series, boundaries, endTime)
        : this.#cumulativePoint(series, boundaries, endTime);
      if (point !== undefined) points[series.metric].push(point);
      if (series.removedAtMs !== undefined) finals.push(series);
    }
    for (const series of finals) this.#store.finalExported(series);
    const metrics: MetricData[] = [];
    for (const metric of [0, 1] as const) {
      if (points[metric].length > 0) metrics.push(this.#metricData(metric, points[metric]));
    }
    if (this.#options.state !== undefined)
      metrics.push(...activeRequestsMetrics(this.#options.state, endTime));
    if (this.#options.seedMetrics) {
      metrics.push(...seedMetrics(this.#store, this.#options.temporality, this.#seedExported, endTime));
    }
    return metrics.length === 0 ? [] : [{ scope: this.#options.scope, metrics }];
  }

  #metricData(metric: MetricIndex, dataPoints: DataPoint<Histogram>[]): HistogramMetricData {
    return {
      descriptor: {
        name: this.#options.unitSuffix ? `${NAMES[metric]}_seconds` : NAMES[metric],
        description: DESCRIPTIONS[metric],
        unit: 's',
        valueType: ValueType.DOUBLE,
      },
      aggregationTemporality:
        this.#options.temporality === 'delta'
          ? AggregationTemporality.DELTA
          : AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints,
    };
  }

  /** The series' totals since its start time; nothing before its first request. */
  #cumulativePoint(series: Series, boundaries: number[], endTime: HrTime): ReusedPoint | undefined {
    if (series.count === 0) return undefined;
    const point = this.#slotOf(series, boundaries).point;
    point.endTime = endTime;
    const value = point.value;
    value.count = series.count;
    value.sum = Number(series.sumNs) / 1e9;
    value.buckets.boundaries = boundaries;
    return point;
  }

  /** Exactly what happened since this producer last exported the series; nothing when nothing did. */
  #deltaPoint(series: Series, boundaries: number[], endTime: HrTime): ReusedPoint | undefined {
    const slot = this.#slotOf(series, boundaries);
    if (series.count === slot.lastCount) return undefined;
    const point = slot.point;
    // The first point of a series starts with it; later ones where the previous one ended.
    point.startTime = slot.lastTime ?? series.startTime;
    point.endTime = endTime;
    const value = point.value;
    value.count = series.count - slot.lastCount;
    value.sum = Number(series.sumNs - slot.lastSumNs) / 1e9;
    value.buckets.boundaries = boundaries;
    const counts = value.buckets.counts;
    const buckets = series.buckets;
    const last = slot.lastBuckets;
    for (let i = 0; i < buckets.length; i++) {
      counts[i] = buckets[i]! - last[i]!;
      last[i] = buckets[i]!;
    }
    slot.lastCount = series.count;
    slot.lastSumNs = series.sumNs;
    slot.lastTime = endTime;
    return point;
  }

  #slotOf(series: Series, boundaries: number[]): PointSlot {
    let slot = series.producerSlots[this.#slot] as PointSlot | undefined;
    if (slot === undefined) {
      const n = series.buckets.length;
      const delta = this.#options.temporality === 'delta';
      slot = {
        point: {
          // A cumulative point starts with its series, for good; a delta one where the last ended.
          startTime: series.startTime,
          endTime: series.startTime,
          attributes: series.attributes,
          // No min/max: the kernel keeps neither, and a made-up one would be wrong. A cumulative
          // point's counts are the series' own array, not a copy: nothing records into it before
          // the exporter has read it (record runs on a timer, collection and serialisation in one
          // chain of microtasks), and no exporter writes the counts it is given.
          value: {
            buckets: { boundaries, counts: delta ? new Array<number>(n).fill(0) : series.buckets },
            count: 0,
            sum: 0,
          },
          [ENCODING_CACHE]: undefined,
        },
        lastCount: 0,
        lastSumNs: 0n,
        lastBuckets: delta ? new Array<number>(n).fill(0) : [],
        lastTime: undefined,
      };
      series.producerSlots[this.#slot] = slot;
    }
    return slot;
  }
}
