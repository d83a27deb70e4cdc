// Benchmark: kernel cost per packet of the capture program against the floor, an empty socket
// filter that returns 0. Both are attached to the same routed pod's host interface at the same time,
// so they run on exactly the same packets: wrk keep-alive traffic from the host to nginx in the pod.
// The kernel's own per-program statistics (kernel.bpf_stats_enabled=1: run_time_ns / run_cnt) give
// ns per packet. Each round attaches the two in the opposite order of the last (the second to run on
// a packet finds it warmer in cache), and takes the deltas over one wrk run; medians over rounds.
// Run: node bench/kernel-cost.ts [rounds=9] [seconds=5]   (goal: ratio <= 2.0)
import { cpus, release } from 'node:os';
import { wrk } from '@owlk8s/e2e/harness';
import { Capture, LoadedObject } from '@owlk8s/ebpf';
import { attachAlternating, measurePrograms, onNginxPod } from './lib/program-runs.ts';
import { median } from './lib/stats.ts';

const ROUNDS = Number(process.argv[2] ?? 9);
const SECONDS = Number(process.argv[3] ?? 5);
const EMPTY_OBJECT = new URL('../bpf/build/empty.bpf.o', import.meta.url).pathname;
const CAPTURE_OBJECT = process.env.CAPTURE_OBJECT;

await onNginxPod('bench/kernel-cost.ts', async ({ web, nginx, iface }) => {
  using empty = LoadedObject.load(EMPTY_OBJECT, ['owlk8s_empty']);
  using capture = Capture.load(CAPTURE_OBJECT ? { objectPath: CAPTURE_OBJECT } : {});
  capture.setTarget(web.ipv4, iface.ifindex, 1);
  const emptyFd = empty.programFd('owlk8s_empty');

  const rows: { empty: number; capture: number; packets: number; requests: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const first = round % 2 === 0 ? 'empty' : 'capture';
    using _attached = attachAlternating([emptyFd, capture.programFd], iface.ifindex, round);
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
  console.log(`| machine | ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Linux ${release()} |`);
  console.log(
    `| traffic | wrk, 2 threads, 16 keep-alive connections, ${SECONDS} s per round, ${ROUNDS} rounds |`,
  );
  console.log(`| packets per round (median) | ${median(rows.map((r) => r.packets))} |`);
  console.log(`| empty filter (floor) | ${e.toFixed(1)} ns/packet |`);
  console.log(`| capture program | ${c.toFixed(1)} ns/packet |`);
  console.log(`| ratio | ${(c / e).toFixed(2)} (goal <= 2.0) |`);
  console.log(
    `rounds: ${JSON.stringify(rows.map((r) => ({ ...r, empty: +r.empty.toFixed(1), capture: +r.capture.toFixed(1) })))}`,
  );
});
