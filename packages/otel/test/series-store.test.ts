import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_KNOWN_METHODS } from '../src/attributes.ts';
import { SeriesStore } from '../src/series-store.ts';
import { aggregate, buckets, pod, snapshot } from './fixtures.ts';

const T0 = Date.parse('2026-11-25T10:00:00Z');

function store(limit = 100, now = () => T0) {
  return new SeriesStore({
    cardinalityLimit: limit,
    knownMethods: new Set(DEFAULT_KNOWN_METHODS),
    finalRetentionMs: 60_000,
    now,
  });
}

const only = (s: SeriesStore) => [...s.series()].map(([, v]) => v);

test('running totals become exact increments; a total that went down is a kernel reset', () => {
  const s = store();
  s.registerProducer();
  s.setTarget(1, pod('a'), T0);
  s.record(
    snapshot(
      [aggregate({ targetId: 1, buckets: buckets({ 0: 2, 3: 1 }), sumNs: 70_000_000n })],
      new Date(T0 + 1000),
    ),
  );
  s.record(
    snapshot(
      [aggregate({ targetId: 1, buckets: buckets({ 0: 5, 3: 1 }), sumNs: 82_000_000n })],
      new Date(T0 + 2000),
    ),
  );
  // Reset: the kernel entry was evicted and re-created with 1 request.
  s.record(
    snapshot(
      [aggregate({ targetId: 1, buckets: buckets({ 1: 1 }), sumNs: 7_000_000n })],
      new Date(T0 + 3000),
    ),
  );
  const [series] = only(s);
  assert.equal(series!.count, 7);
  assert.equal(series!.sumNs, 89_000_000n);
  assert.deepEqual(series!.buckets, buckets({ 0: 5, 1: 1, 3: 1 }));
});

test('aggregates of unknown targets wait (nothing lost: the next snapshot holds their totals)', () => {
  const s = store();
  const agg = aggregate({ targetId: 4, buckets: buckets({ 0: 3 }), sumNs: 3n });
  assert.equal(s.record(snapshot([agg], new Date(T0))).unknownTarget, 1);
  s.setTarget(4, pod('d'), T0);
  assert.deepEqual(s.record(snapshot([agg], new Date(T0 + 1))), { applied: 1, unknownTarget: 0, errors: [] });
  assert.equal(only(s)[0]!.count, 3);
});

test('a wrong number of bucket counts is reported, not applied, and does not stop the others', () => {
  const s = store();
  s.setTarget(1, pod('a'), T0);
  const bad = { ...aggregate({ targetId: 1, buckets: buckets({ 0: 1 }), sumNs: 1n }), bucketCounts: [1] };
  const good = aggregate({ targetId: 1, statusCode: 404, buckets: buckets({ 0: 1 }), sumNs: 1n });
  const result = s.record(snapshot([bad, good], new Date(T0)));
  assert.equal(result.applied, 1);
  assert.match(result.errors[0]!.message, /1 bucket counts, expected 15/);
});

test('past the limit, new series go to the overflow series; removal frees room after the final export', () => {
  const s = store(2);
  s.registerProducer();
  s.setTarget(1, pod('a'), T0);
  const aggs = [200, 201, 202].map((statusCode) =>
    aggregate({ targetId: 1, statusCode, buckets: buckets({ 2: 1 }), sumNs: 10n }),
  );
  s.record(snapshot(aggs, new Date(T0)));
  assert.equal(s.liveSeriesCount(0), 2);
  assert.equal(s.overflowedSeriesCount(0), 1);
  assert.equal(s.overflowSeries(0)!.count, 1);
  assert.deepEqual(s.overflowSeries(0)!.attributes, { 'otel.metric.overflow': true });
  s.removeTarget(1);
  for (const [key, series] of [...s.series()])
    if (series.removedAtMs !== undefined) s.finalExported(key, series);
  assert.equal(s.liveSeriesCount(0), 0);
  assert.throws(() => s.setTarget(1, pod('a')), /never reused/);
});

test('removed series are dropped after the retention even if a reader never collects', () => {
  let now = T0;
  const s = store(10, () => now);
  s.registerProducer();
  s.setTarget(1, pod('a'), T0);
  s.record(snapshot([aggregate({ targetId: 1, buckets: buckets({ 0: 1 }), sumNs: 1n })], new Date(now)));
  s.removeTarget(1);
  now += 60_000;
  s.record(snapshot([], new Date(now)));
  assert.equal(only(s).length, 0);
});

test('a snapshot with changed bucket boundaries is refused whole, with both sets named', () => {
  const s = store();
  s.setTarget(1, pod('a'), T0);
  s.record(snapshot([], new Date(T0)));
  const result = s.record({
    ...snapshot([aggregate({ targetId: 1, buckets: buckets({ 0: 1 }), sumNs: 1n })], new Date(T0)),
    boundariesNs: [1n, 2n],
  });
  assert.equal(result.applied, 0);
  assert.match(result.errors[0]!.message, /boundaries changed from \[5000000, .*\] ns to \[1, 2\] ns/);
  assert.equal(only(s).length, 0);
});
