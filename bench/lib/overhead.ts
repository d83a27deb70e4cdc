// Item 2, overhead on served traffic: wrk against nginx in a pod, with the agent attached and
// without (no agent process at all), in alternating pairs. Primary figure: machine-wide busy CPU
// time (/proc/stat) over the wrk run divided by the requests served; requests/s and p99 beside it.
import { SimulatedCluster } from '../../test/demo/cluster.ts';
import { wrk } from '../../test/harness/clients.ts';
import { sleep } from '../../test/harness/exec.ts';
import { AgentProcess } from './agent-process.ts';
import { type BenchOptions, type BenchResult, fmt } from './bench.ts';
import { machineCpu } from './machine.ts';
import { table } from './markdown.ts';
import { formatSummary, pairRatios, summarize } from './stats.ts';

interface Run {
  readonly agent: boolean;
  readonly requests: number;
  readonly rps: number;
  readonly p99Ms: number;
  readonly busyS: number;
  readonly cpuUsPerRequest: number;
  /** The agent process's own CPU (utime+stime) over the run, per request; 0 without the agent. */
  readonly agentCpuUsPerRequest: number;
}

export async function overhead({ quick, log }: BenchOptions): Promise<BenchResult> {
  const PAIRS = quick ? 2 : 10;
  const SECONDS = quick ? 3 : 6;
  const WRK = { connections: 32, threads: 2, durationS: SECONDS };
  await using cluster = await SimulatedCluster.create('bench-node', { handleSignals: true });
  const web = await cluster.addPod({ name: 'web', shape: 'routed', ipv6: false, server: 'nginx', port: 80 });
  const url = web.server.url('/');
  await wrk(undefined, url, { ...WRK, durationS: 2 }); // warm nginx and the page cache
  const measure = async (withAgent: boolean): Promise<Run> => {
    const agent = withAgent
      ? await AgentProcess.start({ kubeconfig: cluster.kubeconfigPath, node: cluster.nodeName })
      : undefined;
    try {
      await agent?.waitTargets(1);
      await sleep(1000); // start-up work done; the attached steady state is what is measured
      const a0 = agent?.cpuSeconds() ?? 0;
      const c0 = machineCpu();
      const w = await wrk(undefined, url, WRK);
      const c1 = machineCpu();
      const a1 = agent?.cpuSeconds() ?? 0;
      if (w.socketErrors > 0 || w.non2xx3xx > 0)
        throw new Error(`wrk: ${w.socketErrors} socket errors, ${w.non2xx3xx} non-2xx`);
      const busyS = c1.busy - c0.busy;
      return {
        agent: withAgent,
        requests: w.requests,
        rps: w.requestsPerSecond,
        p99Ms: w.p99Ms,
        busyS,
        cpuUsPerRequest: (busyS / w.requests) * 1e6,
        agentCpuUsPerRequest: ((a1 - a0) / w.requests) * 1e6,
      };
    } finally {
      await agent?.stop();
    }
  };
  const on: Run[] = [];
  const off: Run[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const order = i % 2 === 0 ? [false, true] : [true, false];
    for (const withAgent of order) {
      const r = await measure(withAgent);
      (withAgent ? on : off).push(r);
      log(
        `overhead pair ${i + 1}/${PAIRS} ${withAgent ? 'agent   ' : 'no agent'}: ${r.requests} requests, ${fmt(r.rps, 0)}/s, p99 ${r.p99Ms} ms, ${fmt(r.cpuUsPerRequest, 2)} µs CPU/request`,
      );
    }
  }
  const cpuRatio = summarize(
    pairRatios(
      on.map((r) => r.cpuUsPerRequest),
      off.map((r) => r.cpuUsPerRequest),
    ),
  );
  const p99Ratio = summarize(
    pairRatios(
      on.map((r) => r.p99Ms),
      off.map((r) => r.p99Ms),
    ),
  );
  const rpsRatio = summarize(
    pairRatios(
      on.map((r) => r.rps),
      off.map((r) => r.rps),
    ),
  );
  const row = (label: string, runs: Run[]) => [
    label,
    formatSummary(summarize(runs.map((r) => r.cpuUsPerRequest)), 2),
    runs[0]?.agent ? formatSummary(summarize(runs.map((r) => r.agentCpuUsPerRequest)), 3) : '–',
    formatSummary(summarize(runs.map((r) => r.rps)), 0),
    formatSummary(summarize(runs.map((r) => r.p99Ms)), 2),
  ];
  const verdict = (s: { median: number }, goal: number) =>
    s.median <= goal
      ? `**met** (${fmt(s.median, 3)})`
      : `**not met**: ${fmt(s.median, 3)}, ${fmt((s.median / goal - 1) * 100, 1)} % over`;
  const markdown = `${PAIRS} alternating pairs (the first of each pair alternates), wrk from the host to nginx in a routed pod
(${WRK.threads} threads, ${WRK.connections} keep-alive connections, ${SECONDS} s per run); "agent" runs the real agent
process (Kubernetes mode, pod attached, stdout exporter off, Prometheus endpoint not scraped), started before and
stopped after each run, so its start-up is not in the figure; "no agent" has no agent process at all. CPU/request
is the machine's busy time (/proc/stat, all cores: wrk, nginx, the kernel, the agent and whatever else ran) over
the run, divided by the requests served. Medians with (min–max); ratios are taken within each pair.

${table(
  ['variant', 'machine CPU µs per request', 'of which the agent process', 'requests/s', 'p99 ms'],
  [row('no agent', off), row('agent attached', on)],
)}

${table(
  ['ratio agent / no agent (per pair)', 'median (min–max)', 'goal'],
  [
    ['CPU per request', formatSummary(cpuRatio, 3), `≤ 1.02: ${verdict(cpuRatio, 1.02)}`],
    ['p99 latency', formatSummary(p99Ratio, 3), `≤ 1.05: ${verdict(p99Ratio, 1.05)}`],
    ['requests/s', formatSummary(rpsRatio, 3), '(for information)'],
  ],
)}`;
  const goals = [
    {
      goal: 'CPU per request with the agent ≤ 1.02× without',
      measured: `${fmt(cpuRatio.median, 3)}× (${fmt(cpuRatio.min, 3)}–${fmt(cpuRatio.max, 3)})`,
      met: cpuRatio.median <= 1.02,
    },
    {
      goal: 'p99 with the agent ≤ 1.05× without',
      measured: `${fmt(p99Ratio.median, 3)}× (${fmt(p99Ratio.min, 3)}–${fmt(p99Ratio.max, 3)})`,
      met: p99Ratio.median <= 1.05,
    },
  ];
  return {
    name: 'overhead',
    goals,
    data: { pairs: PAIRS, seconds: SECONDS, wrk: WRK, on, off, cpuRatio, p99Ratio, rpsRatio },
    markdown,
  };
}
