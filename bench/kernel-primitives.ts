// Benchmark: what the operations the capture program cannot do without cost per packet, each in its
// own socket filter (bpf/primitives.bpf.c), all attached beside the empty filter to the same routed
// pod's host interface, so they run on the same packets: wrk keep-alive traffic to nginx, as in
// bench/kernel-cost.ts. Kernel statistics (bpf_stats_enabled) give ns per packet; each round reverses
// the attach order (a later program finds the packet warmer); medians over rounds.
// It answers: how close to the empty filter can any program get that reads each packet's first
// payload bytes and times each HTTP message?
// Run: node bench/kernel-primitives.ts [rounds=9] [seconds=3]
import { cpus, release } from 'node:os';
import { wrk } from '@owlk8s/e2e/harness';
import { LoadedObject } from '@owlk8s/ebpf';
import { attachAlternating, measurePrograms, onNginxPod } from './lib/program-runs.ts';
import { median } from './lib/stats.ts';

const ROUNDS = Number(process.argv[2] ?? 9);
const SECONDS = Number(process.argv[3] ?? 3);
const OBJECT = new URL('../bpf/build/primitives.bpf.o', import.meta.url).pathname;

const PROGRAMS: readonly { name: string; what: string }[] = [
  { name: 'prim_empty', what: 'nothing: the floor' },
  { name: 'prim_percpu_array', what: 'one per-CPU array increment (the self counters)' },
  { name: 'prim_read_head', what: 'one `bpf_skb_load_bytes` of 16 header bytes' },
  { name: 'prim_clock', what: 'one `bpf_ktime_get_ns`' },
  { name: 'prim_read_payload', what: "only the payload's first 16 bytes (in a paged fragment)" },
  { name: 'prim_read_fast', what: "the capture program's one read: 104 bytes, headers and payload start" },
  { name: 'prim_read_fast_clock', what: 'that read and one clock read: the least per HTTP message' },
  { name: 'prim_lru_hash', what: 'one LRU hash hit, 40-byte key, and a write (the in-flight map)' },
  {
    name: 'prim_percpu_hash',
    what: 'one per-CPU hash hit, 20-byte key, and a histogram update (the aggregates map)',
  },
];

await onNginxPod('bench/kernel-primitives.ts', async ({ nginx, iface }) => {
  using object = LoadedObject.load(
    OBJECT,
    PROGRAMS.map((p) => p.name),
  );
  const fds = PROGRAMS.map((p) => object.programFd(p.name));
  const ns: number[][] = PROGRAMS.map(() => []);
  const packets: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    using _attached = attachAlternating(fds, iface.ifindex, round);
    const runs = await measurePrograms(fds, async () => {
      await wrk(undefined, nginx.url('/'), { connections: 16, threads: 2, durationS: SECONDS });
    });
    packets.push(runs[0]!.packets);
    runs.forEach((r, i) => {
      ns[i]!.push(r.nsPerPacket);
    });
    console.error(`round ${round + 1}/${ROUNDS}: ${packets.at(-1)} packets`);
  }
  const floor = median(ns[0]!);
  console.log(
    `${cpus().length} × ${cpus()[0]?.model ?? '?'}, Linux ${release()}; wrk, 2 threads, 16 keep-alive connections, ` +
      `${SECONDS} s per round, ${ROUNDS} rounds, ${median(packets)} packets per round (median)\n`,
  );
  console.log('| program | what it does | ns/packet (median) | range | over the floor | × floor |');
  console.log('|---|---|---:|---:|---:|---:|');
  PROGRAMS.forEach((p, i) => {
    const m = median(ns[i]!);
    console.log(
      `| \`${p.name}\` | ${p.what} | ${m.toFixed(1)} | ${Math.min(...ns[i]!).toFixed(0)}–${Math.max(...ns[i]!).toFixed(0)} | ` +
        `${i === 0 ? '' : `+${(m - floor).toFixed(1)}`} | ${(m / floor).toFixed(2)} |`,
    );
  });
});
