// The image's contents, tested: the root filesystem deploy/rootfs.sh builds (what deploy/Dockerfile
// runs) carries everything the agent needs. The agent runs in it as the DaemonSet runs it (own
// mount namespace, read-only root, CAP_BPF + CAP_PERFMON + CAP_NET_RAW only, no /run/netns, the
// node's network, the ConfigMap's configuration, the service account's token and CA, the API
// server over HTTPS) and counts exactly what routed and bridged pods served over IPv4 and IPv6.
// Without libbpf.so.1 it stops, naming it.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { load, requireBpf, requireTool, sleep } from '@owlk8s/e2e/harness';
import { SimulatedCluster } from '../demo/cluster.ts';
import {
  capabilityMask,
  configMapYaml,
  daemonSetCapabilities,
  ImageRoot,
  type InImageAgent,
  type InImageOptions,
  scrape,
  startInImage,
  testCertificates,
  waitFor200,
} from './image.ts';
import { freePorts } from './ports.ts';
import { sampleSum, sampleValue } from './running-agent.ts';

const SERVER = 'http_server_request_duration_seconds_count';
const NODE = 'node-1';
/** What each pod gets over each family. */
const PLAN = [
  { path: '/', status: '200', count: 30 },
  { path: '/status/404', status: '404', count: 7 },
  { path: '/status/503', status: '503', count: 3 },
];

let image: ImageRoot;
before(() => {
  requireBpf();
  requireTool('/usr/sbin/capsh', 'libcap2-bin');
  requireTool('/usr/sbin/debootstrap', 'debootstrap');
  image = ImageRoot.build();
  console.log(
    `image: Debian layer ${image.buildMs.base} ms (cached when unchanged), agent layer ${image.buildMs.app} ms`,
  );
});
after(() => image?.dispose());

/** The sandbox's settings for an agent that reaches `cluster` as the DaemonSet's pod would. */
function asDaemonSet(
  cluster: SimulatedCluster,
  ca: string,
  ports: { prom: number; admin: number },
): InImageOptions {
  return {
    image,
    config: { 'owlk8s.yaml': configMapYaml() },
    serviceAccount: { token: cluster.api.token, 'ca.crt': ca, namespace: 'owlk8s' },
    fieldRefs: { 'spec.nodeName': NODE, 'status.hostIP': '127.0.0.1' },
    env: {
      // what the kubelet sets for the kubernetes Service (here the test API server's address)
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: String(cluster.api.port),
      // free ports instead of the ConfigMap's 9464 and 9465, which another agent on this machine may hold
      OWLK8S_EXPORT_PROMETHEUS_PORT: String(ports.prom),
      OWLK8S_ADMIN_PORT: String(ports.admin),
    },
    capabilities: daemonSetCapabilities(),
  };
}

test('in the image, as the DaemonSet runs it: exact counts per pod and status for routed and bridged pods, IPv4 and IPv6', async () => {
  const tls = testCertificates();
  await using cluster = await SimulatedCluster.create(NODE, { tls: { cert: tls.cert, key: tls.key } });
  assert.match(cluster.api.url, /^https:/);
  cluster.namespace('shop');
  const { replicaSet } = cluster.deployment('shop', 'web');
  cluster.service('web', 'shop', { app: 'web' }, [{ port: 80 }]);
  const pods = [
    await cluster.addPod({
      name: 'web-routed',
      namespace: 'shop',
      shape: 'routed',
      server: 'nginx',
      port: 80,
      labels: { app: 'web' },
      owner: replicaSet,
    }),
    await cluster.addPod({
      name: 'web-bridged',
      namespace: 'shop',
      shape: 'bridged',
      server: 'nginx',
      port: 80,
      labels: { app: 'web' },
      owner: replicaSet,
    }),
  ];
  const [prom, admin] = await freePorts(2);
  const ports = { prom, admin };
  const agent = startInImage(asDaemonSet(cluster, tls.ca, ports));
  try {
    await waitFor200(agent, `http://127.0.0.1:${ports.admin}/readyz`);
    const status = readFileSync(`/proc/${agent.pid}/status`, 'utf8');
    assert.deepEqual(daemonSetCapabilities(), ['cap_bpf', 'cap_net_raw', 'cap_perfmon']);
    assert.match(
      status,
      new RegExp(`^CapEff:\\s+${capabilityMask(daemonSetCapabilities())}$`, 'm'),
      'only the three',
    );
    assert.match(status, new RegExp(`^CapBnd:\\s+${capabilityMask(daemonSetCapabilities())}$`, 'm'));
    assert.match(status, /^NoNewPrivs:\s+1$/m);
    assert.match(status, /^Uid:\s+0\s/m);
    const mounts = readFileSync(`/proc/${agent.pid}/mountinfo`, 'utf8').split('\n');
    const root = mounts.find((l) => l.split(' ')[4] === '/');
    assert.match(root ?? '', / ro[, ]/, `the root is read-only: ${root}`);
    assert.ok(!mounts.some((l) => l.split(' ')[4]?.startsWith('/run/netns')), 'no /run/netns mount');
    assert.ok(!existsSync(`/proc/${agent.pid}/root/run/netns`), 'no /run/netns in the root it sees');
    // The image runs the agent bundled (deploy/rootfs.sh `bundle`): main.js and its chunks, no
    // TypeScript for Node to strip at start-up (its type stripper stays resident, about 17 MB), and
    // no other source file.
    const packages = `/proc/${agent.pid}/root/app/packages`;
    const sources = ['agent', 'ebpf', 'k8s', 'otel'].flatMap((p) =>
      existsSync(join(packages, p, 'src'))
        ? readdirSync(join(packages, p, 'src'), { recursive: true, encoding: 'utf8' }).map((f) => join(p, f))
        : [],
    );
    assert.deepEqual(
      sources.filter((f) => !/^agent\/cli(\/chunks)?(\/[^/]+\.js(\.LEGAL\.txt)?)?$/.test(f)),
      [],
      'under /app/packages/*/src only the bundle: agent/src/cli/main.js and its chunks',
    );
    assert.ok(sources.includes('agent/cli/main.js'), `the bundle's entry point: ${sources.join(', ')}`);
    assert.ok(
      cluster.api.requestCount({ verb: 'watch', resource: 'pods' }) > 0,
      'the agent watches pods through the API server over HTTPS with the service account',
    );
    assert.deepEqual(
      [401, 403].map((code) => cluster.api.requestCount({ status: code })),
      [0, 0],
      "the token authenticates and deploy/rbac.yaml's rules allow every request",
    );

    // the agent reports each pod IP attached on its host-side interface
    const targets = (await (await fetch(`http://127.0.0.1:${ports.admin}/targets`)).json()) as {
      pod: string;
      ips: { ip: string; state: string; interface?: string }[];
    }[];
    assert.deepEqual(
      targets
        .map((t) => `${t.pod}: ${t.ips.map((i) => `${i.ip} ${i.state} ${i.interface}`).join(', ')}`)
        .sort(),
      pods
        .map(
          (p) => `${p.spec.name}: ${p.pod.ips.map((ip) => `${ip} attached ${p.pod.hostIfName}`).join(', ')}`,
        )
        .sort(),
      `the agent's log:\n${agent.log()}`,
    );

    const sent = await Promise.all(
      pods.flatMap((p) =>
        ([4, 6] as const).map((family) =>
          load(undefined, {
            base: p.server.url('', family),
            connections: 2,
            requests: PLAN.map(({ path, count }) => ({ path, count })),
          }),
        ),
      ),
    );
    for (const r of sent) assert.deepEqual(r.byStatus, { '200': 30, '404': 7, '503': 3 });
    const samples = await scrape(`http://127.0.0.1:${ports.prom}/metrics`);
    for (const p of pods)
      for (const { status: code, count } of PLAN)
        assert.equal(
          sampleValue(samples, SERVER, { k8s_pod_name: p.spec.name, http_response_status_code: code }),
          2 * count,
          `${p.spec.name} ${code}: IPv4 and IPv6 ${count} each; the agent's log:\n${agent.log()}`,
        );
    assert.equal(sampleSum(samples, SERVER), 160);
    assert.equal(
      sampleSum(samples, SERVER, {
        k8s_deployment_name: 'web',
        k8s_service_name: 'web',
        k8s_node_name: NODE,
      }),
      160,
    );
    assert.equal(await agent.stop(), 0, `exit code on SIGTERM; the agent's log:\n${agent.log()}`);
  } finally {
    await agent.stop();
  }
});

test('in the image without libbpf.so.1: the agent stops at start, naming the library', async () => {
  const tls = testCertificates();
  await using cluster = await SimulatedCluster.create(NODE, { tls: { cert: tls.cert, key: tls.key } });
  const [prom, admin] = await freePorts(2);
  const ports = { prom, admin };
  const agent: InImageAgent = startInImage({
    ...asDaemonSet(cluster, tls.ca, ports),
    layers: [image.without('usr/lib/x86_64-linux-gnu/libbpf.so.1')],
  });
  try {
    const code = await Promise.race([agent.exited, sleep(20_000).then(() => 'still running after 20 s')]);
    assert.equal(code, 3, `the agent's log:\n${agent.log()}`);
    assert.match(
      agent.log(),
      /cannot load libbpf\.so\.1: install Debian's libbpf1 \(apt-get install libbpf1\)/,
      `the agent's log:\n${agent.log()}`,
    );
    assert.doesNotMatch(agent.log(), /capture program loaded/);
  } finally {
    await agent.stop();
  }
});
