import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPipeline } from '../src/pipeline.ts';
import { aggregate, buckets, pod, snapshot } from './fixtures.ts';

test('bad snapshots and a failing collection hook are logged at most once per failureLogIntervalMillis', async () => {
  const lines: string[] = [];
  const pipeline = await createPipeline({
    exporters: [{ type: 'json-lines', stream: { write: (_t: string, cb: () => void) => cb() } as never }],
    exportIntervalMillis: 3_600_000,
    failureLogIntervalMillis: 60_000,
    logger: { warn: () => {}, error: (_d, message) => lines.push(message) },
  });
  try {
    pipeline.setTarget(1, pod('a'));
    const good = snapshot([aggregate({ targetId: 1, buckets: buckets({ 0: 1 }), sumNs: 1n })], new Date());
    // One aggregate with a bucket too few: skipped and reported, twice in a row.
    const bad = { ...good, aggregates: [{ ...good.aggregates[0]!, bucketCounts: [1] }] };
    assert.equal(pipeline.record(bad).errors.length, 1);
    assert.equal(pipeline.record(bad).errors.length, 1);
    pipeline.onCollect(() => {
      throw new Error('map read failed');
    });
    await pipeline.forceFlush();
    await pipeline.forceFlush();
    assert.deepEqual(lines, ['snapshot aggregates skipped', 'reading before a collection failed']);
  } finally {
    await pipeline.shutdown();
  }
});
