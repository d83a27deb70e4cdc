// The agent end to end without Kubernetes: static targets, the real program in the kernel, real
// nginx and Node servers in pods, counts read back from the agent's Prometheus endpoint.
import assert from 'node:assert/strict';
import { test as nodeTest } from 'node:test';
import { load, requireBpf, startNginx, startStatusServer, TestNetwork } from '@owlk8s/e2e/harness';
import { sampleSum, startAgent, sampleValue as value } from './running-agent.ts';

/** Registers the test once per capture.attach mode, the mode in its name: the same exact counts in both. */
function test(name: string, fn: (attach: 'socket' | 'tc') => Promise<void>): void {
  for (const attach of ['socket', 'tc'] as const) nodeTest(`${name} [${attach}]`, () => fn(attach));
}

test('static targets: exact counts per pod and status on the Prometheus endpoint; nothing left after SIGTERM-like stop', async (attach) => {
  requireBpf();
  await using net = await TestNetwork.create();
  const web = await net.addRoutedPod('web');
  const api = await net.addBridgedPod('api');
  const other = await net.addRoutedPod('unmonitored');
  const nginx = await startNginx(web, 80);
  const node = await startStatusServer(api, 8080);
  const otherNginx = await startNginx(other, 80);
  const agent = await startAgent(`
node: { name: test-node }
targets:
  source: static
  static:
    - { ip: ${web.ipv4}, name: web, namespace: shop, service: web }
    - { ip: ${api.ipv6}, name: api, namespace: shop, service: api }
capture: { httpPorts: [80, 8080], buckets: [0.01, 0.05, 0.5, 1], attach: ${attach} }
logging: { level: warn, format: json }
`);
  try {
    const targets = await agent.targets();
    assert.deepEqual(
      targets.map((t) => [t.pod, t.ips.map((i) => [i.ip, i.state, i.interface])]),
      [
        ['web', [[web.ipv4, 'attached', web.hostIfName]]],
        ['api', [[api.ipv6, 'attached', api.hostIfName]]],
      ],
    );
    const toWeb = await load(undefined, {
      base: nginx.url(''),
      connections: 4,
      requests: [
        { path: '/', count: 300 },
        { path: '/status/404', count: 40 },
        { path: '/status/500', count: 7 },
      ],
    });
    assert.deepEqual(toWeb.byStatus, { '200': 300, '404': 40, '500': 7 });
    const toApi = await load(undefined, {
      base: node.url('', 6),
      connections: 2,
      keepAlive: false,
      requests: [
        { path: '/status/200', count: 50 },
        { path: '/status/503?delay_ms=60', count: 5 },
      ],
    });
    assert.deepEqual(toApi.byStatus, { '200': 50, '503': 5 });
    // IPv4 to the api pod is not monitored (only its IPv6 address is a target), nor is the other pod.
    await load(undefined, {
      base: node.url(''),
      connections: 1,
      requests: [{ path: '/status/201', count: 9 }],
    });
    await load(undefined, { base: otherNginx.url(''), connections: 1, requests: [{ path: '/', count: 11 }] });
    await new Promise((r) => setTimeout(r, 1500)); // one collection
    const samples = await agent.scrape();
    const count = (pod: string, code: string) =>
      value(samples, 'http_server_request_duration_seconds_count', {
        k8s_pod_name: pod,
        http_response_status_code: code,
      });
    assert.equal(count('web', '200'), 300);
    assert.equal(count('web', '404'), 40);
    assert.equal(count('web', '500'), 7);
    assert.equal(count('api', '200'), 50);
    assert.equal(count('api', '503'), 5);
    assert.equal(count('api', '201'), undefined);
    assert.equal(
      sampleSum(samples, 'http_server_request_duration_seconds_count'),
      402,
      'nothing else was counted',
    );
    // The 503s waited 60 ms: all five in the configured (0.05, 0.5] bucket.
    const bucket = (le: string) =>
      value(samples, 'http_server_request_duration_seconds_bucket', {
        k8s_pod_name: 'api',
        http_response_status_code: '503',
        le,
      });
    assert.equal(bucket('0.05'), 0);
    assert.equal(bucket('0.5'), 5);
    assert.equal(bucket('+Inf'), 5);
    assert.equal(
      value(samples, 'http_server_request_duration_seconds_count', {
        k8s_pod_name: 'web',
        http_response_status_code: '200',
        k8s_service_name: 'web',
        k8s_namespace_name: 'shop',
        http_request_method: 'GET',
        server_port: '80',
      }),
      300,
    );
  } finally {
    await agent.stop();
  }
  const ready2 = await fetch(`${agent.adminUrl}/readyz`).catch((e: Error) => e);
  assert.ok(ready2 instanceof Error, 'the admin endpoint is closed after stop');
});
