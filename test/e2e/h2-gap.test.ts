// HTTP/2 after packets the capture never saw: Debian's h2load in a routed pod calls Debian's nginx
// (h2c) in another, and the node drops a few of nginx's packets between the two pods' interfaces
// (iptables FORWARD, one packet at each of a few places in the flow, matched to these two pods'
// addresses only). The server's interface saw each dropped packet, the client's did not: its
// capture sees the next packet first (a gap) and the resent one later (old bytes). The kernel must
// frame the direction again from the first packet that begins at a frame, so that one lost packet
// costs the calls whose answers it held, not the connection's other calls: the server role counts
// exactly what nginx logged, the client role counts every call but those its lost bytes held (the
// decoder's streams_lost_in_gap and calls without a status), and nothing is invented. The same
// with @grpc/grpc-js unary calls, whose HPACK tables refer back to entries a lost packet may hold:
// after a gap their fields can be unknown, but every call is still counted once or lost in a gap.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  h2Load,
  h2load,
  must,
  type NginxServer,
  requireBpf,
  requireTool,
  run,
  startH2Servers,
} from '@owlk8s/e2e/harness';
import { SimulatedCluster } from '../demo/cluster.ts';
import type { Sample } from '../demo/prom-text.ts';
import { addCaller, h2Losses } from './h2.ts';
import { untilAttached } from './peers.ts';
import { clusterAgent, type RunningAgent, scrapeUntil, total } from './running-agent.ts';

const H2C = 8082;
const REQUESTS = 20_000;
const IN_FLIGHT = 100;
const GRPC = 50051;
/** gRPC unary calls: 90 % OK, 10 % NOT_FOUND. */
const CALLS = 6_000;
/** The server → caller packets dropped, by their place in the flow (1-based, one drop each). */
const DROP_AT = { nginx: [200, 600, 1000], grpc: [10, 25, 40, 55, 70, 85] };
/** gRPC loads made at most, until one showed the client's capture a gap. */
const ATTEMPTS = 3;

/** `status` → count of one pod's HTTP/2 series of `metric` ('none': no status). */
function byStatus(samples: readonly Sample[], metric: string, pod: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of samples)
    if (x.name === metric && x.labels.k8s_pod_name === pod && x.labels.network_protocol_version === '2') {
      const k = `${x.labels.http_request_method} ${x.labels.http_response_status_code ?? 'none'}`;
      out[k] = (out[k] ?? 0) + x.value;
    }
  return out;
}

/**
 * iptables FORWARD rules dropping the `at`-th packets from `from`'s TCP port `sport` to `to`
 * (one rule per drop, each its own nth counter), on the node between the two pods' interfaces.
 */
class Drops {
  readonly #rules: string[][];
  readonly #added: string[][] = [];
  readonly #from: string;
  readonly #to: string;
  readonly at: readonly number[];

  constructor(from: string, to: string, sport: number, at: readonly number[]) {
    this.#from = from;
    this.#to = to;
    this.at = at;
    this.#rules = at.map((n) => [
      'FORWARD',
      ...['-s', from, '-d', to, '-p', 'tcp', '--sport', String(sport)],
      ...['-m', 'statistic', '--mode', 'nth', '--every', '1000000000', '--packet', String(n - 1)],
      ...['-j', 'DROP'],
    ]);
  }

  async add(): Promise<void> {
    for (const r of this.#rules) {
      await must(['iptables', '-I', ...r]);
      this.#added.push(r);
    }
  }

  /** Packets the rules dropped (TCP resent each): each rule's counter, from -L -v -x. */
  async count(): Promise<number> {
    const listing = await must(['iptables', '-L', 'FORWARD', '-v', '-x', '-n']);
    return listing
      .split('\n')
      .filter((l) => l.includes('DROP') && l.includes(this.#from) && l.includes(this.#to))
      .reduce((n, l) => n + Number(l.trim().split(/\s+/)[0]), 0);
  }

  async remove(): Promise<void> {
    for (const r of this.#added) await run(['iptables', '-D', ...r]);
    this.#added.length = 0;
  }
}

test('HTTP/2 packets lost between two pods: the client role is framed again after each gap, and loses only the calls the lost bytes held', async (t) => {
  requireBpf();
  requireTool('/usr/bin/h2load', 'nghttp2-client');
  requireTool('/usr/sbin/iptables', 'iptables');
  await using cluster = await SimulatedCluster.create('node-1');
  cluster.namespace('shop');
  const web = await cluster.addPod({
    name: 'web-0',
    namespace: 'shop',
    shape: 'routed',
    server: 'nginx',
    port: 8080,
    nginx: { h2cPort: H2C, accessLog: true },
    labels: { app: 'web' },
  });
  const caller = await addCaller(cluster, 'caller-a');
  cluster.service('web', 'shop', { app: 'web' }, [{ port: 8080 }, { port: H2C, name: 'h2c' }]);
  cluster.service('callers', 'shop', { role: 'caller' }, [{ port: 7070 }]);
  let agent: RunningAgent | undefined;
  const drops = new Drops(web.pod.ipv4, caller.pod.ipv4, H2C, DROP_AT.nginx);
  try {
    agent = await clusterAgent(cluster);
    await untilAttached(agent, 2);
    await drops.add();
    await h2load(caller.pod, REQUESTS, [
      '-c',
      '1',
      '-m',
      String(IN_FLIGHT),
      `http://${web.pod.ipv4}:${H2C}/`,
    ]);
    const dropped = await drops.count();
    assert.equal(dropped, drops.at.length, 'packets dropped by the rules');
    const logged: Record<string, number> = {};
    for (const line of (web.server as NginxServer).accessLog()) logged[line] = (logged[line] ?? 0) + 1;
    assert.deepEqual(logged, { 'GET 200': REQUESTS }, "nginx's access log");

    // Wait until both roles have accounted for every request (counted, or lost in a gap).
    const server = (s: readonly Sample[]) =>
      byStatus(s, 'http_server_request_duration_seconds_count', 'web-0');
    const client = (s: readonly Sample[]) =>
      byStatus(s, 'http_client_request_duration_seconds_count', 'caller-a');
    const accounted = (s: readonly Sample[]) =>
      Object.values(client(s)).reduce((a, b) => a + b, 0) +
      total(s, 'owlk8s_agent_h2_streams_lost_in_gap_total');
    const samples = await scrapeUntil(
      agent,
      (s) => (server(s)['GET 200'] ?? 0) === REQUESTS && accounted(s) >= REQUESTS,
      20_000,
    );
    const gaps = total(samples, 'owlk8s_agent_kernel_h2_gaps_total');
    const resyncs = total(samples, 'owlk8s_agent_kernel_h2_resyncs_total');
    const lost = total(samples, 'owlk8s_agent_h2_streams_lost_in_gap_total');
    const got = client(samples);
    t.diagnostic(
      `dropped ${dropped}; kernel h2 gaps ${gaps}, resyncs ${resyncs}; client role ${JSON.stringify(got)}, lost in gap ${lost}; losses: ${h2Losses(samples).join(', ')}`,
    );
    // The server's interface saw every packet: exact.
    assert.deepEqual(server(samples), { 'GET 200': REQUESTS }, 'server role');
    // The client's saw a gap for each drop that newer bytes overtook (a drop at a burst's end is
    // resent before anything newer, and is no gap), and framed the direction again after each.
    assert.ok(gaps >= 1 && gaps <= dropped, `kernel h2 gaps ${gaps}, packets dropped ${dropped}`);
    assert.equal(resyncs, gaps, 'every gap framed again');
    // Every request accounted for once: counted (with its status, or without one when the lost
    // bytes held its HEADERS but not its end), or lost in the gap; nothing else, nothing invented.
    assert.deepEqual(
      Object.keys(got).sort(),
      Object.keys(got).length === 1 ? ['GET 200'] : ['GET 200', 'GET none'],
    );
    assert.equal(
      (got['GET 200'] ?? 0) + (got['GET none'] ?? 0) + lost,
      REQUESTS,
      'client role: counted + lost in gap',
    );
    // What a lost packet can take: the calls whose answers were in it, at most the streams in
    // flight on the connection at the time; not the connection's other calls.
    assert.ok(
      REQUESTS - (got['GET 200'] ?? 0) <= IN_FLIGHT * gaps,
      `client role: ${got['GET 200'] ?? 0} counted with their status of ${REQUESTS}, after ${gaps} gaps`,
    );
  } finally {
    await drops.remove();
    await agent?.stop();
  }
});

test('gRPC packets lost between two pods: the client role goes on counting every call after each gap', async (t) => {
  requireBpf();
  requireTool('/usr/sbin/iptables', 'iptables');
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
  const servers = await startH2Servers(server.pod, { h2c: 8081, grpc: GRPC });
  const caller = await addCaller(cluster, 'caller-a');
  cluster.service('h2', 'shop', { app: 'h2' }, [{ port: 8080 }, { port: GRPC, name: 'grpc' }]);
  cluster.service('callers', 'shop', { role: 'caller' }, [{ port: 7070 }]);
  let agent: RunningAgent | undefined;
  const drops = new Drops(server.pod.ipv4, caller.pod.ipv4, GRPC, DROP_AT.grpc);
  try {
    agent = await clusterAgent(cluster);
    await untilAttached(agent, 2);
    const calls = (s: readonly Sample[], metric: string, pod: string) => {
      const out: Record<string, number> = {};
      for (const x of s)
        if (x.name === metric && x.labels.k8s_pod_name === pod && x.value !== 0) {
          const k = `${x.labels.rpc_method} ${x.labels.rpc_status_code ?? 'none'}`;
          out[k] = (out[k] ?? 0) + x.value;
        }
      return out;
    };
    const serverCalls = (s: readonly Sample[]) => calls(s, 'rpc_server_call_duration_seconds_count', 'h2-0');
    const clientCalls = (s: readonly Sample[]) =>
      calls(s, 'rpc_client_call_duration_seconds_count', 'caller-a');
    const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
    // grpc-js's client sends its calls in rounds (100, then the next when all are answered), so a
    // dropped packet is often the last of a burst, resent before anything newer: no gap. Loads of
    // CALLS are made, each with its own drops, until one gap was seen (at most ATTEMPTS loads).
    let made = 0;
    let dropped = 0;
    let want: Record<string, number> = {};
    let samples = await agent.scrape();
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      await drops.add();
      const g = await h2Load(caller.pod, {
        protocol: 'grpc',
        target: `${server.pod.ipv4}:${GRPC}`,
        calls: [
          { kind: 'unary', status: 0, count: CALLS - CALLS / 10 },
          { kind: 'unary', status: 5, count: CALLS / 10 },
        ],
      });
      assert.deepEqual(
        g.answers,
        { 'Unary 0': CALLS - CALLS / 10, 'Unary 5': CALLS / 10 },
        'what the client got',
      );
      const d = await drops.count();
      await drops.remove();
      assert.equal(d, drops.at.length, 'packets dropped by the rules');
      dropped += d;
      made += CALLS;
      want = { 'test.v1.Echo/Unary OK': made - made / 10, 'test.v1.Echo/Unary NOT_FOUND': made / 10 };
      const settled = (s: readonly Sample[]) =>
        JSON.stringify(serverCalls(s)) === JSON.stringify(want) &&
        sum(clientCalls(s)) + total(s, 'owlk8s_agent_h2_streams_lost_in_gap_total') >= made;
      samples = await scrapeUntil(agent, settled, 20_000);
      if (total(samples, 'owlk8s_agent_kernel_h2_gaps_total') > 0) break;
    }
    const gaps = total(samples, 'owlk8s_agent_kernel_h2_gaps_total');
    const resyncs = total(samples, 'owlk8s_agent_kernel_h2_resyncs_total');
    const lost = total(samples, 'owlk8s_agent_h2_streams_lost_in_gap_total');
    const got = clientCalls(samples);
    t.diagnostic(
      `${made} calls, dropped ${dropped}; kernel h2 gaps ${gaps}, resyncs ${resyncs}; client role ${JSON.stringify(got)}, lost in gap ${lost}; losses: ${h2Losses(samples).join(', ')}`,
    );
    assert.deepEqual(serverCalls(samples), want, 'server role');
    assert.ok(gaps >= 1 && gaps <= dropped, `kernel h2 gaps ${gaps}, packets dropped ${dropped}`);
    assert.equal(resyncs, gaps, 'every gap framed again');
    // Every call accounted for once, counted (its status known or not: the lost packet may have
    // held header-table entries later answers refer to) or lost in a gap; a known status is never
    // one the server did not send.
    assert.equal(sum(got) + lost, made, 'client role: counted + lost in gap');
    for (const [k, n] of Object.entries(got))
      if (k in want) assert.ok(n <= want[k]!, `client role: ${k} counted ${n}`);
    // What a lost packet can take: the calls in flight when it went by (100 at most), not the rest.
    assert.ok(
      made - sum(got) <= IN_FLIGHT * gaps,
      `client role: ${sum(got)} of ${made} counted after ${gaps} gaps`,
    );
  } finally {
    await drops.remove();
    await agent?.stop();
    await servers.stop();
  }
});
