// Issue 21's own scenario: three Services with their pods on the node, dual stack, reached through
// kube-proxy's iptables and ip6tables rules (test/e2e/kube-proxy.ts), and two callers (one routed,
// one bridged) calling each Service through its ClusterIPs and some pods by their own addresses,
// over IPv4 and IPv6, each caller with its own counts and statuses. Each caller's client series per
// server.address and status equal what it sent; with capture.serverPeers (on in agentOn) each
// Service's pod names its callers with exactly what each sent it, whichever way it came. A pod
// peer carries its workload (read on demand): a Deployment's, a StatefulSet's, or none (bare pod).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load, requireBpf, sleep } from '@owlk8s/e2e/harness';
import { SimulatedCluster } from '../demo/cluster.ts';
import { endpointSlice, type KubeObject, service } from '../k8s-api/index.ts';
import { kubeProxy } from './kube-proxy.ts';
import { agentOn, CLIENT, lines, peerWorkloads, SERVER, untilNamed } from './peers.ts';

test('three Services through kube-proxy rules and by pod address, two callers, both families: every series exact on both sides', async () => {
  requireBpf();
  await using cluster = await SimulatedCluster.create('node-1');
  const s = cluster.net.slot;
  cluster.namespace('shop');
  const names = ['web', 'api', 'cart'] as const;
  type Name = (typeof names)[number];
  // The Services' pods are routed: a bridged pod answering a bridged caller would skip the host's
  // conntrack (no br_netfilter here), as it would on a node without it.
  const backends = {} as Record<Name, Awaited<ReturnType<typeof cluster.addPod>>>;
  // Owners: web's pod a Deployment's (through its ReplicaSet), api's a StatefulSet's, cart's none.
  const owners: Record<Name, KubeObject | undefined> = {
    web: cluster.deployment('shop', 'web').replicaSet,
    api: cluster.statefulSet('shop', 'api'),
    cart: undefined,
  };
  for (const name of names) {
    backends[name] = await cluster.addPod({
      name: `${name}-0`,
      namespace: 'shop',
      shape: 'routed',
      server: 'node',
      port: 8080,
      labels: { app: name },
      ...(owners[name] ? { owner: owners[name] } : {}),
    });
  }
  const callerA = await cluster.addPod({
    name: 'caller-a',
    namespace: 'shop',
    shape: 'routed',
    server: 'node',
    port: 7070,
    labels: { role: 'caller' },
    owner: cluster.deployment('shop', 'caller').replicaSet,
  });
  const callerB = await cluster.addPod({
    name: 'caller-b',
    namespace: 'shop',
    shape: 'bridged',
    server: 'node',
    port: 7070,
    labels: { role: 'caller' },
  });
  // ClusterIPs in this slot's part of the test ranges, apart from its pods (198.18.S.10 and up).
  const clusterIp = (i: number) => ({
    v4: `198.18.${s}.${200 + i}`,
    v6: `2001:2:0:${(2 * s).toString(16)}::${(200 + i).toString(16)}`,
  });
  names.forEach((name, i) => {
    cluster.api.apply(
      service({
        name,
        namespace: 'shop',
        selector: { app: name },
        clusterIPs: [clusterIp(i).v4, clusterIp(i).v6],
        ports: [{ port: 80, targetPort: 8080 }],
      }),
    );
  });
  cluster.api.apply(
    service({
      name: 'callers',
      namespace: 'shop',
      selector: { role: 'caller' },
      clusterIPs: [clusterIp(9).v4],
      ports: [{ port: 7070 }],
    }),
  );
  const slices: [string, string, string, 'IPv4' | 'IPv6', string][] = [];
  for (const name of names) {
    const p = backends[name].pod;
    slices.push(
      [`${name}-v4`, name, `${name}-0`, 'IPv4', p.ipv4],
      [`${name}-v6`, name, `${name}-0`, 'IPv6', p.ipv6!],
    );
  }
  for (const c of [callerA, callerB]) {
    const n = c.spec.name;
    slices.push(
      [`${n}-v4`, 'callers', n, 'IPv4', c.pod.ipv4],
      [`${n}-v6`, 'callers', n, 'IPv6', c.pod.ipv6!],
    );
  }
  for (const [name, svc, pod, family, ip] of slices)
    cluster.api.apply(
      endpointSlice({
        name,
        namespace: 'shop',
        service: svc,
        addressType: family,
        endpoints: [{ addresses: [ip], pod }],
        ports: [{ port: 8080 }],
      }),
    );
  const proxied = (family: 'v4' | 'v6') =>
    names.map((name, i) => ({
      tag: name.toUpperCase(),
      clusterIP: clusterIp(i)[family],
      port: 80,
      endpoint: family === 'v4' ? backends[name].pod.ipv4 : backends[name].pod.ipv6!,
      targetPort: 8080,
    }));
  await using _v4 = await kubeProxy('iptables', s, proxied('v4'));
  await using _v6 = await kubeProxy('ip6tables', s, proxied('v6'));
  const agent = await agentOn(cluster);
  try {
    await untilNamed(agent, callerA, `http://${clusterIp(0).v4}/`, 'web.shop.svc');
    await untilNamed(agent, callerB, `http://${clusterIp(0).v4}/`, 'web.shop.svc');
    const svc = (i: number, family: 'v4' | 'v6') =>
      family === 'v4' ? `http://${clusterIp(i).v4}` : `http://[${clusterIp(i).v6}]`;
    const pod = (name: Name, family: 'v4' | 'v6') =>
      family === 'v4' ? `http://${backends[name].pod.ipv4}:8080` : `http://[${backends[name].pod.ipv6}]:8080`;
    const plans = [
      [
        callerA,
        [
          [`${svc(0, 'v4')}/`, 3],
          [`${svc(0, 'v6')}/`, 2],
          [`${svc(1, 'v4')}/status/503`, 2],
          [`${svc(2, 'v6')}/`, 4],
          [`${pod('api', 'v4')}/`, 1],
          [`${pod('cart', 'v6')}/`, 2],
        ],
      ],
      [
        callerB,
        [
          [`${svc(0, 'v4')}/`, 1],
          [`${svc(0, 'v4')}/status/503`, 1],
          [`${svc(1, 'v6')}/`, 5],
          [`${svc(2, 'v4')}/`, 2],
          [`${pod('web', 'v6')}/`, 3],
        ],
      ],
    ] as const;
    for (const [caller, requests] of plans) {
      const r = await load(caller.pod, {
        base: requests[0][0],
        connections: 2,
        keepAlive: false,
        requests: requests.map(([path, count]) => ({ path, count })),
      });
      const total = requests.reduce((n, [, count]) => n + count, 0);
      assert.deepEqual([r.sent, r.errors], [total, 0], `${caller.spec.name}: ${r.firstError}`);
    }
    await sleep(1500);
    const samples = await agent.scrape();
    assert.deepEqual(lines(samples, CLIENT, 'caller-a'), [
      'api-0 pod 8080 200 1',
      'api.shop.svc service 80 503 2',
      'cart-0 pod 8080 200 2',
      'cart.shop.svc service 80 200 4',
      'web.shop.svc service 80 200 5',
    ]);
    assert.deepEqual(lines(samples, CLIENT, 'caller-b'), [
      'api.shop.svc service 80 200 5',
      'cart.shop.svc service 80 200 2',
      'web-0 pod 8080 200 3',
      'web.shop.svc service 80 200 1',
      'web.shop.svc service 80 503 1',
    ]);
    // Each Service's pod, on its own port after the translation, names each caller.
    assert.deepEqual(lines(samples, SERVER, 'web-0'), [
      'caller-a pod 8080 200 5',
      'caller-b pod 8080 200 4',
      'caller-b pod 8080 503 1',
    ]);
    assert.deepEqual(lines(samples, SERVER, 'api-0'), [
      'caller-a pod 8080 200 1',
      'caller-a pod 8080 503 2',
      'caller-b pod 8080 200 5',
    ]);
    assert.deepEqual(lines(samples, SERVER, 'cart-0'), [
      'caller-a pod 8080 200 6',
      'caller-b pod 8080 200 2',
    ]);
    // The pod peers' workloads, both roles; Services carry none.
    assert.deepEqual(peerWorkloads(samples, CLIENT, 'caller-a'), [
      'api-0 StatefulSet/api',
      'api.shop.svc -',
      'cart-0 -',
      'cart.shop.svc -',
      'web.shop.svc -',
    ]);
    assert.deepEqual(peerWorkloads(samples, CLIENT, 'caller-b'), [
      'api.shop.svc -',
      'cart.shop.svc -',
      'web-0 Deployment/web',
      'web.shop.svc -',
    ]);
    for (const callee of ['web-0', 'api-0', 'cart-0'])
      assert.deepEqual(peerWorkloads(samples, SERVER, callee), ['caller-a Deployment/caller', 'caller-b -']);
    // One GET per pod peer named, one per ReplicaSet: no pod or owner of the cluster read twice.
    const gets = cluster.api.requests
      .filter((r) => r.verb === 'get')
      .map((r) => `${r.resource} ${r.name}`)
      .sort();
    assert.deepEqual(gets, [...new Set(gets)], `a GET repeated: ${gets.join(', ')}`);
    assert.equal(samples.find((x) => x.name === 'owlk8s_agent_peers_workloads_unnamed_total')?.value, 0);
  } finally {
    await agent.stop();
  }
});
