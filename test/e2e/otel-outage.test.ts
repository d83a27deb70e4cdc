// The Collector goes away for several export intervals and comes back: the pipeline keeps running,
// its memory stays bounded, failures are logged without flooding, and nothing counted during the
// outage is lost: the cumulative totals after recovery include it, and the deltas received add up
// to exactly what was counted (a delta exporter counts from what its receiver acknowledged). Six
// exporters at once: gRPC, HTTP and HTTP with gzip, each cumulative and delta.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Snapshot } from '@owlk8s/ebpf';
import { ZERO_SELF } from '@owlk8s/ebpf/testing';
import { createPipeline, type Temporality } from '@owlk8s/otel';
import {
  histogramPoints,
  metricsNamed,
  numberPoints,
  OtlpReceiver,
  type ReceivedExport,
} from '../otlp/index.ts';

const BOUNDARIES_NS = [5_000_000n, 50_000_000n];
const SERVER = 'http.server.request.duration';
// An export's timeout is its interval: a second leaves room for a loaded machine's late answers
// (each one is a failure after recovery, logged as a new outage).
const INTERVAL_MS = 1000;
const OUTAGE_MS = 6000;
// A summary of a continuing outage every 2.5 s: fewer log lines than failed exports.
const FAILURE_LOG_MS = 2500;

function snapshotWith(requests: number): Snapshot {
  return {
    monotonicNs: BigInt(Date.now()) * 1_000_000n,
    time: new Date(),
    boundariesNs: BOUNDARIES_NS,
    aggregates: [
      {
        targetId: 1,
        role: 'server',
        port: 8080,
        method: 'GET',
        statusCode: 200,
        httpMinor: 1,
        count: requests,
        durationSumNs: BigInt(requests) * 2_000_000n,
        bucketCounts: [requests, 0, 0],
      },
    ],
    inFlight: [],
    self: ZERO_SELF,
  };
}

/** Each exporter's requests, told apart by transport, compression and temporality. */
const KINDS = ['grpc', 'http', 'http+gzip'] as const;
type Kind = (typeof KINDS)[number];
function exportsOf(exports: readonly ReceivedExport[], kind: Kind, temporality: Temporality) {
  return exports.filter(
    (e) =>
      `${e.transport}${e.encoding === 'gzip' ? '+gzip' : ''}` === kind &&
      e.resourceMetrics.some((rm) =>
        rm.scopes.some((s) => s.metrics.some((m) => m.name === SERVER && m.temporality === temporality)),
      ),
  );
}

test('a Collector outage of many intervals: bounded memory, few log lines, totals include the outage', async (t) => {
  const receiver = new OtlpReceiver();
  await receiver.start();
  const logs: { level: string; message: string; details: Record<string, unknown>; at: number }[] = [];
  const pipeline = await createPipeline({
    exporters: (['cumulative', 'delta'] as const).flatMap((temporality) => [
      { type: 'otlp-grpc' as const, endpoint: receiver.grpcEndpoint, temporality },
      { type: 'otlp-http' as const, endpoint: receiver.httpEndpoint, temporality },
      {
        type: 'otlp-http' as const,
        endpoint: receiver.httpEndpoint,
        temporality,
        compression: 'gzip' as const,
      },
    ]),
    exportIntervalMillis: INTERVAL_MS,
    exportTimeoutMillis: INTERVAL_MS,
    failureLogIntervalMillis: FAILURE_LOG_MS,
    logger: {
      warn: (details, message) => logs.push({ level: 'warn', message, details, at: Date.now() }),
      error: (details, message) => logs.push({ level: 'error', message, details, at: Date.now() }),
    },
  });
  let requests = 0;
  pipeline.setTarget(1, { resource: { 'k8s.pod.name': 'web-0', 'k8s.namespace.name': 'default' } });
  const feeder = setInterval(() => {
    requests += 3;
    pipeline.record(snapshotWith(requests));
  }, 50);
  try {
    // Every exporter delivered before the outage (two requests a round: the agent's and the pod's).
    await receiver.waitForExports(24);
    const stoppingAt = Date.now();
    await receiver.stop();
    const beforeOutage = [...receiver.exports];
    const countAtOutage = requests;
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    const heapAfter = process.memoryUsage().heapUsed;
    const countInOutage = requests - countAtOutage;
    assert.ok(countInOutage >= 100, `fed ${countInOutage} requests during the outage`);

    receiver.clear();
    const restartingAt = Date.now();
    await receiver.start();
    // Wait until every exporter delivered a total at least as large as the last count fed before
    // the wait: it includes every request of the outage.
    const target = requests;
    const deadline = Date.now() + 20_000;
    const latest = (kind: Kind) =>
      histogramPoints(exportsOf(receiver.exports, kind, 'cumulative'), SERVER).at(-1)?.count ?? 0n;
    while (KINDS.some((kind) => latest(kind) < BigInt(target))) {
      assert.ok(
        Date.now() < deadline,
        `no recovery within 20 s: ${KINDS.map((kind) => `${kind} ${latest(kind)}`).join(', ')}`,
      );
      await new Promise((r) => setTimeout(r, 100));
    }
    clearInterval(feeder);
    await pipeline.forceFlush();
    const all = [...beforeOutage, ...receiver.exports];
    for (const kind of KINDS) {
      const last = histogramPoints(exportsOf(receiver.exports, kind, 'cumulative'), SERVER).at(-1)!;
      assert.equal(last.count, BigInt(requests), `${kind}: cumulative count after recovery`);
      assert.deepEqual(last.bucketCounts, [BigInt(requests), 0n, 0n]);
      assert.equal(last.sum, (requests * 2_000_000) / 1e9);
      // The deltas received, before, through and after the outage, add up to every request. An
      // export the receiver got but answered after the exporter's timeout (a loaded machine) is
      // restated: the next point has the same start time and includes it (at least once, README
      // of packages/otel). Of each start time the latest point stands.
      const received = histogramPoints(exportsOf(all, kind, 'delta'), SERVER);
      const latestByStart = new Map<bigint, (typeof received)[number]>();
      for (const p of received) {
        const q = latestByStart.get(p.startTimeUnixNano);
        if (q === undefined || p.timeUnixNano > q.timeUnixNano) latestByStart.set(p.startTimeUnixNano, p);
      }
      const deltas = [...latestByStart.values()].sort((a, b) =>
        a.startTimeUnixNano < b.startTimeUnixNano ? -1 : a.startTimeUnixNano > b.startTimeUnixNano ? 1 : 0,
      );
      if (deltas.length < received.length)
        t.diagnostic(`${kind}: ${received.length - deltas.length} delta points restated by a later one`);
      assert.equal(
        deltas.reduce((n, p) => n + p.count, 0n),
        BigInt(requests),
        `${kind}: deltas add up to the requests counted`,
      );
      assert.deepEqual(
        deltas.reduce((n, p) => n + p.bucketCounts[0]!, 0n),
        BigInt(requests),
      );
      // Each delta starts where the previous one ended: no gap, no overlap.
      for (let i = 1; i < deltas.length; i++) {
        assert.equal(
          deltas[i]!.startTimeUnixNano,
          deltas[i - 1]!.timeUnixNano,
          `${kind}: delta ${i} starts where ${i - 1} ended`,
        );
      }
    }
    const dropped = numberPoints(receiver.exports, 'owlk8s.agent.export.dropped');
    assert.ok(dropped.length > 0 && dropped.every((p) => p.value === 0n), 'nothing given up');

    // At 1 s per interval the outage spans about 6 intervals per exporter (more until the gRPC
    // channel reconnects): each exporter logs its first failure, at most one summary per 2.5 s of
    // the outage, and one recovery line; fewer lines than failed exports.
    for (const exporter of [
      'otlp-grpc[0]',
      'otlp-http[1]',
      'otlp-http[2]',
      'otlp-grpc[3]',
      'otlp-http[4]',
      'otlp-http[5]',
    ]) {
      const mine = logs.filter((l) => l.details.exporter === exporter);
      const failed = mine.filter((l) => l.message === 'metrics export failed');
      assert.equal(failed.length, 1, exporter);
      const recovered = mine.filter((l) => l.message === 'metrics export recovered');
      assert.equal(recovered.length, 1, exporter);
      // The outage a user reads is the one this exporter saw: from its first failure (after the
      // receiver began to stop; up to an interval and a timeout later) to its first success (after
      // the receiver was back), in whole seconds.
      assert.ok(failed[0]!.at >= stoppingAt, `${exporter}: failed before the outage`);
      assert.ok(recovered[0]!.at >= restartingAt, `${exporter}: recovered before the receiver was back`);
      const outageSeconds = recovered[0]!.details.outageSeconds as number;
      const failedExports = recovered[0]!.details.failedExports as number;
      const seenMs = recovered[0]!.at - failed[0]!.at;
      assert.ok(
        Math.abs(outageSeconds * 1000 - seenMs) <= 501,
        `${exporter}: outage of ${outageSeconds} s reported, ${seenMs} ms between its log lines`,
      );
      // the rate: a summary per FAILURE_LOG_MS of the outage, and one more at most
      const summaries = Math.floor(outageSeconds / (FAILURE_LOG_MS / 1000)) + 1;
      const still = mine.filter((l) => l.message === 'metrics export still failing').length;
      assert.ok(still <= summaries, `${exporter}: ${still} summaries in ${outageSeconds} s`);
      // Fewer lines than failures, once the exporter failed more often than the lines the rate
      // allows (its first failure, its recovery and the summaries above): an exporter whose exports
      // queued behind slow ones on a loaded machine may fail only 3 times in the outage, and 3
      // lines (failure, one summary, recovery) are then within the rate, not one line per failure.
      if (failedExports > 2 + summaries)
        assert.ok(
          mine.length < failedExports,
          `${exporter}: ${mine.length} lines for ${failedExports} failures`,
        );
    }
    t.diagnostic(
      `fed ${requests} requests (${countInOutage} during the outage); ${logs.length} log lines; ` +
        `heap ${((heapAfter - heapBefore) / 1e6).toFixed(1)} MB over the outage`,
    );
    // As a cumulative exporter reports it (a delta one's last point holds only its last interval).
    const failures = metricsNamed(receiver.exports, 'owlk8s.agent.export.failures')
      .filter((m) => m.temporality === 'cumulative')
      .flatMap((m) => m.numberPoints);
    const grpcFailures = failures.filter((p) => p.attributes['owlk8s.exporter'] === 'otlp-grpc[0]').at(-1);
    assert.ok(
      grpcFailures !== undefined && (grpcFailures.value as bigint) >= 3n,
      `grpc failures ${grpcFailures?.value}`,
    );
    const growthMb = (heapAfter - heapBefore) / 1e6;
    assert.ok(growthMb < 30, `heap grew ${growthMb.toFixed(1)} MB during the outage`);
  } finally {
    clearInterval(feeder);
    await pipeline.shutdown();
    await receiver.stop();
  }
});
