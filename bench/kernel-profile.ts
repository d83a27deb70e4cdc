// Profile: where the capture program's time goes, by function and by source line, on the
// message-start path (wrk's keep-alive GETs of nginx's 3-byte page from the host to a routed pod,
// every data segment starting an HTTP message). The program runs alone on the pod's host interface
// (a socket filter, or TC programs on its ingress and egress); `perf record` samples every CPU
// (cpu-clock at 4999 Hz, with kernel call chains) while wrk runs. A sample is the program's when an
// address in its call chain lies in the program's machine code (jitedLines: the JIT's address of
// every line-info record): the innermost such address names the function and the source line
// (for a sample in a kernel helper the program called, the line of the call). Each line's share of
// the program's samples, times the program's ns per packet from the kernel's statistics over the
// same run (kernel.bpf_stats_enabled), gives its ns per packet.
//
// Sampling is statistical and, on a virtual machine, is taken at the instruction that was running
// when the timer fired: a line that waits for memory (a cache or TLB miss) collects the samples of
// the wait. Compare lines within one run; compare builds with bench/ab-cost.ts.
// Run: node bench/kernel-profile.ts [socket|tc] [seconds=8] [lines=30]
// Needs perf (Debian: linux-perf) and bpftool. CAPTURE_OBJECT=path profiles another build.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool, sleep, wrk } from '@owlk8s/e2e/harness';
import { Capture, jitedLines, programStats } from '@owlk8s/ebpf';
import { positiveArg } from './lib/args.ts';
import { attribute, parseXlated } from './lib/profile.ts';
import { attachAlternating, onNginxPod } from './lib/program-runs.ts';

const MODE = process.argv[2] ?? 'socket';
if (MODE !== 'socket' && MODE !== 'tc')
  throw new Error(`bench/kernel-profile.ts: the first argument is ${MODE}; allowed: socket or tc`);
const SECONDS = positiveArg(
  'bench/kernel-profile.ts',
  process.argv[3],
  8,
  'the second argument (seconds sampled)',
);
const LINES = positiveArg(
  'bench/kernel-profile.ts',
  process.argv[4],
  30,
  'the third argument (source lines listed)',
);
const CAPTURE_OBJECT = process.env.CAPTURE_OBJECT;
const PERF = '/usr/bin/perf';
const BPFTOOL = '/usr/sbin/bpftool';

const pct = (n: number, of: number) => `${((100 * n) / of).toFixed(1)} %`;

requireTool(PERF, 'linux-perf');
requireTool(BPFTOOL, 'bpftool');
await onNginxPod('bench/kernel-profile.ts', async ({ web, nginx, iface }) => {
  using capture = Capture.load({ ...(CAPTURE_OBJECT ? { objectPath: CAPTURE_OBJECT } : {}), attach: MODE });
  capture.setTarget(web.ipv4, iface.ifindex, 1);
  using _attached = attachAlternating([capture.programFd], iface.ifindex, 0, MODE);
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-profile-'));
  try {
    const data = join(dir, 'perf.data');
    const s0 = programStats(capture.programFd);
    const r0 = capture.readSelf().requests;
    // wrk first, perf a second later for SECONDS, wrk a second after that: every sample is taken
    // under full traffic
    const traffic = wrk(undefined, nginx.url('/'), { connections: 16, threads: 2, durationS: SECONDS + 2 });
    await sleep(1000);
    const sampled = new Promise<number | null>((resolve, reject) => {
      const perf = spawn(
        PERF,
        [
          'record',
          '-q',
          '-e',
          'cpu-clock',
          '-F',
          '4999',
          '-a',
          '-g',
          '-o',
          data,
          '--',
          'sleep',
          String(SECONDS),
        ],
        { stdio: 'inherit' },
      );
      perf.on('error', reject).on('exit', resolve);
    });
    // wrk is waited for whether perf succeeded or not (finally awaits the promise returned)
    const code = await sampled.finally(() => traffic);
    const w = await traffic;
    if (code !== 0) throw new Error(`perf record exited with ${code}`);
    const s1 = programStats(capture.programFd);
    const counted = Number(capture.readSelf().requests - r0);
    const packets = Number(s1.runCount - s0.runCount);
    const nsPerPacket = Number(s1.runTimeNs - s0.runTimeNs) / packets;
    const lines = jitedLines(capture.programFd);
    const listing = execFileSync(BPFTOOL, ['prog', 'dump', 'xlated', 'id', String(lines.id), 'linum'], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    const script = execFileSync(PERF, ['script', '-i', data, '-F', 'ip,sym'], {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const t = attribute(script, lines, parseXlated(listing));
    const ns = (n: number) => ((nsPerPacket * n) / t.program).toFixed(1);
    console.log(`| quantity | value |\n|---|---|`);
    console.log(`| machine | ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Linux ${release()} |`);
    console.log(
      `| traffic | wrk, 2 threads, 16 keep-alive connections, GET of a 3-byte page: ${w.requests} requests, ${counted} counted |`,
    );
    console.log(
      `| program | ${MODE === 'tc' ? 'owlk8s_tc (TC, ingress and egress)' : 'owlk8s_capture (socket filter)'} |`,
    );
    console.log(
      `| program's ns per packet (kernel statistics) | ${nsPerPacket.toFixed(1)}, over ${packets} packets |`,
    );
    console.log(
      `| samples (${SECONDS} s, every CPU) | ${t.all}, of which the program ${t.program} (${pct(t.program, t.all)}) |`,
    );
    console.log('\n| function | samples | share | ns/packet |\n|---|---:|---:|---:|');
    for (const [fn, n] of [...t.byFn].sort((a, b) => b[1] - a[1]))
      console.log(`| \`${fn}\` | ${n} | ${pct(n, t.program)} | ${ns(n)} |`);
    console.log(
      '\n| kernel function the program called | samples | share | ns/packet |\n|---|---:|---:|---:|',
    );
    for (const [sym, n] of [...t.byHelper].sort((a, b) => b[1] - a[1]).slice(0, 12))
      console.log(`| \`${sym}\` | ${n} | ${pct(n, t.program)} | ${ns(n)} |`);
    console.log(
      `\n| source line (with the helpers it calls) | function | code | samples | share | ns/packet |\n|---|---|---|---:|---:|---:|`,
    );
    for (const [where, l] of [...t.byLine].sort((a, b) => b[1].n - a[1].n).slice(0, LINES)) {
      const code = l.code.length > 60 ? `${l.code.slice(0, 57)}...` : l.code;
      console.log(
        `| ${where} | \`${l.fn}\` | \`${code.replaceAll('|', '\\|')}\` | ${l.n} | ${pct(l.n, t.program)} | ${ns(l.n)} |`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
