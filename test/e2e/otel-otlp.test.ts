// The OTLP exporters against a receiver that decodes like a Collector: one resource per pod with
// its Kubernetes identity, exact kernel histograms, cumulative and delta, a recreated target,
// headers and gzip as configured (no root needed).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { podIdentity } from '@owlk8s/agent';
import type { Aggregate, Snapshot } from '@owlk8s/ebpf';
import { ZERO_SELF } from '@owlk8s/ebpf/testing';
import type { PodTarget } from '@owlk8s/k8s';
import { createPipeline, type Pipeline } from '@owlk8s/otel';
import {
  agentExports,
  histogramPoints,
  histogramPointsWithResource,
  OtlpReceiver,
  podExports,
  type ReceivedHistogramPoint,
} from '../otlp/index.ts';

const BOUNDARIES_NS = [
  5_000_000n,
  10_000_000n,
  25_000_000n,
  50_000_000n,
  100_000_000n,
  250_000_000n,
  1_000_000_000n,
];
const BOUNDARIES_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const SERVER = 'http.server.request.duration';
const CLIENT = 'http.client.request.duration';
const T0 = Date.parse('2026-11-25T10:00:00Z');

function checkoutPod(uid: string): PodTarget {
  return {
    uid,
    name: 'checkout-0',
    namespace: 'shop',
    node: 'node-1',
    ips: ['198.18.0.10'],
    phase: 'Running',
    ready: true,
    workload: { kind: 'StatefulSet', name: 'checkout' },
    labels: {},
    ports: [{ port: 8080, name: 'http', services: [{ namespace: 'shop', name: 'checkout', port: 80 }] }],
  };
}

/** Server GET 200, server POST 503 and client GET 404 aggregates of one target with given bucket counts. */
function aggregates(targetId: number, get200: number[], post503: number[], client404: number[]): Aggregate[] {
  const make = (
    role: 'server' | 'client',
    method: 'GET' | 'POST',
    statusCode: number,
    port: number,
    b: number[],
  ) => {
    const bucketCounts = [...b];
    const count = bucketCounts.reduce((x, y) => x + y, 0);
    // A fixed 3 ms per request below 5 ms, 40 ms per request above: sums stay exact integers of ns.
    const durationSumNs = BigInt(b[0]!) * 3_000_000n + BigInt(count - b[0]!) * 40_000_000n;
    return {
      targetId,
      role,
      port,
      method,
      statusCode,
      httpMinor: 1 as const,
      count,
      durationSumNs,
      bucketCounts,
    };
  };
  return [
    make('server', 'GET', 200, 8080, get200),
    make('server', 'POST', 503, 8080, post503),
    make('client', 'GET', 404, 9000, client404),
  ];
}

function snap(time: number, aggs: Aggregate[]): Snapshot {
  return {
    monotonicNs: BigInt(time) * 1_000_000n,
    time: new Date(time),
    boundariesNs: BOUNDARIES_NS,
    aggregates: aggs,
    inFlight: [],
    self: {
      ...ZERO_SELF,
      packets: 10n,
      requests: 5n,
      responses: 5n,
      unmatchedResponses: 0n,
      parseFailures: 1n,
    },
  };
}

const find = (points: ReceivedHistogramPoint[], method: string, status: number) =>
  points.filter(
    (p) =>
      p.attributes['http.request.method'] === method && p.attributes['http.response.status_code'] === status,
  );
const ns = (ms: number) => BigInt(ms) * 1_000_000n;

// Three collections of one target: running totals as the kernel reports them.
const STEPS = [
  { get: [3, 1, 0, 0, 0, 0, 0, 0], post: [0, 0, 0, 0, 1, 0, 0, 0], client: [0, 0, 0, 0, 2, 0, 0, 0] },
  { get: [5, 1, 2, 0, 0, 0, 0, 0], post: [0, 0, 0, 0, 1, 0, 0, 0], client: [0, 0, 0, 0, 2, 0, 0, 1] },
  { get: [9, 4, 2, 0, 0, 0, 0, 1], post: [0, 0, 0, 0, 3, 0, 0, 0], client: [1, 0, 0, 0, 2, 0, 0, 1] },
];

describe('OTLP export of the kernel histograms', () => {
  const receiver = new OtlpReceiver();
  before(() => receiver.start());
  after(() => receiver.stop());

  test('gRPC, cumulative: exact counts, sums, buckets, attributes; headers and gzip as configured', async () => {
    receiver.clear();
    const pipeline = await createPipeline({
      exporters: [
        {
          type: 'otlp-grpc',
          endpoint: receiver.grpcEndpoint,
          headers: { 'x-honeycomb-team': 'test-key', 'x-honeycomb-dataset': 'owlk8s' },
          compression: 'gzip',
          timeoutMillis: 5000,
          temporality: 'cumulative',
        },
      ],
      exportIntervalMillis: 3_600_000,
      resource: { 'k8s.node.name': 'node-1' },
      logger: silentLogger(),
    });
    try {
      pipeline.setTarget(7, podIdentity(checkoutPod('uid-a')), new Date(T0));
      for (const [i, s] of STEPS.entries()) {
        pipeline.record(snap(T0 + 10_000 * (i + 1), aggregates(7, s.get, s.post, s.client)));
        await pipeline.forceFlush();
      }
      // Each round: one request for the agent's own resource, one for the pod's.
      assert.equal(receiver.exports.length, 6);
      assert.equal(agentExports(receiver.exports).length, 3);
      const agent = agentExports(receiver.exports)[2]!;
      assert.equal(agent.resourceMetrics.length, 1);
      assert.equal(agent.resourceMetrics[0]!.resource['service.name'], 'owlk8s');
      assert.equal(agent.resourceMetrics[0]!.resource['k8s.node.name'], 'node-1');
      assert.equal(histogramPoints([agent], SERVER).length, 0);
      const last = podExports(receiver.exports)[2]!;
      assert.equal(last.transport, 'grpc');
      assert.equal(last.headers['x-honeycomb-team'], 'test-key');
      assert.equal(last.headers['x-honeycomb-dataset'], 'owlk8s');
      assert.equal(last.encoding, 'gzip');
      assert.equal(last.resourceMetrics.length, 1);
      // The pod's identity is its resource, as the Kubernetes conventions have it.
      assert.deepEqual(last.resourceMetrics[0]!.resource, {
        'k8s.pod.name': 'checkout-0',
        'k8s.pod.uid': 'uid-a',
        'k8s.namespace.name': 'shop',
        'k8s.node.name': 'node-1',
        'k8s.statefulset.name': 'checkout',
        'service.name': 'checkout',
        'service.namespace': 'shop',
      });

      const server = histogramPoints([last], SERVER);
      assert.equal(server.length, 2);
      const get = find(server, 'GET', 200)[0]!;
      assert.deepEqual(get.bucketCounts, [9n, 4n, 2n, 0n, 0n, 0n, 0n, 1n]);
      assert.equal(get.count, 16n);
      assert.equal(get.sum, (9 * 3_000_000 + 7 * 40_000_000) / 1e9);
      assert.deepEqual(get.explicitBounds, BOUNDARIES_S);
      assert.equal(get.startTimeUnixNano, ns(T0));
      assert.equal(get.timeUnixNano, ns(T0 + 30_000));
      assert.deepEqual(get.attributes, {
        'http.request.method': 'GET',
        'http.response.status_code': 200,
        'server.port': 8080,
        'network.protocol.version': '1.1',
        'url.scheme': 'http',
        'k8s.service.name': 'checkout',
      });
      const post = find(server, 'POST', 503)[0]!;
      assert.equal(post.count, 3n);
      assert.equal(post.attributes['error.type'], '503');

      const client = histogramPoints([last], CLIENT);
      assert.equal(client.length, 1);
      assert.deepEqual(client[0]!.bucketCounts, [1n, 0n, 0n, 0n, 2n, 0n, 0n, 1n]);
      assert.equal(client[0]!.attributes['error.type'], '404');
      assert.equal(client[0]!.attributes['server.port'], 9000);
      assert.equal(client[0]!.attributes['url.scheme'], undefined);
      assert.equal(client[0]!.attributes['k8s.service.name'], undefined);
      const temporalities = receiver.exports.flatMap((e) =>
        e.resourceMetrics.flatMap((r) =>
          r.scopes.flatMap((s) => s.metrics.filter((m) => m.kind === 'histogram')),
        ),
      );
      assert.ok(temporalities.every((m) => m.temporality === 'cumulative' && m.unit === 's'));
    } finally {
      await pipeline.shutdown();
    }
  });

  test('HTTP/protobuf, delta: each point is its interval, and the intervals add up to the totals', async () => {
    receiver.clear();
    const pipeline = await deltaPipeline(receiver.httpEndpoint);
    try {
      pipeline.setTarget(8, podIdentity(checkoutPod('uid-b')), new Date(T0));
      for (const [i, s] of STEPS.entries()) {
        pipeline.record(snap(T0 + 10_000 * (i + 1), aggregates(8, s.get, s.post, s.client)));
        await pipeline.forceFlush();
      }
      assert.equal(receiver.exports.length, 6);
      assert.equal(podExports(receiver.exports).length, 3);
      assert.ok(receiver.exports.every((e) => e.transport === 'http' && e.encoding === 'identity'));
      const gets = find(histogramPoints(receiver.exports, SERVER), 'GET', 200);
      assert.deepEqual(
        gets.map((p) => p.bucketCounts),
        [
          [3n, 1n, 0n, 0n, 0n, 0n, 0n, 0n],
          [2n, 0n, 2n, 0n, 0n, 0n, 0n, 0n],
          [4n, 3n, 0n, 0n, 0n, 0n, 0n, 1n],
        ],
      );
      assert.deepEqual(
        gets.map((p) => [p.startTimeUnixNano, p.timeUnixNano]),
        [
          [ns(T0), ns(T0 + 10_000)],
          [ns(T0 + 10_000), ns(T0 + 20_000)],
          [ns(T0 + 20_000), ns(T0 + 30_000)],
        ],
      );
      assert.equal(
        gets.reduce((a, p) => a + p.count, 0n),
        16n,
      );
      assert.equal(Math.round(gets.reduce((a, p) => a + p.sum!, 0) * 1e9), 9 * 3_000_000 + 7 * 40_000_000);
      // POST 503 did not change in the second interval: no point then, 1 and 2 in the others.
      const posts = find(histogramPoints(receiver.exports, SERVER), 'POST', 503);
      assert.deepEqual(
        posts.map((p) => p.count),
        [1n, 2n],
      );
      assert.equal(posts[1]!.startTimeUnixNano, ns(T0 + 10_000));
      const clients = histogramPoints(receiver.exports, CLIENT);
      assert.deepEqual(
        clients.map((p) => p.count),
        [2n, 1n, 1n],
      );
      const all = receiver.exports.flatMap((e) =>
        e.resourceMetrics.flatMap((r) =>
          r.scopes.flatMap((s) => s.metrics.filter((m) => m.kind === 'histogram')),
        ),
      );
      assert.ok(all.every((m) => m.temporality === 'delta'));
    } finally {
      await pipeline.shutdown();
    }
  });

  test('a recreated target restarts its series with a new start time; the old one is exported once more', async () => {
    receiver.clear();
    const pipeline = await createPipeline({
      exporters: [{ type: 'otlp-grpc', endpoint: receiver.grpcEndpoint, temporality: 'cumulative' }],
      exportIntervalMillis: 3_600_000,
      logger: silentLogger(),
    });
    try {
      const old = podIdentity(checkoutPod('uid-old'));
      const recreated = podIdentity(checkoutPod('uid-new'));
      pipeline.setTarget(1, old, new Date(T0));
      pipeline.record(
        snap(
          T0 + 10_000,
          aggregates(1, [2, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]),
        ),
      );
      await pipeline.forceFlush();
      // The last read before the detach still counted one more request; then the pod is recreated.
      pipeline.record(
        snap(
          T0 + 20_000,
          aggregates(1, [3, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]),
        ),
      );
      pipeline.removeTarget(1);
      pipeline.setTarget(2, recreated, new Date(T0 + 25_000));
      pipeline.record(
        snap(
          T0 + 30_000,
          aggregates(2, [0, 1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]),
        ),
      );
      await pipeline.forceFlush();
      pipeline.record(
        snap(
          T0 + 40_000,
          aggregates(2, [0, 2, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]),
        ),
      );
      await pipeline.forceFlush();

      const perExport = podExports(receiver.exports).map((e) =>
        histogramPointsWithResource([e], SERVER).map(({ resource, point }) => [
          resource['k8s.pod.uid'],
          point.startTimeUnixNano,
          point.count,
        ]),
      );
      // Rounds of one export per pod: the old pod's, then its last with the recreated one's, then the new one's.
      assert.deepEqual(perExport.flat(), [
        ['uid-old', ns(T0), 2n],
        ['uid-old', ns(T0), 3n],
        ['uid-new', ns(T0 + 25_000), 1n],
        ['uid-new', ns(T0 + 25_000), 2n],
      ]);
      assert.equal(perExport.length, 4);
    } finally {
      await pipeline.shutdown();
    }
  });

  test('10,000 series per metric stay within the limit; the next ones land in the overflow series', async () => {
    receiver.clear();
    const pipeline = await createPipeline({
      exporters: [
        {
          type: 'otlp-http',
          endpoint: receiver.httpEndpoint,
          temporality: 'cumulative',
          compression: 'gzip',
        },
      ],
      exportIntervalMillis: 3_600_000,
      exportTimeoutMillis: 60_000,
      cardinalityLimit: 10_000,
      logger: silentLogger(),
    });
    try {
      // 10,005 server series: 2,001 pods × 5 status codes; one request each, the last five pods' in bucket 2.
      const statuses = [200, 201, 204, 404, 500];
      const aggs: Aggregate[] = [];
      for (let t = 0; t < 2001; t++) {
        pipeline.setTarget(
          t,
          podIdentity({ ...checkoutPod(`uid-${t}`), name: `checkout-${t}` }),
          new Date(T0),
        );
        for (const statusCode of statuses) {
          const bucket = t === 2000 ? 2 : 0;
          const bucketCounts = BOUNDARIES_NS.map(() => 0).concat([0]);
          bucketCounts[bucket] = 1;
          aggs.push({
            targetId: t,
            role: 'server',
            port: 8080,
            method: 'GET',
            statusCode,
            httpMinor: 1,
            count: 1,
            durationSumNs: 20_000_000n,
            bucketCounts,
          });
        }
      }
      pipeline.record(snap(T0 + 10_000, aggs));
      await pipeline.forceFlush();
      assert.ok(receiver.exports.length > 0 && receiver.exports.every((e) => e.encoding === 'gzip'));
      const points = histogramPoints(receiver.exports, SERVER);
      assert.equal(points.length, 10_001);
      // 2,000 pods with series, each its own resource, and the agent's (holding the overflow series).
      assert.equal(podExports(receiver.exports).length, 2000);
      assert.equal(agentExports(receiver.exports).length, 1);
      const overflow = histogramPoints(agentExports(receiver.exports), SERVER);
      assert.equal(overflow.length, 1);
      assert.equal(points.filter((p) => p.attributes['otel.metric.overflow'] === true).length, 1);
      assert.equal(overflow.length, 1);
      assert.deepEqual(Object.keys(overflow[0]!.attributes), ['otel.metric.overflow']);
      assert.equal(overflow[0]!.count, 5n);
      assert.deepEqual(overflow[0]!.bucketCounts, [0n, 0n, 5n, 0n, 0n, 0n, 0n, 0n]);
      assert.equal(overflow[0]!.sum, 0.1);
      assert.equal(
        histogramPointsWithResource(receiver.exports, SERVER).filter(
          (p) => p.resource['k8s.pod.uid'] === 'uid-2000',
        ).length,
        0,
      );
      const overflowCounter = receiver.exports
        .flatMap((e) => e.resourceMetrics.flatMap((r) => r.scopes.flatMap((s) => s.metrics)))
        .filter((m) => m.name === 'owlk8s.agent.metric.overflow')
        .flatMap((m) => m.numberPoints)
        .find((p) => p.attributes['owlk8s.metric'] === SERVER);
      assert.equal(overflowCounter?.value, 5n);
    } finally {
      await pipeline.shutdown();
    }
  });
});

async function deltaPipeline(endpoint: string): Promise<Pipeline> {
  return createPipeline({
    exporters: [{ type: 'otlp-http', endpoint, temporality: 'delta' }],
    exportIntervalMillis: 3_600_000,
    logger: silentLogger(),
  });
}

function silentLogger() {
  return { warn: () => {}, error: () => {} };
}
