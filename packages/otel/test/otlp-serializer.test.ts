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
import { CachingMetricsSerializer, type WriteProgress } from '../src/otlp-serializer.ts';
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

/** A series store with one cumulative kernel producer, as the agent's OTLP exporters have. */
function cumulativeStore(cardinalityLimit: number, finalRetentionMs: number) {
  const store = new SeriesStore({
    cardinalityLimit,
    knownMethods: new Set(DEFAULT_KNOWN_METHODS),
    finalRetentionMs,
  });
  const producer = new KernelMetricProducer(store, {
    temporality: 'cumulative',
    scope: { name: '@owlk8s/otel', version: '0.1.0' },
  });
  return { store, producer };
}

test('writes the same bytes as the SDK serializer, on the first export and from its caches after', async () => {
  const { store, producer } = cumulativeStore(1, 1);
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
    const actual = new CachingMetricsSerializer().serializeRequest(request)!;
    assert.equal(actual.length, expected.length, `round ${round}: length`);
    assert.ok(Buffer.from(actual).equals(Buffer.from(expected)), `round ${round}: bytes differ`);
  }
});

function assertSameBytes(request: ResourceMetrics, what: string): void {
  const expected = ProtobufMetricsSerializer.serializeRequest(request)!;
  const actual = new CachingMetricsSerializer().serializeRequest(request)!;
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

/** A request of about 100 kB (above the size from which buffers are reused); `value` varies its bytes. */
function bigRequest(value: number, points = 400): ResourceMetrics {
  const gauge: MetricData = {
    descriptor: { name: 'g', description: '', unit: '', valueType: 1 },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints: Array.from({ length: points }, (_, i) => ({
      startTime: [1_764_000_000, 0] as [number, number],
      endTime: [1_764_000_060, 0] as [number, number],
      attributes: padded[i]!,
      value: value + i,
    })),
  };
  return { resource: bigResource, scopeMetrics: [{ scope: { name: 's' }, metrics: [gauge] }] };
}
const padded = Array.from({ length: 1000 }, (_, i) => ({ 'k8s.pod.name': `pod-${i}`, pad: 'x'.repeat(200) }));
const bigResource = resourceFromAttributes({ 'service.name': 'owlk8s' });

test('a released lease gives its buffer to the next export; held, unleased or not reusing: a new one', () => {
  const sdk = (r: ResourceMetrics) => Buffer.from(ProtobufMetricsSerializer.serializeRequest(r)!);
  const serializer = new CachingMetricsSerializer({ reuseOutput: true });

  const first = serializer.lease();
  const a = serializer.serializeRequest(bigRequest(1))!;
  first.close();
  assert.ok(a.length > 64 * 1024, `${a.length} bytes`);
  assert.ok(Buffer.from(a).equals(sdk(bigRequest(1))));

  // Still held: the next export must not write into it.
  const second = serializer.lease();
  const b = serializer.serializeRequest(bigRequest(2))!;
  second.close();
  assert.notEqual(b.buffer, a.buffer);
  assert.ok(Buffer.from(a).equals(sdk(bigRequest(1))), 'the held buffer is unchanged');

  first.release();
  const third = serializer.lease();
  const c = serializer.serializeRequest(bigRequest(3))!;
  third.close();
  assert.equal(c.buffer, a.buffer, 'the released buffer is written again');
  assert.ok(Buffer.from(c).equals(sdk(bigRequest(3))));
  third.release();

  // Serialised outside a lease (or after close): never given back, never reused.
  const d = serializer.serializeRequest(bigRequest(4))!;
  const fourth = serializer.lease();
  const e = serializer.serializeRequest(bigRequest(5))!;
  fourth.close();
  const f = serializer.serializeRequest(bigRequest(6))!;
  fourth.release();
  assert.equal(e.buffer, c.buffer);
  assert.notEqual(d.buffer, c.buffer);
  assert.notEqual(f.buffer, c.buffer);
  assert.ok(Buffer.from(f).equals(sdk(bigRequest(6))));

  // Far smaller than the spare (under half of it): a buffer of its own, not the big one.
  const big = serializer.lease();
  const h = serializer.serializeRequest(bigRequest(7, 1000))!;
  big.close();
  big.release();
  const small = serializer.lease();
  const g = serializer.serializeRequest(bigRequest(8))!;
  small.close();
  assert.ok(g.length > 64 * 1024 && 2 * g.length < h.length, `${g.length} and ${h.length} bytes`);
  assert.notEqual(g.buffer, h.buffer);
  assert.ok(Buffer.from(g).equals(sdk(bigRequest(8))));
  small.release();

  const noReuse = new CachingMetricsSerializer();
  const buffers = [1, 2].map((value) => {
    const lease = noReuse.lease();
    const bytes = noReuse.serializeRequest(bigRequest(value))!;
    lease.close();
    lease.release();
    return bytes.buffer;
  });
  assert.notEqual(buffers[0], buffers[1]);
});

test('a reused buffer and reused points: tails already in place are kept, shifted ones rewritten, bytes as the SDK serializer writes them', async () => {
  const { store, producer } = cumulativeStore(10_000, 0);
  const serializer = new CachingMetricsSerializer({ reuseOutput: true });
  const resource = resourceFromAttributes({ 'service.name': 'owlk8s' });
  // 40 pods × 4 series, long labels: well above the size from which the buffer is reused.
  for (let t = 0; t < 40; t++) {
    store.setTarget(t, pod(`p${t}`, { labels: { team: 'x'.repeat(300 + t) } }), Date.UTC(2026, 10, 25));
  }
  const statuses = [200, 404, 500, 503];
  let previous: ArrayBufferLike | undefined;
  for (let round = 1; round <= 5; round++) {
    // Round 4 removes pod 0: every later tail lands earlier in the buffer and must be copied again.
    if (round === 4) store.removeTarget(0);
    const aggs = [];
    for (let t = round >= 4 ? 1 : 0; t < 40; t++) {
      for (const statusCode of statuses) {
        aggs.push(
          aggregate({ targetId: t, statusCode, buckets: buckets({ 1: round * (t + 1) }), sumNs: 7n }),
        );
      }
    }
    store.record(snapshot(aggs, new Date(Date.UTC(2026, 10, 25, 0, 0, round))));
    const request: ResourceMetrics = {
      resource,
      scopeMetrics: (await producer.collect()).resourceMetrics.scopeMetrics,
    };
    const lease = serializer.lease();
    const progress = recordingProgress();
    const bytes = serializer.serializeRequest(request, progress)!;
    lease.close();
    assert.ok(bytes.length > 64 * 1024, `${bytes.length} bytes`);
    // Tails kept in place were not written this time, yet were final before each mark.
    assertProgress(progress, bytes, 1200, `round ${round}`);
    if (previous !== undefined) assert.equal(bytes.buffer, previous, `round ${round}: the buffer is reused`);
    previous = bytes.buffer;
    const expected = Buffer.from(ProtobufMetricsSerializer.serializeRequest(request)!);
    assert.ok(Buffer.from(bytes).equals(expected), `round ${round}: bytes differ`);
    lease.release();
  }
});

/** A WriteProgress that copies the bytes before every mark, to compare with the finished request. */
function recordingProgress(): WriteProgress & {
  data: Uint8Array | undefined;
  marks: { end: number; prefix: Buffer }[];
} {
  return {
    data: undefined,
    marks: [],
    begin(data) {
      assert.equal(this.data, undefined, 'begin() is called once');
      this.data = data;
    },
    written(end) {
      this.marks.push({ end, prefix: Buffer.from(this.data!.subarray(0, end)) });
    },
  };
}

/**
 * Progress was reported on the returned bytes, every 64 KiB: at the end of the first point that
 * reached the next 64 KiB mark (so less than a point, at most `pointBytes`, past it); what was
 * reported final then is what the request holds.
 */
function assertProgress(
  progress: ReturnType<typeof recordingProgress>,
  bytes: Uint8Array,
  pointBytes: number,
  what: string,
): void {
  assert.equal(progress.data, bytes, `${what}: begin() gets the request's bytes`);
  let last = 0;
  for (const [i, mark] of progress.marks.entries()) {
    const due = last + 64 * 1024;
    assert.ok(
      mark.end >= due && mark.end < due + pointBytes,
      `${what}: mark ${i} at ${mark.end}, due ${due}`,
    );
    assert.ok(
      mark.prefix.equals(Buffer.from(bytes.subarray(0, mark.end))),
      `${what}: bytes before mark ${i} changed`,
    );
    last = mark.end;
  }
  assert.ok(
    bytes.length - last < 64 * 1024 + pointBytes,
    `${what}: no mark in the last ${bytes.length - last} bytes`,
  );
}

test('reports how far a request is written, every 64 KiB, on its own bytes (number points, fresh buffer)', () => {
  const serializer = new CachingMetricsSerializer();
  const request = bigRequest(1, 1000);
  const progress = recordingProgress();
  const bytes = serializer.serializeRequest(request, progress)!;
  assert.ok(Buffer.from(bytes).equals(Buffer.from(ProtobufMetricsSerializer.serializeRequest(request)!)));
  assert.equal(bytes.length, 270_944);
  assert.deepEqual(
    progress.marks.map((m) => m.end),
    [65_797, 131_379, 196_961, 262_543],
  );
  assertProgress(progress, bytes, 300, 'gauges');
});
