// The Service graph's window, rates, error ratios and p99 from crafted series totals: what
// `owlk8s targets --graph` prints, exactly.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SeriesTotals } from '@owlk8s/otel';
import { type GraphPod, ServiceGraph } from '../../src/graph/service-graph.ts';

const BOUNDS = [0.01, 0.1];

function client(
  targetId: number,
  address: string,
  kind: string,
  status: number,
  buckets: number[],
  extra: Record<string, string> = {},
): SeriesTotals {
  return {
    targetId,
    role: 'client',
    attributes: {
      'http.request.method': 'GET',
      'http.response.status_code': status,
      'server.address': address,
      'owlk8s.peer.kind': kind,
      ...(status >= 400 ? { 'error.type': String(status) } : {}),
      ...extra,
    },
    overflow: false,
    count: buckets.reduce((a, b) => a + b, 0),
    bucketCounts: buckets,
  };
}

function server(
  targetId: number,
  address: string | undefined,
  kind: string,
  status: number,
  buckets: number[],
  namespace?: string,
): SeriesTotals {
  return {
    targetId,
    role: 'server',
    attributes: {
      'http.request.method': 'GET',
      'http.response.status_code': status,
      // the server metric's error.type leaves 4xx out
      ...(status >= 500 ? { 'error.type': String(status) } : {}),
      ...(address !== undefined ? { 'client.address': address, 'owlk8s.peer.kind': kind } : {}),
      ...(namespace !== undefined ? { 'owlk8s.peer.namespace': namespace } : {}),
    },
    overflow: false,
    count: buckets.reduce((a, b) => a + b, 0),
    bucketCounts: buckets,
  };
}

const PODS: ReadonlyMap<number, GraphPod> = new Map([
  [1, { namespace: 'shop', name: 'caller' }],
  [2, { namespace: 'shop', name: 'web-0' }],
  [3, { namespace: 'shop', name: 'caller' }], // the same pod, re-created with a new identity
]);
const podOf = (id: number) => PODS.get(id);
const monitored = (p: GraphPod) =>
  [...PODS.values()].some((m) => m.namespace === p.namespace && m.name === p.name);

function rows(graph: ServiceGraph): string[] {
  return graph
    .view(podOf, monitored)
    .edges.map(
      (e) =>
        `${e.caller} ${e.callerKind} -> ${e.callee} ${e.calleeKind} ${e.measuredBy} n=${e.requests} rate=${e.rate.toFixed(4)} err=${e.errors} ratio=${e.errorRatio.toFixed(4)} p99=${e.p99Seconds?.toFixed(6) ?? '-'}`,
    );
}

test('a young agent: the window runs from its start; one row per edge, errors as the client metric has them', () => {
  const graph = new ServiceGraph({ serverPeers: true, startMs: 1_000 });
  graph.sample(
    {
      boundariesSeconds: BOUNDS,
      series: [
        client(1, 'web.shop.svc', 'service', 200, [80, 10, 0]),
        client(1, 'web.shop.svc', 'service', 503, [0, 5, 5]),
        client(1, 'api-0', 'pod', 200, [4, 0, 0], { 'owlk8s.peer.namespace': 'shop' }),
        client(1, '_outside', 'outside', 404, [2, 0, 0]),
        // the caller's requests seen by web-0: the caller is monitored here, its client side counts them
        server(2, 'caller', 'pod', 200, [90, 0, 0], 'shop'),
        server(2, 'node-1', 'node', 200, [4, 0, 0]),
        server(2, 'node-1', 'node', 500, [0, 0, 6]),
        // a pod this agent does not monitor: a 404 is an error by the client metric's rule
        server(2, 'client-x', 'pod', 404, [3, 0, 0], 'other'),
        // no peer attributes (server side without serverPeers, or its overflow series): no edge
        server(2, undefined, '', 200, [7, 0, 0]),
        {
          ...client(1, 'x', 'pod', 200, [9, 0, 0]),
          attributes: { 'otel.metric.overflow': true },
          overflow: true,
        },
      ],
    },
    11_000,
  );
  assert.deepEqual(rows(graph), [
    // 10 s from the start. p99: 3 in (0, 0.01] → 0.01 × 2.97/3; node-1's rank 9.9 and the Service's
    // 99 are past the finite buckets (4 + 0 and 80 + 15) → the largest bound, 0.1
    'node-1 node -> shop/web-0 pod server n=10 rate=1.0000 err=6 ratio=0.6000 p99=0.100000',
    'other/client-x pod -> shop/web-0 pod server n=3 rate=0.3000 err=3 ratio=1.0000 p99=0.009900',
    'shop/caller pod -> _outside outside client n=2 rate=0.2000 err=2 ratio=1.0000 p99=0.009900',
    'shop/caller pod -> shop/api-0 pod client n=4 rate=0.4000 err=0 ratio=0.0000 p99=0.009900',
    'shop/caller pod -> web.shop.svc service client n=100 rate=10.0000 err=10 ratio=0.1000 p99=0.100000',
  ]);
  assert.equal(graph.view(podOf, monitored).windowSeconds, 10);
});

/** One client series of target `id` to web.shop.svc: `ok` answered 200 in ≤ 10 ms, `failed` 503 in ≤ 100 ms. */
function totals(id: number, ok: number, failed: number) {
  return {
    boundariesSeconds: BOUNDS,
    series: [
      client(id, 'web.shop.svc', 'service', 200, [ok, 0, 0]),
      client(id, 'web.shop.svc', 'service', 503, [0, failed, 0]),
    ],
  };
}

test('the window: the newest sample less the newest one at least 60 s older', () => {
  const graph = new ServiceGraph({ serverPeers: false, startMs: 0 });
  graph.sample(totals(1, 100, 0), 5_000);
  graph.sample(totals(1, 150, 10), 30_000);
  graph.sample(totals(1, 400, 20), 66_000);
  // base: the 5-s sample (66 − 60 = 6 s): 61 s of 300 + 20 requests; p99: rank 316.8, 300 in the
  // first bucket, 20 in (0.01, 0.1] → 0.01 + 0.09 × 16.8/20
  assert.deepEqual(rows(graph), [
    'shop/caller pod -> web.shop.svc service client n=320 rate=5.2459 err=20 ratio=0.0625 p99=0.085600',
  ]);
  assert.equal(graph.view(podOf, monitored).windowSeconds, 61);
  // an edge with no request in the window is not shown; a removed target's neither
  graph.sample(totals(1, 400, 20), 130_000);
  assert.deepEqual(rows(graph), []);
  graph.sample(
    { boundariesSeconds: BOUNDS, series: [...totals(1, 401, 20).series, ...totals(9, 5, 0).series] },
    131_000,
  );
  // base: the 66-s sample (the 130-s one was replaced by 131 s, of the same slot): 65 s
  assert.deepEqual(rows(graph), [
    'shop/caller pod -> web.shop.svc service client n=1 rate=0.0154 err=0 ratio=0.0000 p99=0.009900',
  ]);
});

test('two targets of one pod (re-created with a new identity) make one row', () => {
  const graph = new ServiceGraph({ serverPeers: false, startMs: 0 });
  graph.sample(
    { boundariesSeconds: BOUNDS, series: [...totals(1, 30, 0).series, ...totals(3, 60, 10).series] },
    20_000,
  );
  // rank 99: 90 in the first bucket, 10 in (0.01, 0.1] → 0.01 + 0.09 × 9/10
  assert.deepEqual(rows(graph), [
    'shop/caller pod -> web.shop.svc service client n=100 rate=5.0000 err=10 ratio=0.1000 p99=0.091000',
  ]);
});

test('memory: one sample per 5-s slot within the window and the one before it, 14 at the defaults', () => {
  const graph = new ServiceGraph({ serverPeers: false, startMs: 0 });
  // a collection every second for 200 s (a scrape per second, as the demo does)
  for (let t = 1; t <= 200; t++) graph.sample(totals(1, t * 10, t), t * 1_000);
  // kept: 139 (the base: newest at or before 140), the last of slots 28..39 (144, 149, …, 199), 200
  assert.equal(graph.sampleCount, 14);
  const view = graph.view(podOf, monitored);
  assert.equal(view.windowSeconds, 61);
  // 2000 − 1390 = 610 and 200 − 139 = 61 requests; p99: rank 664.29 → 0.01 + 0.09 × 54.29/61
  assert.deepEqual(rows(graph), [
    'shop/caller pod -> web.shop.svc service client n=671 rate=11.0000 err=61 ratio=0.0909 p99=0.090100',
  ]);
});

test('running totals past 2^32 (kept modulo 2^32) still give the window’s exact difference', () => {
  const graph = new ServiceGraph({ serverPeers: false, startMs: 0 });
  const big = 2 ** 32;
  graph.sample(totals(1, big - 5, 0), 5_000);
  graph.sample(totals(1, big + 10, 3), 66_000);
  // 15 + 3 requests; p99: rank 17.82, 15 in the first bucket → 0.01 + 0.09 × 2.82/3
  assert.deepEqual(rows(graph), [
    'shop/caller pod -> web.shop.svc service client n=18 rate=0.2951 err=3 ratio=0.1667 p99=0.094600',
  ]);
});
