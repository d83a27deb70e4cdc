import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics';
import { DEFAULT_KNOWN_METHODS } from '../src/attributes.ts';
import { KernelMetrics, type TargetBatch } from '../src/kernel-metrics.ts';
import { PipelineState } from '../src/pipeline-state.ts';
import { SeriesStore } from '../src/series-store.ts';
import { aggregate, buckets, pod, snapshot } from './fixtures.ts';

const T0 = Date.parse('2026-11-25T10:00:00Z');

function setup(limit = 2000, now: () => number = Date.now) {
  const store = new SeriesStore({
    cardinalityLimit: limit,
    knownMethods: new Set(DEFAULT_KNOWN_METHODS),
    finalRetentionMs: 3_600_000,
  });
  const state = new PipelineState(store);
  const options = { goLibraryMetrics: true, maxUnacknowledgedMs: 60_000, now };
  const cumulative = new KernelMetrics(store, state, { ...options, name: 'c', temporality: 'cumulative' });
  const delta = new KernelMetrics(store, state, { ...options, name: 'd', temporality: 'delta' });
  return { store, state, cumulative, delta };
}

/** One collection, every batch acknowledged (the receiver answered), metrics by name across targets. */
function metrics(kernel: KernelMetrics, acknowledge = true): Map<string, MetricData> {
  const batches = kernel.collect();
  if (acknowledge) for (const b of batches) b.acknowledge();
  return byName(batches);
}

function byName(batches: TargetBatch[]): Map<string, MetricData> {
  const out = new Map<string, MetricData>();
  for (const m of batches.flatMap((b) => b.metrics)) {
    const known = out.get(m.descriptor.name);
    if (known === undefined)
      out.set(m.descriptor.name, { ...m, dataPoints: [...m.dataPoints] } as MetricData);
    else (known.dataPoints as unknown[]).push(...m.dataPoints);
  }
  return out;
}

const values = (m: MetricData | undefined) => (m?.dataPoints ?? []).map((p) => p.value as number);
const counts = (m: MetricData | undefined) =>
  (m?.dataPoints ?? []).map((p) => (p as DataPoint<Histogram>).value.count);

test('Go library set: cumulative totals and delta intervals per pod, from the kernel totals', () => {
  const { store, cumulative, delta } = setup();
  store.setTarget(1, pod('a'), T0);
  const steps = [
    [
      aggregate({ targetId: 1, buckets: buckets({ 0: 5 }), sumNs: 50_000_000n }),
      aggregate({ targetId: 1, statusCode: 404, buckets: buckets({ 0: 1 }), sumNs: 10_000_000n }),
    ],
    [
      aggregate({ targetId: 1, buckets: buckets({ 0: 7 }), sumNs: 90_000_000n }),
      aggregate({ targetId: 1, statusCode: 503, buckets: buckets({ 0: 2 }), sumNs: 20_000_000n }),
      aggregate({ targetId: 1, statusCode: 404, buckets: buckets({ 0: 1 }), sumNs: 10_000_000n }),
    ],
  ];
  const c: Map<string, MetricData>[] = [];
  const d: Map<string, MetricData>[] = [];
  for (const [i, aggs] of steps.entries()) {
    store.record(snapshot(aggs, new Date(T0 + 1000 * (i + 1))));
    c.push(metrics(cumulative));
    d.push(metrics(delta));
  }
  assert.deepEqual(
    c.map((m) => values(m.get('owlk8s.go_library.requests'))),
    [[6], [10]],
  );
  assert.deepEqual(
    c.map((m) => values(m.get('owlk8s.go_library.errors.4xx'))),
    [[1], [1]],
  );
  assert.deepEqual(
    c.map((m) => values(m.get('owlk8s.go_library.errors.5xx'))),
    [[0], [2]],
  );
  assert.deepEqual(
    d.map((m) => values(m.get('owlk8s.go_library.requests'))),
    [[6], [4]],
  );
  assert.deepEqual(
    d.map((m) => values(m.get('owlk8s.go_library.errors.5xx'))),
    [[0], [2]],
  );
  // Mean of the interval: (60 ms over 6 requests), then (40 + 20 ms over 2 + 2 requests).
  assert.deepEqual(
    c.map((m) => values(m.get('owlk8s.go_library.duration'))),
    [[0.01], [0.015]],
  );
  assert.deepEqual(
    d.map((m) => counts(m.get('http.server.request.duration'))),
    [
      [5, 1],
      [2, 2],
    ],
  );
});

test('pod churn: removed targets are exported once more, then forgotten; the limit never fills', () => {
  const { store, cumulative, delta } = setup(100);
  for (let t = 0; t < 1000; t++) {
    store.setTarget(t, pod(`p${t}`), T0 + t);
    store.record(
      snapshot(
        [aggregate({ targetId: t, buckets: buckets({ 1: 2 }), sumNs: 14_000_000n })],
        new Date(T0 + t + 1),
      ),
    );
    metrics(cumulative);
    metrics(delta);
    store.removeTarget(t);
    const [finalC, finalD] = [metrics(cumulative), metrics(delta)];
    assert.deepEqual(counts(finalC.get('http.server.request.duration')), [2]);
    assert.deepEqual(values(finalC.get('owlk8s.go_library.requests')), [2]);
    assert.equal(finalD.get('http.server.request.duration'), undefined); // nothing new since the last delta
    const after = metrics(cumulative);
    assert.equal(after.size, 0, `target ${t}: nothing left after the final export`);
  }
  assert.equal(store.overflowedSeriesCount(0), 0);
  assert.equal(store.liveSeriesCount(0), 0);
  assert.equal([...store.series()].length, 0);
  assert.equal([...store.goLibraryRows()].length, 0);
});

test('one batch per target, carrying its identity; the overflow series in a batch of no target', () => {
  const { store, cumulative } = setup(2);
  store.setTarget(1, pod('a'), T0);
  store.setTarget(2, pod('b'), T0);
  store.record(
    snapshot(
      [
        aggregate({ targetId: 1, buckets: buckets({ 0: 1 }), sumNs: 1_000_000n }),
        aggregate({ targetId: 2, buckets: buckets({ 0: 2 }), sumNs: 2_000_000n }),
        aggregate({ targetId: 2, statusCode: 500, buckets: buckets({ 0: 3 }), sumNs: 3_000_000n }),
      ],
      new Date(T0 + 1000),
    ),
  );
  const batches = cumulative.collect();
  assert.deepEqual(
    batches.map((b) => [
      b.target?.identity.resource['k8s.pod.name'],
      b.metrics.map((m) => m.descriptor.name),
    ]),
    [
      [
        'a',
        [
          'http.server.request.duration',
          'owlk8s.go_library.requests',
          'owlk8s.go_library.errors.4xx',
          'owlk8s.go_library.errors.5xx',
          'owlk8s.go_library.duration',
        ],
      ],
      [
        'b',
        [
          'http.server.request.duration',
          'owlk8s.go_library.requests',
          'owlk8s.go_library.errors.4xx',
          'owlk8s.go_library.errors.5xx',
          'owlk8s.go_library.duration',
        ],
      ],
      [undefined, ['http.server.request.duration']],
    ],
  );
  // The pod's identity is not among the point attributes: it is the batch's.
  assert.deepEqual(batches[0]!.metrics[0]!.dataPoints[0]!.attributes, {
    'http.request.method': 'GET',
    'http.response.status_code': 200,
    'server.port': 8080,
    'network.protocol.version': '1.1',
    'url.scheme': 'http',
    'k8s.service.name': 'checkout',
  });
  assert.deepEqual(batches[2]!.metrics[0]!.dataPoints[0]!.attributes, { 'otel.metric.overflow': true });
  assert.deepEqual(counts(batches[2]!.metrics[0]), [3]);
});

test('delta: counts not acknowledged are sent again with the next ones, from the same start; a late answer never moves back', () => {
  const { store, delta } = setup();
  store.setTarget(1, pod('a'), T0);
  const feed = (n: number, at: number) =>
    store.record(
      snapshot(
        [aggregate({ targetId: 1, buckets: buckets({ 0: n }), sumNs: BigInt(n) * 1_000_000n })],
        new Date(at),
      ),
    );
  const histogram = (batches: TargetBatch[]) =>
    byName(batches).get('http.server.request.duration')!.dataPoints[0] as DataPoint<Histogram>;
  feed(5, T0 + 1000);
  const first = delta.collect();
  first[0]!.acknowledge();
  assert.equal(histogram(first).value.count, 5);
  feed(8, T0 + 2000);
  const failed = delta.collect(); // the receiver is down: no acknowledgement
  assert.equal(histogram(failed).value.count, 3);
  feed(12, T0 + 3000);
  const retried = delta.collect();
  const point = histogram(retried);
  assert.equal(point.value.count, 7, 'the 3 unacknowledged requests and the 4 new ones');
  assert.deepEqual(point.value.buckets.counts.slice(0, 2), [7, 0]);
  assert.equal(point.value.sum, 0.007);
  assert.deepEqual(
    point.startTime,
    histogram(failed).startTime,
    'both start where the acknowledged export ended',
  );
  retried[0]!.acknowledge();
  failed[0]!.acknowledge(); // a late answer to the older export
  feed(13, T0 + 4000);
  assert.equal(histogram(delta.collect()).value.count, 1);
});

test('delta: counts unacknowledged past the limit are given up and counted as dropped, then counting goes on', () => {
  let now = T0;
  const { store, state, delta } = setup(2000, () => now);
  store.setTarget(1, pod('a'), T0);
  const feed = (n: number) =>
    store.record(
      snapshot([aggregate({ targetId: 1, buckets: buckets({ 0: n }), sumNs: BigInt(n) })], new Date(now)),
    );
  feed(10);
  delta.collect(); // not acknowledged: the clock starts
  now += 60_000;
  feed(20);
  assert.equal(delta.collect().length, 1, 'at the limit, still sent');
  now += 1;
  feed(25);
  assert.deepEqual(
    delta.collect().map((b) => b.metrics.map((m) => m.descriptor.name)),
    [
      // The Go library's counters are given up with the histogram; the gauge of the last interval stays.
      ['owlk8s.go_library.duration'],
    ],
  );
  assert.deepEqual([...state.exportDroppedCounts()], [['d', 25]]);
  feed(27);
  const after = byName(delta.collect()).get('http.server.request.duration')!;
  assert.deepEqual(counts(after), [2]);
});

test('requests in flight of one target, method and port but different peers are one active_requests value, their sum', () => {
  const { store, state, cumulative } = setup();
  store.setTarget(1, pod('a'), T0);
  const snap = snapshot([], new Date(T0 + 1000), {
    inFlight: [
      { targetId: 1, role: 'server', peerId: 31, port: 8080, method: 'GET', count: 2 },
      { targetId: 1, role: 'server', port: 8080, method: 'GET', count: 3 },
      { targetId: 1, role: 'server', peerId: 32, port: 8080, method: 'POST', count: 1 },
    ],
  });
  store.record(snap);
  state.record(snap);
  assert.deepEqual(values(metrics(cumulative).get('http.server.active_requests')), [5, 1]);
});

test('a removed target is exported once more by each consumer until that export is acknowledged', () => {
  const { store, cumulative, delta } = setup();
  store.setTarget(1, pod('a'), T0);
  store.record(
    snapshot([aggregate({ targetId: 1, buckets: buckets({ 0: 4 }), sumNs: 4n })], new Date(T0 + 1000)),
  );
  metrics(cumulative);
  metrics(delta);
  store.record(
    snapshot([aggregate({ targetId: 1, buckets: buckets({ 0: 6 }), sumNs: 6n })], new Date(T0 + 2000)),
  );
  store.removeTarget(1);
  assert.deepEqual(counts(metrics(cumulative, false).get('http.server.request.duration')), [6]);
  assert.deepEqual(counts(metrics(delta, false).get('http.server.request.duration')), [2]);
  // Not acknowledged: both come again.
  assert.deepEqual(counts(metrics(cumulative).get('http.server.request.duration')), [6]);
  assert.deepEqual(counts(metrics(delta).get('http.server.request.duration')), [2]);
  assert.equal(metrics(cumulative).size, 0);
  assert.equal(metrics(delta).size, 0);
  assert.equal([...store.series()].length, 0);
});

test('requests without a final response are series of their own, by error.type; every point has count = sum of its buckets', () => {
  const { store, state, cumulative, delta } = setup();
  store.setTarget(1, pod('a'), T0);
  const steps = [
    [
      aggregate({ targetId: 1, buckets: buckets({ 0: 4 }), sumNs: 8_000_000n }),
      aggregate({ targetId: 1, error: 'timeout', buckets: buckets({ 14: 1 }), sumNs: 60_000_000_000n }),
      aggregate({ targetId: 1, error: 'connection_reset', buckets: buckets({ 2: 2 }), sumNs: 30_000_000n }),
      aggregate({
        targetId: 1,
        method: '_OTHER',
        statusCode: 207,
        buckets: buckets({ 1: 1 }),
        sumNs: 6_000_000n,
      }),
    ],
    [
      aggregate({ targetId: 1, buckets: buckets({ 0: 4 }), sumNs: 8_000_000n }),
      aggregate({ targetId: 1, error: 'timeout', buckets: buckets({ 14: 3 }), sumNs: 180_000_000_000n }),
      aggregate({ targetId: 1, error: 'connection_reset', buckets: buckets({ 2: 2 }), sumNs: 30_000_000n }),
      aggregate({ targetId: 1, error: 'connection_closed', buckets: buckets({ 5: 1 }), sumNs: 90_000_000n }),
      aggregate({
        targetId: 1,
        method: '_OTHER',
        statusCode: 207,
        buckets: buckets({ 1: 1 }),
        sumNs: 6_000_000n,
      }),
    ],
  ];
  const c: MetricData[] = [];
  const d: MetricData[] = [];
  const goLibrary: number[][] = [];
  for (const [i, aggs] of steps.entries()) {
    const snap = snapshot(aggs, new Date(T0 + 1000 * (i + 1)), {
      inFlight: [{ targetId: 1, role: 'server', port: 8080, method: 'GET', count: 2 - i }],
    });
    store.record(snap);
    state.record(snap);
    const cm = metrics(cumulative);
    c.push(cm.get('http.server.request.duration')!);
    goLibrary.push(values(cm.get('owlk8s.go_library.requests')));
    d.push(metrics(delta).get('http.server.request.duration')!);
  }
  // The Go library's RED set counts answered requests only (4 GET 200 + 1 _OTHER 207).
  assert.deepEqual(goLibrary, [[5], [5]]);
  const show = (m: MetricData) =>
    (m.dataPoints as DataPoint<Histogram>[]).map((p) => {
      const sum = p.value.buckets.counts.reduce((a, b) => a + b, 0);
      assert.equal(p.value.count, sum, 'count = sum of bucket counts');
      const a = p.attributes;
      return `${a['http.request.method']} ${a['http.response.status_code'] ?? '-'} ${a['error.type'] ?? '-'} n=${p.value.count} sum=${p.value.sum}`;
    });
  assert.deepEqual(c.map(show), [
    [
      'GET 200 - n=4 sum=0.008',
      'GET - timeout n=1 sum=60',
      'GET - connection_reset n=2 sum=0.03',
      '_OTHER 207 - n=1 sum=0.006',
    ],
    [
      'GET 200 - n=4 sum=0.008',
      'GET - timeout n=3 sum=180',
      'GET - connection_reset n=2 sum=0.03',
      '_OTHER 207 - n=1 sum=0.006',
      'GET - connection_closed n=1 sum=0.09',
    ],
  ]);
  assert.deepEqual(d.map(show), [
    [
      'GET 200 - n=4 sum=0.008',
      'GET - timeout n=1 sum=60',
      'GET - connection_reset n=2 sum=0.03',
      '_OTHER 207 - n=1 sum=0.006',
    ],
    ['GET - timeout n=2 sum=120', 'GET - connection_closed n=1 sum=0.09'],
  ]);
  // The requests in flight are what the snapshot says: 2, then 1 (the one that timed out is not).
  assert.deepEqual(values(metrics(cumulative).get('http.server.active_requests')), [1]);
});
