import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type Histogram,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { DEFAULT_KNOWN_METHODS } from '../src/attributes.ts';
import { KernelMetricProducer } from '../src/kernel-producer.ts';
import { CachingMetricsSerializer } from '../src/otlp-serializer.ts';
import { SeriesStore } from '../src/series-store.ts';
import { aggregate, buckets, pod, snapshot } from './fixtures.ts';

const sdkMetrics: MetricData[] = [
  {
    descriptor: { name: 'owlk8s.agent.packets', description: 'd', unit: '{packet}', valueType: 0 },
    aggregationTemporality: AggregationTemporality.DELTA,
    dataPointType: DataPointType.SUM,
    isMonotonic: true,
    dataPoints: [
      {
        startTime: [1, 2],
        endTime: [3, 4],
        attributes: { a: 'b', list: ['x', 'y'], neg: -2, f: 0.5 },
        value: 42,
      },
    ],
  },
  {
    descriptor: { name: 'owlk8s.agent.collection.duration', description: '', unit: 's', valueType: 1 },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints: [{ startTime: [1, 2], endTime: [1_764_000_000, 999_999_999], attributes: {}, value: 0.25 }],
  },
];

test('writes the same bytes as the SDK serializer, on the first export and from its caches after', async () => {
  const store = new SeriesStore({
    cardinalityLimit: 1,
    knownMethods: new Set(DEFAULT_KNOWN_METHODS),
    finalRetentionMs: 1,
  });
  const producer = new KernelMetricProducer(store, {
    temporality: 'cumulative',
    scope: { name: '@owlk8s/otel', version: '0.1.0' },
  });
  store.setTarget(1, pod('a', { labels: { 'app.kubernetes.io/name': 'ünïcode' } }), Date.UTC(2026, 10, 25));
  const resource = resourceFromAttributes({ 'service.name': 'owlk8s', port: 9464, up: true });
  for (let round = 1; round <= 3; round++) {
    // Two series for a limit of one: the second lands in the overflow series (a boolean attribute).
    store.record(
      snapshot(
        [
          aggregate({
            targetId: 1,
            buckets: buckets({ 0: round, 14: 1 }),
            sumNs: BigInt(round) * 12_345_678_901n,
          }),
          aggregate({
            targetId: 1,
            role: 'client',
            statusCode: 503,
            buckets: buckets({ 3: round }),
            sumNs: 5n,
          }),
          aggregate({ targetId: 1, statusCode: 404, buckets: buckets({ 3: 2 ** 33 + round }), sumNs: 5n }),
        ],
        new Date(Date.UTC(2026, 10, 25, 0, 0, round)),
      ),
    );
    const collected = await producer.collect();
    const request: ResourceMetrics = {
      resource,
      scopeMetrics: [
        ...collected.resourceMetrics.scopeMetrics,
        { scope: { name: 'sdk' }, metrics: sdkMetrics },
      ],
    };
    const expected = ProtobufMetricsSerializer.serializeRequest(request)!;
    const actual = CachingMetricsSerializer.serializeRequest(request)!;
    assert.equal(actual.length, expected.length, `round ${round}: length`);
    assert.ok(Buffer.from(actual).equals(Buffer.from(expected)), `round ${round}: bytes differ`);
  }
});

function assertSameBytes(request: ResourceMetrics, what: string): void {
  const expected = ProtobufMetricsSerializer.serializeRequest(request)!;
  const actual = CachingMetricsSerializer.serializeRequest(request)!;
  assert.equal(actual.length, expected.length, `${what}: length`);
  assert.ok(Buffer.from(actual).equals(Buffer.from(expected)), `${what}: bytes differ`);
}

test('same bytes for what only the SDK makes: min/max, no boundaries, negative and huge integers', () => {
  const shared = { 'http.request.method': 'GET', 'server.port': 8080 };
  const histogram = (boundaries: number[], extra: Partial<Histogram>): MetricData => ({
    descriptor: { name: 'h', description: '', unit: 's', valueType: 1 },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.HISTOGRAM,
    dataPoints: [
      {
        startTime: [1_764_000_000, 5],
        endTime: [1_764_000_010, 999_999_999],
        attributes: shared,
        value: { buckets: { boundaries, counts: boundaries.map(() => 2).concat([1]) }, count: 7, ...extra },
      },
    ],
  });
  const ints: MetricData = {
    descriptor: { name: 'i', description: 'ints', unit: '', valueType: 0 },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic: false,
    dataPoints: [-1, -(2 ** 40), 2 ** 53 + 2, 2 ** 32, 0].map((value, i) => ({
      startTime: [1, 0],
      endTime: [2, i],
      attributes: { i },
      value,
    })),
  };
  const resource = resourceFromAttributes({ 'service.name': 'owlk8s' });
  // The same attribute object with other boundaries: the cached boundaries must not be reused.
  for (const [what, metric] of [
    ['boundaries, min and max', histogram([0.1, 1], { sum: 3.5, min: 0.01, max: 9 })],
    ['other boundaries, same attributes', histogram([0.5], { sum: 0 })],
    ['no boundaries, no sum', histogram([], {})],
  ] as const) {
    assertSameBytes(
      { resource, scopeMetrics: [{ scope: { name: 's', version: '1' }, metrics: [metric, ints] }] },
      what,
    );
  }
});

test('same bytes for 3,000 points in one request (the reused size table grows)', () => {
  const dataPoints = Array.from({ length: 3000 }, (_, i) => ({
    startTime: [1_764_000_000, 0] as [number, number],
    endTime: [1_764_000_060, i] as [number, number],
    attributes: { 'k8s.pod.name': `pod-${i}`, n: i },
    value: i * 0.5,
  }));
  const gauge: MetricData = {
    descriptor: { name: 'g', description: '', unit: '', valueType: 1 },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints,
  };
  const request: ResourceMetrics = {
    resource: resourceFromAttributes({ 'service.name': 'owlk8s' }),
    scopeMetrics: [{ scope: { name: 's' }, metrics: [gauge] }],
  };
  assertSameBytes(request, 'first');
  assertSameBytes(request, 'from the caches');
});
