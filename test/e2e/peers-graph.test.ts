// `owlk8s targets --graph` against the real agent: a caller pod sends known counts and statuses to
// a Service through its ClusterIP (a real DNAT rule, as kube-proxy's iptables mode) and to a pod by
// its own IP; the node (the host, an InternalIP of the Node) calls that pod too. With
// capture.serverPeers on, the graph has each edge once: the caller's requests from its client
// side (the callees' server series count them too, and are left out), the node's from the
// server side, with exact counts and error ratios, in the JSON and in the table.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { load, must, requireBpf, run, sleep } from '@owlk8s/e2e/harness';
import { SimulatedCluster } from '../demo/cluster.ts';
import { endpointSlice, node, service } from '../k8s-api/index.ts';
import { agentOn } from './peers.ts';

const CLI = fileURLToPath(import.meta.resolve('@owlk8s/agent/cli'));

/** `owlk8s ARGS` as its own process; its standard output (it exits 0 or this throws). */
async function owlk8s(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, ...args], { timeout: 20_000 });
  return stdout;
}

const CLIENT = 'http_client_request_duration_seconds_count';

interface Edge {
  caller: string;
  callerKind: string;
  callee: string;
  calleeKind: string;
  measuredBy: string;
  requests: number;
  rate: number;
  errors: number;
  errorRatio: number;
  p99Seconds?: number;
}

test('the Service graph: each edge once, with the requests and errors sent, in JSON and as a table', async () => {
  requireBpf();
  await using cluster = await SimulatedCluster.create('node-1');
  const s = cluster.net.slot;
  const clusterV4 = `198.18.${s}.200`;
  // The host reaches routed pods from the gateway address: the Node's InternalIP here.
  cluster.api.apply(node('node-1', undefined, [`198.18.${s}.1`]));
  cluster.namespace('shop');
  const pods = {} as Record<'web' | 'api' | 'caller' | 'warm', Awaited<ReturnType<typeof cluster.addPod>>>;
  for (const [key, name, app] of [
    ['web', 'web-0', 'web'],
    ['api', 'api-0', 'api'],
    ['caller', 'caller', 'caller'],
    ['warm', 'warm', 'warm'],
  ] as const) {
    pods[key] = await cluster.addPod({
      name,
      namespace: 'shop',
      shape: 'routed',
      ipv6: false,
      server: 'node',
      port: 8080,
      labels: { app },
    });
  }
  cluster.api.apply(
    service({
      name: 'web',
      namespace: 'shop',
      selector: { app: 'web' },
      clusterIPs: [clusterV4],
      ports: [{ port: 80, targetPort: 8080 }],
    }),
  );
  // Each pod monitored behind a Service of its own (the agent watches pods that serve a Service).
  for (const app of ['api', 'caller', 'warm']) cluster.service(app, 'shop', { app }, [{ port: 8080 }]);
  for (const [key, name] of [
    ['web', 'web-0'],
    ['api', 'api-0'],
    ['caller', 'caller'],
    ['warm', 'warm'],
  ] as const) {
    cluster.api.apply(
      endpointSlice({
        name: `${key}-v4`,
        namespace: 'shop',
        service: key,
        addressType: 'IPv4',
        endpoints: [{ addresses: [pods[key].pod.ipv4], pod: name }],
        ports: [{ port: 8080 }],
      }),
    );
  }
  const rule = (op: string) => [
    'iptables',
    '-t',
    'nat',
    op,
    'PREROUTING',
    '-d',
    `${clusterV4}/32`,
    '-p',
    'tcp',
    '--dport',
    '80',
    '-j',
    'DNAT',
    '--to-destination',
    `${pods.web.pod.ipv4}:8080`,
  ];
  await must(rule('-A'));
  try {
    const agent = await agentOn(cluster);
    try {
      // Until the kernel's peers map is filled (a connection's peer is looked up when it starts),
      // another pod calls the Service; its requests are its own rows, left out below.
      const deadline = Date.now() + 15_000;
      for (;;) {
        const w = await load(pods.warm.pod, {
          base: `http://${clusterV4}`,
          connections: 1,
          keepAlive: false,
          requests: [{ path: `http://${clusterV4}/`, count: 1, method: 'HEAD' }],
        });
        assert.deepEqual([w.sent, w.errors], [1, 0], w.firstError);
        await sleep(300);
        const named = (await agent.scrape()).some(
          (x) =>
            x.name === CLIENT &&
            x.labels.k8s_pod_name === 'warm' &&
            x.labels.server_address === 'web.shop.svc',
        );
        if (named) break;
        assert.ok(
          Date.now() < deadline,
          `no client series named web.shop.svc within 15 s of the agent being ready: ${JSON.stringify(await agent.targets())} ${JSON.stringify((await agent.scrape()).filter((x) => x.name === CLIENT))}`,
        );
      }
      const sent = await load(pods.caller.pod, {
        base: `http://${clusterV4}`,
        connections: 2,
        keepAlive: false,
        requests: [
          { path: `http://${clusterV4}/`, count: 5 },
          { path: `http://${clusterV4}/status/503`, count: 2 },
          { path: `http://${pods.api.pod.ipv4}:8080/`, count: 4 },
          { path: `http://${pods.api.pod.ipv4}:8080/status/404`, count: 1 },
        ],
      });
      assert.deepEqual([sent.sent, sent.errors], [12, 0], sent.firstError);
      const fromNode = await load(undefined, {
        base: `http://${pods.api.pod.ipv4}:8080`,
        connections: 1,
        keepAlive: false,
        requests: [
          { path: '/', count: 2 },
          { path: '/status/500', count: 1 },
        ],
      });
      assert.deepEqual([fromNode.sent, fromNode.errors], [3, 0], fromNode.firstError);
      await sleep(1500);

      const graph = JSON.parse(await owlk8s('targets', '--graph', '--json', '--url', agent.adminUrl)) as {
        peers: boolean;
        windowSeconds: number;
        edges: Edge[];
      };
      assert.equal(graph.peers, true);
      const mine = graph.edges.filter((e) => e.caller !== 'shop/warm');
      assert.deepEqual(
        mine.map(
          (e) =>
            `${e.caller} ${e.callerKind} -> ${e.callee} ${e.calleeKind} ${e.measuredBy} ${e.requests} ${e.errors} ${e.errorRatio.toFixed(4)}`,
        ),
        [
          'node-1 node -> shop/api-0 pod server 3 1 0.3333',
          'shop/caller pod -> shop/api-0 pod client 5 1 0.2000',
          'shop/caller pod -> web.shop.svc service client 7 2 0.2857',
        ],
      );
      // The agent is younger than a minute: the window runs from its start.
      assert.ok(graph.windowSeconds > 0 && graph.windowSeconds < 60, `window ${graph.windowSeconds} s`);
      for (const e of mine) {
        assert.equal(e.rate, e.requests / graph.windowSeconds);
        assert.ok(
          e.p99Seconds !== undefined && e.p99Seconds > 0 && e.p99Seconds <= 10,
          `p99 ${e.p99Seconds}`,
        );
      }

      const lines = (await owlk8s('targets', '--graph', '--url', agent.adminUrl)).trim().split('\n');
      assert.match(lines[0]!, /^who calls whom, the last \d+\.\d s /);
      assert.deepEqual(lines[1]!.split(/\s+/), [
        'CALLER',
        'CALLEE',
        'KIND',
        'MEASURED',
        'REQ/S',
        'ERRORS',
        'P99',
        'REQUESTS',
      ]);
      assert.deepEqual(
        lines
          .slice(2)
          .map((l) => l.split(/\s+/))
          .filter((c) => c[0] !== 'shop/warm')
          .map((c) => `${c[0]} ${c[1]} ${c[2]} ${c[3]} ${c[5]} ${c[7]}`),
        [
          'node-1 shop/api-0 pod server 33.3% 3',
          'shop/caller shop/api-0 pod client 20.0% 5',
          'shop/caller web.shop.svc service client 28.6% 7',
        ],
      );

      // Each pod's peers: the caller named two; web-0 was called by two monitored pods, api-0 by
      // the caller and the node.
      const targets = (await (await fetch(`${agent.adminUrl}/targets`)).json()) as {
        pod: string;
        peers: number;
        peersOverflowed: number;
        callers: number;
        callersOverflowed: number;
      }[];
      assert.deepEqual(
        targets
          .map((t) => `${t.pod} ${t.peers}+${t.peersOverflowed} ${t.callers}+${t.callersOverflowed}`)
          .sort(),
        ['api-0 0+0 2+0', 'caller 2+0 0+0', 'warm 1+0 0+0', 'web-0 0+0 2+0'],
      );
    } finally {
      await agent.stop();
    }
  } finally {
    await run(rule('-D'));
  }
});
