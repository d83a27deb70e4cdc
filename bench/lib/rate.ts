// Item 3, the agent's cost against the request rate: one agent process (pod attached, stdout
// exporter reading the kernel maps every second) while the pod serves no traffic, a medium rate
// (wrk, one connection) and the highest rate this machine sustains (wrk, 2 threads, 32
// connections). The three levels alternate in every round; CPU is the agent's own
// (/proc/PID/stat utime+stime), as seconds per minute; memory is its VmRSS after each window.
import { SimulatedCluster } from '../../test/demo/cluster.ts';
import { wrk } from '../../test/harness/clients.ts';
import { sleep } from '../../test/harness/exec.ts';
import { AgentProcess } from './agent-process.ts';
import { type BenchOptions, type BenchResult, fmt } from './bench.ts';
import { table } from './markdown.ts';
import { formatSummary, pairRatios, summarize } from './stats.ts';

const LEVELS = ['rest', 'medium', 'highest'] as const;
type Level = (typeof LEVELS)[number];

interface Window {
  readonly level: Level;
  readonly round: number;
  readonly requestsPerSecond: number;
  readonly cpuSecondsPerMinute: number;
  readonly rssMiB: number;
}

export async function rate({ quick, log }: BenchOptions): Promise<BenchResult> {
  const ROUNDS = quick ? 1 : 3;
  const SECONDS = quick ? 4 : 20;
  await using cluster = await SimulatedCluster.create('bench-node', { handleSignals: true });
  const web = await cluster.addPod({ name: 'web', shape: 'routed', ipv6: false, server: 'nginx', port: 80 });
  const url = web.server.url('/');
  const agent = await AgentProcess.start({
    connection: { kubeconfig: cluster.kubeconfigPath },
    node: cluster.nodeName,
    intervalMs: 1000,
    stdoutFile: '/dev/null',
  });
  const windows: Window[] = [];
  try {
    await agent.waitTargets(1);
    // Start-up work (module compilation, the first syncs) is over well before this.
    await sleep(quick ? 2000 : 10_000);
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? LEVELS : [...LEVELS].reverse();
      for (const level of order) {
        const cpu0 = agent.cpuSecondsPrecise();
        const t0 = performance.now();
        let rps = 0;
        if (level === 'rest') await sleep(SECONDS * 1000);
        else {
          const w = await wrk(undefined, url, {
            connections: level === 'medium' ? 1 : 32,
            threads: level === 'medium' ? 1 : 2,
            durationS: SECONDS,
          });
          rps = w.requestsPerSecond;
        }
        const elapsedS = (performance.now() - t0) / 1000;
        const w: Window = {
          level,
          round,
          requestsPerSecond: rps,
          cpuSecondsPerMinute: ((agent.cpuSecondsPrecise() - cpu0) / elapsedS) * 60,
          rssMiB: agent.memory().rssMiB,
        };
        windows.push(w);
        log(
          `rate round ${round + 1}/${ROUNDS} ${level}: ${fmt(rps, 0)} requests/s, agent ${fmt(w.cpuSecondsPerMinute, 2)} CPU s/min, RSS ${fmt(w.rssMiB)} MiB`,
        );
      }
    }
  } finally {
    await agent.stop();
  }
  const of = (level: Level) => windows.filter((w) => w.level === level);
  const ratio = summarize(
    pairRatios(
      of('highest').map((w) => w.cpuSecondsPerMinute),
      of('rest').map((w) => w.cpuSecondsPerMinute),
    ),
  );
  const markdown = `One agent process (Kubernetes mode, one nginx pod attached, stdout exporter on with
\`export.intervalMs: 1000\`, so it reads the kernel maps and exports every second — ten times the default —
which makes the per-interval work measurable). ${ROUNDS} rounds of ${SECONDS} s windows; the levels alternate
order in each round. "medium" is wrk with one connection, "highest" wrk with 2 threads and 32 connections
(on this 2-core machine wrk and nginx take the cores: this is the most the machine serves). CPU is the
agent's own (the sum of its threads' schedstat run time, in ns); RSS its VmRSS at the end of each window. Medians (min–max) over rounds.

${table(
  ['traffic', 'requests/s', 'agent CPU s per minute', 'agent RSS MiB'],
  LEVELS.map((l) => [
    l,
    formatSummary(summarize(of(l).map((w) => w.requestsPerSecond)), 0),
    formatSummary(summarize(of(l).map((w) => w.cpuSecondsPerMinute)), 2),
    formatSummary(summarize(of(l).map((w) => w.rssMiB)), 1),
  ]),
)}

CPU at the highest rate / CPU at rest (within each round): ${formatSummary(ratio, 2)}. Goal ≤ 1.1:
${ratio.median <= 1.1 ? `**met**.` : `**not met**: ${fmt((ratio.median / 1.1 - 1) * 100, 0)} % over.`}`;
  const goals = [
    {
      goal: 'agent CPU at the highest rate ≤ 1.1× at rest',
      measured: `${fmt(ratio.median, 2)}× (${fmt(ratio.min, 2)}–${fmt(ratio.max, 2)})`,
      met: ratio.median <= 1.1,
    },
  ];
  return { name: 'rate', goals, data: { rounds: ROUNDS, seconds: SECONDS, windows, ratio }, markdown };
}
