// One bundle of the agent against another, at the size benchmark's largest size, in one sitting:
// each variant is a directory made by `deploy/rootfs.sh js DIR` (the image's bundle) run with
// deploy/Dockerfile's node flags and ENV, connected in cluster, at N targets (the same veths and
// test API server for every run), in the benchmark's own cluster or in its large one
// (bench/lib/size.ts: 1,000 Services with 10 endpoints each, 100 Nodes). Variants rotate each round
// (the order reversed every other round). Per run: the size benchmark's RSS (the median of 20
// one-second readings after 3 s and 7 scrapes) and the process's own breakdown
// (bench/lib/memory-report.mjs); with OWLK8S_HEAP_SNAPSHOT_DIR set, a heap snapshot per run too.
//
// Run: `node_modules/.bin/node bench/size-ab.ts ROUNDS TARGETS small|large DIR...`
// (about 40 s per run at 1,000 targets).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../test/e2e/ports.ts';
import { sleep } from '../test/harness/exec.ts';
import { TestNetwork } from '../test/harness/network.ts';
import { requireBpf } from '../test/harness/privileges.ts';
import { namespace, node, pod } from '../test/k8s-api/index.ts';
import { imageAgent, inClusterApi, inClusterSpawn } from './lib/image-agent.ts';
import { processMemory } from './lib/machine.ts';
import { routedVeths } from './lib/routed-veths.ts';
import { clusterObjects } from './lib/size.ts';
import { formatSummary, summarize } from './lib/stats.ts';

requireBpf('bench size-ab');
const [roundsArg, nArg, where, ...dirs] = process.argv.slice(2);
const rounds = Number(roundsArg);
const n = Number(nArg);
if (!(rounds > 0 && n > 0 && (where === 'small' || where === 'large') && dirs.length > 0))
  throw new Error(
    'usage: size-ab.ts ROUNDS TARGETS small|large DIR... (DIR made by deploy/rootfs.sh js DIR)',
  );
const NODE = 'bench-node';
const REPORT = fileURLToPath(new URL('lib/memory-report.mjs', import.meta.url));
const snapshots = process.env.OWLK8S_HEAP_SNAPSHOT_DIR;

using image = imageAgent();
const flags = image.argv.slice(0, -1);
const cliPath = image.argv.at(-1)!;
const cli = cliPath.slice(cliPath.indexOf('/app/') + 1);
await using net = await TestNetwork.create();
using veths = routedVeths(net.slot, n);
const results = new Map<string, { rss: number[]; heapUsed: number[] }>(
  dirs.map((d) => [d, { rss: [], heapUsed: [] }]),
);
const tmp = mkdtempSync(join(tmpdir(), 'owlk8s-size-ab-'));
try {
  await using cluster = await inClusterApi({ bookmarkIntervalMs: 5000 });
  const { api } = cluster;
  api.apply(node(NODE));
  api.apply(namespace('default'));
  if (where === 'large') for (const o of clusterObjects()) api.apply(o);
  for (const l of veths.links)
    api.apply(pod({ name: `pod-${l.host}`, node: NODE, ips: [l.ip], ports: [{ containerPort: 80 }] }));
  for (let r = 0; r < rounds; r++) {
    for (const dir of r % 2 === 0 ? dirs : dirs.toReversed()) {
      const [promPort, adminPort] = await freePorts(2);
      const config = join(tmp, 'owlk8s.yaml');
      writeFileSync(
        config,
        `node: { name: ${NODE} }
targets:
  source: kubernetes
  kubernetes: { scope: all }
export:
  intervalMs: 1000
  prometheus: { enabled: true, host: 127.0.0.1, port: ${promPort} }
  stdout: { enabled: false }
admin: { host: 127.0.0.1, port: ${adminPort} }
logging: { level: warn, format: json }
capture: { maps: { targets: 4096 } }
`,
      );
      const memOut = join(tmp, 'memory.json');
      const nodeArgs = ['--import', REPORT, ...flags, join(dir, cli), 'run', '--config', config];
      const [cmd, args] = inClusterSpawn(cluster.serviceAccountDir, nodeArgs);
      const child = spawn(cmd, args, {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: {
          ...process.env,
          ...image.env,
          ...cluster.env,
          OWLK8S_MEMORY_REPORT: memOut,
          ...(snapshots
            ? {
                OWLK8S_HEAP_SNAPSHOT: join(
                  snapshots,
                  `${dir.replaceAll('/', '_')}-${where}-${r}.heapsnapshot`,
                ),
              }
            : {}),
        },
      });
      const t0 = performance.now();
      try {
        for (;;) {
          if (performance.now() - t0 > 300_000) throw new Error(`${dir}: not attached in 300 s`);
          if (child.exitCode !== null) throw new Error(`${dir}: exited with ${child.exitCode}`);
          const ts = (await fetch(`http://127.0.0.1:${adminPort}/targets`).then(
            (x) => x.json(),
            () => [],
          )) as { ips: { state: string }[] }[];
          if (ts.filter((t) => t.ips.every((i) => i.state === 'attached')).length >= n) break;
          await sleep(100);
        }
        await sleep(3000);
        for (let i = 0; i < 7; i++) {
          await (await fetch(`http://127.0.0.1:${promPort}/metrics`)).text();
          await sleep(300);
        }
        const rss: number[] = [];
        for (let i = 0; i < 20; i++) {
          if (i % 5 === 0) await (await fetch(`http://127.0.0.1:${promPort}/metrics`)).text();
          rss.push(processMemory(child.pid!).rssMiB);
          await sleep(1000);
        }
        child.kill('SIGUSR2');
        await sleep(snapshots ? 8000 : 500);
        const breakdown = JSON.parse(readFileSync(memOut, 'utf8')) as { heapUsed: number };
        rmSync(memOut);
        const median = summarize(rss).median;
        results.get(dir)!.rss.push(median);
        results.get(dir)!.heapUsed.push(breakdown.heapUsed);
        console.log(JSON.stringify({ round: r, dir, rssMiB: +median.toFixed(1), breakdown }));
      } finally {
        const exited = new Promise((res) => child.once('exit', res));
        child.kill('SIGTERM');
        await exited;
      }
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

console.log(
  `\n${where} cluster, ${n} targets, ${rounds} rounds: RSS MiB (median of 20 readings per run), heap used MiB`,
);
for (const [dir, { rss, heapUsed }] of results)
  console.log(
    `- ${dir}: RSS ${formatSummary(summarize(rss), 1)}; heap used ${formatSummary(summarize(heapUsed), 1)}`,
  );
