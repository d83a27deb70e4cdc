// Under load: 200,000 requests over 64 keep-alive connections to one pod, counted exactly (0 lost,
// 0 phantom), with the program's own counters consistent with it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load, requireBpf, startNginx, TestNetwork } from '@owlk8s/e2e/harness';
import { Capture, requireHostInterface } from '@owlk8s/ebpf';

test('200,000 requests over 64 keep-alive connections to nginx: every one counted, nothing else', async () => {
  requireBpf('the capture engine load test');
  await using net = await TestNetwork.create();
  const web = await net.addRoutedPod('web');
  const nginx = await startNginx(web, 80);
  const iface = await requireHostInterface(web.ipv4);
  using cap = Capture.load();
  cap.setTarget(web.ipv4, iface.ifindex, 1);
  cap.attach(iface.ifindex);

  const r = await load(undefined, {
    base: nginx.url(''),
    connections: 64,
    timeoutMs: 240_000,
    requests: [
      { path: '/status/200', count: 180_000 },
      { path: '/status/404', count: 10_000 },
      { path: '/status/500', count: 6_000 },
      { path: '/status/503', count: 4_000 },
    ],
  });
  assert.equal(r.errors, 0, r.firstError);
  assert.deepEqual(r.byStatus, { 200: 180_000, 404: 10_000, 500: 6_000, 503: 4_000 });

  const snap = cap.read();
  assert.deepEqual(
    snap.aggregates.map((a) => `${a.role} ${a.port} ${a.method} ${a.statusCode} ${a.count}`).sort(),
    [
      'server 80 GET 200 180000',
      'server 80 GET 404 10000',
      'server 80 GET 500 6000',
      'server 80 GET 503 4000',
    ],
  );
  const buckets = snap.aggregates.reduce((n, a) => n + a.bucketCounts.reduce((x, y) => x + y, 0), 0);
  assert.equal(buckets, 200_000);
  const s = snap.self;
  assert.deepEqual(
    {
      requests: s.requests,
      responses: s.responses,
      unmatched: s.unmatchedResponses,
      timeouts: s.timeouts,
      resets: s.resets,
      closed: s.closed,
      parseFailures: s.parseFailures,
      aggregatesFull: s.aggregatesFull,
      connsFull: s.connsFull,
      pipelineFull: s.pipelineFull,
      streamGaps: s.streamGaps,
      malformed: s.malformed,
      inFlightNow: snap.inFlight.length,
    },
    {
      requests: 200_000n,
      responses: 200_000n,
      unmatched: 0n,
      timeouts: 0n,
      resets: 0n,
      closed: 0n,
      parseFailures: 0n,
      aggregatesFull: 0n,
      connsFull: 0n,
      pipelineFull: 0n,
      streamGaps: 0n,
      malformed: 0n,
      inFlightNow: 0,
    },
  );
  // every request and response is at least one packet each way, plus the handshakes and ACKs
  assert.ok(s.packets >= 400_000n, `packets ${s.packets}`);
  console.log(
    `load: ${r.elapsedMs} ms, ${s.packets} packets seen, ${s.retransmissions} retransmitted segments ignored`,
  );
});
