// Benchmark: kernel cost per packet of the capture program against the floor, an empty socket
// filter that returns 0. Both are attached to the same routed pod's host interface at the same time,
// so they run on exactly the same packets: wrk keep-alive traffic from the host to nginx in the pod.
// The kernel's own per-program statistics (kernel.bpf_stats_enabled=1: run_time_ns / run_cnt) give
// ns per packet. Each round attaches the two in the opposite order of the last (the second to run on
// a packet finds it warmer in cache), and takes the deltas over one wrk run; medians over rounds.
//
// The attach modes (after the above, or alone with `attach`): first the two modes each alone and no
// program at all, in rotating order per round, for machine-wide CPU per request beside each
// program's ns per packet (bench/lib/attach-modes.ts); then the TC program against its own floor, an
// empty TC program, the same way as above (both on the interface's ingress and egress).
// Run: node bench/kernel-cost.ts [rounds=9] [seconds=5] [all|cost|attach]   (goal: ratio <= 2.0)
import { cpus, release } from 'node:os';
import { wrk } from '@owlk8s/e2e/harness';
import { Capture, LoadedObject } from '@owlk8s/ebpf';
import { measureAttachModes } from './lib/attach-modes.ts';
import { attachAlternating, measurePrograms, onNginxPod } from './lib/program-runs.ts';
import { formatSummary, median, summarize } from './lib/stats.ts';

const ROUNDS = Number(process.argv[2] ?? 9);
const SECONDS = Number(process.argv[3] ?? 5);
const WHAT = process.argv[4] ?? 'all';
if (!['all', 'cost', 'attach'].includes(WHAT)) {
  throw new Error(`bench/kernel-cost.ts: the third argument is ${WHAT}: expected all, cost or attach`);
}
const EMPTY_OBJECT = new URL('../bpf/build/empty.bpf.o', import.meta.url).pathname;
const CAPTURE_OBJECT = process.env.CAPTURE_OBJECT;

await onNginxPod('bench/kernel-cost.ts', async ({ web, nginx, iface }) => {
  using empty = LoadedObject.load(EMPTY_OBJECT, ['owlk8s_empty', 'owlk8s_empty_tc']);
  const object = CAPTURE_OBJECT ? { objectPath: CAPTURE_OBJECT } : {};
  using capture = Capture.load(object);
  using tcCapture = Capture.load({ ...object, attach: 'tc' });
  capture.setTarget(web.ipv4, iface.ifindex, 1);
  tcCapture.setTarget(web.ipv4, iface.ifindex, 1);
  const emptyFd = empty.programFd('owlk8s_empty');
  console.log(`| machine | ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Linux ${release()} |`);
  console.log(
    `| traffic | wrk, 2 threads, 16 keep-alive connections, ${SECONDS} s per round, ${ROUNDS} rounds |`,
  );
  if (WHAT !== 'attach') await socketCost(capture, emptyFd, iface.ifindex);
  if (WHAT !== 'cost')
    await attachModes(capture, tcCapture, empty.programFd('owlk8s_empty_tc'), iface.ifindex);

  async function socketCost(capture: Capture, emptyFd: number, ifindex: number): Promise<void> {
    const rows: { empty: number; capture: number; packets: number; requests: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const first = round % 2 === 0 ? 'empty' : 'capture';
      using _attached = attachAlternating([emptyFd, capture.programFd], ifindex, round);
      const r0 = capture.readSelf().requests;
      let wrkRequests = 0;
      const [e, c] = await measurePrograms([emptyFd, capture.programFd], async () => {
        wrkRequests = (
          await wrk(undefined, nginx.url('/'), { connections: 16, threads: 2, durationS: SECONDS })
        ).requests;
      });
      const requests = Number(capture.readSelf().requests - r0);
      const packets = c!.packets;
      const row = { empty: e!.nsPerPacket, capture: c!.nsPerPacket, packets, requests };
      rows.push(row);
      console.error(
        `round ${round + 1}/${ROUNDS} (${first} first): ${packets} packets, ${requests} requests counted, wrk ${wrkRequests}; ` +
          `empty ${row.empty.toFixed(1)} ns, capture ${row.capture.toFixed(1)} ns`,
      );
    }
    const e = median(rows.map((r) => r.empty));
    const c = median(rows.map((r) => r.capture));
    console.log(`| packets per round (median) | ${median(rows.map((r) => r.packets))} |`);
    console.log(`| empty filter (floor) | ${e.toFixed(1)} ns/packet |`);
    console.log(`| capture program | ${c.toFixed(1)} ns/packet |`);
    console.log(`| ratio | ${(c / e).toFixed(2)} (goal <= 2.0) |`);
    console.log(
      `rounds: ${JSON.stringify(rows.map((r) => ({ ...r, empty: +r.empty.toFixed(1), capture: +r.capture.toFixed(1) })))}`,
    );
  }

  async function attachModes(
    socket: Capture,
    tc: Capture,
    emptyTcFd: number,
    ifindex: number,
  ): Promise<void> {
    tc.attach(ifindex);
    const mechanism = tc.attachedVia(ifindex);
    tc.detach(ifindex);
    const m = await measureAttachModes({
      url: nginx.url('/'),
      ifindex,
      socket,
      tc,
      rounds: ROUNDS,
      seconds: SECONDS,
      log: (line) => console.error(line),
    });
    const rows: { empty: number; capture: number; packets: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      using _attached = attachAlternating([emptyTcFd, tc.programFd], ifindex, round, 'tc');
      const [e, c] = await measurePrograms([emptyTcFd, tc.programFd], async () => {
        await wrk(undefined, nginx.url('/'), { connections: 16, threads: 2, durationS: SECONDS });
      }).catch((error: unknown) => {
        // A TC program that returns TC_ACT_OK ends the hook's chain: the one after it sees nothing.
        throw new Error(
          'tc floor: the two TC programs did not see the same packets (does one return TC_ACT_OK?)',
          {
            cause: error,
          },
        );
      });
      rows.push({ empty: e!.nsPerPacket, capture: c!.nsPerPacket, packets: c!.packets });
      console.error(
        `tc round ${round + 1}/${ROUNDS}: ${c!.packets} packets; empty tc ${e!.nsPerPacket.toFixed(1)} ns, tc capture ${c!.nsPerPacket.toFixed(1)} ns`,
      );
    }
    const ns = (xs: number[]) => `${formatSummary(summarize(xs))} ns/packet`;
    const us = (x: ReturnType<typeof summarize>) => `${formatSummary(x, 2)} µs`;
    console.log(`| tc attachment | ${mechanism} |`);
    console.log(`| empty tc program (tc floor) | ${ns(rows.map((r) => r.empty))} |`);
    console.log(`| tc capture program, beside it | ${ns(rows.map((r) => r.capture))} |`);
    console.log(
      `| tc ratio | ${(median(rows.map((r) => r.capture)) / median(rows.map((r) => r.empty))).toFixed(2)} |`,
    );
    console.log(`| attach mode socket, program alone | ${formatSummary(m.nsPerPacket.socket)} ns/packet |`);
    console.log(`| attach mode tc, program alone | ${formatSummary(m.nsPerPacket.tc)} ns/packet |`);
    console.log(`| CPU per request, no program | ${us(m.cpuUsPerRequest.none)} |`);
    console.log(`| CPU per request, attach socket | ${us(m.cpuUsPerRequest.socket)} |`);
    console.log(`| CPU per request, attach tc | ${us(m.cpuUsPerRequest.tc)} |`);
    console.log(`| socket ÷ no program, per round | ${formatSummary(m.ratios.socketOverNone, 3)} |`);
    console.log(`| tc ÷ no program, per round | ${formatSummary(m.ratios.tcOverNone, 3)} |`);
    console.log(`| tc ÷ socket, per round | ${formatSummary(m.ratios.tcOverSocket, 3)} |`);
    console.log(
      `tc rounds: ${JSON.stringify(rows.map((r) => ({ ...r, empty: +r.empty.toFixed(1), capture: +r.capture.toFixed(1) })))}`,
    );
    console.log(`attach rounds: ${JSON.stringify(m.runs)}`);
  }
});
