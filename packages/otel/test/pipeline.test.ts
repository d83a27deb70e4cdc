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

test('collapseUnknownClientPorts: the known ports given to the pipeline keep their series; the others collapse, counted', async () => {
  let out = '';
  const pipeline = await createPipeline({
    exporters: [
      {
        type: 'json-lines',
        stream: {
          write: (t: string, cb: () => void) => {
            out += t;
            cb();
          },
        } as never,
      },
    ],
    exportIntervalMillis: 3_600_000,
    collapseUnknownClientPorts: true,
  });
  try {
    pipeline.setKnownClientPorts([8080]);
    pipeline.setTarget(1, pod('a'));
    const client = (port: number) =>
      aggregate({ targetId: 1, role: 'client', port, buckets: buckets({ 0: 2 }), sumNs: 1n });
    pipeline.record(snapshot([client(8080), client(9000), client(9001), client(9002)], new Date()));
    await pipeline.forceFlush();
    const lines = out
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            metric: string;
            attributes: Record<string, unknown>;
            count?: number;
            value?: number;
          },
      );
    assert.deepEqual(
      lines
        .filter((l) => l.metric === 'http.client.request.duration')
        .map(
          (l) =>
            `${l.attributes['server.port'] ?? '-'} ${l.attributes['owlk8s.server.port.collapsed'] ?? '-'} n=${l.count}`,
        )
        .sort(),
      ['- true n=6', '8080 - n=2'],
    );
    assert.deepEqual(
      lines.filter((l) => l.metric === 'owlk8s.agent.client_ports.collapsed').map((l) => l.value),
      [3],
    );
  } finally {
    await pipeline.shutdown();
  }
});
