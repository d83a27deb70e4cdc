import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  MeterProvider,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { DEFAULT_KNOWN_METHODS } from '../src/attributes.ts';
import { ExportFailureLog } from '../src/export-failure-log.ts';
import { KernelMetrics } from '../src/kernel-metrics.ts';
import { PipelineState } from '../src/pipeline-state.ts';
import { OnDemandReader, PushExportLoop } from '../src/push-export-loop.ts';
import { SeriesStore } from '../src/series-store.ts';
import { aggregate, buckets, pod, snapshot } from './fixtures.ts';

const T0 = Date.parse('2026-11-25T10:00:00Z');

/** Answers each export as `answer` says for its resource's pod; counts exports in flight. */
class FakeExporter implements PushMetricExporter {
  readonly received: ResourceMetrics[] = [];
  inFlight = 0;
  maxInFlight = 0;
  readonly answer: (pod: string | undefined) => ExportResultCode;
  constructor(answer: (pod: string | undefined) => ExportResultCode) {
    this.answer = answer;
  }
  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    this.received.push(metrics);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    setTimeout(() => {
      this.inFlight--;
      done({ code: this.answer(metrics.resource.attributes['k8s.pod.name'] as string | undefined) });
    }, 2);
  }
  selectAggregationTemporality(): AggregationTemporality {
    return AggregationTemporality.DELTA;
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

function setup(exporter: FakeExporter, pods: number) {
  const store = new SeriesStore({
    cardinalityLimit: 2000,
    knownMethods: new Set(DEFAULT_KNOWN_METHODS),
    finalRetentionMs: 3_600_000,
  });
  const state = new PipelineState(store);
  const reader = new OnDemandReader(() => AggregationTemporality.DELTA, 2000);
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'owlk8s' }),
    readers: [reader],
  });
  provider
    .getMeter('agent')
    .createObservableGauge('owlk8s.agent.collection.duration')
    .addCallback((r) => r.observe(0.001));
  const failures: string[] = [];
  let collects = 0;
  const loop = new PushExportLoop({
    name: 'fake[0]',
    exporter,
    reader,
    kernel: new KernelMetrics(store, state, {
      name: 'fake[0]',
      temporality: 'delta',
      goLibraryMetrics: false,
      maxUnacknowledgedMs: 60_000,
    }),
    scope: { name: 'test' },
    intervalMs: 3_600_000,
    timeoutMs: 5000,
    failures: new ExportFailureLog(
      'fake[0]',
      { exportFailed: () => failures.length },
      { warn: () => {}, error: (_d, m) => failures.push(m) },
      60_000,
    ),
    onCollect: () => {
      collects++;
    },
  });
  for (let t = 0; t < pods; t++) store.setTarget(t, pod(`p${t}`), T0);
  const feed = (n: number, at: number) =>
    store.record(
      snapshot(
        Array.from({ length: pods }, (_, t) =>
          aggregate({ targetId: t, buckets: buckets({ 0: n }), sumNs: BigInt(n) }),
        ),
        new Date(at),
      ),
    );
  return { loop, feed, failures, collects: () => collects };
}

const countOf = (rm: ResourceMetrics) =>
  (
    rm.scopeMetrics[0]!.metrics.find((m) => m.descriptor.name === 'http.server.request.duration')!
      .dataPoints[0] as DataPoint<Histogram>
  ).value.count;

test('a round: the hook, then one export per pod and one for the agent, at most 4 in flight', async () => {
  const exporter = new FakeExporter(() => ExportResultCode.SUCCESS);
  const { loop, feed, failures, collects } = setup(exporter, 10);
  feed(3, T0 + 1000);
  await loop.forceFlush();
  assert.equal(collects(), 1);
  assert.equal(exporter.received.length, 11);
  assert.equal(exporter.maxInFlight, 4);
  const agent = exporter.received.filter((rm) => rm.resource.attributes['k8s.pod.name'] === undefined);
  assert.deepEqual(
    agent.map((rm) => rm.resource.attributes),
    [{ 'service.name': 'owlk8s' }],
  );
  const pods = exporter.received.filter((rm) => rm.resource.attributes['k8s.pod.name'] !== undefined);
  assert.deepEqual(
    pods.map((rm) => rm.resource.attributes['k8s.pod.name']).sort(),
    Array.from({ length: 10 }, (_, t) => `p${t}`).sort(),
  );
  assert.ok(pods.every((rm) => countOf(rm) === 3));
  assert.deepEqual(failures, []);
  await loop.shutdown();
});

test("a pod whose export failed is sent again from its acknowledged point; the others' are not", async () => {
  let failing = true;
  const exporter = new FakeExporter((p) =>
    failing && p === 'p1' ? ExportResultCode.FAILED : ExportResultCode.SUCCESS,
  );
  const { loop, feed, failures } = setup(exporter, 3);
  feed(2, T0 + 1000);
  await loop.forceFlush();
  assert.deepEqual(failures, ['metrics export failed']);
  failing = false;
  exporter.received.length = 0;
  feed(5, T0 + 2000);
  await loop.forceFlush();
  const counts = Object.fromEntries(
    exporter.received
      .filter((rm) => rm.resource.attributes['k8s.pod.name'] !== undefined)
      .map((rm) => [rm.resource.attributes['k8s.pod.name'], countOf(rm)]),
  );
  assert.deepEqual(counts, { p0: 3, p1: 5, p2: 3 });
  assert.deepEqual(failures, ['metrics export failed']);
  await loop.shutdown();
});

test('flushes share a round that starts after them; a flush during a round waits for it, then runs its own', async () => {
  const exporter = new FakeExporter(() => ExportResultCode.SUCCESS);
  const { loop, feed, collects } = setup(exporter, 2);
  feed(1, T0 + 1000);
  await Promise.all([loop.forceFlush(), loop.forceFlush()]);
  assert.equal(collects(), 1, 'one round covers both: it collected after both were called');
  const first = loop.forceFlush();
  await new Promise((r) => setTimeout(r, 1)); // the round is waiting for its exports now
  const second = loop.forceFlush();
  await Promise.all([first, second]);
  assert.equal(collects(), 3, 'the second flush may hold what the running round collected before it');
  assert.equal(exporter.maxInFlight, 3);
  await loop.shutdown();
});
