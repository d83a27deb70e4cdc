// The MetricProducer that hands the kernel's histograms to one MetricReader. The SDK passes a
// producer's data to the exporter as it is (no views, no temporality conversion, no cardinality
// limit), so temporality is done here: one producer per reader, each with its own memory of what
// it last exported.
import type { HrTime } from '@opentelemetry/api';
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

/** What a delta producer exported last for one series. */
interface Exported {
  count: number;
  sumNs: bigint;
  buckets: number[];
  time: HrTime;
}

export class KernelMetricProducer implements MetricProducer {
  readonly #store: SeriesStore;
  readonly #options: KernelProducerOptions;
  readonly #exported = new Map<Series, Exported>();
  readonly #seedExported = new Map<SeedRow, SeedExported>();

  constructor(store: SeriesStore, options: KernelProducerOptions) {
    this.#store = store;
    this.#options = options;
    store.registerProducer();
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
    const finals: [string, Series][] = [];
    for (const entry of this.#store.series()) {
      const series = entry[1];
      const point = delta
        ? this.#deltaPoint(series, boundaries, endTime)
        : cumulativePoint(series, boundaries, endTime);
      if (point !== undefined) points[series.metric].push(point);
      if (series.removedAtMs !== undefined) finals.push(entry);
    }
    for (const [key, series] of finals) {
      this.#exported.delete(series);
      this.#store.finalExported(key, series);
    }
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

  /** Exactly what happened since this producer last exported the series; nothing when nothing did. */
  #deltaPoint(series: Series, boundaries: number[], endTime: HrTime): DataPoint<Histogram> | undefined {
    const last = this.#exported.get(series);
    if (last === undefined) {
      if (series.count === 0) return undefined;
      this.#exported.set(series, {
        count: series.count,
        sumNs: series.sumNs,
        buckets: series.buckets.slice(),
        time: endTime,
      });
      return histogramPoint(
        series,
        boundaries,
        series.startTime,
        endTime,
        series.count,
        series.sumNs,
        series.buckets,
      );
    }
    if (series.count === last.count) return undefined;
    const counts = new Array<number>(series.buckets.length);
    for (let i = 0; i < counts.length; i++) {
      counts[i] = series.buckets[i]! - last.buckets[i]!;
      last.buckets[i] = series.buckets[i]!;
    }
    const point = histogramPoint(
      series,
      boundaries,
      last.time,
      endTime,
      series.count - last.count,
      series.sumNs - last.sumNs,
      counts,
    );
    last.count = series.count;
    last.sumNs = series.sumNs;
    last.time = endTime;
    return point;
  }
}

function cumulativePoint(
  series: Series,
  boundaries: number[],
  endTime: HrTime,
): DataPoint<Histogram> | undefined {
  if (series.count === 0) return undefined;
  return histogramPoint(
    series,
    boundaries,
    series.startTime,
    endTime,
    series.count,
    series.sumNs,
    series.buckets.slice(),
  );
}

function histogramPoint(
  series: Series,
  boundaries: number[],
  startTime: HrTime,
  endTime: HrTime,
  count: number,
  sumNs: bigint,
  counts: number[],
): DataPoint<Histogram> {
  return {
    startTime,
    endTime,
    attributes: series.attributes,
    // No min/max: the kernel keeps neither, and a made-up one would be wrong.
    value: { buckets: { boundaries, counts }, count, sum: Number(sumNs) / 1e9 },
  };
}
