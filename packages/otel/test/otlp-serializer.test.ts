import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
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
