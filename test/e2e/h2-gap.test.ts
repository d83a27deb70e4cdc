// HTTP/2 after packets the capture never saw: Debian's h2load in a routed pod calls Debian's nginx
// (h2c) in another, and the node drops a few of nginx's packets between the two pods' interfaces
// (iptables FORWARD, one packet at each of a few places in the flow, matched to these two pods'
// addresses only). The server's interface saw each dropped packet, the client's did not: its
// capture sees the next packet first (a gap) and the resent one later (old bytes). The kernel must
// frame the direction again from the first packet that begins at a frame, so that one lost packet
// costs the calls whose answers it held, not the connection's other calls: the server role counts
// exactly what nginx logged, the client role counts every call but those its lost bytes held (the
// decoder's streams_lost_in_gap and calls without a status), and nothing is invented.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { h2load, must, type NginxServer, requireBpf, requireTool, run, sleep } from '@owlk8s/e2e/harness';
import { SimulatedCluster } from '../demo/cluster.ts';
import type { Sample } from '../demo/prom-text.ts';
import { h2Losses } from './h2.ts';
import { untilAttached } from './peers.ts';
import { type RunningAgent, startAgent } from './running-agent.ts';

const H2C = 8082;
const REQUESTS = 20_000;
const IN_FLIGHT = 100;
/** The nginx → caller packets dropped, by their place in the flow (1-based, one drop each). */
const DROP_AT = [200, 600, 1000];

function total(samples: readonly Sample[], name: string): number {
  return samples.filter((x) => x.name === name).reduce((n, x) => n + x.value, 0);
}

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
  const caller = await cluster.addPod({
    name: 'caller-a',
    namespace: 'shop',
    shape: 'routed',
    server: 'node',
    port: 7070,
    labels: { role: 'caller' },
  });
  cluster.service('web', 'shop', { app: 'web' }, [{ port: 8080 }, { port: H2C, name: 'h2c' }]);
  cluster.service('callers', 'shop', { role: 'caller' }, [{ port: 7070 }]);
  // One rule per drop, each its own nth counter: the rule drops the Nth nginx → caller packet it sees.
  const rules = DROP_AT.map((n) => [
    'FORWARD',
    '-s',
    web.pod.ipv4,
    '-d',
    caller.pod.ipv4,
    '-p',
    'tcp',
    '--sport',
    String(H2C),
    '-m',
    'statistic',
    '--mode',
    'nth',
    '--every',
    '1000000000',
    '--packet',
    String(n - 1),
    '-j',
    'DROP',
  ]);
  let agent: RunningAgent | undefined;
  const added: string[][] = [];
  try {
    agent = await startAgent(`
node: { name: node-1 }
targets:
  source: kubernetes
  kubernetes: { kubeconfig: ${cluster.kubeconfigPath} }
capture: { httpPorts: all }
logging: { level: error, format: json }
`);
    await untilAttached(agent, 2);
    for (const r of rules) {
      await must(['iptables', '-I', ...r]);
      added.push(r);
    }
    await h2load(caller.pod, REQUESTS, [
      '-c',
      '1',
      '-m',
      String(IN_FLIGHT),
      `http://${web.pod.ipv4}:${H2C}/`,
    ]);
    // Packets the rules dropped (TCP resent each): a rule's counter is on its line of -L -v -x.
    const listing = await must(['iptables', '-L', 'FORWARD', '-v', '-x', '-n']);
    const dropped = listing
      .split('\n')
      .filter((l) => l.includes('DROP') && l.includes(web.pod.ipv4) && l.includes(caller.pod.ipv4))
      .reduce((n, l) => n + Number(l.trim().split(/\s+/)[0]), 0);
    assert.equal(dropped, DROP_AT.length, `packets dropped by the rules:\n${listing}`);
    const logged: Record<string, number> = {};
    for (const line of (web.server as NginxServer).accessLog()) logged[line] = (logged[line] ?? 0) + 1;
    assert.deepEqual(logged, { 'GET 200': REQUESTS }, "nginx's access log");

    // Wait until both roles have accounted for every request (counted, or lost in a gap).
    const server = (s: Sample[]) => byStatus(s, 'http_server_request_duration_seconds_count', 'web-0');
    const client = (s: Sample[]) => byStatus(s, 'http_client_request_duration_seconds_count', 'caller-a');
    const accounted = (s: Sample[]) =>
      Object.values(client(s)).reduce((a, b) => a + b, 0) +
      total(s, 'owlk8s_agent_h2_streams_lost_in_gap_total');
    const deadline = Date.now() + 20_000;
    let samples = await agent.scrape();
    while (
      Date.now() < deadline &&
      !((server(samples)['GET 200'] ?? 0) === REQUESTS && accounted(samples) >= REQUESTS)
    ) {
      await sleep(300);
      samples = await agent.scrape();
    }
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
    for (const r of added) await run(['iptables', '-D', ...r]);
    await agent?.stop();
  }
});
