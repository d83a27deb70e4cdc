// The harness, for real: a routed and a bridged pod, each with IPv4 and IPv6, each serving nginx
// and the Node status server, reached from the host and from the other pod.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  curl,
  load,
  type NginxServer,
  type Pod,
  type RunningServer,
  startNginx,
  startStatusServer,
  TestNetwork,
} from '../index.ts';

function leftovers(slot: number): string[] {
  const ns = readdirSync('/run/netns').filter((n) => n.startsWith(`owlk8s-s${slot}-`));
  const links = readdirSync('/sys/class/net').filter((l) => new RegExp(`^ow${slot}(h|p|br)`).test(l));
  return [...ns, ...links];
}

describe('routed and bridged pods with nginx and the Node server', () => {
  let net: TestNetwork;
  let routed: Pod;
  let bridged: Pod;
  const servers: Record<string, { nginx: NginxServer; node: RunningServer }> = {};

  before(async () => {
    net = await TestNetwork.create();
    routed = await net.addRoutedPod('routed');
    bridged = await net.addBridgedPod('bridged');
    for (const pod of [routed, bridged]) {
      servers[pod.name] = { nginx: await startNginx(pod, 80), node: await startStatusServer(pod, 8080) };
    }
  });
  after(async () => {
    const slot = net.slot;
    await net.close();
    assert.deepEqual(leftovers(slot), [], 'nothing of the test network is left');
  });

  test('addresses come from the benchmarking ranges, both families', () => {
    const s = net.slot;
    assert.equal(routed.ipv4, `198.18.${s}.10`);
    assert.equal(bridged.ipv4, `198.19.${s}.11`);
    assert.match(routed.ipv6 ?? '', /^2001:2:/);
    assert.match(bridged.ipv6 ?? '', /^2001:2:/);
    assert.equal(routed.shape, 'routed');
    assert.equal(bridged.shape, 'bridged');
  });

  test('the routed pod has a host route through its own veth; the bridged pod sits behind the bridge', async () => {
    const { must } = await import('../exec.ts');
    const r4 = await must(['ip', 'route', 'get', routed.ipv4]);
    assert.match(r4, new RegExp(`dev ${routed.hostIfName} `));
    const r6 = await must(['ip', '-6', 'route', 'get', routed.ipv6!]);
    assert.match(r6, new RegExp(`dev ${routed.hostIfName} `));
    const b4 = await must(['ip', 'route', 'get', bridged.ipv4]);
    assert.match(b4, new RegExp(`dev ${net.bridgeName} `));
    const master = await must(['ip', '-o', 'link', 'show', bridged.hostIfName]);
    assert.match(master, new RegExp(`master ${net.bridgeName} `));
  });

  for (const family of [4, 6] as const) {
    for (const [fromName, toName] of [
      ['host', 'routed'],
      ['host', 'bridged'],
      ['bridged', 'routed'],
      ['routed', 'bridged'],
    ] as const) {
      test(`IPv${family}: ${fromName} → ${toName}: nginx and the Node server answer the status asked for`, async () => {
        const from = fromName === 'host' ? undefined : fromName === 'routed' ? routed : bridged;
        const to = servers[toName]!;
        assert.equal(await curl(from, to.nginx.url('/', family)), 200);
        assert.equal(await curl(from, to.nginx.url('/status/404', family)), 404);
        assert.equal(await curl(from, to.nginx.url('/status/500', family)), 500);
        assert.equal(await curl(from, to.nginx.url('/status/503', family)), 503);
        assert.equal(await curl(from, to.nginx.url('/nothing-here', family)), 404);
        assert.equal(await curl(from, to.node.url('/', family)), 200);
        assert.equal(await curl(from, to.node.url('/status/418', family)), 418);
        assert.equal(await curl(from, to.node.url('/status/503?delay_ms=5', family)), 503);
        assert.equal(
          await curl(from, to.node.url('/status/201', family), { method: 'POST', data: 'x' }),
          201,
        );
      });
    }
  }

  test('the Node server waits the delay asked for', async () => {
    const t0 = performance.now();
    assert.equal(await curl(bridged, servers.routed!.node.url('/status/200?delay_ms=200')), 200);
    const ms = performance.now() - t0;
    assert.ok(ms >= 200, `answered after ${ms.toFixed(1)} ms, expected at least 200`);
  });

  test('the Node load client counts every answer by status, keep-alive and not', async () => {
    for (const keepAlive of [true, false]) {
      const r = await load(routed, {
        base: servers.bridged!.node.url(''),
        connections: 8,
        keepAlive,
        requests: [
          { path: '/status/200', count: 300 },
          { path: '/status/404', count: 120 },
          { path: '/status/500', count: 60 },
          { path: '/status/503', count: 20 },
        ],
      });
      assert.equal(r.errors, 0, r.firstError);
      assert.equal(r.sent, 500);
      assert.deepEqual(r.byStatus, { '200': 300, '404': 120, '500': 60, '503': 20 });
    }
  });

  test("nginx's access log: METHOD STATUS per request from outside the pod, its own probes left out", async () => {
    const logged = await startNginx(routed, 81, { accessLog: true });
    try {
      assert.deepEqual(logged.accessLog(), []);
      assert.equal(await curl(undefined, logged.url('/status/404')), 404);
      assert.equal(await curl(bridged, logged.url('/', 6), { method: 'POST', data: 'x' }), 200);
      assert.equal(await curl(undefined, logged.url('/'), { method: 'PROPFIND' }), 200);
      assert.deepEqual(logged.accessLog(), ['GET 404', 'POST 200', 'PROPFIND 200']);
    } finally {
      await logged.stop();
    }
    assert.throws(
      () => servers.routed!.nginx.accessLog(),
      /nginx in pod routed was started without accessLog/,
    );
  });
});
