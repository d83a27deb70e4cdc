// The agent's own instruments: every kernel self counter, read from the one snapshot of each
// collection, exported as a monotonic counter that never goes down.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DataPoint, MeterProvider, type MetricData, MetricReader } from '@opentelemetry/sdk-metrics';
import type { SelfCounters } from '@owlk8s/ebpf';
import { ZERO_SELF } from '@owlk8s/ebpf/testing';
import { DEFAULT_KNOWN_METHODS } from '../src/attributes.ts';
import { registerInstruments } from '../src/instruments.ts';
import { KERNEL_COUNTERS } from '../src/kernel-counters.ts';
import { PipelineState } from '../src/pipeline-state.ts';
import { SeriesStore } from '../src/series-store.ts';
import { snapshot } from './fixtures.ts';

class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

function setup() {
  const store = new SeriesStore({
    cardinalityLimit: 2000,
    knownMethods: new Set(DEFAULT_KNOWN_METHODS),
    finalRetentionMs: 3_600_000,
  });
  const state = new PipelineState(store);
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  registerInstruments(provider.getMeter('test'), state);
  return { state, reader, provider };
}

/** The kernel counters of one collection: name → value, with their kind. */
async function kernelCounters(
  reader: TestReader,
): Promise<Map<string, { value: number; metric: MetricData }>> {
  const { resourceMetrics } = await reader.collect();
  const out = new Map<string, { value: number; metric: MetricData }>();
  for (const metric of resourceMetrics.scopeMetrics.flatMap((s) => s.metrics)) {
    if (!metric.descriptor.name.startsWith('owlk8s.agent.kernel.')) continue;
    assert.equal(metric.dataPoints.length, 1, metric.descriptor.name);
    out.set(metric.descriptor.name, { value: (metric.dataPoints[0] as DataPoint<number>).value, metric });
  }
  return out;
}

const T0 = Date.parse('2026-12-05T15:00:00Z');

test('every kernel self counter is its own monotonic counter owlk8s.agent.kernel.<name>, with the snapshot value', async () => {
  const { state, reader, provider } = setup();
  const self = Object.fromEntries(
    Object.keys(ZERO_SELF).map((k, i) => [k, BigInt(100 + i)]),
  ) as unknown as SelfCounters;
  state.record(snapshot([], new Date(T0), { self }));
  const got = await kernelCounters(reader);
  assert.deepEqual(
    [...got].map(([name, { value }]) => `${name}=${value}`),
    [
      'owlk8s.agent.kernel.packets=100',
      'owlk8s.agent.kernel.requests=101',
      'owlk8s.agent.kernel.responses=102',
      'owlk8s.agent.kernel.unmatched_responses=103',
      'owlk8s.agent.kernel.parse_failures=104',
      'owlk8s.agent.kernel.informational=105',
      'owlk8s.agent.kernel.upgrades=106',
      'owlk8s.agent.kernel.aggregates_full=107',
      'owlk8s.agent.kernel.conns_full=108',
      'owlk8s.agent.kernel.pipeline_full=109',
      'owlk8s.agent.kernel.retransmissions=110',
      'owlk8s.agent.kernel.stream_gaps=111',
      'owlk8s.agent.kernel.resyncs=112',
      'owlk8s.agent.kernel.not_http=113',
      'owlk8s.agent.kernel.ignored_after_upgrade=114',
      'owlk8s.agent.kernel.timeouts=115',
      'owlk8s.agent.kernel.resets=116',
      'owlk8s.agent.kernel.closed=117',
      'owlk8s.agent.kernel.budget_exhausted=118',
      'owlk8s.agent.kernel.conns_expired=119',
      'owlk8s.agent.kernel.malformed=120',
      'owlk8s.agent.kernel.responses_lost=121',
      'owlk8s.agent.kernel.series_overflow=122',
      'owlk8s.agent.kernel.conns_over_budget=123',
      'owlk8s.agent.kernel.contended=124',
      'owlk8s.agent.kernel.ignored_after_gap=125',
      'owlk8s.agent.kernel.reordered=126',
    ],
  );
  for (const { metric } of got.values()) {
    assert.equal(metric.dataPointType, 3 /* SUM */, metric.descriptor.name);
    assert.equal((metric as { isMonotonic?: boolean }).isMonotonic, true, metric.descriptor.name);
  }
  assert.equal(KERNEL_COUNTERS.length, Object.keys(ZERO_SELF).length);
  await provider.shutdown();
});

test('the counters never go down: a kernel value below the last one (the program loaded again) adds to what was counted', async () => {
  const { state, reader, provider } = setup();
  const rounds: Partial<SelfCounters>[] = [
    { timeouts: 5n, packets: 1000n },
    { timeouts: 7n, packets: 1500n },
    { timeouts: 2n, packets: 1600n }, // timeouts restarted from 0 in the kernel; packets did not
    { timeouts: 4n, packets: 100n }, // packets restarted
    { timeouts: 1n, packets: 200n }, // timeouts restarted again
  ];
  const seen: string[] = [];
  for (const [i, r] of rounds.entries()) {
    state.record(snapshot([], new Date(T0 + i * 1000), { self: { ...ZERO_SELF, ...r } }));
    const got = await kernelCounters(reader);
    seen.push(
      `timeouts=${got.get('owlk8s.agent.kernel.timeouts')!.value} packets=${got.get('owlk8s.agent.kernel.packets')!.value} resets=${got.get('owlk8s.agent.kernel.resets')!.value}`,
    );
  }
  assert.deepEqual(seen, [
    'timeouts=5 packets=1000 resets=0',
    'timeouts=7 packets=1500 resets=0',
    'timeouts=9 packets=1600 resets=0',
    'timeouts=11 packets=1700 resets=0',
    'timeouts=12 packets=1800 resets=0',
  ]);
  await provider.shutdown();
});

test('no snapshot yet: no kernel counter is reported (not a made-up zero)', async () => {
  const { reader, provider } = setup();
  assert.equal((await kernelCounters(reader)).size, 0);
  await provider.shutdown();
});
