// A pod calling a Service through its ClusterIP, as kube-proxy makes it work: a real DNAT rule in
// the host's `nat` table (iptables and ip6tables), so the caller's interface sees the ClusterIP and
// the Service's pod sees the caller after the translation; and a pod called by its own IP. The
// caller's client series per server.address equal what it sent, over IPv4 and IPv6. With
// targets.kubernetes.peers false, the same traffic gives the series without peers, and the agent
// asks the API server for no EndpointSlice and no Node but its own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load, must, requireBpf, run, sleep } from '@owlk8s/e2e/harness';
import { SimulatedCluster } from '../demo/cluster.ts';
import { endpointSlice, service } from '../k8s-api/index.ts';
import { untilAttached, untilNamed } from './peers.ts';
import { startAgent } from './running-agent.ts';

const CLIENT = 'http_client_request_duration_seconds_count';
const SERVER = 'http_server_request_duration_seconds_count';

for (const serverPeers of [false, true])
  test(`client series name the Service reached through its ClusterIP (DNAT, both families) and the pod called directly; serverPeers ${serverPeers}`, () =>
    scenario(true, serverPeers));

test('targets.kubernetes.peers false: the same traffic without peer attributes, no EndpointSlice or other Node asked for, no Service graph', () =>
  scenario(false, false));

async function scenario(peers: boolean, serverPeers: boolean): Promise<void> {
  requireBpf();
  await using cluster = await SimulatedCluster.create('node-1');
  const s = cluster.net.slot;
  // ClusterIPs in this slot's part of the test ranges, apart from its pods (198.18.S.10 and up).
  const clusterV4 = `198.18.${s}.200`;
  const clusterV6 = `2001:2:0:${(2 * s).toString(16)}::c8`;
  cluster.namespace('shop');
  const web = await cluster.addPod({
    name: 'web-0',
    namespace: 'shop',
    shape: 'routed',
    server: 'node',
    port: 8080,
    labels: { app: 'web' },
  });
  const api = await cluster.addPod({
    name: 'api-0',
    namespace: 'shop',
    shape: 'routed',
    server: 'node',
    port: 8080,
    labels: { app: 'api' },
  });
  const caller = await cluster.addPod({
    name: 'caller',
    namespace: 'shop',
    shape: 'routed',
    server: 'node',
    port: 7070,
    labels: { app: 'caller' },
  });
  cluster.api.apply(
    service({
      name: 'web',
      namespace: 'shop',
      selector: { app: 'web' },
      clusterIPs: [clusterV4, clusterV6],
      ports: [{ port: 80, targetPort: 8080 }],
    }),
  );
  cluster.api.apply(
    service({
      name: 'api',
      namespace: 'shop',
      selector: { app: 'api' },
      clusterIPs: [`198.18.${s}.201`],
      ports: [{ port: 80, targetPort: 8080 }],
    }),
  );
  // The caller is monitored as a pod behind a Service of its own, as the agent's other tests have it.
  cluster.service('caller', 'shop', { app: 'caller' }, [{ port: 7070 }]);
  for (const [name, svc, pod, family, ip] of [
    ['web-v4', 'web', 'web-0', 'IPv4', web.pod.ipv4],
    ['web-v6', 'web', 'web-0', 'IPv6', web.pod.ipv6!],
    ['api-v4', 'api', 'api-0', 'IPv4', api.pod.ipv4],
    ['caller-v4', 'caller', 'caller', 'IPv4', caller.pod.ipv4],
    ['caller-v6', 'caller', 'caller', 'IPv6', caller.pod.ipv6!],
  ] as const) {
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
  }
  // kube-proxy's iptables mode, reduced to its effect: the ClusterIP's port 80 goes to the pod's 8080.
  const rules = [
    ['iptables', '-d', `${clusterV4}/32`, '--to-destination', `${web.pod.ipv4}:8080`],
    ['ip6tables', '-d', `${clusterV6}/128`, '--to-destination', `[${web.pod.ipv6}]:8080`],
  ] as const;
  const rule = (op: string, [tool, , dst, , to]: (typeof rules)[number]) => [
    tool,
    '-t',
    'nat',
    op,
    'PREROUTING',
    '-d',
    dst,
    '-p',
    'tcp',
    '--dport',
    '80',
    '-j',
    'DNAT',
    '--to-destination',
    to,
  ];
  for (const r of rules) await must(rule('-A', r));
  try {
    const agent = await startAgent(`
node: { name: node-1 }
targets:
  source: kubernetes
  kubernetes: { kubeconfig: ${cluster.kubeconfigPath}, peers: ${peers} }
capture: { httpPorts: all, serverPeers: ${serverPeers} }
logging: { level: error, format: json }
`);
    try {
      // HEAD requests (left out below) until the peers are in the kernel map and every pod is
      // attached; without peers, until every pod is attached.
      if (peers) await untilNamed(agent, caller, `http://${clusterV4}/`, 'web.shop.svc');
      else await untilAttached(agent, 3);
      const sent = await load(caller.pod, {
        base: `http://${clusterV4}`,
        connections: 2,
        keepAlive: false,
        requests: [
          { path: `http://${clusterV4}/`, count: 5 },
          { path: `http://${clusterV4}/status/503`, count: 2 },
          { path: `http://[${clusterV6}]/`, count: 3 },
          { path: `http://${api.pod.ipv4}:8080/`, count: 4 },
        ],
      });
      assert.deepEqual([sent.sent, sent.errors], [14, 0], sent.firstError);
      await sleep(1500);
      const samples = await agent.scrape();

      const mine = samples.filter(
        (x) =>
          x.name === CLIENT && x.labels.k8s_pod_name === 'caller' && x.labels.http_request_method === 'GET',
      );
      assert.deepEqual(
        mine
          .map(
            (x) =>
              `${x.labels.server_address ?? '-'} ${x.labels.owlk8s_peer_kind ?? '-'} ${x.labels.owlk8s_peer_service ?? '-'} ${x.labels.server_port} ${x.labels.http_response_status_code} ${x.value}`,
          )
          .sort(),
        peers
          ? [
              'api-0 pod api 8080 200 4',
              'web.shop.svc service web 80 200 8',
              'web.shop.svc service web 80 503 2',
            ]
          : ['- - - 80 200 8', '- - - 80 503 2', '- - - 8080 200 4'],
      );
      if (!peers) {
        // Not one EndpointSlice request, and Nodes only by this node's name.
        const asked = cluster.api.requests.filter(
          (r) => r.resource === 'endpointslices' || (r.resource === 'nodes' && r.name !== 'node-1'),
        );
        assert.deepEqual(
          asked.filter((r) => r.resource !== 'nodes' || r.query.fieldSelector !== 'metadata.name=node-1'),
          [],
        );
        const graph = await (await fetch(`${agent.adminUrl}/graph`)).json();
        assert.deepEqual(graph, {
          peers: false,
          reason:
            'this agent names no peers: targets.kubernetes.peers is false (set it to true to watch the cluster’s Services, EndpointSlices and Nodes), so no series says whom a pod called',
        });
      }
      // The Service's pod saw the same 10 requests on its own port, after the translation; with
      // serverPeers, named after their caller.
      const served = samples.filter(
        (x) =>
          x.name === SERVER && x.labels.k8s_pod_name === 'web-0' && x.labels.http_request_method === 'GET',
      );
      assert.deepEqual(
        served
          .map(
            (x) =>
              `${x.labels.server_port} ${x.labels.http_response_status_code} ${x.labels.client_address ?? '-'} ${x.value}`,
          )
          .sort(),
        serverPeers ? ['8080 200 caller 8', '8080 503 caller 2'] : ['8080 200 - 8', '8080 503 - 2'],
      );
    } finally {
      await agent.stop();
    }
  } finally {
    for (const r of rules) await run(rule('-D', r));
  }
}
