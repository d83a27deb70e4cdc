import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Aggregate } from '@owlk8s/ebpf';
import { type CallRecord, DEFAULT_KNOWN_METHODS } from '../src/attributes.ts';
import type { PeerNames } from '../src/identity.ts';
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

const only = (s: SeriesStore) => [...s.series()];

test('running totals become exact increments; a total that went down is a kernel reset', () => {
  const s = store();
  s.registerConsumer();
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

test('kernel entries that differ only by peer keep their own running totals and add up in one series (without setPeers, peers are no attribute)', () => {
  const s = store();
  s.registerConsumer();
  s.setTarget(1, pod('a'), T0);
  const client = (peerId: number, n: number): Aggregate => ({
    ...aggregate({ targetId: 1, role: 'client', buckets: buckets({ 0: n }), sumNs: BigInt(n) }),
    peerId,
  });
  s.record(snapshot([client(11, 3), client(12, 2)], new Date(T0 + 1000)));
  s.record(snapshot([client(11, 4), client(12, 2)], new Date(T0 + 2000)));
  const [series] = only(s);
  assert.equal(only(s).length, 1);
  // 3 + 2, then peer 11's one more: 6 (one running total for both would have seen 4 after 2 and 2
  // after 4, a reset, and counted 9)
  assert.equal(series!.count, 6);
  assert.equal(series!.sumNs, 6n);
});

/** Peer names for tests: `peer-<id>`, `out` for peer 0, `over` for the overflow peer. */
function names(serverPeers: boolean): PeerNames {
  return {
    serverPeers,
    // Id 99 is one the namer does not know.
    attributes: (id, role) =>
      id === 99
        ? undefined
        : {
            [role === 'client' ? 'server.address' : 'client.address']:
              id === undefined ? 'out' : `peer-${id}`,
          },
    overflow: (role) => ({ [role === 'client' ? 'server.address' : 'client.address']: 'over' }),
  };
}

test('with setPeers, client series are kept apart by peer and named by it; peer 0 is one value; the server side only with serverPeers', () => {
  for (const serverPeers of [false, true]) {
    const s = store();
    s.registerConsumer();
    s.setPeers(names(serverPeers));
    s.setTarget(1, pod('a'), T0);
    const agg = (role: 'client' | 'server', peerId: number | undefined, n: number): Aggregate => ({
      ...aggregate({ targetId: 1, role, buckets: buckets({ 0: n }), sumNs: BigInt(n) }),
      ...(peerId === undefined ? {} : { peerId }),
    });
    s.record(
      snapshot(
        [
          agg('client', 11, 3),
          agg('client', 12, 2),
          agg('client', undefined, 5),
          agg('client', 99, 4),
          agg('server', 21, 7),
          agg('server', undefined, 1),
        ],
        new Date(T0 + 1000),
      ),
    );
    const got = only(s)
      .map(
        (x) =>
          `${x.metric} ${x.attributes['server.address'] ?? x.attributes['client.address'] ?? '-'} ${x.count}`,
      )
      .sort();
    assert.deepEqual(
      got,
      serverPeers
        ? ['0 out 1', '0 peer-21 7', '1 out 9', '1 peer-11 3', '1 peer-12 2']
        : ['0 - 8', '1 out 9', '1 peer-11 3', '1 peer-12 2'],
    );
  }
});

test("past peersPerTarget, a pod's further peers share its overflow peer, counted once each; other pods keep theirs", () => {
  const s = new SeriesStore({
    cardinalityLimit: 1000,
    peersPerTarget: 3,
    knownMethods: new Set(DEFAULT_KNOWN_METHODS),
    finalRetentionMs: 60_000,
    now: () => T0,
  });
  s.registerConsumer();
  s.setPeers(names(false));
  s.setTarget(1, pod('a'), T0);
  s.setTarget(2, pod('b'), T0);
  const agg = (targetId: number, peerId: number, status: number): Aggregate => ({
    ...aggregate({ targetId, role: 'client', statusCode: status, buckets: buckets({ 0: 1 }), sumNs: 1n }),
    peerId,
  });
  // Pod 1 calls peers 1..10 with two statuses each, plus the outside; pod 2 calls peers 1..2.
  const aggs: Aggregate[] = [];
  for (let p = 1; p <= 10; p++) aggs.push(agg(1, p, 200), agg(1, p, 503));
  aggs.push({ ...aggregate({ targetId: 1, role: 'client', buckets: buckets({ 0: 4 }), sumNs: 4n }) });
  aggs.push(agg(2, 1, 200), agg(2, 2, 200));
  s.record(snapshot(aggs, new Date(T0 + 1000)));
  const of = (target: number) =>
    only(s)
      .filter((x) => x.target?.id === target)
      .map((x) => `${x.attributes['server.address']} ${x.attributes['http.response.status_code']} ${x.count}`)
      .sort();
  assert.deepEqual(of(1), [
    'out 200 4',
    'over 200 7',
    'over 503 7',
    'peer-1 200 1',
    'peer-1 503 1',
    'peer-2 200 1',
    'peer-2 503 1',
    'peer-3 200 1',
    'peer-3 503 1',
  ]);
  assert.deepEqual(of(2), ['peer-1 200 1', 'peer-2 200 1']);
  assert.equal(s.overflowedPeersCount, 7);
  // The same peers again: counted once each, their counts go on in the same series.
  s.record(
    snapshot(
      aggs.map((a) => ({ ...a, bucketCounts: buckets({ 0: 2 }), count: 2 })),
      new Date(T0 + 2000),
    ),
  );
  assert.equal(s.overflowedPeersCount, 7);
  assert.equal(
    only(s).find(
      (x) => x.attributes['server.address'] === 'over' && x.attributes['http.response.status_code'] === 503,
    )!.count,
    14,
  );
});

test('aggregates of unknown targets wait (nothing lost: the next snapshot holds their totals)', () => {
  const s = store();
  const agg = aggregate({ targetId: 4, buckets: buckets({ 0: 3 }), sumNs: 3n });
  assert.equal(s.record(snapshot([agg], new Date(T0))).unknownTarget, 1);
  s.setTarget(4, pod('d'), T0);
  assert.deepEqual(s.record(snapshot([agg], new Date(T0 + 1))), {
    applied: 1,
    unknownTarget: 0,
    peerPending: 0,
    errors: [],
  });
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
  s.registerConsumer();
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
  for (const series of [...s.series()]) if (series.removedAtMs !== undefined) s.finalExported(series);
  assert.equal(s.liveSeriesCount(0), 0);
  assert.throws(() => s.setTarget(1, pod('a')), /never reused/);
});

test('a pod past its own budget overflows into its own series, with its identity; the other pods keep exact series', () => {
  const s = new SeriesStore({
    cardinalityLimit: 100,
    seriesPerTarget: 3,
    knownMethods: new Set(DEFAULT_KNOWN_METHODS),
    finalRetentionMs: 60_000,
    now: () => T0,
  });
  s.registerConsumer();
  s.setTarget(1, pod('hostile'), T0);
  s.setTarget(2, pod('polite'), T0);
  // the hostile pod answers 400 status codes (one request each) and calls 5 ports; the polite one 2 codes
  const hostile = Array.from({ length: 400 }, (_, i) =>
    aggregate({ targetId: 1, statusCode: 200 + i, buckets: buckets({ 1: 1 }), sumNs: 5n }),
  );
  const calls = [8001, 8002, 8003, 8004, 8005].map((port) =>
    aggregate({ targetId: 1, role: 'client', port, buckets: buckets({ 0: 2 }), sumNs: 4n }),
  );
  const polite = [200, 503].map((statusCode) =>
    aggregate({ targetId: 2, statusCode, buckets: buckets({ 0: 7 }), sumNs: 7n }),
  );
  s.record(snapshot([...hostile, ...calls, ...polite], new Date(T0)));
  const view = only(s).map(
    (x) =>
      `${x.target?.identity.resource['k8s.pod.name'] ?? 'node'} m${x.metric} ${x.overflow ? 'overflow' : x.metric === 0 ? x.attributes['http.response.status_code'] : `port ${x.attributes['server.port']}`} n=${x.count}`,
  );
  assert.deepEqual(view.sort(), [
    'hostile m0 200 n=1',
    'hostile m0 201 n=1',
    'hostile m0 202 n=1',
    'hostile m0 overflow n=397',
    'hostile m1 overflow n=4',
    'hostile m1 port 8001 n=2',
    'hostile m1 port 8002 n=2',
    'hostile m1 port 8003 n=2',
    'polite m0 200 n=7',
    'polite m0 503 n=7',
  ]);
  const own = only(s).find((x) => x.overflow && x.metric === 0)!;
  assert.deepEqual(own.attributes, { 'otel.metric.overflow': true });
  assert.equal(s.overflowSeries(0), undefined, 'the node-wide overflow series is not used');
  assert.equal(s.overflowedSeriesCount(0), 397);
  assert.equal(s.overflowedSeriesCount(1), 2);
  assert.equal(s.liveSeriesCount(0), 5);
  // the hostile pod's overflow goes with it
  s.removeTarget(1);
  for (const series of [...s.series()]) if (series.removedAtMs !== undefined) s.finalExported(series);
  assert.deepEqual(
    only(s).map((x) => x.target?.identity.resource['k8s.pod.name']),
    ['polite', 'polite'],
  );
});

test('a bad seriesPerTarget is refused, naming it', () => {
  assert.throws(
    () =>
      new SeriesStore({
        cardinalityLimit: 10,
        seriesPerTarget: 0,
        knownMethods: new Set(DEFAULT_KNOWN_METHODS),
        finalRetentionMs: 1,
      }),
    /seriesPerTarget: 0 is not a positive integer/,
  );
});

test('removed series are dropped after the retention even if a reader never collects', () => {
  let now = T0;
  const s = store(10, () => now);
  s.registerConsumer();
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

test('series with one source take its counts, series with several add them up; snapshot arrays are neither written nor kept', () => {
  // PUT and PATCH are not known methods here: both kernel aggregates fold into one _OTHER series.
  const s = new SeriesStore({
    cardinalityLimit: 2,
    knownMethods: new Set(['GET', 'POST']),
    finalRetentionMs: 60_000,
    now: () => T0,
  });
  s.registerConsumer();
  s.setTarget(1, pod('a'), T0);
  const frozen = (spec: Parameters<typeof aggregate>[0]) => {
    const a = aggregate(spec);
    return { ...a, bucketCounts: Object.freeze([...a.bucketCounts]) };
  };
  const round = (n: number) => [
    frozen({ targetId: 1, method: 'GET', buckets: buckets({ 0: n }), sumNs: BigInt(n) }),
    frozen({ targetId: 1, method: 'PUT', buckets: buckets({ 1: n }), sumNs: BigInt(n) }),
    frozen({ targetId: 1, method: 'PATCH', buckets: buckets({ 2: 2 * n }), sumNs: BigInt(n) }),
    // Past the limit of two series: into the overflow series, from two sources.
    frozen({ targetId: 1, method: 'GET', statusCode: 404, buckets: buckets({ 3: n }), sumNs: 1n }),
    frozen({ targetId: 1, method: 'GET', statusCode: 500, buckets: buckets({ 4: n }), sumNs: 1n }),
  ];
  let last = round(1);
  for (const n of [1, 2, 5]) {
    last = round(n);
    s.record(snapshot(last, new Date(T0 + 1000 * n)));
  }
  const byMethod = new Map(
    only(s).map((series) => [String(series.attributes['http.request.method']), series]),
  );
  // GET's only source is one aggregate: its totals are that aggregate's counts, in an array of
  // its own (a snapshot's arrays are not kept: they would outlive it into the old generation).
  assert.notEqual(byMethod.get('GET')!.buckets, last[0]!.bucketCounts);
  assert.deepEqual(byMethod.get('GET')!.buckets, buckets({ 0: 5 }));
  assert.equal(byMethod.get('GET')!.count, 5);
  assert.deepEqual(byMethod.get('_OTHER')!.buckets, buckets({ 1: 5, 2: 10 }));
  assert.equal(byMethod.get('_OTHER')!.count, 15);
  assert.deepEqual(s.overflowSeries(0)!.buckets, buckets({ 3: 5, 4: 5 }));
  assert.equal(s.overflowSeries(0)!.count, 10);
  // A reset of the single source: the totals carry on in an array of the series' own.
  s.record(
    snapshot(
      [frozen({ targetId: 1, method: 'GET', buckets: buckets({ 0: 1 }), sumNs: 1n })],
      new Date(T0 + 9000),
    ),
  );
  assert.deepEqual(byMethod.get('GET')!.buckets, buckets({ 0: 6 }));
  assert.equal(byMethod.get('GET')!.count, 6);
  s.record(
    snapshot(
      [frozen({ targetId: 1, method: 'GET', buckets: buckets({ 0: 3 }), sumNs: 3n })],
      new Date(T0 + 10_000),
    ),
  );
  assert.deepEqual(byMethod.get('GET')!.buckets, buckets({ 0: 8 }));
  assert.equal(byMethod.get('GET')!.count, 8);
});

test('every port, method, status and version of a target is its own series, at the edges of the key too', () => {
  const s = store();
  s.registerConsumer();
  s.setTarget(1, pod('a'), T0);
  // Statuses 100 and 611 bound the compact key; 99 and 612 take the wide one; port 65535 is the largest.
  const aggs = [
    ...[99, 100, 611, 612].map((statusCode, i) =>
      aggregate({ targetId: 1, port: 65535, statusCode, buckets: buckets({ 0: i + 1 }), sumNs: 1n }),
    ),
    aggregate({
      targetId: 1,
      port: 65535,
      statusCode: 100,
      httpMinor: 0,
      buckets: buckets({ 0: 10 }),
      sumNs: 1n,
    }),
    aggregate({
      targetId: 1,
      port: 65535,
      statusCode: 100,
      method: 'TRACE',
      buckets: buckets({ 0: 20 }),
      sumNs: 1n,
    }),
    aggregate({ targetId: 1, port: 0, statusCode: 100, buckets: buckets({ 0: 30 }), sumNs: 1n }),
    aggregate({
      targetId: 1,
      role: 'client',
      port: 65535,
      statusCode: 100,
      buckets: buckets({ 0: 40 }),
      sumNs: 1n,
    }),
  ];
  assert.equal(s.record(snapshot(aggs, new Date(T0))).applied, 8);
  assert.deepEqual(
    only(s)
      .map((x) => x.count)
      .sort((a, b) => a - b),
    [1, 2, 3, 4, 10, 20, 30, 40],
  );
});

function collapsing(seriesPerTarget?: number) {
  const s = new SeriesStore({
    cardinalityLimit: 100,
    ...(seriesPerTarget === undefined ? {} : { seriesPerTarget }),
    collapseUnknownClientPorts: true,
    knownMethods: new Set(DEFAULT_KNOWN_METHODS),
    finalRetentionMs: 60_000,
    now: () => T0,
  });
  s.registerConsumer();
  return s;
}

/** One line per series: pod, metric, port (or `*` when collapsed), method, status, error, count. */
const lines = (s: SeriesStore) =>
  only(s)
    .map((x) => {
      const a = x.attributes;
      const port = a['owlk8s.server.port.collapsed'] === true ? '*' : (a['server.port'] ?? '-');
      const what = x.overflow
        ? 'overflow'
        : `${port} ${a['http.request.method']} ${a['http.response.status_code'] ?? a['error.type']}`;
      return `${x.target?.identity.resource['k8s.pod.name']} m${x.metric} ${what} n=${x.count}`;
    })
    .sort();

test('client calls to unknown ports collapse into one series per pod, method and status; known ports and the server side stay exact', () => {
  const s = collapsing();
  s.setKnownClientPorts([80, 8080]);
  s.setTarget(1, pod('caller'), T0);
  s.setTarget(2, pod('other'), T0);
  const client = (
    targetId: number,
    port: number,
    statusCode: number,
    n: number,
    method: 'GET' | 'POST' = 'GET',
  ) =>
    aggregate({ targetId, role: 'client', port, method, statusCode, buckets: buckets({ 0: n }), sumNs: 1n });
  const unknown = Array.from({ length: 50 }, (_, i) => 9000 + i);
  s.record(
    snapshot(
      [
        client(1, 8080, 200, 7),
        client(1, 80, 200, 2),
        ...unknown.map((port) => client(1, port, 200, 2)),
        ...unknown.slice(0, 10).map((port) => client(1, port, 503, 1)),
        client(1, 9000, 200, 3, 'POST'),
        aggregate({
          targetId: 1,
          role: 'client',
          port: 9001,
          error: 'timeout',
          buckets: buckets({ 14: 1 }),
          sumNs: 1n,
        }),
        // Another pod's calls to the same unknown port: its own collapsed series.
        client(2, 9000, 200, 4),
        // Server side: the port is the pod's own, never collapsed.
        aggregate({ targetId: 1, port: 9999, buckets: buckets({ 0: 5 }), sumNs: 1n }),
      ],
      new Date(T0),
    ),
  );
  assert.deepEqual(lines(s), [
    'caller m0 9999 GET 200 n=5',
    'caller m1 * GET 200 n=100',
    'caller m1 * GET 503 n=10',
    'caller m1 * GET timeout n=1',
    'caller m1 * POST 200 n=3',
    'caller m1 80 GET 200 n=2',
    'caller m1 8080 GET 200 n=7',
    'other m1 * GET 200 n=4',
  ]);
  const collapsed = only(s).find((x) => x.attributes['owlk8s.server.port.collapsed'] === true)!;
  assert.deepEqual(collapsed.attributes, {
    'http.request.method': 'GET',
    'http.response.status_code': 200,
    'network.protocol.version': '1.1',
    'owlk8s.server.port.collapsed': true,
  });
  // 50 + 10 + 1 + 1 kinds of the caller, 1 of the other pod.
  assert.equal(s.collapsedClientSeriesCount, 63);
  // Running totals of a collapsed series' many sources add up: 2 more on one port, 1 more on another.
  s.record(
    snapshot(
      [
        ...unknown.map((port, i) => client(1, port, 200, i === 0 ? 4 : i === 1 ? 3 : 2)),
        ...unknown.slice(0, 10).map((port) => client(1, port, 503, 1)),
      ],
      new Date(T0 + 1000),
    ),
  );
  assert.equal(only(s).find((x) => x.key === '1|client|*|GET|200|1|')!.count, 103);
  assert.equal(s.collapsedClientSeriesCount, 63);
});

test('a changed set of known ports decides for requests not yet seen; series already made keep their attributes and their requests', () => {
  const s = collapsing();
  s.setKnownClientPorts([8080]);
  s.setTarget(1, pod('caller'), T0);
  const client = (port: number, statusCode: number, n: number) =>
    aggregate({ targetId: 1, role: 'client', port, statusCode, buckets: buckets({ 0: n }), sumNs: 1n });
  s.record(snapshot([client(8080, 200, 1), client(9000, 200, 1)], new Date(T0)));
  // A Service on 9000 appears, the one on 8080 goes.
  s.setKnownClientPorts([9000]);
  s.record(
    snapshot(
      [client(8080, 200, 3), client(9000, 200, 4), client(8080, 404, 1), client(9000, 404, 2)],
      new Date(T0 + 1000),
    ),
  );
  assert.deepEqual(
    lines(s),
    [
      // 8080 200 was seen while 8080 was known: still its own series, all 3 requests.
      'caller m1 * GET 404 n=1',
      'caller m1 * GET 200 n=4',
      'caller m1 8080 GET 200 n=3',
      'caller m1 9000 GET 404 n=2',
    ].sort(),
  );
});

test('collapsed series count against the pod budget like any other; collapsing off keeps every port', () => {
  const s = collapsing(2);
  s.setTarget(1, pod('caller'), T0);
  const calls = [200, 201, 202, 203].map((statusCode) =>
    aggregate({
      targetId: 1,
      role: 'client',
      port: 9000 + statusCode,
      statusCode,
      buckets: buckets({ 0: 1 }),
      sumNs: 1n,
    }),
  );
  s.record(snapshot(calls, new Date(T0)));
  // No known ports were given: every port is unknown.
  assert.deepEqual(lines(s), [
    'caller m1 * GET 200 n=1',
    'caller m1 * GET 201 n=1',
    'caller m1 overflow n=2',
  ]);

  const off = store();
  off.setKnownClientPorts([]);
  off.setTarget(1, pod('caller'), T0);
  off.record(snapshot(calls, new Date(T0)));
  assert.deepEqual(lines(off), [
    'caller m1 9200 GET 200 n=1',
    'caller m1 9201 GET 201 n=1',
    'caller m1 9202 GET 202 n=1',
    'caller m1 9203 GET 203 n=1',
  ]);
  assert.equal(off.collapsedClientSeriesCount, 0);
});

test('a known port that is not a TCP port is refused, naming it', () => {
  assert.throws(
    () => collapsing().setKnownClientPorts([80, 65536]),
    /setKnownClientPorts: 65536 is not a TCP port/,
  );
});

test('a series whose peer is not ready is made at a later snapshot with everything counted; a peer past peersPerTarget never waits', () => {
  const s = new SeriesStore({
    cardinalityLimit: 1000,
    peersPerTarget: 1,
    knownMethods: new Set(DEFAULT_KNOWN_METHODS),
    finalRetentionMs: 60_000,
    now: () => T0,
  });
  s.registerConsumer();
  const ready = new Set<number>();
  const asked: number[] = [];
  s.setPeers({
    ...names(false),
    ready: (id) => {
      asked.push(id);
      return ready.has(id);
    },
  });
  s.setTarget(1, pod('a'), T0);
  const agg = (peerId: number, n: number): Aggregate => ({
    ...aggregate({ targetId: 1, role: 'client', buckets: buckets({ 0: n }), sumNs: BigInt(n) }),
    peerId,
  });
  const got = () =>
    only(s)
      .map((x) => `${x.attributes['server.address']} ${x.count}`)
      .sort();
  // Peer 11 is being named: no series, nothing lost.
  let r = s.record(snapshot([agg(11, 3)], new Date(T0 + 1000)));
  assert.deepEqual([r.applied, r.peerPending], [0, 1]);
  assert.deepEqual(got(), []);
  r = s.record(snapshot([agg(11, 5)], new Date(T0 + 2000)));
  assert.deepEqual([r.applied, r.peerPending], [0, 1]);
  // Named: its series starts with all 5; later snapshots add increments; it is not asked again.
  ready.add(11);
  r = s.record(snapshot([agg(11, 5)], new Date(T0 + 3000)));
  assert.deepEqual([r.applied, r.peerPending], [1, 0]);
  s.record(snapshot([agg(11, 7), agg(12, 2)], new Date(T0 + 4000)));
  // Peer 12 is past peersPerTarget (1): the overflow peer, made at once, without asking for 12.
  assert.deepEqual(got(), ['over 2', 'peer-11 7']);
  assert.deepEqual(asked, [11, 11, 11]);
});

test('peers waiting to be named keep their places in peersPerTarget: a pod asking about 5 peers with a budget of 2 asks about 2', () => {
  const s = new SeriesStore({
    cardinalityLimit: 1000,
    peersPerTarget: 2,
    knownMethods: new Set(DEFAULT_KNOWN_METHODS),
    finalRetentionMs: 60_000,
    now: () => T0,
  });
  s.registerConsumer();
  const ready = new Set<number>();
  const asked = new Set<number>();
  s.setPeers({
    ...names(false),
    ready: (id) => {
      asked.add(id);
      return ready.has(id);
    },
  });
  s.setTarget(1, pod('a'), T0);
  const aggs = [1, 2, 3, 4, 5].map(
    (peerId): Aggregate => ({
      ...aggregate({ targetId: 1, role: 'client', buckets: buckets({ 0: peerId }), sumNs: 1n }),
      peerId,
    }),
  );
  const r = s.record(snapshot(aggs, new Date(T0 + 1000)));
  assert.deepEqual([r.applied, r.peerPending], [3, 2]);
  assert.deepEqual([...asked], [1, 2]);
  ready.add(1).add(2);
  s.record(snapshot(aggs, new Date(T0 + 2000)));
  assert.deepEqual(
    only(s)
      .map((x) => `${x.attributes['server.address']} ${x.count}`)
      .sort(),
    ['over 12', 'peer-1 1', 'peer-2 2'],
  );
});

/** A finished gRPC call (see packages/otel/src/attributes.ts CallRecord). */
function call(over: Partial<CallRecord> = {}): CallRecord {
  return {
    targetId: 1,
    role: 'server',
    serverPort: 8080,
    peerId: 0,
    durationNs: 1_000_000,
    method: 'POST',
    statusCode: 200,
    grpc: true,
    grpcStatus: 0,
    grpcMethod: 'shop.v1.Cart/Add',
    error: undefined,
    incomplete: false,
    ...over,
  };
}

test('HTTP/2 calls: each in the bucket its duration falls in, after the first snapshot gave the boundaries; unknown targets counted', () => {
  const s = store();
  s.setTarget(1, pod('a'), T0);
  assert.equal(s.recordCall(call()), false); // no snapshot yet: no boundaries
  s.record(snapshot([], new Date(T0 + 1000)));
  // 5 ms is the first boundary (inclusive); 1 ns more is the next bucket; 20 s is past the last.
  for (const d of [1_000_000, 5_000_000, 5_000_001, 20_000_000_000])
    assert.ok(s.recordCall(call({ durationNs: d })));
  assert.equal(s.recordCall(call({ targetId: 9 })), false);
  assert.equal(s.callsUnknownTarget, 1);
  const series = only(s);
  assert.equal(series.length, 1);
  assert.equal(series[0]!.metric, 2);
  assert.equal(series[0]!.count, 4);
  assert.equal(series[0]!.sumNs, 20_011_000_001n);
  assert.deepEqual(series[0]!.buckets, buckets({ 0: 2, 1: 1, 14: 1 }));
  assert.deepEqual(series[0]!.attributes, {
    'rpc.system.name': 'grpc',
    'rpc.method': 'shop.v1.Cart/Add',
    'rpc.status_code': 'OK',
    'server.port': 8080,
    'k8s.service.name': 'checkout',
  });
});

test("a pod's overflow series fed by a kernel aggregate and by HTTP/2 calls adds both up", () => {
  const s = new SeriesStore({
    cardinalityLimit: 100,
    seriesPerTarget: 1,
    knownMethods: new Set(DEFAULT_KNOWN_METHODS),
    finalRetentionMs: 60_000,
    now: () => T0,
  });
  s.setTarget(1, pod('a'), T0);
  const get = (n: number) =>
    aggregate({ targetId: 1, method: 'GET', buckets: buckets({ 0: n }), sumNs: BigInt(n) });
  const post = (n: number) =>
    aggregate({ targetId: 1, method: 'POST', buckets: buckets({ 0: n }), sumNs: BigInt(n) });
  // GET makes the pod's one series; POST goes to its overflow series, as its only source so far.
  s.record(snapshot([get(1), post(2)], new Date(T0 + 1000)));
  // An HTTP/2 request (not gRPC) is a new kind past the budget: the same overflow series.
  assert.ok(s.recordCall(call({ grpc: false, method: 'PUT', durationNs: 7 })));
  s.record(snapshot([get(1), post(5)], new Date(T0 + 2000)));
  const overflow = only(s).find((x) => x.overflow && x.metric === 0);
  assert.equal(overflow?.count, 5 + 1);
  assert.equal(overflow?.sumNs, 5n + 7n);
  assert.deepEqual(overflow?.buckets, buckets({ 0: 6 }));
});

test('HTTP/2 calls of equal attributes share one series, whatever was seen before their error', () => {
  const s = store();
  s.setTarget(1, pod('a'), T0);
  s.record(snapshot([], new Date(T0 + 1000)));
  // A response's HEADERS seen, then RST_STREAM; and one reset before any response.
  s.recordCall(call({ grpc: false, statusCode: 200, error: 'stream_reset' }));
  s.recordCall(call({ grpc: false, statusCode: undefined, error: 'stream_reset' }));
  // gRPC: a status not decoded and none sent are both _OTHER once a reset names the end.
  s.recordCall(call({ grpcStatus: undefined, incomplete: true, error: 'stream_reset' }));
  s.recordCall(call({ grpcStatus: undefined, incomplete: false, error: 'stream_reset' }));
  // Without an error they differ: error.type _OTHER only for a response decoded without a status.
  s.recordCall(call({ grpcStatus: undefined, incomplete: true }));
  s.recordCall(call({ grpcStatus: undefined, incomplete: false }));
  const got = only(s).map((x) => `${x.metric} ${JSON.stringify(x.attributes)} ${x.count}`);
  assert.equal(new Set(only(s).map((x) => JSON.stringify([x.metric, x.attributes]))).size, got.length);
  assert.deepEqual(
    only(s).map((x) => [x.metric, x.attributes['error.type'] ?? '-', x.count]),
    [
      [0, 'stream_reset', 2],
      [2, 'stream_reset', 2],
      [2, '-', 1],
      [2, '_OTHER', 1],
    ],
  );
});

test('HTTP/2 calls to a peer not ready to be named wait, added up, and go to its series once a snapshot finds it ready', () => {
  const s = new SeriesStore({
    cardinalityLimit: 1000,
    peersPerTarget: 5,
    knownMethods: new Set(DEFAULT_KNOWN_METHODS),
    finalRetentionMs: 60_000,
    now: () => T0,
  });
  const ready = new Set<number>();
  s.setPeers({ ...names(false), ready: (id) => ready.has(id) });
  s.setTarget(1, pod('a'), T0);
  s.record(snapshot([], new Date(T0 + 1000)));
  const client = (peerId: number, durationNs: number) => call({ role: 'client', peerId, durationNs });
  assert.ok(s.recordCall(client(11, 1_000_000)));
  assert.ok(s.recordCall(client(11, 30_000_000)));
  assert.ok(s.recordCall(call({ role: 'client', peerId: 0 }))); // peer 0 never waits
  assert.deepEqual(
    only(s).map((x) => `${x.attributes['server.address']} ${x.count}`),
    ['out 1'],
  );
  assert.equal(s.callsPeerPending, 2);
  s.record(snapshot([], new Date(T0 + 2000))); // still not ready: still waiting
  assert.equal(s.callsPeerPending, 2);
  ready.add(11);
  assert.ok(s.recordCall(client(11, 2_000_000))); // ready now: its series at once
  s.record(snapshot([], new Date(T0 + 3000))); // and the waiting ones join it
  assert.equal(s.callsPeerPending, 0);
  const peer = only(s).find((x) => x.attributes['server.address'] === 'peer-11');
  assert.equal(peer?.count, 3);
  assert.equal(peer?.sumNs, 33_000_000n);
  assert.deepEqual(peer?.buckets, buckets({ 0: 2, 3: 1 }));
  assert.equal(only(s).length, 2);
});
