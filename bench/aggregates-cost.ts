// Benchmark: what the aggregates map's one value for all CPUs (atomic adds) costs per packet against
// the per-CPU hash it replaced (plain adds on this CPU's own value), in the same run. The two builds
// of the capture program (bpf/build/owlk8s.bpf.o and bpf/build/percpu-aggregates.bpf.o, the same
// source with OWLK8S_PERCPU_AGGREGATES) are attached side by side to the same routed pod's host
// interface as socket filters, each with its own maps, so they run on exactly the same packets: wrk
// keep-alive traffic from the host to nginx in the pod (2 threads, 16 connections: both CPUs add to
// the same series at once, which is where atomics cost most). Per round, ns per packet of each from
// the kernel's statistics (run_time_ns / run_cnt); the attach order is reversed every round (the
// second program to run on a packet finds it warmer, by about 6 % here). The ratio atomic ÷ per-CPU
// is taken over each pair of rounds, one in each order (the geometric mean of the two rounds'
// ratios, which cancels the order's effect); its median over pairs comes with a 95 % bootstrap
// interval (bench/lib/stats.ts).
// Run: node bench/aggregates-cost.ts [pairs=10] [seconds=4]
import { cpus, release } from 'node:os';
import { wrk } from '@owlk8s/e2e/harness';
import { Capture } from '@owlk8s/ebpf';
import { attachAlternating, measurePrograms, onNginxPod } from './lib/program-runs.ts';
import { bootstrapMedianCi, formatCi, formatSummary, relativeHalfWidth, summarize } from './lib/stats.ts';

const ROUNDS = 2 * Number(process.argv[2] ?? 10);
const SECONDS = Number(process.argv[3] ?? 4);
const PERCPU_OBJECT = new URL('../bpf/build/percpu-aggregates.bpf.o', import.meta.url).pathname;

await onNginxPod('bench/aggregates-cost.ts', async ({ web, nginx, iface }) => {
  using atomic = Capture.load({});
  using percpu = Capture.load({ objectPath: PERCPU_OBJECT });
  atomic.setTarget(web.ipv4, iface.ifindex, 1);
  percpu.setTarget(web.ipv4, iface.ifindex, 1);
  const rows: { atomic: number; percpu: number; packets: number; requests: number; wrk: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    using _attached = attachAlternating([atomic.programFd, percpu.programFd], iface.ifindex, round);
    const [a0, p0] = [atomic.readSelf().requests, percpu.readSelf().requests];
    let served = 0;
    const [a, p] = await measurePrograms([atomic.programFd, percpu.programFd], async () => {
      served = (await wrk(undefined, nginx.url('/'), { connections: 16, threads: 2, durationS: SECONDS }))
        .requests;
    });
    const counted = [atomic.readSelf().requests - a0, percpu.readSelf().requests - p0].map(Number);
    if (counted[0] !== counted[1])
      throw new Error(`round ${round + 1}: the two builds counted ${counted[0]} and ${counted[1]} requests`);
    const row = {
      atomic: a!.nsPerPacket,
      percpu: p!.nsPerPacket,
      packets: a!.packets,
      requests: counted[0]!,
      wrk: served,
    };
    rows.push(row);
    console.error(
      `round ${round + 1}/${ROUNDS} (${round % 2 === 0 ? 'atomic' : 'per-CPU'} first): ${row.packets} packets, ` +
        `${row.requests} requests counted by each, wrk ${served}; atomic ${row.atomic.toFixed(1)} ns, per-CPU ${row.percpu.toFixed(1)} ns`,
    );
  }
  const ratio = (r: { atomic: number; percpu: number }) => r.atomic / r.percpu;
  const pairs = Array.from({ length: ROUNDS / 2 }, (_, i) =>
    Math.sqrt(ratio(rows[2 * i]!) * ratio(rows[2 * i + 1]!)),
  );
  const ci = bootstrapMedianCi(pairs, { seed: 18 });
  console.log(`| machine | ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Linux ${release()} |`);
  console.log(
    `| traffic | wrk, 2 threads, 16 keep-alive connections, ${SECONDS} s per round, ${ROUNDS} rounds |`,
  );
  console.log(`| packets per round | ${formatSummary(summarize(rows.map((r) => r.packets)), 0)} |`);
  console.log(
    `| per-CPU hash, plain adds | ${formatSummary(summarize(rows.map((r) => r.percpu)))} ns/packet |`,
  );
  console.log(
    `| one value, atomic adds (the agent's) | ${formatSummary(summarize(rows.map((r) => r.atomic)))} ns/packet |`,
  );
  console.log(
    `| atomic ÷ per-CPU, per pair of rounds (${pairs.length} pairs) | ${formatCi(ci)} (± ${(100 * relativeHalfWidth(ci)).toFixed(1)} %) |`,
  );
  console.log(
    `rounds: ${JSON.stringify(rows.map((r) => ({ ...r, atomic: +r.atomic.toFixed(1), percpu: +r.percpu.toFixed(1) })))}`,
  );
});
