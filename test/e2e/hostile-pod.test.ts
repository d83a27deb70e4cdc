// A hostile pod on the simulated node: every method, 400 status codes, calls to 200 ports, and a
// 256 KiB service.name annotation. Its excess goes to its own overflow series, under its own
// (bounded) identity; a well-behaved pod beside it keeps exact counts under its own names; the
// scrape stays small.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load, requireBpf, sleep } from '@owlk8s/e2e/harness';
import { SimulatedCluster } from '../demo/cluster.ts';
import type { Sample } from '../demo/prom-text.ts';
import { sampleSum, sampleValue, startAgent } from './running-agent.ts';

const SERVER = 'http_server_request_duration_seconds_count';
const CLIENT = 'http_client_request_duration_seconds_count';
const SERVICE_NAME = 'resource.opentelemetry.io/service.name';
const PER_POD = 40;
const STATUSES = Array.from({ length: 400 }, (_, i) => 200 + i); // 200..599
const METHODS = ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND'];
const FIRST_PORT = 9000;
const PORTS = 200;

/** The pod's own series of a metric (not its overflow series). */
const own = (s: readonly Sample[], name: string, pod: string) =>
  s.filter(
    (x) => x.name === name && x.labels.k8s_pod_name === pod && x.labels.otel_metric_overflow === undefined,
  );

test('a hostile pod overflows into its own series, named by its bounded identity; the pod beside it stays exact', async () => {
  requireBpf();
  await using cluster = await SimulatedCluster.create('node-1');
  cluster.namespace('shop');
  const { replicaSet } = cluster.deployment('shop', 'web');
  cluster.service('web', 'shop', { app: 'web' }, [{ port: 8080 }]);
  const hostile = await cluster.addPod({
    name: 'web-hostile',
    namespace: 'shop',
    shape: 'routed',
    server: 'node',
    port: 8080,
    labels: { app: 'web' },
    annotations: { [SERVICE_NAME]: 's'.repeat(256 * 1024) },
    owner: replicaSet,
  });
  const polite = await cluster.addPod({
    name: 'web-polite',
    namespace: 'shop',
    shape: 'bridged',
    server: 'node',
    port: 8080,
    labels: { app: 'web' },
    annotations: { [SERVICE_NAME]: 'storefront' },
    owner: replicaSet,
  });
  // What the hostile pod calls: a pod outside every Service (not measured itself) answering on 200
  // ports, all redirected to its one server inside its namespace, so the caller's interface sees
  // 200 destination ports.
  const sink = await cluster.addPod({
    name: 'sink',
    namespace: 'shop',
    shape: 'routed',
    server: 'node',
    port: 8080,
  });
  await sink.pod.redirectPorts(FIRST_PORT, PORTS, 8080);
  const agent = await startAgent(
    `
node: { name: node-1 }
targets:
  source: kubernetes
  kubernetes: { kubeconfig: ${cluster.kubeconfigPath}, maxValueLength: 64 }
capture: { httpPorts: all, maps: { seriesPerPod: 1000 } }
logging: { level: error, format: json }
`,
    // Collapsing off: its 200 unknown ports would otherwise be one series (client-ports.test.ts).
    ['cardinalityLimit: 100', `cardinalityLimitPerPod: ${PER_POD}`, 'collapseUnknownClientPorts: false'],
  );
  try {
    const sent = await Promise.all([
      load(undefined, {
        base: hostile.server.url(''),
        connections: 4,
        requests: [
          ...STATUSES.map((code) => ({ path: `/status/${code}`, count: 1 })),
          ...METHODS.map((method) => ({ path: '/', count: 5, method })),
        ],
      }),
      load(hostile.pod, {
        base: `http://${sink.pod.ipv4}`,
        connections: 4,
        keepAlive: false,
        requests: Array.from({ length: PORTS }, (_, i) => ({
          path: `http://${sink.pod.ipv4}:${FIRST_PORT + i}/`,
          count: 1,
        })),
      }),
      load(undefined, {
        base: polite.server.url('', 6),
        connections: 2,
        requests: [
          { path: '/', count: 25 },
          { path: '/status/503', count: 5 },
        ],
      }),
    ]);
    assert.deepEqual(
      sent.map((r) => [r.sent, r.errors]),
      [
        [435, 0],
        [PORTS, 0],
        [30, 0],
      ],
      JSON.stringify(sent.map((r) => r.firstError)),
    );
    await sleep(1500);
    const text = await (await fetch(agent.metricsUrl)).text();
    const s = await agent.scrape();
    // The pod beside it: exact, under its own names.
    assert.equal(
      sampleValue(s, SERVER, { k8s_pod_name: 'web-polite', http_response_status_code: '200' }),
      25,
    );
    assert.equal(sampleValue(s, SERVER, { k8s_pod_name: 'web-polite', http_response_status_code: '503' }), 5);
    assert.equal(sampleSum(s, SERVER, { k8s_pod_name: 'web-polite', service_name: 'storefront' }), 30);
    // The hostile pod: its budget of series, the rest in its own overflow series, every request counted.
    assert.equal(own(s, SERVER, 'web-hostile').length, PER_POD);
    assert.equal(own(s, CLIENT, 'web-hostile').length, PER_POD);
    assert.equal(sampleSum(s, SERVER, { k8s_pod_name: 'web-hostile' }), 435);
    assert.equal(sampleSum(s, CLIENT, { k8s_pod_name: 'web-hostile' }), 200);
    const overflowOf = (name: string) =>
      s.filter((x) => x.name === name && x.labels.otel_metric_overflow === 'true');
    assert.deepEqual(
      overflowOf(SERVER).map((x) => `${x.labels.k8s_pod_name} ${x.labels.service_name}`),
      [`web-hostile ${'s'.repeat(64)}`],
    );
    assert.equal(overflowOf(CLIENT).length, 1);
    assert.equal(
      overflowOf(SERVER)[0]!.value + own(s, SERVER, 'web-hostile').reduce((a, x) => a + x.value, 0),
      435,
    );
    // 400 + 7 distinct series asked for, 40 given: 367 routed into the overflow; 200 − 40 = 160 on the client side.
    const routed = (metric: string) =>
      sampleValue(s, 'owlk8s_agent_metric_overflow_total', { owlk8s_metric: metric });
    assert.equal(routed('http.server.request.duration'), 367);
    assert.equal(routed('http.client.request.duration'), 160);
    assert.equal(
      sampleValue(s, 'owlk8s_agent_attribute_values_bounded_total', { owlk8s_reason: 'truncated' }),
      1,
    );
    // The annotation is cut to 64 characters wherever it appears: the scrape stays small.
    assert.ok(!text.includes('s'.repeat(65)), 'no value longer than maxValueLength');
    const longest = Math.max(...text.split('\n').map((l) => l.length));
    assert.ok(longest < 2048, `the longest line has ${longest} characters`);
  } finally {
    await agent.stop();
  }
});
