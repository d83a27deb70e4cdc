// Issue 20 end to end: real HTTP/2 (Node's http2, h2c) and gRPC (@grpc/grpc-js) servers and
// clients in network namespaces, the agent's real kernel program on their interfaces, the
// Prometheus endpoint read back. A server pod serves h2c and gRPC; a routed caller and a bridged
// caller each make h2c requests (100 concurrent streams on one connection) and gRPC calls (unary
// with every status from OK to UNAUTHENTICATED, server streaming), one over IPv4 and the other
// over IPv6. Every series is exact on both sides: the server's per method and status summing both
// callers, each caller's own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { h2Load, load, requireBpf, sleep, startH2Servers } from '@owlk8s/e2e/harness';
import { SimulatedCluster } from '../demo/cluster.ts';
import type { Sample } from '../demo/prom-text.ts';
import { endpointSlice } from '../k8s-api/index.ts';
import { addCaller, GRPC_NAMES, h2Losses } from './h2.ts';
import { untilAttached } from './peers.ts';
import { clusterAgent, type RunningAgent } from './running-agent.ts';

const H2C = 8081;
const GRPC = 50051;

/** `METRIC method status` → count, for one pod's series of the given metrics (HTTP/2 only). */
function tally(samples: readonly Sample[], pod: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of samples) {
    if (x.labels.k8s_pod_name !== pod) continue;
    let key: string | undefined;
    if (
      x.name === 'rpc_server_call_duration_seconds_count' ||
      x.name === 'rpc_client_call_duration_seconds_count'
    )
      key = `${x.name.startsWith('rpc_server') ? 'rpc.server' : 'rpc.client'} ${x.labels.rpc_method} ${x.labels.rpc_status_code}`;
    else if (
      (x.name === 'http_server_request_duration_seconds_count' ||
        x.name === 'http_client_request_duration_seconds_count') &&
      x.labels.network_protocol_version === '2'
    )
      key = `${x.name.startsWith('http_server') ? 'http.server' : 'http.client'} ${x.labels.http_request_method} ${x.labels.http_response_status_code}`;
    if (key === undefined || x.value === 0) continue;
    out[key] = (out[key] ?? 0) + x.value;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function add(into: Record<string, number>, key: string, n: number): void {
  into[key] = (into[key] ?? 0) + n;
}

test('h2c and gRPC between pods, routed and bridged, IPv4 and IPv6: every call counted exactly on both sides', async () => {
  requireBpf();
  await using cluster = await SimulatedCluster.create('node-1');
  cluster.namespace('shop');
  const server = await cluster.addPod({
    name: 'h2-0',
    namespace: 'shop',
    shape: 'routed',
    server: 'node',
    port: 8080,
    labels: { app: 'h2' },
  });
  const servers = await startH2Servers(server.pod, { h2c: H2C, grpc: GRPC });
  const callers = [await addCaller(cluster, 'caller-a'), await addCaller(cluster, 'caller-b', 'bridged')];
  cluster.service('h2', 'shop', { app: 'h2' }, [
    { port: 8080 },
    { port: H2C, name: 'h2c' },
    { port: GRPC, name: 'grpc' },
  ]);
  cluster.service('callers', 'shop', { role: 'caller' }, [{ port: 7070 }]);
  cluster.api.apply(
    endpointSlice({
      name: 'h2-v4',
      namespace: 'shop',
      service: 'h2',
      addressType: 'IPv4',
      endpoints: [{ addresses: [server.pod.ipv4], pod: 'h2-0' }],
      ports: [{ port: 8080 }],
    }),
  );
  let agent: RunningAgent | undefined;
  try {
    agent = await clusterAgent(cluster);
    // Every pod attached, then one HTTP/1 request per caller through the filters (left out below):
    // the HTTP/2 connections below start after it, so the kernel sees their prefaces.
    await untilAttached(agent, 3);
    for (const c of callers) {
      const r = await load(c.pod, {
        base: `http://${server.pod.ipv4}:8080/`,
        connections: 1,
        keepAlive: false,
        requests: [{ path: '/', count: 1, method: 'HEAD' }],
      });
      assert.equal(r.errors, 0, r.firstError);
    }
    const expected: Record<string, Record<string, number>> = { 'h2-0': {}, 'caller-a': {}, 'caller-b': {} };
    const families = {
      'caller-a': { h2c: 'v4', grpc: 'v6' },
      'caller-b': { h2c: 'v6', grpc: 'v4' },
    } as const;
    for (const c of callers) {
      const name = c.spec.name as 'caller-a' | 'caller-b';
      const fam = families[name];
      const host = (f: 'v4' | 'v6') => (f === 'v4' ? server.pod.ipv4 : `[${server.pod.ipv6}]`);
      const requests = [
        { method: 'GET', path: '/', count: 60, status: 200 },
        { method: 'POST', path: '/status/503', count: 30, status: 503 },
        { method: 'DELETE', path: '/nope', count: 10, status: 404 },
      ];
      const h2 = await h2Load(c.pod, {
        protocol: 'h2c',
        base: `http://${host(fam.h2c)}:${H2C}`,
        requests: requests.map(({ method, path, count }) => ({ method, path, count })),
      });
      assert.deepEqual([h2.sent, h2.errors], [100, 0], `${name}: ${h2.firstError}`);
      for (const r of requests) {
        add(expected['h2-0']!, `http.server ${r.method} ${r.status}`, r.count);
        add(expected[name]!, `http.client ${r.method} ${r.status}`, r.count);
      }
      const unary = GRPC_NAMES.map((_, status) => ({ kind: 'unary' as const, status, count: 2 }));
      const g = await h2Load(c.pod, {
        protocol: 'grpc',
        target: `${host(fam.grpc)}:${GRPC}`,
        calls: [
          ...unary,
          { kind: 'stream', status: 0, messages: 5, count: 3 },
          { kind: 'stream', status: 13, messages: 2, count: 1 },
        ],
      });
      assert.equal(g.sent, 38, name);
      GRPC_NAMES.forEach((code, status) => {
        assert.equal(g.answers[`Unary ${status}`], 2, `${name}: unary ${code}`);
        add(expected['h2-0']!, `rpc.server test.v1.Echo/Unary ${code}`, 2);
        add(expected[name]!, `rpc.client test.v1.Echo/Unary ${code}`, 2);
      });
      for (const [code, n] of [
        ['OK', 3],
        ['INTERNAL', 1],
      ] as const) {
        add(expected['h2-0']!, `rpc.server test.v1.Echo/Stream ${code}`, n);
        add(expected[name]!, `rpc.client test.v1.Echo/Stream ${code}`, n);
      }
    }
    const want = (pod: string) =>
      Object.fromEntries(Object.entries(expected[pod]!).sort(([a], [b]) => (a < b ? -1 : 1)));
    // Scrape until the counts stop short of nothing (the ring is read every 100 ms; a series of a
    // new peer is made once it is named), within 15 s; then the exact comparison.
    const deadline = Date.now() + 15_000;
    let samples = await agent.scrape();
    while (
      Date.now() < deadline &&
      !['h2-0', 'caller-a', 'caller-b'].every(
        (p) => JSON.stringify(tally(samples, p)) === JSON.stringify(want(p)),
      )
    ) {
      await sleep(300);
      samples = await agent.scrape();
    }
    assert.deepEqual(tally(samples, 'h2-0'), want('h2-0'));
    assert.deepEqual(tally(samples, 'caller-a'), want('caller-a'));
    assert.deepEqual(tally(samples, 'caller-b'), want('caller-b'));
    // Nothing lost on the way: no gap, no full ring, no undecodable header block.
    assert.deepEqual(h2Losses(samples), []);
  } finally {
    await agent?.stop();
    await servers.stop();
  }
});
