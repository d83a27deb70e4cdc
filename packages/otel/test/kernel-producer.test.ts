import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics';
import { DEFAULT_KNOWN_METHODS } from '../src/attributes.ts';
import { KernelMetricProducer } from '../src/kernel-producer.ts';
import { SeriesStore } from '../src/series-store.ts';
import { aggregate, buckets, pod, snapshot } from './fixtures.ts';

const T0 = Date.parse('2026-11-25T10:00:00Z');

function setup(limit = 2000) {
  const store = new SeriesStore({
    cardinalityLimit: limit,
    knownMethods: new Set(DEFAULT_KNOWN_METHODS),
    finalRetentionMs: 3_600_000,
  });
  const scope = { name: 'test' };
  const cumulative = new KernelMetricProducer(store, { temporality: 'cumulative', scope, seedMetrics: true });
  const delta = new KernelMetricProducer(store, { temporality: 'delta', scope, seedMetrics: true });
  return { store, cumulative, delta };
}

/**
 * One collection, copied: the producer rewrites its histogram points in place at its next collect
 * (an exporter serialises them before that), so a test that keeps several collections copies them.
 */
async function metrics(producer: KernelMetricProducer): Promise<Map<string, MetricData>> {
  const result = structuredClone((await producer.collect()).resourceMetrics.scopeMetrics);
  return new Map(result.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]));
}

const values = (m: MetricData | undefined) => (m?.dataPoints ?? []).map((p) => p.value as number);
const counts = (m: MetricData | undefined) =>
  (m?.dataPoints ?? []).map((p) => (p as DataPoint<Histogram>).value.count);

test('seed set: cumulative totals and delta intervals per pod, from the kernel totals', async () => {
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
    c.push(await metrics(cumulative));
    d.push(await metrics(delta));
  }
  assert.deepEqual(
    c.map((m) => values(m.get('owlk8s.seed.requests'))),
    [[6], [10]],
  );
  assert.deepEqual(
    c.map((m) => values(m.get('owlk8s.seed.errors.4xx'))),
    [[1], [1]],
  );
  assert.deepEqual(
    c.map((m) => values(m.get('owlk8s.seed.errors.5xx'))),
    [[0], [2]],
  );
  assert.deepEqual(
    d.map((m) => values(m.get('owlk8s.seed.requests'))),
    [[6], [4]],
  );
  assert.deepEqual(
    d.map((m) => values(m.get('owlk8s.seed.errors.5xx'))),
    [[0], [2]],
  );
  // Mean of the interval: (60 ms over 6 requests), then (40 + 20 ms over 2 + 2 requests).
  assert.deepEqual(
    c.map((m) => values(m.get('owlk8s.seed.duration'))),
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

test('pod churn: removed targets are exported once more, then forgotten; the limit never fills', async () => {
  const { store, cumulative, delta } = setup(100);
  for (let t = 0; t < 1000; t++) {
    store.setTarget(t, pod(`p${t}`), T0 + t);
    store.record(
      snapshot(
        [aggregate({ targetId: t, buckets: buckets({ 1: 2 }), sumNs: 14_000_000n })],
        new Date(T0 + t + 1),
      ),
    );
    await metrics(cumulative);
    await metrics(delta);
    store.removeTarget(t);
    const [finalC, finalD] = [await metrics(cumulative), await metrics(delta)];
    assert.deepEqual(counts(finalC.get('http.server.request.duration')), [2]);
    assert.deepEqual(values(finalC.get('owlk8s.seed.requests')), [2]);
    assert.equal(finalD.get('http.server.request.duration'), undefined); // nothing new since the last delta
    const after = await metrics(cumulative);
    assert.equal(after.size, 0, `target ${t}: nothing left after the final export`);
  }
  assert.equal(store.overflowedSeriesCount(0), 0);
  assert.equal(store.liveSeriesCount(0), 0);
  assert.equal([...store.series()].length, 0);
  assert.equal([...store.seedRows()].length, 0);
});
