// Benchmark: what HTTP/2 and gRPC cost (issue 20's Cost), with real @grpc/grpc-js unary calls
// between two routed pods of a simulated cluster (test/harness: the h2-server.ts gRPC server in
// one pod, bench/lib/grpc-load.ts in the other: CONNECTIONS long-lived connections, IN_FLIGHT
// calls always in flight on each, grpc-status 0 to 16 in turn, as fast as the machine goes).
//
// 1. Frames per call: one run of the same load through a proxy in the client's process that walks
//    the frame headers of both directions (frames over all calls of the run, connection frames too).
// 2. The kernel's cost: the capture program (which tail-calls the HTTP/2 program for an HTTP/2
//    connection's packets; the kernel's statistics count a tail-called program's time in the
//    program that called it) and the empty socket filter, attached side by side to the server
//    pod's host interface, order reversed every round; ns per packet from kernel.bpf_stats_enabled
//    (Δrun_time_ns / Δrun_cnt) over each round's load; the ring drained every 100 ms as the agent
//    does. Per call and per frame: (capture − floor) × packets per call, over frames per call.
// 3. Machine CPU per call with and without the agent, PAIRS alternating pairs (which one goes first
//    alternates): the agent as the image runs it (bench/lib/image-agent.ts: the bundled JS, the
//    Dockerfile's node flags and ENV; Kubernetes mode, both pods attached, so every call is counted
//    twice: the server role on one veth, the client role on the other) is started for its run and
//    stopped after. Each run first makes the same load for WARM seconds, unmeasured, in both arms: an agent
//    runs for days, and what its JIT compiler spends in its first seconds of HTTP/2 traffic is not
//    its cost per call (the agent's CPU over that warm-up is printed too). Machine CPU is /proc/stat
//    busy time over the measured load's window (from the client's start line to its result) ÷ calls
//    in it; the agent's CPU is its threads' schedstat run time over the same
//    window ÷ calls, and the same less its rate at rest (measured over the second before the
//    window). Each agent run's counts are read back (server and client role) against the calls
//    made, with the kernel's full-ring drops: the output says how many runs counted exactly. The ratio
//    with/without per pair, median with a 95 % bootstrap interval (bench/lib/stats.ts).
// Run: node bench/h2-cost.ts [kernelRounds=6] [pairs=10] [seconds=4] [warm=4]   (about 6 minutes)
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setInterval as every } from 'node:timers';
import { Capture, LoadedObject, requireHostInterface } from '@owlk8s/ebpf';
import { SimulatedCluster } from '../test/demo/cluster.ts';
import { sleep } from '../test/harness/exec.ts';
import { startH2Servers } from '../test/harness/servers.ts';
import { AgentProcess } from './lib/agent-process.ts';
import type { GrpcLoadPlan, GrpcLoadResult } from './lib/grpc-load.ts';
import { imageAgent } from './lib/image-agent.ts';
import { load1, machine, machineCpu } from './lib/machine.ts';
import { attachAlternating, enableBpfStats, measurePrograms } from './lib/program-runs.ts';
import {
  bootstrapMedianCi,
  formatCi,
  formatSummary,
  median,
  relativeHalfWidth,
  summarize,
} from './lib/stats.ts';

const KERNEL_ROUNDS = Number(process.argv[2] ?? 6);
const PAIRS = Number(process.argv[3] ?? 10);
const SECONDS = Number(process.argv[4] ?? 4);
const WARM = Number(process.argv[5] ?? 4);
for (const [name, v] of [
  ['kernelRounds', KERNEL_ROUNDS],
  ['pairs', PAIRS],
  ['seconds', SECONDS],
  ['warm', WARM],
] as const)
  if (!(Number.isInteger(v) && v > 0))
    throw new Error(`bench/h2-cost.ts: ${name} is ${v}: expected a positive integer`);
const CONNECTIONS = 4;
const IN_FLIGHT = 64;
const GRPC = 50051;
const NODE = 'node-1';
const BOUND_US = 2;
const EMPTY_OBJECT = new URL('../bpf/build/empty.bpf.o', import.meta.url).pathname;
const LOAD_SCRIPT = new URL('./lib/grpc-load.ts', import.meta.url).pathname;
const log = (line: string) => console.error(line);

const restoreStats = enableBpfStats();
try {
  await using cluster = await SimulatedCluster.create(NODE);
  const server = await cluster.addPod({
    name: 'grpc-0',
    shape: 'routed',
    server: 'node',
    port: 8080,
    labels: { app: 'grpc' },
  });
  const caller = await cluster.addPod({
    name: 'caller-0',
    shape: 'routed',
    server: 'node',
    port: 7070,
    labels: { app: 'caller' },
  });
  cluster.service('grpc', 'default', { app: 'grpc' }, [{ port: 8080 }, { port: GRPC, name: 'grpc' }]);
  const servers = await startH2Servers(server.pod, { h2c: 8081, grpc: GRPC });
  try {
    const target = `${server.pod.ipv4}:${GRPC}`;
    const plan: GrpcLoadPlan = { target, connections: CONNECTIONS, inFlight: IN_FLIGHT, seconds: SECONDS };
    const m = machine();
    const loadBefore = load1();
    const t0 = new Date();
    console.log(
      `h2-cost: ${m.cores} × ${m.cpu}, Linux ${m.kernel}, Node ${m.node}; started ${t0.toISOString()}`,
    );
    console.log(
      `load: @grpc/grpc-js unary calls from a routed pod to a routed pod (IPv4), ${CONNECTIONS} connections × ${IN_FLIGHT} in flight, grpc-status 0-16 in turn, ${SECONDS} s per measured run after ${WARM} s of warm-up`,
    );

    // 1. Frames per call.
    const framed = await runLoad(caller.pod, { ...plan, seconds: 2, countFrames: true });
    const frames = Object.values(framed.frames ?? {}).reduce((a, b) => a + b, 0);
    const framesPerCall = frames / framed.allCalls;
    const byType = Object.entries(framed.frames ?? {})
      .sort(([, a], [, b]) => b - a)
      .map(([t, n]) => `${t} ${(n / framed.allCalls).toFixed(2)}`)
      .join(', ');
    console.log(
      `frames per call (through the counting proxy, ${framed.allCalls} calls, both directions): ${framesPerCall.toFixed(2)} (${byType})`,
    );

    // 2. The kernel's cost.
    const iface = await requireHostInterface(server.pod.ipv4);
    const kernelRows: {
      empty: number;
      capture: number;
      packets: number;
      calls: number;
      records: number;
      ringFull: number;
    }[] = [];
    {
      using empty = LoadedObject.load(EMPTY_OBJECT, ['owlk8s_empty']);
      using capture = Capture.load({});
      capture.setTarget(server.pod.ipv4, iface.ifindex, 1);
      const drain = every(() => capture.readH2Records(), 100);
      try {
        for (let round = 0; round < KERNEL_ROUNDS; round++) {
          using _attached = attachAlternating(
            [empty.programFd('owlk8s_empty'), capture.programFd],
            iface.ifindex,
            round,
          );
          const h0 = capture.h2Counters();
          let res: GrpcLoadResult | undefined;
          const [e, c] = await measurePrograms(
            [empty.programFd('owlk8s_empty'), capture.programFd],
            async () => {
              res = await runLoad(caller.pod, plan);
            },
          );
          const h1 = capture.h2Counters();
          const row = {
            empty: e!.nsPerPacket,
            capture: c!.nsPerPacket,
            packets: c!.packets,
            calls: res!.allCalls,
            records: Number(h1.records - h0.records),
            ringFull: Number(h1.ringFull - h0.ringFull),
          };
          kernelRows.push(row);
          log(
            `kernel round ${round + 1}/${KERNEL_ROUNDS}: ${row.calls} calls, ${row.packets} packets, ${row.records} records (ring full ${row.ringFull}); empty ${row.empty.toFixed(1)} ns, capture ${row.capture.toFixed(1)} ns per packet`,
          );
        }
      } finally {
        clearInterval(drain);
      }
    }
    const med = (f: (r: (typeof kernelRows)[number]) => number) => median(kernelRows.map(f));
    const packetsPerCall = med((r) => r.packets / r.calls);
    const emptyNs = med((r) => r.empty);
    const captureNs = med((r) => r.capture);
    const overPerCall = kernelRows.map((r) => ((r.capture - r.empty) * r.packets) / r.calls);
    const perFrame = overPerCall.map((v) => v / framesPerCall);
    console.log('');
    console.log('| kernel, per round (median (min–max)) | value |');
    console.log('|---|---|');
    console.log(`| rounds | ${KERNEL_ROUNDS}, attach order reversed each round |`);
    console.log(`| calls per round | ${formatSummary(summarize(kernelRows.map((r) => r.calls)), 0)} |`);
    console.log(`| packets per call (server pod's interface) | ${packetsPerCall.toFixed(2)} |`);
    console.log(`| ring records per call | ${med((r) => r.records / r.calls).toFixed(2)} |`);
    console.log(
      `| records lost to a full ring, all rounds | ${kernelRows.reduce((a, r) => a + r.ringFull, 0)} |`,
    );
    console.log(
      `| empty filter (floor) | ${formatSummary(summarize(kernelRows.map((r) => r.empty)))} ns/packet |`,
    );
    console.log(
      `| capture program (with the HTTP/2 program it tail-calls) | ${formatSummary(summarize(kernelRows.map((r) => r.capture)))} ns/packet |`,
    );
    console.log(`| ratio to the floor | ${(captureNs / emptyNs).toFixed(2)} |`);
    console.log(
      `| over the floor, per call | ${formatSummary(summarize(overPerCall.map((v) => v / 1000)), 2)} µs |`,
    );
    console.log(
      `| over the floor, per HTTP/2 frame (${framesPerCall.toFixed(2)} frames per call) | ${formatSummary(summarize(perFrame))} ns |`,
    );
    console.log(
      `kernel rounds: ${JSON.stringify(kernelRows.map((r) => ({ ...r, empty: +r.empty.toFixed(1), capture: +r.capture.toFixed(1) })))}`,
    );

    // 3. Machine CPU per call with and without the agent.
    interface PairRun {
      readonly pair: number;
      readonly agent: boolean;
      readonly calls: number;
      readonly callsPerS: number;
      readonly machineUsPerCall: number;
      readonly agentUsPerCall: number;
      readonly agentAddedUsPerCall: number;
      readonly agentRestUsPerS: number;
      /** The agent's CPU per call over the warm-up load (its first seconds of HTTP/2 traffic). */
      readonly agentWarmUsPerCall: number;
      readonly counted?: Counted;
    }
    const runs: PairRun[] = [];
    using shipped = imageAgent();
    console.log(
      `agent: as the image runs it: node ${shipped.argv.slice(0, -1).join(' ')} (the bundled CLI), ${Object.entries(
        shipped.env,
      )
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
    for (let pair = 0; pair < PAIRS; pair++) {
      const order = pair % 2 === 0 ? [false, true] : [true, false];
      for (const withAgent of order) runs.push(await measureRun(pair, withAgent));
      const [a, b] = runs.slice(-2).sort((x) => (x.agent ? 1 : -1));
      log(
        `pair ${pair + 1}/${PAIRS}: none ${a!.machineUsPerCall.toFixed(2)} µs/call (${a!.callsPerS.toFixed(0)}/s), agent ${b!.machineUsPerCall.toFixed(2)} µs/call (${b!.callsPerS.toFixed(0)}/s), agent process ${b!.agentUsPerCall.toFixed(3)} µs/call`,
      );
    }
    const none = runs.filter((r) => !r.agent);
    const agent = runs.filter((r) => r.agent);
    const ratios = none.map(
      (n) => agent.find((a) => a.pair === n.pair)!.machineUsPerCall / n.machineUsPerCall,
    );
    const ci = bootstrapMedianCi(ratios, { level: 0.95, resamples: 10_000, seed: 20 });
    const s = (xs: number[], d = 2) => formatSummary(summarize(xs), d);
    console.log('');
    console.log(
      `| ${PAIRS} alternating pairs, median (min–max) | calls/s | machine CPU µs per call | agent process µs per call | agent less its rest rate, µs per call |`,
    );
    console.log('|---|---|---|---|---|');
    console.log(
      `| no agent | ${s(
        none.map((r) => r.callsPerS),
        0,
      )} | ${s(none.map((r) => r.machineUsPerCall))} | – | – |`,
    );
    console.log(
      `| agent | ${s(
        agent.map((r) => r.callsPerS),
        0,
      )} | ${s(agent.map((r) => r.machineUsPerCall))} | ${s(
        agent.map((r) => r.agentUsPerCall),
        3,
      )} | ${s(
        agent.map((r) => r.agentAddedUsPerCall),
        3,
      )} |`,
    );
    console.log('');
    console.log('| quantity | value |');
    console.log('|---|---|');
    console.log(
      `| machine CPU per call, agent ÷ none (per pair) | ${formatCi(ci)} (95 % CI, ±${(relativeHalfWidth(ci) * 100).toFixed(1)} %) |`,
    );
    console.log(
      `| agent at rest (second before each window) | ${s(
        agent.map((r) => r.agentRestUsPerS / 1000),
        2,
      )} ms of CPU per s |`,
    );
    console.log(
      `| agent CPU per call over its warm-up (its first ${WARM} s of traffic; not in the figures above) | ${s(
        agent.map((r) => r.agentWarmUsPerCall),
        3,
      )} µs |`,
    );
    const agentMedian = median(agent.map((r) => r.agentUsPerCall));
    const rate = median(agent.map((r) => r.callsPerS));
    // Both pods are attached: each call is two HTTP/2 requests to the agent (server and client role).
    const perRequest = agentMedian / 2;
    const addedPerRequest = median(agent.map((r) => r.agentAddedUsPerCall)) / 2;
    console.log(
      `| agent CPU per HTTP/2 request (2 per call: both roles), at ${(2 * rate).toFixed(0)} requests/s | ${perRequest.toFixed(3)} µs, of which its rest rate (export, polls) ${(perRequest - addedPerRequest).toFixed(3)} µs |`,
    );
    console.log(
      `| **added by the traffic, per HTTP/2 request** (the agent less its rest rate) | ${addedPerRequest.toFixed(3)} µs (goal ≤ ${BOUND_US} µs at 50,000 requests/s: ${addedPerRequest <= BOUND_US ? 'met' : 'not met'} at the rate reached) |`,
    );
    const exact = agent.filter(
      (r) => r.counted?.server === r.counted?.made && r.counted?.client === r.counted?.made,
    );
    console.log(
      `| agent runs that counted every call on both roles | ${exact.length} of ${agent.length}; records lost to a full ring over all runs: ${agent.reduce((n, r) => n + (r.counted?.ringFull ?? 0), 0)} |`,
    );
    if (exact.length < agent.length)
      console.log(
        `| agent CPU per call, only the runs that counted every call | ${
          exact.length
            ? s(
                exact.map((r) => r.agentUsPerCall),
                3,
              )
            : '–'
        } µs |`,
      );
    console.log(
      `| load average (1 min) | ${loadBefore.toFixed(2)} before, ${load1().toFixed(2)} after; ended ${new Date().toISOString()} |`,
    );
    console.log(
      `summary: ${JSON.stringify({
        framesPerCall: +framesPerCall.toFixed(3),
        packetsPerCall: +packetsPerCall.toFixed(3),
        emptyNsPerPacket: +emptyNs.toFixed(1),
        captureNsPerPacket: +captureNs.toFixed(1),
        kernelNsPerFrame: +median(perFrame).toFixed(1),
        kernelUsPerCall: +(median(overPerCall) / 1000).toFixed(3),
        callsPerS: Math.round(rate),
        agentUsPerCall: +agentMedian.toFixed(3),
        agentUsPerRequest: +perRequest.toFixed(3),
        agentAddedUsPerRequest: +addedPerRequest.toFixed(3),
        agentAddedUsPerCall: +median(agent.map((r) => r.agentAddedUsPerCall)).toFixed(3),
        agentWarmUsPerCall: +median(agent.map((r) => r.agentWarmUsPerCall)).toFixed(3),
        machineRatio: {
          median: +ci.median.toFixed(4),
          lo: +ci.lo.toFixed(4),
          hi: +ci.hi.toFixed(4),
          pairs: PAIRS,
        },
      })}`,
    );
    console.log(`pair runs: ${JSON.stringify(runs)}`);

    async function measureRun(pair: number, withAgent: boolean): Promise<PairRun> {
      const a = withAgent
        ? await AgentProcess.start({
            connection: { kubeconfig: cluster.kubeconfigPath },
            node: NODE,
            extra: 'capture: { httpPorts: all }',
            argv: shipped.argv,
            env: shipped.env,
          })
        : undefined;
      try {
        await a?.waitTargets(2);
        const w0 = a?.cpuSecondsPrecise() ?? 0;
        const warm = await runLoad(caller.pod, { ...plan, seconds: WARM });
        const agentWarmUsPerCall = (((a?.cpuSecondsPrecise() ?? 0) - w0) * 1e6) / warm.allCalls;
        await sleep(500);
        const rest0 = a?.cpuSecondsPrecise() ?? 0;
        const tRest = performance.now();
        await sleep(1000);
        const restUsPerS =
          (((a?.cpuSecondsPrecise() ?? 0) - rest0) / ((performance.now() - tRest) / 1000)) * 1e6;
        let m0 = machineCpu();
        let a0 = 0;
        const res = await runLoad(caller.pod, plan, () => {
          m0 = machineCpu();
          a0 = a?.cpuSecondsPrecise() ?? 0;
        });
        const m1 = machineCpu();
        const a1 = a?.cpuSecondsPrecise() ?? 0;
        const agentUs = (a1 - a0) * 1e6;
        const run: PairRun = {
          pair,
          agent: withAgent,
          calls: res.calls,
          callsPerS: res.calls / res.seconds,
          machineUsPerCall: ((m1.busy - m0.busy) * 1e6) / res.calls,
          agentUsPerCall: agentUs / res.calls,
          agentAddedUsPerCall: (agentUs - restUsPerS * res.seconds) / res.calls,
          agentRestUsPerS: restUsPerS,
          agentWarmUsPerCall,
        };
        if (!a) return run;
        return { ...run, counted: await counted(a, warm.allCalls + res.allCalls) };
      } finally {
        await a?.stop();
      }
    }
  } finally {
    await servers.stop();
  }
} finally {
  restoreStats();
}

interface Counted {
  readonly server: number;
  readonly client: number;
  readonly made: number;
  /** owlk8s_agent_kernel_h2_ring_full_total: records the kernel could not write, the ring being full. */
  readonly ringFull: number;
}

/**
 * Waits (up to 10 s) until the agent has counted `made` calls on both sides, then returns what it
 * counted and how many records the kernel dropped on a full ring (short counts are reported, not
 * thrown: a starved agent on a shared machine is a finding).
 */
async function counted(agent: AgentProcess, made: number): Promise<Counted> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const samples = await agent.scrape();
    const sum = (name: string, pod?: string) =>
      samples
        .filter((x) => x.name === name && (pod === undefined || x.labels.k8s_pod_name === pod))
        .reduce((n, x) => n + x.value, 0);
    const got = {
      server: sum('rpc_server_call_duration_seconds_count', 'grpc-0'),
      client: sum('rpc_client_call_duration_seconds_count', 'caller-0'),
      made,
      ringFull: sum('owlk8s_agent_kernel_h2_ring_full_total'),
    };
    if ((got.server === made && got.client === made) || Date.now() > deadline) return got;
    await sleep(300);
  }
}

/** Runs grpc-load.ts in `pod`'s namespace; `onStart` is called when it prints its start line. */
async function runLoad(
  pod: { spawn: (argv: readonly string[], opts: object) => ChildProcess },
  p: GrpcLoadPlan,
  onStart?: () => void,
): Promise<GrpcLoadResult> {
  const child = pod.spawn([process.execPath, LOAD_SCRIPT, JSON.stringify(p)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), (p.seconds + 60) * 1000);
  try {
    let result: GrpcLoadResult | undefined;
    for await (const line of createInterface({ input: child.stdout! })) {
      const msg = JSON.parse(line) as { start?: true } & Partial<GrpcLoadResult>;
      if (msg.start) onStart?.();
      else result = msg as GrpcLoadResult;
    }
    const code = child.exitCode ?? (await new Promise<number | null>((r) => child.once('exit', r)));
    if (code !== 0 || result === undefined) throw new Error(`grpc-load.ts exited with ${code} and no result`);
    if (result.wrongStatus !== 0)
      throw new Error(
        `grpc-load.ts: ${result.wrongStatus} calls ended with another status: ${result.firstError}`,
      );
    return result;
  } finally {
    clearTimeout(timer);
  }
}
