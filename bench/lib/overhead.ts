// Item 2, overhead on served traffic: full-rate wrk against nginx in a pod, with no agent, the agent
// with capture.attach=socket and the agent with capture.attach=tc, in rotating order within each of
// many short rounds. Primary figure: machine-wide busy CPU time (/proc/stat) over the wrk run divided
// by the requests served; per round, each agent variant over the no-agent run of the same round;
// the median of those ratios with a seeded bootstrap 95 % confidence interval.
//
// The two agent processes start once and stay up. Between runs only what the comparison needs
// changes: the pod's object is moved in the test API server to the node of the agent being measured
// (that agent attaches to it) or to a node no agent watches (every agent detaches), and the agents
// not being measured are stopped with SIGSTOP (a stopped process spends no CPU). So the no-agent run
// has no agent program attached to the pod's interface (checked before every run: no packet socket
// on the interface in /proc/net/packet, no TC filter, no TCX link) and no agent process running.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SimulatedCluster } from '../../test/demo/cluster.ts';
import { wrk } from '../../test/harness/clients.ts';
import { sleep } from '../../test/harness/exec.ts';
import { type KubeObject, node } from '../../test/k8s-api/index.ts';
import { AgentProcess, CHECKOUT_CLI } from './agent-process.ts';
import { type BenchOptions, type BenchResult, fmt } from './bench.ts';
import { machineCpu } from './machine.ts';
import { table } from './markdown.ts';
import {
  bootstrapMedianCi,
  ciVerdict,
  formatCi,
  formatSummary,
  type MedianCi,
  pairRatios,
  relativeHalfWidth,
  summarize,
} from './stats.ts';

export type Variant = 'none' | 'socket' | 'tc' | 'baseline';
const LABEL: Record<Variant, string> = {
  none: 'no agent',
  socket: 'agent, attach socket',
  tc: 'agent, attach tc',
  baseline: 'baseline agent',
};
/** Nodes of the test API server: the pod sits on one of them; `bench-nobody` has no agent. */
const NODE: Record<Variant, string> = {
  none: 'bench-nobody',
  socket: 'bench-socket',
  tc: 'bench-tc',
  baseline: 'bench-baseline',
};
/** The variants measured: the three, and the baseline agent when a baseline checkout is given. */
const variantsOf = (withBaseline: boolean): readonly Variant[] =>
  withBaseline ? ['none', 'socket', 'tc', 'baseline'] : ['none', 'socket', 'tc'];
type AgentVariant = Exclude<Variant, 'none'>;

/**
 * Defaults: 21 rounds (a multiple of 3, so each variant goes first, second and third equally often)
 * × 3 runs × (4 s of wrk + about 1 s of switching and settling) + about 20 s of set-up ≈ 5.6 min.
 */
export const OVERHEAD_DEFAULTS = { rounds: 21, seconds: 4 } as const;
export const OVERHEAD_QUICK = { rounds: 3, seconds: 2 } as const;
const CI = { level: 0.95, resamples: 10_000, seed: 16 } as const;

export interface Run {
  readonly round: number;
  readonly variant: Variant;
  readonly requests: number;
  readonly rps: number;
  readonly p99Ms: number;
  readonly busyS: number;
  readonly cpuUsPerRequest: number;
  /** The measured agent process's own CPU (its threads' schedstat) over the run, per request; 0 without. */
  readonly agentCpuUsPerRequest: number;
  /**
   * The share of the machine (all cores) busy in the half second before the run, without traffic:
   * well above 0, other work was sharing the machine.
   */
  readonly busyBefore: number;
}

/**
 * What holds a program on the interface: packet sockets bound to it (/proc/net/packet), TC filters
 * (clsact, from `tc`), what `bpftool net show dev` lists, and TCX links held by the processes `pids`
 * (their descriptors' fdinfo names the link's interface; bpftool 7.1, Debian 12's, lists TCX links
 * without it, and `bpftool net` does not show them).
 */
export function attachedTo(ifindex: number, ifname: string, pids: readonly number[]): string[] {
  const found: string[] = [];
  // sk RefCnt Type Proto Iface R Rmem User Inode
  for (const line of readFileSync('/proc/net/packet', 'utf8').trim().split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (Number(f[4]) === ifindex) found.push(`packet socket inode ${f[8]}`);
  }
  for (const dir of ['ingress', 'egress']) {
    const filters = JSON.parse(
      execFileSync('tc', ['-j', 'filter', 'show', 'dev', ifname, dir], { encoding: 'utf8' }) || '[]',
    ) as { kind?: string; options?: unknown }[];
    for (const f of filters) if (f.options !== undefined) found.push(`tc ${dir} filter ${f.kind}`);
  }
  // bpftool's own view of the device (XDP, clsact filters, and TCX links from bpftool 7.3 on).
  const net = JSON.parse(
    execFileSync('bpftool', ['-j', 'net', 'show', 'dev', ifname], { encoding: 'utf8' }) || '[]',
  ) as Record<string, unknown[]>[];
  for (const section of net) {
    for (const kind of ['xdp', 'tc', 'tcx'] as const) {
      for (const p of section[kind] ?? []) found.push(`bpftool net ${kind}: ${JSON.stringify(p)}`);
    }
  }
  for (const pid of pids) {
    for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
      let info: string;
      try {
        info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
      } catch {
        continue; // closed between the listing and the read
      }
      if (/^link_type:\ttcx$/m.test(info) && new RegExp(`^ifindex:\\t${ifindex}$`, 'm').test(info))
        found.push(`tcx link ${/^attach_type:\t\d+ \((\w+)\)/m.exec(info)?.[1] ?? '?'} of pid ${pid}`);
    }
  }
  return found;
}

export async function overhead({ quick, log, overhead: given }: BenchOptions): Promise<BenchResult> {
  const VARIANTS = variantsOf(given?.baseline !== undefined);
  const ROUNDS = given?.rounds ?? (quick ? OVERHEAD_QUICK : OVERHEAD_DEFAULTS).rounds;
  const SECONDS = given?.seconds ?? (quick ? OVERHEAD_QUICK : OVERHEAD_DEFAULTS).seconds;
  const WRK = { connections: 32, threads: 2, durationS: SECONDS };
  await using cluster = await SimulatedCluster.create(NODE.none, { handleSignals: true });
  for (const v of VARIANTS) if (v !== 'none') cluster.api.apply(node(NODE[v]));
  const web = await cluster.addPod({ name: 'web', shape: 'routed', ipv6: false, server: 'nginx', port: 80 });
  const url = web.server.url('/');
  const ifname = web.pod.hostIfName;
  const ifindex = Number(readFileSync(`/sys/class/net/${ifname}/ifindex`, 'utf8'));
  const base = web.object;

  const agents: Partial<Record<AgentVariant, AgentProcess>> = {};
  const agent = (v: AgentVariant) => agents[v]!;
  const baseline = given?.baseline === undefined ? undefined : baselineOf(given.baseline);
  try {
    for (const mode of ['socket', 'tc'] as const) {
      agents[mode] = await AgentProcess.start({
        connection: { kubeconfig: cluster.kubeconfigPath },
        node: NODE[mode],
        extra: `capture: { attach: ${mode} }`,
      });
    }
    if (baseline) {
      // The baseline checkout's own agent with its own defaults (its attach mode is the socket
      // filter, the default of every owlk8s so far), run by this checkout's Node.
      agents.baseline = await AgentProcess.start({
        connection: { kubeconfig: cluster.kubeconfigPath },
        node: NODE.baseline,
        argv: [baseline.cli],
      });
      log(`overhead: baseline agent ${baseline.commit} from ${given!.baseline}`);
    }
    const pids = () => Object.values(agents).map((a) => a.pid);
    let placed: Variant = 'none';
    const signal = (a: AgentProcess, sig: 'SIGSTOP' | 'SIGCONT') => a.child.kill(sig);
    /** Moves the pod to the variant's node; the agent of the previous one detaches, the new one attaches. */
    const place = async (v: Variant) => {
      if (v !== placed) {
        const prev = placed === 'none' ? undefined : agent(placed);
        if (prev) signal(prev, 'SIGCONT');
        cluster.api.delete('Pod', 'default', 'web');
        await waitFor(
          async () => (prev ? (await prev.targets()).length === 0 : true),
          `${placed} agent to drop the pod`,
        );
        const moved: KubeObject = {
          ...base,
          metadata: {
            name: base.metadata.name,
            namespace: base.metadata.namespace,
            labels: base.metadata.labels,
          },
          spec: { ...(base.spec as object), nodeName: NODE[v] },
        };
        cluster.api.apply(moved);
        placed = v;
      }
      if (v !== 'none') {
        signal(agent(v), 'SIGCONT');
        await agent(v).waitTargets(1);
      }
      // The agent that left may still be detaching (it runs until the check passes); give it a
      // moment before calling it a failure.
      let holders: string[] = [];
      const wrong = () => {
        holders = attachedTo(ifindex, ifname, pids());
        const sockets = holders.filter((h) => h.startsWith('packet socket')).length;
        const tc = holders.length - sockets;
        if (v === 'none') return holders.length > 0;
        return v === 'tc' ? sockets !== 0 || tc === 0 : sockets !== 1 || tc !== 0;
      };
      const t0 = performance.now();
      while (wrong()) {
        if (performance.now() - t0 > 10_000) {
          throw new Error(
            `overhead: before the ${LABEL[v]} run, ${ifname} should hold ${v === 'none' ? 'no program' : v === 'tc' ? 'TC programs and no packet socket' : 'one packet socket and no TC program'}; it holds ${holders.join(', ') || 'nothing'}`,
          );
        }
        await sleep(50);
      }
      for (const [m, a] of Object.entries(agents)) if (m !== v) signal(a, 'SIGSTOP');
    };

    await place('none');
    await wrk(undefined, url, { ...WRK, durationS: 2 }); // warm nginx and the page cache
    const runs: Run[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!);
      for (const v of order) {
        await place(v);
        const cBefore = machineCpu();
        await sleep(500); // the switch's own work (watch event, attach, catch-up timers) done
        const measured = v === 'none' ? undefined : agent(v);
        const a0 = measured?.cpuSecondsPrecise() ?? 0;
        const c0 = machineCpu();
        const before = (c0.busy - cBefore.busy) / (c0.total - cBefore.total);
        const w = await wrk(undefined, url, WRK);
        const c1 = machineCpu();
        const a1 = measured?.cpuSecondsPrecise() ?? 0;
        if (w.socketErrors > 0 || w.non2xx3xx > 0)
          throw new Error(`wrk: ${w.socketErrors} socket errors, ${w.non2xx3xx} non-2xx`);
        const busyS = c1.busy - c0.busy;
        const r: Run = {
          round,
          variant: v,
          requests: w.requests,
          rps: w.requestsPerSecond,
          p99Ms: w.p99Ms,
          busyS: +busyS.toFixed(2),
          cpuUsPerRequest: +((busyS / w.requests) * 1e6).toFixed(4),
          agentCpuUsPerRequest: +(((a1 - a0) / w.requests) * 1e6).toFixed(4),
          busyBefore: +before.toFixed(3),
        };
        runs.push(r);
        log(
          `overhead round ${round + 1}/${ROUNDS} ${LABEL[v].padEnd(22)}: ${r.requests} requests, ${fmt(r.rps, 0)}/s, p99 ${r.p99Ms} ms, ${fmt(r.cpuUsPerRequest, 2)} µs CPU/request`,
        );
      }
    }
    await place('none');
    return report(runs, ROUNDS, SECONDS, WRK, baseline);
  } finally {
    for (const a of Object.values(agents)) {
      a.child.kill('SIGCONT');
      await a.stop();
    }
  }
}

/** A baseline checkout's CLI and commit (`git describe`, so a dirty tree says so). */
function baselineOf(dir: string): Baseline {
  const commit = execFileSync('git', ['-C', dir, 'describe', '--always', '--dirty'], {
    encoding: 'utf8',
  }).trim();
  return { cli: join(dir, CHECKOUT_CLI), commit };
}

export interface Baseline {
  readonly cli: string;
  readonly commit: string;
}

async function waitFor(ok: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const t0 = performance.now();
  while (!(await ok())) {
    if (performance.now() - t0 > timeoutMs)
      throw new Error(`overhead: waited ${timeoutMs} ms for the ${what}`);
    await sleep(20);
  }
}

/** Per round, the variant's value over the no-agent value of the same round. */
function ratiosOf(runs: readonly Run[], v: Variant, key: RunFigure): number[] {
  return pairRatios(byRound(runs, v, key), byRound(runs, 'none', key));
}

type RunFigure = 'cpuUsPerRequest' | 'p99Ms' | 'rps';

/** One variant's figure, round by round. */
function byRound(runs: readonly Run[], v: Variant, key: RunFigure): number[] {
  return runs
    .filter((r) => r.variant === v)
    .sort((a, b) => a.round - b.round)
    .map((r) => r[key]);
}

export function report(
  runs: readonly Run[],
  rounds: number,
  seconds: number,
  wrkOpts: { connections: number; threads: number },
  baseline?: Baseline,
): BenchResult {
  const VARIANTS = variantsOf(baseline !== undefined);
  const ci = (xs: number[]) => bootstrapMedianCi(xs, CI);
  const cpu = {
    socket: ci(ratiosOf(runs, 'socket', 'cpuUsPerRequest')),
    tc: ci(ratiosOf(runs, 'tc', 'cpuUsPerRequest')),
  };
  const p99 = { socket: ci(ratiosOf(runs, 'socket', 'p99Ms')), tc: ci(ratiosOf(runs, 'tc', 'p99Ms')) };
  const rps = { socket: ci(ratiosOf(runs, 'socket', 'rps')), tc: ci(ratiosOf(runs, 'tc', 'rps')) };
  const cpuOf = (v: Variant) => byRound(runs, v, 'cpuUsPerRequest');
  const tcOverSocket = ci(pairRatios(cpuOf('tc'), cpuOf('socket')));
  const overBaseline = baseline && {
    baseline: ci(ratiosOf(runs, 'baseline', 'cpuUsPerRequest')),
    socket: ci(pairRatios(cpuOf('socket'), cpuOf('baseline'))),
    tc: ci(pairRatios(cpuOf('tc'), cpuOf('baseline'))),
  };
  const of = (v: Variant) => runs.filter((r) => r.variant === v);
  const row = (v: Variant) => [
    LABEL[v],
    formatSummary(summarize(of(v).map((r) => r.cpuUsPerRequest)), 2),
    v === 'none' ? '–' : formatSummary(summarize(of(v).map((r) => r.agentCpuUsPerRequest)), 3),
    formatSummary(summarize(of(v).map((r) => r.rps)), 0),
    formatSummary(summarize(of(v).map((r) => r.p99Ms)), 2),
  ];
  const quiet = summarize(runs.map((r) => r.busyBefore * 100));
  const pm = (c: MedianCi) => `±${fmt(relativeHalfWidth(c) * 100, 1)} %`;
  const verdict = (c: MedianCi, goal: number) => {
    const v = ciVerdict(c, goal);
    return v === 'met'
      ? `**met** (interval at or under ${goal})`
      : v === 'not met'
        ? `**not met** (interval over ${goal})`
        : `**unresolved** (the interval holds ${goal})`;
  };
  const markdown = `${rounds} rounds; in each, ${baseline ? 'four' : 'three'} runs in rotating order (the round number picks which goes first):
no agent, the agent with \`capture.attach: socket\`, the agent with \`capture.attach: tc\`${baseline ? `, the baseline agent (the checkout at ${baseline.commit}, its own defaults)` : ''}. Each run is ${seconds} s of
full-rate wrk from the host to nginx in a routed pod (${wrkOpts.threads} threads, ${wrkOpts.connections} keep-alive connections).
The ${baseline ? 'three' : 'two'} agent processes (Kubernetes mode, stdout exporter off, Prometheus endpoint not scraped, export every
1 s) start once; between runs the pod's object is moved to the node of the agent being measured, or to a node no
agent watches, and the agents not measured are stopped (SIGSTOP). Before every no-agent run the pod's interface is
checked to hold no program (no packet socket on it, no TC filter, nothing in \`bpftool net show dev\`, no TCX
link). CPU/request is the machine's busy time (/proc/stat, all cores: wrk, nginx, the kernel, the agent and
whatever else ran) over the run, divided by the requests served. Ratios are taken within each round (agent run ÷ the same round's no-agent run); a ratio's figure
is the median over rounds with its 95 % confidence interval [low, high] (bootstrap of the median, 10,000
resamples, seed ${CI.seed}); ± is the interval's half-width relative to the median. Two figures differ beyond
doubt when their intervals do not overlap: a half-width of 1 % resolves differences of 2 %.

${table(
  ['variant', 'machine CPU µs per request', 'of which the agent process', 'requests/s', 'p99 ms'],
  VARIANTS.map(row),
)}

${table(
  [
    'ratio over no agent (per round)',
    'attach socket: median [95 % CI]',
    '±',
    'attach tc: median [95 % CI]',
    '±',
    'goal',
  ],
  [
    [
      'CPU per request',
      formatCi(cpu.socket),
      pm(cpu.socket),
      formatCi(cpu.tc),
      pm(cpu.tc),
      `≤ 1.02: socket ${verdict(cpu.socket, 1.02)}; tc ${verdict(cpu.tc, 1.02)}`,
    ],
    [
      'p99 latency',
      formatCi(p99.socket),
      pm(p99.socket),
      formatCi(p99.tc),
      pm(p99.tc),
      `≤ 1.05: socket ${verdict(p99.socket, 1.05)}; tc ${verdict(p99.tc, 1.05)}`,
    ],
    ['requests/s', formatCi(rps.socket), pm(rps.socket), formatCi(rps.tc), pm(rps.tc), '(for information)'],
  ],
)}

CPU per request, tc ÷ socket within each round: ${formatCi(tcOverSocket)} (${pm(tcOverSocket)}).
${
  overBaseline
    ? `
${table(
  ['CPU per request, within each round', 'median [95 % CI]', '±', 'at or under 1'],
  [
    [
      `baseline agent (${baseline!.commit}) ÷ no agent`,
      formatCi(overBaseline.baseline),
      pm(overBaseline.baseline),
      '–',
    ],
    [
      'attach socket ÷ baseline agent',
      formatCi(overBaseline.socket),
      pm(overBaseline.socket),
      verdict(overBaseline.socket, 1),
    ],
    [
      'attach tc ÷ baseline agent',
      formatCi(overBaseline.tc),
      pm(overBaseline.tc),
      verdict(overBaseline.tc, 1),
    ],
  ],
)}

`
    : ''
}The machine was ${fmt(quiet.median, 1)} % busy (median; ${fmt(quiet.min, 1)}–${fmt(quiet.max, 1)} %) in the half
second before each run, without traffic: what other work than this benchmark's took of the cores (0 % on a quiet
machine; it also holds the measured agent's work right after it attached).`;
  const goal = (what: string, c: MedianCi, limit: number) => ({
    goal: what,
    measured: `${fmt(c.median, 3)}× [95 % CI ${fmt(c.lo, 3)}–${fmt(c.hi, 3)}]`,
    met: ciVerdict(c, limit) === 'met',
    verdict: ciVerdict(c, limit) === 'met' ? 'met' : `**${ciVerdict(c, limit)}**`,
  });
  return {
    name: 'overhead',
    goals: [
      goal('CPU per request with the agent (attach socket) ≤ 1.02× without', cpu.socket, 1.02),
      goal('CPU per request with the agent (attach tc) ≤ 1.02× without', cpu.tc, 1.02),
      goal('p99 with the agent (attach socket) ≤ 1.05× without', p99.socket, 1.05),
      goal('p99 with the agent (attach tc) ≤ 1.05× without', p99.tc, 1.05),
      ...(overBaseline
        ? [
            goal(
              `CPU per request, attach socket ≤ the baseline agent's (${baseline!.commit})`,
              overBaseline.socket,
              1,
            ),
            goal(
              `CPU per request, attach tc ≤ the baseline agent's (${baseline!.commit})`,
              overBaseline.tc,
              1,
            ),
          ]
        : []),
    ],
    data: {
      rounds,
      seconds,
      wrk: wrkOpts,
      ci: CI,
      runs,
      cpuRatio: cpu,
      p99Ratio: p99,
      rpsRatio: rps,
      tcOverSocket,
      ...(overBaseline ? { baseline: baseline!.commit, overBaseline } : {}),
    },
    markdown,
  };
}
