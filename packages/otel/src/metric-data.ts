// The SDK's MetricData records for the kernel's metrics: names, descriptions, units and
// temporality in one place, so every exporter describes them the same way.
import type { Attributes, HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import {
  AggregationTemporality,
  type DataPoint,
  DataPointType,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import {
  METRIC_HTTP_CLIENT_REQUEST_DURATION,
  METRIC_HTTP_SERVER_REQUEST_DURATION,
  METRIC_RPC_CLIENT_CALL_DURATION,
  METRIC_RPC_SERVER_CALL_DURATION,
} from '@opentelemetry/semantic-conventions';
import type { Temporality } from './options.ts';
import type { MetricIndex } from './series-store.ts';

/** Names of the per-target metrics besides the histograms. */
export const POD_METRIC_NAMES = {
  activeRequests: 'http.server.active_requests',
  goLibraryRequests: 'owlk8s.go_library.requests',
  goLibraryErrors4xx: 'owlk8s.go_library.errors.4xx',
  goLibraryErrors5xx: 'owlk8s.go_library.errors.5xx',
  goLibraryDuration: 'owlk8s.go_library.duration',
} as const;

/** The histograms by MetricIndex. */
export const HISTOGRAM_NAMES: readonly [string, string, string, string] = [
  METRIC_HTTP_SERVER_REQUEST_DURATION,
  METRIC_HTTP_CLIENT_REQUEST_DURATION,
  METRIC_RPC_SERVER_CALL_DURATION,
  METRIC_RPC_CLIENT_CALL_DURATION,
];
const HISTOGRAM_DESCRIPTIONS: readonly [string, string, string, string] = [
  'Duration of HTTP server requests, measured in the kernel at the pod interface.',
  'Duration of HTTP client requests, measured in the kernel at the pod interface.',
  'Duration of gRPC server calls, from the request HEADERS to the end of the response stream, timed in the kernel at the pod interface.',
  'Duration of gRPC client calls, from the request HEADERS to the end of the response stream, timed in the kernel at the pod interface.',
];

function sdkTemporality(temporality: Temporality): AggregationTemporality {
  return temporality === 'delta' ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE;
}

/** `unitSuffix` appends `_seconds` (the Prometheus exporter adds no unit suffix itself). */
export function histogramMetric(
  metric: MetricIndex,
  temporality: Temporality,
  unitSuffix: boolean,
  dataPoints: DataPoint<Histogram>[],
): MetricData {
  return {
    descriptor: {
      name: unitSuffix ? `${HISTOGRAM_NAMES[metric]}_seconds` : HISTOGRAM_NAMES[metric],
      description: HISTOGRAM_DESCRIPTIONS[metric],
      unit: 's',
      valueType: ValueType.DOUBLE,
    },
    aggregationTemporality: sdkTemporality(temporality),
    dataPointType: DataPointType.HISTOGRAM,
    dataPoints,
  };
}

/**
 * In-flight requests as an up-down counter: cumulative for every reader (the SDK's delta
 * preference keeps up-down counters cumulative too), start time = its target's start.
 */
export function activeRequestsMetric(dataPoints: DataPoint<number>[]): MetricData {
  return {
    descriptor: {
      name: POD_METRIC_NAMES.activeRequests,
      description: 'HTTP server requests in flight (request seen, response not yet) at the last collection.',
      unit: '{request}',
      valueType: ValueType.INT,
    },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic: false,
    dataPoints,
  };
}

const GO_LIBRARY_COUNTERS = [
  [POD_METRIC_NAMES.goLibraryRequests, 'Requests served by the pod (the Go library\'s "requests").'],
  [POD_METRIC_NAMES.goLibraryErrors4xx, 'Requests answered with 4xx (the Go library\'s "err4").'],
  [POD_METRIC_NAMES.goLibraryErrors5xx, 'Requests answered with 5xx (the Go library\'s "err5").'],
] as const;

/** The Go library's RED set: requests, 4xx and 5xx counters (index 0..2), with the reader's temporality. */
export function goLibraryCounterMetric(
  index: 0 | 1 | 2,
  temporality: Temporality,
  dataPoints: DataPoint<number>[],
): MetricData {
  const [name, description] = GO_LIBRARY_COUNTERS[index];
  return {
    descriptor: { name, description, unit: '{request}', valueType: ValueType.INT },
    aggregationTemporality: sdkTemporality(temporality),
    dataPointType: DataPointType.SUM,
    isMonotonic: true,
    dataPoints,
  };
}

export function goLibraryDurationMetric(dataPoints: DataPoint<number>[]): MetricData {
  return {
    descriptor: {
      name: POD_METRIC_NAMES.goLibraryDuration,
      description:
        "Mean duration of the requests of the last collection interval that had any (the Go library's " +
        '"duration"; the kernel keeps sums, not single requests). Use the histograms for anything else.',
      unit: 's',
      valueType: ValueType.DOUBLE,
    },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints,
  };
}

export function numberPoint(
  startTime: HrTime,
  endTime: HrTime,
  attributes: Attributes,
  value: number,
): DataPoint<number> {
  return { startTime, endTime, attributes, value };
}
