// Benchmark: the agent process's own CPU at rest, a pod attached and no traffic: what its timers
// cost when there is nothing to count (the reconciler's pass every 2 s, the HTTP/2 ring's polls).
// Variants, each a fresh agent process (Kubernetes mode against the test API server, one nginx pod
// attached, no exporter scraped or pushing): the agent as configured by default; the same with
// `capture.http2: false` (no HTTP/2 polls); with BASELINE=DIR, the agent of another checkout (set up
// with its own scripts/setup.sh), its own defaults. Each round runs every variant once, in rotating
// order: the agent starts, waits for its pod, settles 3 s, then its threads' CPU time (schedstat)
// over `seconds` is divided by them. Medians (min–max) over rounds, and each variant's excess over
// `capture.http2: false` within each round.
// Run: [BASELINE=DIR] node bench/agent-rest.ts [rounds=3] [seconds=15]
import { join } from 'node:path';
import { SimulatedCluster } from '../test/demo/cluster.ts';
import { sleep } from '../test/harness/exec.ts';
import { AgentProcess, CHECKOUT_CLI, CLI, checkoutMissing } from './lib/agent-process.ts';
import { positiveArg } from './lib/args.ts';
import { fmt } from './lib/bench.ts';
import { table } from './lib/markdown.ts';
import { formatSummary, summarize } from './lib/stats.ts';

const SCRIPT = 'bench/agent-rest.ts';
const ROUNDS = positiveArg(SCRIPT, process.argv[2], 3, 'the number of rounds');
const SECONDS = positiveArg(SCRIPT, process.argv[3], 15, 'the seconds per run');
const BASELINE = process.env.BASELINE;
const missing = BASELINE === undefined ? undefined : checkoutMissing(BASELINE);
if (missing !== undefined) throw new Error(`${SCRIPT}: BASELINE: ${missing}`);
const baselineCli = BASELINE === undefined ? undefined : join(BASELINE, CHECKOUT_CLI);

interface Variant {
  readonly name: string;
  readonly argv: readonly string[];
  readonly extra?: string;
}
const VARIANTS: Variant[] = [
  { name: 'default', argv: [CLI] },
  { name: 'capture.http2: false', argv: [CLI], extra: 'capture: { http2: false }' },
  ...(baselineCli === undefined ? [] : [{ name: `baseline (${BASELINE})`, argv: [baselineCli] }]),
];

await using cluster = await SimulatedCluster.create('bench-node', { handleSignals: true });
await cluster.addPod({ name: 'web', shape: 'routed', ipv6: false, server: 'nginx', port: 80 });
const msPerS = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < VARIANTS.length; i++) {
    const v = VARIANTS[(i + round) % VARIANTS.length]!;
    const agent = await AgentProcess.start({
      connection: { kubeconfig: cluster.kubeconfigPath },
      node: cluster.nodeName,
      argv: v.argv,
      ...(v.extra === undefined ? {} : { extra: v.extra }),
    });
    try {
      await agent.waitTargets(1);
      await sleep(3000); // start-up work (module compilation, the first syncs) over
      const c0 = agent.cpuSecondsPrecise();
      await sleep(SECONDS * 1000);
      const ms = ((agent.cpuSecondsPrecise() - c0) * 1000) / SECONDS;
      msPerS.get(v.name)!.push(ms);
      console.error(`round ${round + 1}/${ROUNDS} ${v.name}: ${fmt(ms, 2)} ms of CPU per second`);
    } finally {
      await agent.stop();
    }
  }
}
const off = msPerS.get('capture.http2: false')!;
console.log(
  table(
    ['agent', 'CPU ms per second at rest', 'over `capture.http2: false`, same round'],
    VARIANTS.map((v) => {
      const xs = msPerS.get(v.name)!;
      return [
        v.name,
        formatSummary(summarize(xs), 2),
        formatSummary(summarize(xs.map((x, r) => x - off[r]!)), 2),
      ];
    }),
  ),
);
