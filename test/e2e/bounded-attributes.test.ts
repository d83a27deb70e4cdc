// A pod that names itself with a 256 KiB service.name annotation: the agent names its series by the
// value bounded to targets.kubernetes.maxValueLength, counts the cut, and the scrape stays small; a
// well-behaved pod beside it is counted exactly under its own names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load, requireBpf, sleep } from '@owlk8s/e2e/harness';
import { SimulatedCluster } from '../demo/cluster.ts';
import { sampleSum, sampleValue, startAgent } from './running-agent.ts';

const SERVER = 'http_server_request_duration_seconds_count';
const SERVICE_NAME = 'resource.opentelemetry.io/service.name';

test('a 256 KiB service.name annotation names the pod by its first maxValueLength characters, counted; the scrape stays small', async () => {
  requireBpf();
  await using cluster = await SimulatedCluster.create('node-1');
  cluster.namespace('shop');
  const { replicaSet } = cluster.deployment('shop', 'web');
  cluster.service('web', 'shop', { app: 'web' }, [{ port: 80 }]);
  const huge = await cluster.addPod({
    name: 'web-huge',
    namespace: 'shop',
    shape: 'routed',
    server: 'nginx',
    port: 80,
    labels: { app: 'web' },
    annotations: { [SERVICE_NAME]: 's'.repeat(256 * 1024) },
    owner: replicaSet,
  });
  const plain = await cluster.addPod({
    name: 'web-plain',
    namespace: 'shop',
    shape: 'bridged',
    server: 'nginx',
    port: 80,
    labels: { app: 'web' },
    annotations: { [SERVICE_NAME]: 'storefront' },
    owner: replicaSet,
  });
  const agent = await startAgent(`
node: { name: node-1 }
targets:
  source: kubernetes
  kubernetes: { kubeconfig: ${cluster.kubeconfigPath}, maxValueLength: 64 }
logging: { level: error, format: json }
`);
  try {
    const sent = await Promise.all([
      load(undefined, {
        base: huge.server.url(''),
        connections: 2,
        requests: [
          { path: '/', count: 40 },
          { path: '/status/404', count: 7 },
        ],
      }),
      load(undefined, {
        base: plain.server.url('', 6),
        connections: 2,
        requests: [{ path: '/', count: 25 }],
      }),
    ]);
    assert.deepEqual(
      sent.map((r) => r.errors),
      [0, 0],
    );
    await sleep(1500);
    const text = await (await fetch(agent.metricsUrl)).text();
    const s = await agent.scrape();
    const cut = 's'.repeat(64);
    assert.equal(sampleValue(s, SERVER, { service_name: cut, http_response_status_code: '200' }), 40);
    assert.equal(sampleValue(s, SERVER, { service_name: cut, http_response_status_code: '404' }), 7);
    assert.equal(sampleSum(s, SERVER, { k8s_pod_name: 'web-huge' }), 47);
    assert.equal(
      sampleValue(s, SERVER, { service_name: 'storefront', http_response_status_code: '200' }),
      25,
    );
    assert.equal(sampleSum(s, SERVER), 72);
    assert.equal(
      sampleValue(s, 'owlk8s_agent_attribute_values_bounded_total', { owlk8s_reason: 'truncated' }),
      1,
    );
    assert.equal(
      sampleValue(s, 'owlk8s_agent_attribute_values_bounded_total', { owlk8s_reason: 'unprintable' }),
      0,
    );
    // Every line names the service with at most 64 characters: no line comes near the annotation's size.
    const longest = Math.max(...text.split('\n').map((l) => l.length));
    assert.ok(longest < 2048, `the longest line has ${longest} characters`);
    assert.ok(!text.includes('s'.repeat(65)), 'no value longer than maxValueLength');
  } finally {
    await agent.stop();
  }
});
