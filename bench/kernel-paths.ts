// Benchmark: kernel cost per packet of the capture program on its two paths, in both attach modes,
// against the empty program of the same mode. The message-start path: wrk's keep-alive GETs of a
// 3-byte page (every data segment, request or response, starts an HTTP message). The continuation
// path: keep-alive GETs of a 1 MiB file, with segmentation offloads off on the pod's veth pair (TSO,
// GSO and GRO, with ethtool), so the body crosses the host interface as MSS-sized segments that
// continue a message (about one packet in 700 starts one; the rest are body segments and the
// client's ACKs).
//
// Each program runs alone: the socket filter (owlk8s_capture on an AF_PACKET socket), the TC program
// (owlk8s_tc on the interface's ingress and egress), and the floors owlk8s_empty (socket) and
// owlk8s_empty_tc (TC), from bpf/empty.bpf.c. Alone, so that no program finds the packet warmed by
// another, whatever the order (and a TC program that ended the chain could not hide packets from one
// after it). Per round, the two kinds of traffic (which goes first alternates) and, within
// each, the four programs in rotating order; each run is `seconds` of wrk, and the kernel's own
// statistics (kernel.bpf_stats_enabled=1, set for the run and restored after) give Δrun_time_ns /
// Δrun_cnt. Medians (min–max) over rounds; "over the floor" is program − floor within each round.
// Run: node bench/kernel-paths.ts [rounds=5] [seconds=3]
// (CAPTURE_OBJECT=path measures another build of the program in place of bpf/build/owlk8s.bpf.o.)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { must, type Pod, requireTool, sleep, wrk } from '@owlk8s/e2e/harness';
import { Attachment, Capture, LoadedObject, programStats, TcAttachment } from '@owlk8s/ebpf';
import { positiveArg } from './lib/args.ts';
import { onNginxPod } from './lib/program-runs.ts';
import { formatSummary, median, summarize } from './lib/stats.ts';

const ROUNDS = positiveArg('bench/kernel-paths.ts', process.argv[2], 5, 'the first argument (rounds)');
const SECONDS = positiveArg(
  'bench/kernel-paths.ts',
  process.argv[3],
  3,
  'the second argument (seconds per run)',
);
const EMPTY_OBJECT = new URL('../bpf/build/empty.bpf.o', import.meta.url).pathname;
const CAPTURE_OBJECT = process.env.CAPTURE_OBJECT;
const BODY_BYTES = 1 << 20;
const CONNECTIONS = 16;
const BIG_PORT = 8080;

type Kind = 'start' | 'continuation';
type Program = 'empty socket' | 'capture socket' | 'empty tc' | 'capture tc';
const PROGRAMS: readonly Program[] = ['empty socket', 'capture socket', 'empty tc', 'capture tc'];
const KIND_LABEL: Record<Kind, string> = {
  start: 'message start (keep-alive GET, 3-byte page)',
  continuation: 'continuation (keep-alive GET, 1 MiB body in MSS-sized segments)',
};

interface Run {
  readonly round: number;
  readonly kind: Kind;
  readonly program: Program;
  readonly requests: number;
  readonly counted: number;
  readonly packets: number;
  readonly nsPerPacket: number;
}

/** A second nginx in the pod serving one 1 MiB file at /big on BIG_PORT, with sendfile. */
async function startBigNginx(pod: Pod): Promise<{ url: string; stop: () => void }> {
  requireTool('/usr/sbin/nginx', 'nginx-light');
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-bench-big-'));
  writeFileSync(join(dir, 'big'), Buffer.alloc(BODY_BYTES, 'x'));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
user root;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  default_type application/octet-stream;
  server {
    listen ${BIG_PORT};
    location = /big { root ${dir}; }
  }
}
`,
  );
  const child = pod.spawn(['nginx', '-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: 'ignore',
  });
  child.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const url = pod.url(BIG_PORT, '/big');
  for (let i = 0; ; i++) {
    const r = await pod.exec(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', url]);
    if (r.stdout.trim() === `200 ${BODY_BYTES}`) break;
    if (i > 100)
      throw new Error(`the 1 MiB nginx in pod ${pod.name} did not serve /big: ${r.stdout} ${r.stderr}`);
    await sleep(100);
  }
  return { url, stop: () => child.kill('SIGTERM') };
}

/** Turns segmentation and receive offloads off on both ends of the pod's veth pair. */
async function offloadsOff(pod: Pod): Promise<void> {
  requireTool('/usr/sbin/ethtool', 'ethtool');
  const off = ['tso', 'off', 'gso', 'off', 'gro', 'off'];
  await must(['ip', 'netns', 'exec', pod.netns, 'ethtool', '-K', 'eth0', ...off]);
  await must(['ethtool', '-K', pod.hostIfName, ...off]);
}

await onNginxPod('bench/kernel-paths.ts', async ({ web, nginx, iface }) => {
  await offloadsOff(web);
  const big = await startBigNginx(web);
  try {
    using empty = LoadedObject.load(EMPTY_OBJECT, ['owlk8s_empty', 'owlk8s_empty_tc']);
    const object = CAPTURE_OBJECT ? { objectPath: CAPTURE_OBJECT } : {};
    using socket = Capture.load(object);
    using tc = Capture.load({ ...object, attach: 'tc' });
    socket.setTarget(web.ipv4, iface.ifindex, 1);
    tc.setTarget(web.ipv4, iface.ifindex, 1);
    const urls: Record<Kind, string> = { start: nginx.url('/'), continuation: big.url };

    const attach = (p: Program): { fd: number; capture?: Capture; detach: () => void } => {
      switch (p) {
        case 'empty socket': {
          const a = Attachment.open(empty.programFd('owlk8s_empty'), iface.ifindex);
          return { fd: empty.programFd('owlk8s_empty'), detach: () => a.close() };
        }
        case 'empty tc': {
          const a = TcAttachment.open(empty.programFd('owlk8s_empty_tc'), iface.ifindex);
          return { fd: empty.programFd('owlk8s_empty_tc'), detach: () => a.close() };
        }
        case 'capture socket':
        case 'capture tc': {
          const capture = p === 'capture socket' ? socket : tc;
          capture.attach(iface.ifindex);
          return { fd: capture.programFd, capture, detach: () => capture.detach(iface.ifindex) };
        }
      }
    };

    const runs: Run[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const kinds: Kind[] = round % 2 === 0 ? ['start', 'continuation'] : ['continuation', 'start'];
      for (const kind of kinds) {
        const order = PROGRAMS.map((_, i) => PROGRAMS[(i + round) % PROGRAMS.length]!);
        for (const program of order) {
          const a = attach(program);
          try {
            const s0 = programStats(a.fd);
            const r0 = a.capture?.readSelf().requests ?? 0n;
            const w = await wrk(undefined, urls[kind], {
              connections: CONNECTIONS,
              threads: 2,
              durationS: SECONDS,
            });
            await sleep(500); // the connections' last packets
            const s1 = programStats(a.fd);
            if (w.socketErrors > 0 || w.non2xx3xx > 0)
              throw new Error(`wrk: ${w.socketErrors} socket errors, ${w.non2xx3xx} non-2xx`);
            const packets = Number(s1.runCount - s0.runCount);
            if (packets === 0) throw new Error(`${program}: ran on no packet of the ${kind} traffic`);
            const run: Run = {
              round,
              kind,
              program,
              requests: w.requests,
              counted: Number((a.capture?.readSelf().requests ?? 0n) - r0),
              packets,
              nsPerPacket: +(Number(s1.runTimeNs - s0.runTimeNs) / packets).toFixed(1),
            };
            // the program's count: every request wrk completed, and up to one per connection
            // more (sent, and cut off when wrk stopped); anything else is a counting bug
            if (a.capture && (run.counted < w.requests || run.counted > w.requests + CONNECTIONS))
              throw new Error(
                `${program}, ${kind} traffic, round ${round + 1}: the program counted ${run.counted} requests ` +
                  `where wrk completed ${w.requests} on ${CONNECTIONS} connections (expected ${w.requests}–${w.requests + CONNECTIONS})`,
              );
            runs.push(run);
            console.error(
              `round ${round + 1}/${ROUNDS} ${kind.padEnd(12)} ${program.padEnd(14)}: ${packets} packets, ` +
                `${(packets / w.requests).toFixed(1)} per request, ${run.nsPerPacket} ns/packet` +
                (a.capture ? `, ${run.counted} of ${w.requests} requests counted` : ''),
            );
          } finally {
            a.detach();
          }
        }
      }
    }
    report(runs);
  } finally {
    big.stop();
  }
});

function report(runs: readonly Run[]): void {
  const of = (kind: Kind, program: Program) =>
    runs.filter((r) => r.kind === kind && r.program === program).sort((a, b) => a.round - b.round);
  const ns = (kind: Kind, program: Program) => of(kind, program).map((r) => r.nsPerPacket);
  const over = (kind: Kind, mode: 'socket' | 'tc') => {
    const floor = ns(kind, `empty ${mode}`);
    return ns(kind, `capture ${mode}`).map((x, i) => x - floor[i]!);
  };
  const perRequest = (kind: Kind) =>
    median(runs.filter((r) => r.kind === kind).map((r) => r.packets / r.requests));
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Linux ${release()}`);
  console.log(
    `traffic: wrk, 2 threads, ${CONNECTIONS} keep-alive connections, ${SECONDS} s per run, ${ROUNDS} rounds; ` +
      `packets per request (median): message start ${perRequest('start').toFixed(1)}, continuation ${perRequest('continuation').toFixed(1)}`,
  );
  console.log('');
  console.log('| path | attach | empty program ns/packet | capture ns/packet | over the floor | × floor |');
  console.log('|---|---|---:|---:|---:|---:|');
  for (const kind of ['start', 'continuation'] as const) {
    for (const mode of ['socket', 'tc'] as const) {
      const e = ns(kind, `empty ${mode}`);
      const c = ns(kind, `capture ${mode}`);
      console.log(
        `| ${KIND_LABEL[kind]} | ${mode} | ${formatSummary(summarize(e))} | ${formatSummary(summarize(c))} | ` +
          `${formatSummary(summarize(over(kind, mode)))} | ${(median(c) / median(e)).toFixed(2)} |`,
      );
    }
  }
  console.log('');
  console.log(`paths rounds: ${JSON.stringify(runs)}`);
}
