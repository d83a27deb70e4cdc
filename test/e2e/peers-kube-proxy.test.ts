// kube-proxy's variants as the agent sees them, through the real agent, each with exact figures:
// - hairpin: a pod calling its own Service's ClusterIP and translated back to itself (kube-proxy's
//   iptables mode: DNAT and the hairpin masquerade, test/e2e/kube-proxy.ts), for a routed pod
//   (Calico, kindnet) and a bridged one (the bridge port in hairpin mode, as the CNI bridge plugin's
//   `hairpinMode` sets it), over IPv4 and IPv6: counted once as a client (server.address = the
//   Service) and once as a server, never twice in either role;
// - NodePort: a client outside the monitored pods calling a node address's NodePort
//   (externalTrafficPolicy Cluster: masqueraded, the pod's caller is the node; Local: not, the
//   caller is _outside), and a monitored pod calling another node's NodePort (server.address is
//   that node's name). IPVS mode: test/e2e/peers-ipvs.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load, must, requireBpf, sleep } from '@owlk8s/e2e/harness';
import { SimulatedCluster } from '../demo/cluster.ts';
import { endpointSlice, node, service } from '../k8s-api/index.ts';
import { kubeProxy } from './kube-proxy.ts';
import { agentOn, CLIENT, lines, SERVER, untilNamed } from './peers.ts';

for (const shape of ['routed', 'bridged'] as const)
  test(`hairpin (${shape} pod): a pod calling its own Service is counted once as client (server.address the Service) and once as server`, async () => {
    requireBpf();
    await using cluster = await SimulatedCluster.create('node-1');
    const s = cluster.net.slot;
    const clusterV4 = `198.18.${s}.200`;
    const clusterV6 = `2001:2:0:${(2 * s).toString(16)}::c8`;
    // The node's addresses: the routed pods' gateway, which the host holds on every routed veth, as
    // a Calico node answers its pods from its own address. The bridge's address is not one (as
    // cni0's is not a Node address): hairpin traffic of a bridged pod comes from an unknown address.
    const gw = cluster.net.routedGateway;
    cluster.api.apply(node('node-1', undefined, [gw.ipv4, gw.ipv6]));
    cluster.namespace('shop');
    const web = await cluster.addPod({
      name: 'web-0',
      namespace: 'shop',
      shape,
      server: 'node',
      port: 8080,
      labels: { app: 'web' },
    });
    if (shape === 'bridged')
      // The bridge sends a frame back out of the port it came in by only in hairpin mode: the
      // bridge's netfilter hook translates the pod's packet to its own address while bridging it
      // (net.bridge.bridge-nf-call-iptables), so it goes back out of the pod's own port. The CNI
      // bridge plugin sets this with `hairpinMode: true`, kubelet with --hairpin-mode=hairpin-veth.
      await must(['ip', 'link', 'set', 'dev', web.pod.hostIfName, 'type', 'bridge_slave', 'hairpin', 'on']);
    cluster.api.apply(
      service({
        name: 'web',
        namespace: 'shop',
        selector: { app: 'web' },
        clusterIPs: [clusterV4, clusterV6],
        ports: [{ port: 80, targetPort: 8080 }],
      }),
    );
    for (const [family, ip] of [
      ['IPv4', web.pod.ipv4],
      ['IPv6', web.pod.ipv6!],
    ] as const)
      cluster.api.apply(
        endpointSlice({
          name: `web-${family.toLowerCase()}`,
          namespace: 'shop',
          service: 'web',
          addressType: family,
          endpoints: [{ addresses: [ip], pod: 'web-0' }],
          ports: [{ port: 8080 }],
        }),
      );
    const svc = { tag: 'WEB', port: 80, targetPort: 8080 };
    await using _v4 = await kubeProxy('iptables', s, [
      { ...svc, clusterIP: clusterV4, endpoint: web.pod.ipv4 },
    ]);
    await using _v6 = await kubeProxy('ip6tables', s, [
      { ...svc, clusterIP: clusterV6, endpoint: web.pod.ipv6! },
    ]);
    const agent = await agentOn(cluster);
    try {
      await untilNamed(agent, web, `http://${clusterV4}/`, 'web.shop.svc');
      const sent = await load(web.pod, {
        base: `http://${clusterV4}`,
        connections: 2,
        keepAlive: false,
        requests: [
          { path: `http://${clusterV4}/`, count: 5 },
          { path: `http://${clusterV4}/status/503`, count: 2 },
          { path: `http://[${clusterV6}]/`, count: 3 },
        ],
      });
      assert.deepEqual([sent.sent, sent.errors], [10, 0], sent.firstError);
      await sleep(1500);
      const samples = await agent.scrape();
      // As a client: one series per status, named after the Service, with what the pod sent.
      assert.deepEqual(lines(samples, CLIENT, 'web-0'), [
        'web.shop.svc service 80 200 8',
        'web.shop.svc service 80 503 2',
      ]);
      // As a server: the same requests, once, on its own port, from the address the masquerade
      // gave them: the node's for a routed pod, the bridge's (no cluster address) for a bridged one.
      const caller = shape === 'routed' ? 'node-1 node' : '_outside outside';
      assert.deepEqual(lines(samples, SERVER, 'web-0'), [`${caller} 8080 200 8`, `${caller} 8080 503 2`]);
    } finally {
      await agent.stop();
    }
  });

test('NodePort: an outside client through a node address (Cluster policy: the node, Local: _outside) and a pod calling another node’s NodePort (server.address the node)', async () => {
  requireBpf();
  await using cluster = await SimulatedCluster.create('node-1');
  const s = cluster.net.slot;
  const gw = cluster.net.routedGateway;
  // This node's address is the routed pods' gateway (the host holds it); node-2's is an address
  // of this slot that nothing holds: its kube-proxy is played by this host's rules (below).
  const node2 = `198.18.${s}.250`;
  cluster.api.apply(node('node-1', undefined, [gw.ipv4, gw.ipv6]));
  cluster.api.apply(node('node-2', undefined, [node2]));
  cluster.namespace('shop');
  const web = await cluster.addPod({
    name: 'web-0',
    namespace: 'shop',
    shape: 'routed',
    server: 'node',
    port: 8080,
    labels: { app: 'web' },
    ipv6: false,
  });
  const caller = await cluster.addPod({
    name: 'caller',
    namespace: 'shop',
    shape: 'routed',
    server: 'node',
    port: 7070,
    labels: { app: 'caller' },
    ipv6: false,
  });
  cluster.service('caller', 'shop', { app: 'caller' }, [{ port: 7070 }]);
  // A client outside the monitored pods: a namespace on a veth of its own, as a machine beyond the
  // node's interface would be; no Pod object, so the agent neither watches its interface nor
  // knows its address.
  const outside = await cluster.net.addRoutedPod('outside', { ipv6: false });
  const [clusterPort, localPort] = [30000 + s, 30300 + s];
  for (const [name, clusterIP, nodePort] of [
    ['web', `198.18.${s}.200`, clusterPort],
    ['web-local', `198.18.${s}.201`, localPort],
  ] as const)
    cluster.api.apply(
      service({
        name,
        namespace: 'shop',
        selector: { app: 'web' },
        clusterIPs: [clusterIP],
        ports: [{ port: 80, targetPort: 8080, nodePort }],
      }),
    );
  for (const [name, svc, pod, ip] of [
    ['web-v4', 'web', 'web-0', web.pod.ipv4],
    ['web-local-v4', 'web-local', 'web-0', web.pod.ipv4],
    ['caller-v4', 'caller', 'caller', caller.pod.ipv4],
  ] as const)
    cluster.api.apply(
      endpointSlice({
        name,
        namespace: 'shop',
        service: svc,
        endpoints: [{ addresses: [ip], pod }],
        ports: [{ port: 8080 }],
      }),
    );
  const endpoint = { port: 80, endpoint: web.pod.ipv4, targetPort: 8080 };
  await using _rules = await kubeProxy(
    'iptables',
    s,
    [
      {
        ...endpoint,
        tag: 'WEB',
        clusterIP: `198.18.${s}.200`,
        nodePort: { port: clusterPort, externalTrafficPolicy: 'Cluster' },
      },
      {
        ...endpoint,
        tag: 'WEBLOCAL',
        clusterIP: `198.18.${s}.201`,
        nodePort: { port: localPort, externalTrafficPolicy: 'Local' },
      },
    ],
    // node-2's NodePort, as node-2's kube-proxy would translate it: the caller's interface sees
    // node-2's address and port either way.
    [[node2, clusterPort, 'WEB']],
  );
  const agent = await agentOn(cluster);
  try {
    await untilNamed(agent, caller, `http://${web.pod.ipv4}:8080/`, 'web-0');
    const plan = (url: string, count: number) =>
      ({ base: url, connections: 2, keepAlive: false, requests: [{ path: url, count }] }) as const;
    for (const [from, url, count] of [
      [outside, `http://${gw.ipv4}:${clusterPort}/`, 4],
      [outside, `http://${gw.ipv4}:${localPort}/status/503`, 3],
      [caller.pod, `http://${node2}:${clusterPort}/status/404`, 2],
    ] as const) {
      const r = await load(from, plan(url, count));
      assert.deepEqual([r.sent, r.errors], [count, 0], `${from.name} → ${url}: ${r.firstError}`);
    }
    await sleep(1500);
    const samples = await agent.scrape();
    // The pod served all 9, once each, on its own port; its callers as the translation left them:
    // the node's address (masqueraded: externalTrafficPolicy Cluster, from outside and from the
    // caller through node-2's NodePort alike), or the outside client's own address (Local).
    assert.deepEqual(lines(samples, SERVER, 'web-0'), [
      '_outside outside 8080 503 3',
      'node-1 node 8080 200 4',
      'node-1 node 8080 404 2',
    ]);
    // The caller's requests went to node-2's address and the Service's NodePort: named after the
    // node, on that port (a Service's NodePort is a known client port, not collapsed).
    assert.deepEqual(lines(samples, CLIENT, 'caller'), [`node-2 node ${clusterPort} 404 2`]);
  } finally {
    await agent.stop();
  }
});
