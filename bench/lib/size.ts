// Item 4, the agent's cost against size: 10, 100 and 1,000 targets, each a pod in the test API
// server whose IP is routed through its own real veth on this machine (veth pairs in the host
// namespace, one /128 route each: no network namespace or server per pod, which is what lets
// 1,000 fit), so the agent resolves, attaches and watches 1,000 real interfaces. A fresh agent
// process per size, run as the image runs it (bench/lib/image-agent.ts): start-up (spawn → ready,
// spawn → every target attached), resident memory once settled, and the time one collection
// takes (a Prometheus scrape: read the kernel maps, record, serialise).
import { sleep } from '../../test/harness/exec.ts';
import { TestNetwork } from '../../test/harness/network.ts';
import { requireBpf } from '../../test/harness/privileges.ts';
import { namespace, node, pod } from '../../test/k8s-api/index.ts';
import { AgentProcess } from './agent-process.ts';
import { type BenchOptions, type BenchResult, fmt } from './bench.ts';
import { imageAgent, inClusterApi } from './image-agent.ts';
import { table } from './markdown.ts';
import { routedVeths } from './routed-veths.ts';
import { formatSummary, summarize } from './stats.ts';

const NODE = 'bench-node';

interface SizeRow {
  readonly targets: number;
  readonly readyMs: number;
  readonly attachedMs: number;
  readonly rssMiB: number;
  readonly peakMiB: number;
  readonly scrapeMs: ReturnType<typeof summarize>;
  readonly series: number;
}

export async function size({ quick, log }: BenchOptions): Promise<BenchResult> {
  requireBpf('bench size');
  const SIZES = quick ? [10, 50] : [10, 100, 1000];
  const max = Math.max(...SIZES);
  await using net = await TestNetwork.create();
  const rows: SizeRow[] = [];
  using image = imageAgent();
  log(`size: the agent as the image runs it: node ${image.argv.join(' ')}`);
  const t0 = performance.now();
  using veths = routedVeths(net.slot, max);
  const { links } = veths;
  log(`size: ${max} veth pairs and routes made in ${fmt((performance.now() - t0) / 1000)} s`);
  for (const n of SIZES) {
    await using cluster = await inClusterApi({ bookmarkIntervalMs: 5000 });
    const { api } = cluster;
    api.apply(node(NODE));
    api.apply(namespace('default'));
    for (const l of links.slice(0, n)) {
      api.apply(pod({ name: `pod-${l.host}`, node: NODE, ips: [l.ip], ports: [{ containerPort: 80 }] }));
    }
    const spawned = performance.now();
    const agent = await AgentProcess.start({
      connection: cluster,
      env: image.env,
      node: NODE,
      extra: 'capture: { maps: { targets: 4096 } }',
      argv: image.argv,
    });
    try {
      await agent.waitTargets(n, true, 300_000);
      const attachedMs = performance.now() - spawned;
      await sleep(3000);
      const scrapes: number[] = [];
      let series = 0;
      for (let i = 0; i < 7; i++) {
        const t = performance.now();
        const samples = await agent.scrape();
        scrapes.push(performance.now() - t);
        series = samples.length;
        await sleep(300);
      }
      const m = agent.memory();
      const row: SizeRow = {
        targets: n,
        readyMs: agent.readyMs,
        attachedMs,
        rssMiB: m.rssMiB,
        peakMiB: m.peakMiB,
        scrapeMs: summarize(scrapes),
        series,
      };
      rows.push(row);
      log(
        `size ${n} targets: ready ${fmt(row.readyMs, 0)} ms, all attached ${fmt(attachedMs, 0)} ms, RSS ${fmt(m.rssMiB)} MiB (peak ${fmt(m.peakMiB)}), scrape ${fmt(row.scrapeMs.median)} ms`,
      );
    } finally {
      await agent.stop();
    }
  }
  const at1000 = rows.find((r) => r.targets === 1000);
  const markdown = `Sizes ${SIZES.join(', ')}: each target is a pod in the test API server whose IPv6 address is
routed (one /128 route) through its own veth pair on this machine: ${fmt(max, 0)} real interfaces, made with
\`ip -batch\` in a few seconds (network namespaces and a server per pod, as the other benchmarks use, stop at
~245 per run in the harness's address plan and cost ~0.2 s each). A fresh agent process per size, run as the image
runs it (bundled by \`deploy/rootfs.sh js\`, with the node flags of \`deploy/Dockerfile\`'s ENTRYPOINT,
\`${image.argv.slice(0, -1).join(' ')}\`, and its ENV, ${Object.entries(image.env)
    .map(([k, v]) => `\`${k}=${v}\``)
    .join(', ')}), connected in cluster as
the DaemonSet is (a service account's token and CA where Kubernetes mounts them, the test API server over HTTPS), in Kubernetes mode (\`scope: all\`, \`capture.maps.targets: 4096\`); no traffic, so these are the fixed costs of the targets: the kernel
side (one packet socket per interface) and the user side (the Kubernetes view, the reconciler, the series).
"Collection" is one Prometheus scrape (read the kernel maps, record, serialise), median (min–max) of 7.

${table(
  [
    'targets',
    'ready (spawn → /readyz)',
    'start-up (spawn → every target attached)',
    'RSS MiB (peak)',
    'collection ms',
    'samples on the endpoint',
  ],
  rows.map((r) => [
    r.targets,
    `${fmt(r.readyMs, 0)} ms`,
    `${fmt(r.attachedMs, 0)} ms`,
    `${fmt(r.rssMiB)} (${fmt(r.peakMiB)})`,
    formatSummary(r.scrapeMs, 1),
    r.series,
  ]),
)}

Goal, under 100 MB resident at 1,000 targets: ${
    at1000 === undefined
      ? 'not measured in this run'
      : at1000.rssMiB < 100
        ? `**met** (${fmt(at1000.rssMiB)} MiB)`
        : `**not met**: ${fmt(at1000.rssMiB)} MiB, ${fmt(at1000.rssMiB - 100, 0)} MiB over`
  }.`;
  const goals =
    at1000 === undefined
      ? []
      : [
          {
            goal: 'RSS < 100 MB at 1,000 targets',
            measured: `${fmt(at1000.rssMiB)} MiB`,
            met: at1000.rssMiB < 100,
          },
        ];
  return { name: 'size', goals, data: { sizes: SIZES, rows }, markdown };
}
