// What each memory lever buys, in one sitting: the size benchmark's agent at N targets (default
// 1,000; the same veths and test API server for every run, the agent connected in cluster as the
// DaemonSet is) in six variants, rotated each round (the order reversed every other round): the
// checkout's TypeScript with V8's defaults and no ENV; the same with deploy/Dockerfile's node flags
// and ENV; the image's bundle (`deploy/rootfs.sh js`) with the flags but without the ENV; the same
// with the ENV but with malloc_trim made a no-op (bench/lib/no-native-release.mjs); and the image
// (bundle, flags, ENV); and the image connected through a kubeconfig, which loads
// @kubernetes/client-node (the in-cluster connection does not). Per run: VmRSS after the size
// benchmark's settling (3 s, 7 scrapes), and the process's own breakdown
// (bench/lib/memory-report.mjs: process.memoryUsage(), V8's heap spaces, resident memory by
// mapping). Prints one JSON line per run, then median (min–max) per variant.
//
// Run: `node_modules/.bin/node bench/size-levers.ts [rounds=3] [targets=1000]` (root and BPF, like
// the suite; about 15 s per run at 1,000 targets).
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
import { formatSummary, summarize } from './lib/stats.ts';

requireBpf('bench size-levers');
const [rounds = 3, n = 1000] = process.argv.slice(2, 4).map(Number);
const NODE = 'bench-node';
const TS_CLI = fileURLToPath(import.meta.resolve('@owlk8s/agent/cli'));
// A .mjs file: a .ts one would load Node's type stripper into the JavaScript variants.
const REPORT = fileURLToPath(new URL('lib/memory-report.mjs', import.meta.url));
const NO_RELEASE = fileURLToPath(new URL('lib/no-native-release.mjs', import.meta.url));

using image = imageAgent();
const flags = image.argv.slice(0, -1);
const bundle = image.argv.at(-1)!;
const env = Object.entries(image.env)
  .map(([k, v]) => `${k}=${v}`)
  .join(' ');
const variants: {
  name: string;
  argv: string[];
  env: Readonly<Record<string, string>>;
  kubeconfig?: boolean;
}[] = [
  { name: '.ts sources, V8 defaults (the checkout)', argv: [TS_CLI], env: {} },
  { name: `.ts sources, ${flags.join(' ')}, ${env}`, argv: [...flags, TS_CLI], env: image.env },
  { name: `bundle, ${flags.join(' ')}, no ENV`, argv: [...flags, bundle], env: {} },
  {
    name: `bundle, ${flags.join(' ')}, ${env}, freed native memory not released`,
    argv: ['--import', NO_RELEASE, ...flags, bundle],
    env: image.env,
  },
  { name: `bundle, ${flags.join(' ')}, ${env} (the image)`, argv: [...image.argv], env: image.env },
  {
    name: 'the image, connected through a kubeconfig (@kubernetes/client-node, loaded lazily)',
    argv: [...image.argv],
    env: image.env,
    kubeconfig: true,
  },
];
await using net = await TestNetwork.create();
using veths = routedVeths(net.slot, n);
const { links } = veths;
const results = new Map<string, number[]>(variants.map((v) => [v.name, []]));
const dir = mkdtempSync(join(tmpdir(), 'owlk8s-levers-'));
try {
  await using cluster = await inClusterApi({ bookmarkIntervalMs: 5000 });
  const { api } = cluster;
  const kubeconfig = api.writeKubeconfig(join(dir, 'kubeconfig'));
  api.apply(node(NODE));
  api.apply(namespace('default'));
  for (const l of links)
    api.apply(pod({ name: `pod-${l.host}`, node: NODE, ips: [l.ip], ports: [{ containerPort: 80 }] }));
  for (let r = 0; r < rounds; r++) {
    for (const v of r % 2 === 0 ? variants : variants.toReversed()) {
      const [promPort, adminPort] = await freePorts(2);
      const config = join(dir, 'owlk8s.yaml');
      writeFileSync(
        config,
        `node: { name: ${NODE} }
targets:
  source: kubernetes
  kubernetes: { ${v.kubeconfig ? `kubeconfig: ${kubeconfig}, ` : ''}scope: all }
export:
  intervalMs: 1000
  prometheus: { enabled: true, host: 127.0.0.1, port: ${promPort} }
  stdout: { enabled: false }
admin: { host: 127.0.0.1, port: ${adminPort} }
logging: { level: warn, format: json }
capture: { maps: { targets: 4096 } }
`,
      );
      const memOut = join(dir, 'memory.json');
      const nodeArgs = ['--import', REPORT, ...v.argv, 'run', '--config', config];
      const [cmd, args] = v.kubeconfig
        ? [process.execPath, nodeArgs]
        : inClusterSpawn(cluster.serviceAccountDir, nodeArgs);
      const child = spawn(cmd, args, {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, ...v.env, ...cluster.env, OWLK8S_MEMORY_REPORT: memOut },
      });
      const t0 = performance.now();
      try {
        for (;;) {
          if (performance.now() - t0 > 300_000) throw new Error(`${v.name}: not attached in 300 s`);
          if (child.exitCode !== null) throw new Error(`${v.name}: exited with ${child.exitCode}`);
          const ts = (await fetch(`http://127.0.0.1:${adminPort}/targets`).then(
            (x) => x.json(),
            () => [],
          )) as { ips: { state: string }[] }[];
          if (ts.filter((t) => t.ips.every((i) => i.state === 'attached')).length >= n) break;
          await sleep(100);
        }
        const attachedMs = performance.now() - t0;
        await sleep(3000);
        for (let i = 0; i < 7; i++) {
          await (await fetch(`http://127.0.0.1:${promPort}/metrics`)).text();
          await sleep(300);
        }
        const m = processMemory(child.pid!);
        child.kill('SIGUSR2');
        await sleep(500);
        const breakdown = JSON.parse(readFileSync(memOut, 'utf8')) as unknown;
        rmSync(memOut);
        results.get(v.name)!.push(m.rssMiB);
        console.log(
          JSON.stringify({
            round: r,
            variant: v.name,
            attachedMs: Math.round(attachedMs),
            rssMiB: +m.rssMiB.toFixed(1),
            peakMiB: +m.peakMiB.toFixed(1),
            breakdown,
          }),
        );
      } finally {
        const exited = new Promise((res) => child.once('exit', res));
        child.kill('SIGTERM');
        await exited;
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`\nRSS at ${n} targets, MiB, median (min–max) of ${rounds}:`);
for (const [name, xs] of results) console.log(`- ${name}: ${formatSummary(summarize(xs), 1)}`);
