// Benchmark: one build of the capture program against another on the same packets, in the same run:
// AFTER_OBJECT (default bpf/build/owlk8s.bpf.o, the shipped build) against BEFORE_OBJECT (required:
// a copy of an earlier build, or bpf/build/percpu-aggregates.bpf.o, the same source with the
// per-CPU aggregates map it had before). Both are attached side by side to a routed pod's host
// interface as socket filters, each with its own maps, and run on wrk's keep-alive GETs of nginx's
// 3-byte page (2 threads, 16 connections: the message-start path, every data segment starts an
// HTTP message, and both CPUs add to the same series at once). Per round, ns per packet of each from the
// kernel's statistics; the attach order is reversed every round; the ratio new ÷ before is taken
// over each pair of rounds (one of each order), its median with a 95 % bootstrap interval. Both
// builds are loaded afresh for each round, in turns (below). Both builds must count the same
// requests in every round. Run it once with BEFORE_OBJECT a copy of the after build (A/A) to see
// the method's own spread before reading a difference of a few per cent.
// Run: BEFORE_OBJECT=path [AFTER_OBJECT=path] node bench/ab-cost.ts [rounds=20] [seconds=4]
import { wrk } from '@owlk8s/e2e/harness';
import { Capture } from '@owlk8s/ebpf';
import { attachAlternating, measurePrograms, onNginxPod } from './lib/program-runs.ts';
import { bootstrapMedianCi, formatCi, formatSummary, relativeHalfWidth, summarize } from './lib/stats.ts';

const ROUNDS = Number(process.argv[2] ?? 20);
const SECONDS = Number(process.argv[3] ?? 4);
const BEFORE_OBJECT = process.env.BEFORE_OBJECT;
if (BEFORE_OBJECT === undefined)
  throw new Error(
    'bench/ab-cost.ts: set BEFORE_OBJECT to the build to compare with (e.g. bpf/build/percpu-aggregates.bpf.o)',
  );
const AFTER_OBJECT = process.env.AFTER_OBJECT;

await onNginxPod('bench/ab-cost.ts', async ({ web, nginx, iface }) => {
  const load = (objectPath: string | undefined): Capture => {
    const capture = Capture.load(objectPath ? { objectPath } : {});
    capture.setTarget(web.ipv4, iface.ifindex, 1);
    return capture;
  };
  const rows: { after: number; before: number; packets: number; requests: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Both builds are loaded afresh for each round, which first taking turns pair by pair: where a
    // program and its maps land in memory moves its cost by a few per cent (the same build against
    // itself, each loaded once for the run, measured 1.03), so placement varies from round to round
    // instead of favouring one build for the whole run, and the interval includes it.
    const pair = Math.floor(round / 2);
    using first = load(pair % 2 === 0 ? AFTER_OBJECT : BEFORE_OBJECT);
    using second = load(pair % 2 === 0 ? BEFORE_OBJECT : AFTER_OBJECT);
    const [after, before] = pair % 2 === 0 ? [first, second] : [second, first];
    using _attached = attachAlternating([after.programFd, before.programFd], iface.ifindex, round);
    const [a0, b0] = [after.readSelf().requests, before.readSelf().requests];
    const [a, b] = await measurePrograms([after.programFd, before.programFd], async () => {
      await wrk(undefined, nginx.url('/'), { connections: 16, threads: 2, durationS: SECONDS });
    });
    const counted = [after.readSelf().requests - a0, before.readSelf().requests - b0].map(Number);
    if (counted[0] !== counted[1])
      throw new Error(`round ${round + 1}: the two builds counted ${counted[0]} and ${counted[1]} requests`);
    const row = { after: a!.nsPerPacket, before: b!.nsPerPacket, packets: a!.packets, requests: counted[0]! };
    rows.push(row);
    console.error(
      `round ${round + 1}/${ROUNDS}: ${row.packets} packets, ${row.requests} requests; ` +
        `after ${row.after.toFixed(1)} ns, before ${row.before.toFixed(1)} ns, ratio ${(row.after / row.before).toFixed(3)}`,
    );
  }
  // The program attached second runs on a packet the first one warmed (about 10 % cheaper here), so
  // a round's ratio carries the order: each pair of rounds (both orders) gives one ratio, the
  // geometric mean of its two.
  const ratios = rows.map((r) => r.after / r.before);
  const pairs = ratios.flatMap((r, i) => (i % 2 === 1 ? [Math.sqrt(r * ratios[i - 1]!)] : []));
  const ci = bootstrapMedianCi(pairs, { seed: 16 });
  console.log(
    `| after ÷ before, rounds with after first | ${formatSummary(summarize(ratios.filter((_, i) => i % 2 === 0)), 3)} |`,
  );
  console.log(
    `| after ÷ before, rounds with before first | ${formatSummary(summarize(ratios.filter((_, i) => i % 2 === 1)), 3)} |`,
  );
  console.log(
    `| before (${BEFORE_OBJECT}) | ${formatSummary(summarize(rows.map((r) => r.before)))} ns/packet |`,
  );
  console.log(
    `| after (${AFTER_OBJECT ?? 'bpf/build/owlk8s.bpf.o'}) | ${formatSummary(summarize(rows.map((r) => r.after)))} ns/packet |`,
  );
  console.log(
    `| after ÷ before, per pair of rounds | ${formatCi(ci)} (± ${(100 * relativeHalfWidth(ci)).toFixed(1)} %) |`,
  );
});
