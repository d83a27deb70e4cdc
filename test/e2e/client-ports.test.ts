// A pod calling a Service's port and 50 other ports on the simulated node: the Service's port keeps
// its own client-side series with `server.port`, the 50 others share one series per status, without
// `server.port` and marked `owlk8s.server.port.collapsed=true`, with exact counts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load, requireBpf, sleep } from '@owlk8s/e2e/harness';
import { SimulatedCluster } from '../demo/cluster.ts';
import { sampleValue, startAgent } from './running-agent.ts';

const CLIENT = 'http_client_request_duration_seconds_count';
const FIRST_PORT = 9000;
const PORTS = 50;

test('client calls to ports no Service has collapse into one series per status; the Service port stays exact', async () => {
  requireBpf();
  await using cluster = await SimulatedCluster.create('node-1');
  cluster.namespace('shop');
  // The callee: Service port 80 → target port 8080 (both known); it answers on 50 more ports too,
  // redirected inside its namespace, so the caller's interface sees 51 destination ports.
  cluster.service('backend', 'shop', { app: 'backend' }, [{ port: 80, targetPort: 8080 }]);
  cluster.service('caller', 'shop', { app: 'caller' }, [{ port: 7070 }]);
  const backend = await cluster.addPod({
    name: 'backend',
    namespace: 'shop',
    shape: 'routed',
    server: 'node',
    port: 8080,
    labels: { app: 'backend' },
  });
  const caller = await cluster.addPod({
    name: 'caller',
    namespace: 'shop',
    shape: 'routed',
    server: 'node',
    port: 7070,
    labels: { app: 'caller' },
  });
  await backend.pod.redirectPorts(FIRST_PORT, PORTS, 8080);
  const agent = await startAgent(`
node: { name: node-1 }
targets:
  source: kubernetes
  kubernetes: { kubeconfig: ${cluster.kubeconfigPath} }
capture: { httpPorts: all }
logging: { level: error, format: json }
`);
  try {
    const url = (port: number, path: string) => `http://${backend.pod.ipv4}:${port}${path}`;
    const others = Array.from({ length: PORTS }, (_, i) => FIRST_PORT + i);
    const sent = await load(caller.pod, {
      base: `http://${backend.pod.ipv4}`,
      connections: 4,
      keepAlive: false,
      requests: [
        { path: url(8080, '/'), count: 7 },
        ...others.map((port) => ({ path: url(port, '/'), count: 2 })),
        ...others.slice(0, 10).map((port) => ({ path: url(port, '/status/503'), count: 1 })),
      ],
    });
    assert.deepEqual([sent.sent, sent.errors], [7 + 2 * PORTS + 10, 0], sent.firstError);
    await sleep(1500);
    const s = await agent.scrape();
    const mine = s.filter((x) => x.name === CLIENT && x.labels.k8s_pod_name === 'caller');
    assert.deepEqual(
      mine
        .map(
          (x) =>
            `${x.labels.server_port ?? '-'} ${x.labels.owlk8s_server_port_collapsed ?? '-'} ${x.labels.http_request_method} ${x.labels.http_response_status_code} ${x.value}`,
        )
        .sort(),
      ['- true GET 200 100', '- true GET 503 10', '8080 - GET 200 7'],
    );
    // The 60 kinds of requests (port × status) that went into the collapsed series.
    assert.equal(sampleValue(s, 'owlk8s_agent_client_ports_collapsed_total', {}), 60);
  } finally {
    await agent.stop();
  }
});
