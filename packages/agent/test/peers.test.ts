// The agent's peer wiring end to end in user space: the index's batches go through the peer table
// into a stand-in for the kernel's peers map; snapshots whose aggregates carry the ids that map
// gives go through the real pipeline; the exported client series name their peers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Aggregate, Snapshot } from '@owlk8s/ebpf';
import { ZERO_SELF } from '@owlk8s/ebpf/testing';
import { OUTSIDE_PEER, type Peer, type PeerChange } from '@owlk8s/k8s';
import { createPipeline } from '@owlk8s/otel';
import { connectPeers, type PeerMap } from '../src/enrichment/peer-table.ts';
import { ServiceGraph } from '../src/graph/service-graph.ts';

class KernelPeers implements PeerMap {
  readonly entries = new Map<string, number>();
  setPeer(ip: string, peerId: number): void {
    this.entries.set(ip, peerId);
  }
  deletePeer(ip: string): void {
    this.entries.delete(ip);
  }
}

class Index {
  listener: ((changes: readonly PeerChange[]) => void) | undefined;
  subscribe(l: (changes: readonly PeerChange[]) => void): () => void {
    this.listener = l;
    return () => {
      this.listener = undefined;
    };
  }
}

interface Line {
  metric: string;
  attributes: Record<string, unknown>;
  count?: number;
  value?: number;
}

const web: Peer = { kind: 'service', name: 'web', namespace: 'shop' };
const db0: Peer = { kind: 'pod', name: 'db-0', namespace: 'data', service: 'db' };
const nodeA: Peer = { kind: 'node', name: 'node-a' };

async function run(serverPeers: boolean, peersPerPod = 20) {
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
    peersPerPod,
  });
  const kernel = new KernelPeers();
  const index = new Index();
  const warnings: string[] = [];
  const peers = connectPeers({
    index,
    map: kernel,
    pipeline,
    serverPeers,
    logger: { warn: (_o, msg) => void warnings.push(msg) },
  });
  pipeline.setTarget(1, { resource: { 'k8s.pod.name': 'client-0', 'k8s.namespace.name': 'shop' } });
  const lines = async (): Promise<Line[]> => {
    out = '';
    await pipeline.forceFlush();
    return out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Line);
  };
  return { pipeline, kernel, index, peers, warnings, lines };
}

/** A client (or server) aggregate of target 1 to (or from) `ip`, with the id the kernel map holds for it. */
function agg(
  kernel: KernelPeers,
  ip: string,
  count: number,
  role: 'client' | 'server' = 'client',
  status = 200,
): Aggregate {
  const peerId = kernel.entries.get(ip);
  return {
    targetId: 1,
    role,
    port: 80,
    method: 'GET',
    statusCode: status,
    httpMinor: 1,
    count,
    durationSumNs: BigInt(count) * 1_000_000n,
    bucketCounts: [count],
    ...(peerId === undefined ? {} : { peerId }),
  };
}

function snap(aggregates: Aggregate[]): Snapshot {
  return { monotonicNs: 0n, time: new Date(), boundariesNs: [], aggregates, inFlight: [], self: ZERO_SELF };
}

function summary(lines: Line[], metric: string, attribute: string): string[] {
  return lines
    .filter((l) => l.metric === metric)
    .map((l) => `${l.attributes[attribute] ?? '-'} ${l.attributes['http.response.status_code']} ${l.count}`)
    .sort();
}

test('index batches name the kernel addresses; the exported client series carry server.address per peer, exactly', async () => {
  const t = await run(false);
  try {
    t.index.listener!([
      { address: '198.18.100.10', peer: web, previous: OUTSIDE_PEER },
      { address: '2001:2::100:10', peer: web, previous: OUTSIDE_PEER },
      { address: '198.18.2.7', peer: db0, previous: OUTSIDE_PEER },
      { address: '198.18.0.1', peer: nodeA, previous: OUTSIDE_PEER },
    ]);
    assert.deepEqual([...t.kernel.entries.values()], [1, 1, 2, 3]);
    t.pipeline.record(
      snap([
        agg(t.kernel, '198.18.100.10', 5),
        agg(t.kernel, '2001:2::100:10', 3, 'client', 503),
        agg(t.kernel, '198.18.2.7', 4),
        agg(t.kernel, '198.18.0.1', 2),
        agg(t.kernel, '203.0.113.9', 6), // no peer: outside the cluster
        agg(t.kernel, '198.18.9.9', 7, 'server'), // serverPeers off: no peer attributes
      ]),
    );
    const lines = await t.lines();
    assert.deepEqual(summary(lines, 'http.client.request.duration', 'server.address'), [
      '_outside 200 6',
      'db-0 200 4',
      'node-a 200 2',
      'web.shop.svc 200 5',
      'web.shop.svc 503 3',
    ]);
    assert.deepEqual(summary(lines, 'http.server.request.duration', 'client.address'), ['- 200 7']);
    const db = lines.find((l) => l.attributes['server.address'] === 'db-0')!;
    assert.equal(db.attributes['owlk8s.peer.kind'], 'pod');
    assert.equal(db.attributes['owlk8s.peer.namespace'], 'data');
    assert.equal(db.attributes['owlk8s.peer.service'], 'db');
    assert.equal(db.attributes['owlk8s.peer.pod'], 'db-0');
    assert.equal(db.attributes['server.port'], 80);
    // The Service goes away: its addresses leave the kernel map; its series keep their name.
    t.index.listener!([
      { address: '198.18.100.10', peer: OUTSIDE_PEER, previous: web },
      { address: '2001:2::100:10', peer: OUTSIDE_PEER, previous: web },
    ]);
    assert.deepEqual([...t.kernel.entries.keys()], ['198.18.2.7', '198.18.0.1']);
    assert.deepEqual(t.peers.table.stats(), { peers: 2, addresses: 2, refused: 0, lastId: 3 });
    assert.deepEqual(t.warnings, []);
  } finally {
    t.peers.close();
    await t.pipeline.shutdown();
  }
});

test('with serverPeers, server series name their caller; past peersPerPod, peers share _overflow', async () => {
  const t = await run(true, 2);
  try {
    t.index.listener!([
      { address: '198.18.100.10', peer: web, previous: OUTSIDE_PEER },
      { address: '198.18.2.7', peer: db0, previous: OUTSIDE_PEER },
      { address: '198.18.0.1', peer: nodeA, previous: OUTSIDE_PEER },
      {
        address: '198.18.3.1',
        peer: { kind: 'pod', name: 'caller-1', namespace: 'shop' },
        previous: OUTSIDE_PEER,
      },
    ]);
    t.pipeline.record(
      snap([
        agg(t.kernel, '198.18.100.10', 5),
        agg(t.kernel, '198.18.2.7', 4),
        agg(t.kernel, '198.18.0.1', 2),
        agg(t.kernel, '198.18.3.1', 1),
        agg(t.kernel, '203.0.113.9', 6),
        agg(t.kernel, '198.18.3.1', 7, 'server'),
        agg(t.kernel, '198.18.8.8', 2, 'server'),
      ]),
    );
    const lines = await t.lines();
    assert.deepEqual(summary(lines, 'http.client.request.duration', 'server.address'), [
      '_outside 200 6',
      '_overflow 200 3',
      'db-0 200 4',
      'web.shop.svc 200 5',
    ]);
    assert.deepEqual(summary(lines, 'http.server.request.duration', 'client.address'), [
      '_outside 200 2',
      'caller-1 200 7',
    ]);
    // Two peers (node-a, caller-1) went to the client side's overflow peer.
    assert.equal(lines.find((l) => l.metric === 'owlk8s.agent.peers.overflowed')?.value, 2);
    // What `owlk8s targets` shows of it: 2 peers named, 2 over budget; 1 caller named (198.18.8.8 is
    // outside: peer 0, never counted).
    assert.deepEqual(t.pipeline.peerUse(1), {
      client: { peers: 2, overflowed: 2 },
      server: { peers: 1, overflowed: 0 },
    });
    assert.equal(t.pipeline.peerUse(99), undefined);
    // The Service graph from the pipeline's own series: the same peers, one row per edge; the
    // server side's callers are not monitored pods here (podOf knows only target 1).
    const graph = new ServiceGraph({ serverPeers: true, startMs: 0 });
    graph.sample(t.pipeline.seriesTotals(), 10_000);
    const pod = { namespace: 'shop', name: 'client-0' };
    const view = graph.view(
      (id) => (id === 1 ? pod : undefined),
      (p) => p.namespace === pod.namespace && p.name === pod.name,
    );
    assert.deepEqual(
      view.edges.map((e) => `${e.caller} -> ${e.callee} ${e.calleeKind} ${e.measuredBy} ${e.requests}`),
      [
        '_outside -> shop/client-0 pod server 2',
        'shop/caller-1 -> shop/client-0 pod server 7',
        'shop/client-0 -> _outside outside client 6',
        'shop/client-0 -> _overflow overflow client 3',
        'shop/client-0 -> data/db-0 pod client 4',
        'shop/client-0 -> web.shop.svc service client 5',
      ],
    );
  } finally {
    t.peers.close();
    await t.pipeline.shutdown();
  }
});

test('writes the kernel refuses are exported as owlk8s.agent.peers.refused, 0 from the start', async () => {
  const t = await run(false);
  try {
    assert.equal((await t.lines()).find((l) => l.metric === 'owlk8s.agent.peers.refused')?.value, 0);
    // A full map: the third address and after are refused.
    const set = t.kernel.setPeer.bind(t.kernel);
    t.kernel.setPeer = (ip, id) => {
      if (t.kernel.entries.size >= 2) throw new Error('bpf_map_update_elem peers: E2BIG (map full)');
      set(ip, id);
    };
    t.index.listener!([
      { address: '198.18.100.10', peer: web, previous: OUTSIDE_PEER },
      { address: '198.18.2.7', peer: db0, previous: OUTSIDE_PEER },
      { address: '198.18.0.1', peer: nodeA, previous: OUTSIDE_PEER },
      { address: '198.18.0.2', peer: nodeA, previous: OUTSIDE_PEER },
    ]);
    assert.equal((await t.lines()).find((l) => l.metric === 'owlk8s.agent.peers.refused')?.value, 2);
    assert.equal(t.warnings.length, 1);
  } finally {
    t.peers.close();
    await t.pipeline.shutdown();
  }
});
