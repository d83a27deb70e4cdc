// The per-pod metrics read at collection time besides the histograms: requests in flight and the
// seed library's RED set. Made by the kernel producer so that they share the histograms' life cycle
// (a deleted pod is exported once more, then forgotten), which the SDK's observable storage lacks.
import type { HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import {
  AggregationTemporality,
  type DataPoint,
  DataPointType,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import type { Temporality } from './kernel-producer.ts';
import type { PipelineState } from './pipeline-state.ts';
import type { SeedRow, SeriesStore } from './series-store.ts';

/** Names of the per-pod metrics this producer makes besides the histograms. */
export const POD_METRIC_NAMES = {
  activeRequests: 'http.server.active_requests',
  seedRequests: 'owlk8s.seed.requests',
  seedErrors4xx: 'owlk8s.seed.errors.4xx',
  seedErrors5xx: 'owlk8s.seed.errors.5xx',
  seedDuration: 'owlk8s.seed.duration',
} as const;

/** What a delta producer exported last for one seed row. */
export interface SeedExported {
  requests: number;
  errors4xx: number;
  errors5xx: number;
  time: HrTime;
}

/**
 * In-flight requests as an up-down counter: cumulative for every reader (the SDK's delta
 * preference keeps up-down counters cumulative too), start time = the series' target's start.
 */
export function activeRequestsMetrics(state: PipelineState, endTime: HrTime): MetricData[] {
  const active = state.activeRequests();
  if (active.length === 0) return [];
  return [
    {
      descriptor: {
        name: POD_METRIC_NAMES.activeRequests,
        description:
          'HTTP server requests in flight (request seen, response not yet) at the last collection.',
        unit: '{request}',
        valueType: ValueType.INT,
      },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: false,
      dataPoints: active.map((a) => ({
        startTime: a.startTime,
        endTime,
        attributes: a.attributes,
        value: a.count,
      })),
    },
  ];
}

/**
 * The seed library's RED set per pod: requests, 4xx and 5xx as counters (with this reader's
 * temporality) and the last interval's mean duration as a gauge. A removed pod's row is exported
 * once more, like its histograms, then forgotten.
 */
export function seedMetrics(
  store: SeriesStore,
  temporality: Temporality,
  exported: Map<SeedRow, SeedExported>,
  endTime: HrTime,
): MetricData[] {
  const delta = temporality === 'delta';
  const counters: [DataPoint<number>[], DataPoint<number>[], DataPoint<number>[]] = [[], [], []];
  const durations: DataPoint<number>[] = [];
  const finals: SeedRow[] = [];
  for (const row of store.seedRows()) {
    if (row.removedAtMs !== undefined) finals.push(row);
    if (row.requests === 0) continue;
    const values = [row.requests, row.errors4xx, row.errors5xx] as const;
    if (!delta) {
      for (let i = 0; i < 3; i++) {
        counters[i as 0 | 1 | 2].push({
          startTime: row.startTime,
          endTime,
          attributes: row.attributes,
          value: values[i]!,
        });
      }
    } else {
      const last = exported.get(row);
      if (last === undefined || last.requests !== row.requests) {
        const previous = last ?? { requests: 0, errors4xx: 0, errors5xx: 0, time: row.startTime };
        const before = [previous.requests, previous.errors4xx, previous.errors5xx];
        for (let i = 0; i < 3; i++) {
          counters[i as 0 | 1 | 2].push({
            startTime: previous.time,
            endTime,
            attributes: row.attributes,
            value: values[i]! - before[i]!,
          });
        }
        exported.set(row, {
          requests: row.requests,
          errors4xx: row.errors4xx,
          errors5xx: row.errors5xx,
          time: endTime,
        });
      }
    }
    if (row.lastDurationSeconds !== undefined) {
      durations.push({
        startTime: endTime,
        endTime,
        attributes: row.attributes,
        value: row.lastDurationSeconds,
      });
    }
  }
  for (const row of finals) {
    exported.delete(row);
    store.seedFinalExported(row);
  }
  const aggregationTemporality = delta ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE;
  const counter = (name: string, description: string, dataPoints: DataPoint<number>[]): MetricData => ({
    descriptor: { name, description, unit: '{request}', valueType: ValueType.INT },
    aggregationTemporality,
    dataPointType: DataPointType.SUM,
    isMonotonic: true,
    dataPoints,
  });
  const out: MetricData[] = [];
  if (counters[0].length > 0) {
    out.push(
      counter(
        POD_METRIC_NAMES.seedRequests,
        'Requests served by the pod (the seed library\'s "requests").',
        counters[0],
      ),
      counter(
        POD_METRIC_NAMES.seedErrors4xx,
        'Requests answered with 4xx (the seed library\'s "err4").',
        counters[1],
      ),
      counter(
        POD_METRIC_NAMES.seedErrors5xx,
        'Requests answered with 5xx (the seed library\'s "err5").',
        counters[2],
      ),
    );
  }
  if (durations.length > 0) {
    out.push({
      descriptor: {
        name: POD_METRIC_NAMES.seedDuration,
        description:
          "Mean duration of the requests of the last collection interval that had any (the seed library's " +
          '"duration"; the kernel keeps sums, not single requests). Use the histograms for anything else.',
        unit: 's',
        valueType: ValueType.DOUBLE,
      },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.GAUGE,
      dataPoints: durations,
    });
  }
  return out;
}
