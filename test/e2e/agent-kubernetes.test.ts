// The agent in its Kubernetes mode against the test API server: pods and Services come and go
// while traffic flows, and the Prometheus endpoint says exactly what was sent, under the right names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load, requireBpf, sleep } from '@owlk8s/e2e/harness';
import { SimulatedCluster } from '../demo/cluster.ts';
import { packetSocketsOf } from './kernel-state.ts';
import { sampleSum, sampleValue, startAgent } from './running-agent.ts';

const SERVER = 'http_server_request_duration_seconds_count';
const CLIENT = 'http_client_request_duration_seconds_count';

test('Kubernetes mode: exact counts per pod, status, workload and Service; removed pods stop; ignored namespaces are not measured', async () => {
  requireBpf();
  // the agent runs in this process: the packet sockets this process holds are the agent's
  const socketsBefore = packetSocketsOf(process.pid);
  await using cluster = await SimulatedCluster.create('node-1');
  cluster.namespace('shop');
  cluster.namespace('private', { 'owlk8s/ignore': 'true' });
  const { replicaSet: webRs } = cluster.deployment('shop', 'web');
  const api = cluster.statefulSet('shop', 'api');
  cluster.service('web', 'shop', { app: 'web' }, [{ port: 80 }]);
  cluster.service('api', 'shop', { app: 'api' }, [{ port: 80, name: 'http', targetPort: 'http' }]);
  cluster.service('hidden', 'private', { app: 'hidden' }, [{ port: 80 }]);
  const webA = await cluster.addPod({
    name: 'web-a',
    namespace: 'shop',
    shape: 'routed',
    server: 'nginx',
    port: 80,
    labels: { app: 'web' },
    owner: webRs,
  });
  const webB = await cluster.addPod({
    name: 'web-b',
    namespace: 'shop',
    shape: 'bridged',
    server: 'nginx',
    port: 80,
    labels: { app: 'web' },
    owner: webRs,
  });
  const api0 = await cluster.addPod({
    name: 'api-0',
    namespace: 'shop',
    shape: 'bridged',
    server: 'node',
    port: 8080,
    portName: 'http',
    labels: { app: 'api' },
    owner: api,
  });
  const hidden = await cluster.addPod({
    name: 'hidden',
    namespace: 'private',
    shape: 'routed',
    server: 'nginx',
    port: 80,
    labels: { app: 'hidden' },
  });
  // A pod that backs no Service is not a target in the default scope.
  const lonely = await cluster.addPod({
    name: 'lonely',
    namespace: 'shop',
    shape: 'routed',
    server: 'nginx',
    port: 80,
    labels: { app: 'lonely' },
  });

  const agent = await startAgent(`
node: { name: node-1 }
targets:
  source: kubernetes
  kubernetes: { kubeconfig: ${cluster.kubeconfigPath} }
logging: { level: warn, format: json }
`);
  try {
    const targets = await agent.targets();
    assert.deepEqual(
      targets
        .map(
          (t) =>
            `${t.namespace}/${t.pod}: ${t.ips.map((i) => `${i.ip} ${i.state} ${i.interface}`).join(', ')}`,
        )
        .sort(),
      [webA, webB, api0]
        .map(
          (s) =>
            `shop/${s.spec.name}: ${s.pod.ips.map((ip) => `${ip} attached ${s.pod.hostIfName}`).join(', ')}`,
        )
        .sort(),
    );

    const sent = await Promise.all([
      load(undefined, {
        base: webA.server.url(''),
        connections: 4,
        requests: [
          { path: '/', count: 100 },
          { path: '/status/404', count: 20 },
        ],
      }),
      load(undefined, {
        base: webB.server.url('', 6),
        connections: 4,
        requests: [
          { path: '/', count: 50 },
          { path: '/status/500', count: 5 },
        ],
      }),
      load(webA.pod, {
        base: api0.server.url(''),
        connections: 2,
        requests: [
          { path: '/status/200', count: 30 },
          { path: '/status/503', count: 3 },
        ],
      }),
      load(undefined, { base: hidden.server.url(''), connections: 1, requests: [{ path: '/', count: 10 }] }),
      load(undefined, { base: lonely.server.url(''), connections: 1, requests: [{ path: '/', count: 12 }] }),
    ]);
    assert.deepEqual(
      sent.map((r) => r.errors),
      [0, 0, 0, 0, 0],
    );
    await sleep(1500);
    let s = await agent.scrape();
    assert.equal(sampleValue(s, SERVER, { k8s_pod_name: 'web-a', http_response_status_code: '200' }), 100);
    assert.equal(sampleValue(s, SERVER, { k8s_pod_name: 'web-a', http_response_status_code: '404' }), 20);
    assert.equal(sampleValue(s, SERVER, { k8s_pod_name: 'web-b', http_response_status_code: '200' }), 50);
    assert.equal(sampleValue(s, SERVER, { k8s_pod_name: 'web-b', http_response_status_code: '500' }), 5);
    assert.equal(sampleValue(s, SERVER, { k8s_pod_name: 'api-0', http_response_status_code: '200' }), 30);
    assert.equal(sampleValue(s, SERVER, { k8s_pod_name: 'api-0', http_response_status_code: '503' }), 3);
    assert.equal(sampleValue(s, CLIENT, { k8s_pod_name: 'web-a', http_response_status_code: '200' }), 30);
    assert.equal(sampleValue(s, CLIENT, { k8s_pod_name: 'web-a', http_response_status_code: '503' }), 3);
    assert.equal(
      sampleSum(s, SERVER),
      208,
      'hidden (ignored namespace) and lonely (no Service) count nothing',
    );
    assert.equal(sampleSum(s, CLIENT), 33);
    // Names: the workload users know and the Service each port belongs to.
    assert.equal(
      sampleSum(s, SERVER, {
        k8s_deployment_name: 'web',
        k8s_service_name: 'web',
        k8s_namespace_name: 'shop',
        k8s_node_name: 'node-1',
      }),
      175,
    );
    assert.equal(
      sampleSum(s, SERVER, { k8s_statefulset_name: 'api', k8s_service_name: 'api', server_port: '8080' }),
      33,
    );
    assert.equal(sampleSum(s, SERVER, { k8s_pod_uid: webA.object.metadata.uid! }), 120);

    // web-b goes away; a new pod web-c comes while web-a keeps serving.
    await cluster.removePod('web-b');
    const webC = await cluster.addPod({
      name: 'web-c',
      namespace: 'shop',
      shape: 'routed',
      server: 'nginx',
      port: 80,
      labels: { app: 'web' },
      owner: webRs,
    });
    let attachedC = false;
    for (let i = 0; i < 50 && !attachedC; i++) {
      attachedC = (await agent.targets()).some(
        (t) => t.pod === 'web-c' && t.ips.every((ip) => ip.state === 'attached'),
      );
      if (!attachedC) await sleep(100);
    }
    assert.ok(attachedC, 'web-c is attached within 5 s');
    await Promise.all([
      load(undefined, { base: webC.server.url('', 6), connections: 2, requests: [{ path: '/', count: 25 }] }),
      load(undefined, { base: webA.server.url(''), connections: 2, requests: [{ path: '/', count: 10 }] }),
    ]);
    await sleep(1500);
    s = await agent.scrape();
    await sleep(1100);
    s = await agent.scrape(); // web-b's last export was scraped above; now it is gone
    assert.equal(sampleSum(s, SERVER, { k8s_pod_name: 'web-b' }), 0, "web-b's series stopped");
    assert.equal(sampleValue(s, SERVER, { k8s_pod_name: 'web-c', http_response_status_code: '200' }), 25);
    assert.equal(sampleValue(s, SERVER, { k8s_pod_name: 'web-a', http_response_status_code: '200' }), 110);
    assert.deepEqual((await agent.targets()).map((t) => t.pod).sort(), ['api-0', 'web-a', 'web-c']);
  } finally {
    await agent.stop();
  }
  assert.equal(packetSocketsOf(process.pid), socketsBefore, 'every packet socket the agent opened is closed');
});
