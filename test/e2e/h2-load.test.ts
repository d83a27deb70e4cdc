// Issue 20 under load: 200,000 gRPC unary calls over four long-lived connections (four grpc-js
// clients at once in one caller pod, 100 calls in flight on each), through the agent's kernel
// program on both pods' interfaces: every call counted, exactly, on both sides, per status, and
// nothing lost on the way (no full ring, no gap, no undecodable header block).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { h2Load, load, requireBpf, sleep, startH2Servers } from '@owlk8s/e2e/harness';
import { SimulatedCluster } from '../demo/cluster.ts';
import type { Sample } from '../demo/prom-text.ts';
import { addCaller, h2Losses } from './h2.ts';
import { untilAttached } from './peers.ts';
import { clusterAgent, type RunningAgent } from './running-agent.ts';

const CLIENTS = 4;
const OK_PER_CLIENT = 45_000;
const NOT_FOUND_PER_CLIENT = 5_000;
const GRPC = 50051;

function calls(samples: readonly Sample[], metric: string, pod: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of samples)
    if (x.name === metric && x.labels.k8s_pod_name === pod)
      out[`${x.labels.rpc_method} ${x.labels.rpc_status_code}`] = x.value;
  return out;
}

test('200,000 gRPC calls over four long-lived connections: every one counted, on both sides', async () => {
  requireBpf();
  await using cluster = await SimulatedCluster.create('node-1');
  cluster.namespace('shop');
  const server = await cluster.addPod({
    name: 'grpc-0',
    namespace: 'shop',
    shape: 'routed',
    server: 'node',
    port: 8080,
    labels: { app: 'grpc' },
    ipv6: false,
  });
  const servers = await startH2Servers(server.pod, { h2c: 8081, grpc: GRPC });
  const caller = await addCaller(cluster, 'caller', 'routed', { ipv6: false });
  cluster.service('grpc', 'shop', { app: 'grpc' }, [{ port: 8080 }, { port: GRPC, name: 'grpc' }]);
  cluster.service('callers', 'shop', { role: 'caller' }, [{ port: 7070 }]);
  let agent: RunningAgent | undefined;
  try {
    agent = await clusterAgent(cluster, { kubernetes: 'peers: false' });
    await untilAttached(agent, 2);
    const warm = await load(caller.pod, {
      base: `http://${server.pod.ipv4}:8080/`,
      connections: 1,
      keepAlive: false,
      requests: [{ path: '/', count: 1, method: 'HEAD' }],
    });
    assert.equal(warm.errors, 0, warm.firstError);
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: CLIENTS }, () =>
        h2Load(caller.pod, {
          protocol: 'grpc',
          target: `${server.pod.ipv4}:${GRPC}`,
          calls: [
            { kind: 'unary', status: 0, count: OK_PER_CLIENT },
            { kind: 'unary', status: 5, count: NOT_FOUND_PER_CLIENT },
          ],
          concurrency: 100,
        }),
      ),
    );
    const seconds = (Date.now() - started) / 1000;
    for (const r of results)
      assert.deepEqual(r.answers, { 'Unary 0': OK_PER_CLIENT, 'Unary 5': NOT_FOUND_PER_CLIENT });
    const want = {
      'test.v1.Echo/Unary OK': CLIENTS * OK_PER_CLIENT,
      'test.v1.Echo/Unary NOT_FOUND': CLIENTS * NOT_FOUND_PER_CLIENT,
    };
    const deadline = Date.now() + 20_000;
    let samples = await agent.scrape();
    const done = () =>
      JSON.stringify(calls(samples, 'rpc_server_call_duration_seconds_count', 'grpc-0')) ===
        JSON.stringify(want) &&
      JSON.stringify(calls(samples, 'rpc_client_call_duration_seconds_count', 'caller')) ===
        JSON.stringify(want);
    while (!done() && Date.now() < deadline) {
      await sleep(500);
      samples = await agent.scrape();
    }
    const total = (CLIENTS * (OK_PER_CLIENT + NOT_FOUND_PER_CLIENT)).toLocaleString('en');
    const h2Counters = samples
      .filter((x) => /^owlk8s_agent_(kernel_)?h2_/.test(x.name) && x.value !== 0)
      .map((x) => `${x.name} ${x.value}`)
      .join(', ');
    assert.deepEqual(
      calls(samples, 'rpc_server_call_duration_seconds_count', 'grpc-0'),
      want,
      `server side, ${total} calls in ${seconds.toFixed(1)} s; h2 counters: ${h2Counters}`,
    );
    assert.deepEqual(calls(samples, 'rpc_client_call_duration_seconds_count', 'caller'), want, 'client side');
    assert.deepEqual(h2Losses(samples), []);
    console.log(
      `# ${total} gRPC calls in ${seconds.toFixed(1)} s (${Math.round((CLIENTS * (OK_PER_CLIENT + NOT_FOUND_PER_CLIENT)) / seconds)} calls/s)`,
    );
  } finally {
    await agent?.stop();
    await servers.stop();
  }
});
