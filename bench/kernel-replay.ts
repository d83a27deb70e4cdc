// Benchmark: the capture program's cost per packet with its code and maps warm, build against build.
// The same recorded conversation (16 keep-alive connections, each opened with SYN and SYN-ACK, then
// `exchanges` rounds of wrk's GET and nginx's answer to it, byte for byte, with real sequence and
// acknowledgement numbers) is replayed through BPF_PROG_TEST_RUN by bench/lib/replay.c, one run per
// frame in a tight loop of one process, to: the empty socket filter (the floor: the kernel's timing
// of a run and the run itself), this checkout's capture program (or CAPTURE_OBJECT), and, with
// BASELINE=DIR, another checkout's capture program loaded by that checkout's own loader. Each run
// loads every program afresh (where a program and its maps land in memory moves its cost), in an
// order that rotates from run to run; the kernel's timing of each frame gives a request's and a
// response's median per run.
//
// Against the traffic benchmarks (bench/ab-cost.ts, bench/kernel-cost.ts), nothing else runs
// between two packets: no TCP stack, no wrk or nginx evicting the program's lines from the cache,
// and every packet on one CPU, so no connection state moves between two CPUs' caches. What is left
// is the program's instructions and its accesses to memory that stays in cache, which is the part
// of a difference between two builds that does not depend on the machine's other work.
// Run: [BASELINE=DIR] [CAPTURE_OBJECT=path] node bench/kernel-replay.ts [runs=10] [exchanges=50000]
// Needs a C compiler (cc; scripts/setup.sh installs clang, which is one) for bench/lib/replay.c.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Capture, LoadedObject } from '@owlk8s/ebpf';
import { frame } from '@owlk8s/ebpf/testing';
import { requireBpf } from '../test/harness/privileges.ts';
import { checkoutMissing } from './lib/agent-process.ts';
import { positiveArg } from './lib/args.ts';
import { bootstrapMedianCi, formatCi, formatSummary, median, summarize } from './lib/stats.ts';

const WHAT = 'bench/kernel-replay.ts';
const RUNS = positiveArg(WHAT, process.argv[2], 10, 'the first argument (runs)');
const EXCHANGES = positiveArg(WHAT, process.argv[3], 50_000, 'the second argument (exchanges per run)');
const BASELINE = process.env.BASELINE;
const CAPTURE_OBJECT = process.env.CAPTURE_OBJECT;
const SOURCE = fileURLToPath(new URL('./lib/replay.c', import.meta.url));
const BINARY = fileURLToPath(new URL('./build/replay', import.meta.url));
const EMPTY_OBJECT = fileURLToPath(new URL('../bpf/build/empty.bpf.o', import.meta.url));
const CONNECTIONS = 16;
const CLIENT = '198.18.0.1';
const SERVER = '198.18.0.2';
// wrk's request and nginx's answer (test/harness/servers.ts: `location = / { return 200 "ok\n"; }`)
const REQUEST = `GET / HTTP/1.1\r\nHost: ${SERVER}:80\r\n\r\n`;
const RESPONSE =
  'HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 07 Dec 2026 04:41:52 GMT\r\n' +
  'Content-Type: text/plain\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nok\n';

requireBpf(WHAT);
if (BASELINE !== undefined) {
  const missing = checkoutMissing(BASELINE);
  if (missing) throw new Error(`${WHAT}: BASELINE: ${missing}`);
}

/** The capture program as a checkout's loader loads it: its fd and the requests and responses it counted. */
interface Loaded extends Disposable {
  readonly programFd: number;
  counted(): { requests: bigint; responses: bigint } | undefined;
}

interface Variant {
  readonly name: string;
  load(): Loaded;
}

/** A checkout's capture program, loaded by the checkout's own packages/ebpf (its maps, its layout). */
async function captureOf(name: string, root: string | undefined, objectPath?: string): Promise<Variant> {
  const ebpf: { Capture: typeof Capture } =
    root === undefined ? { Capture } : await import(join(root, 'packages/ebpf/src/index.ts'));
  return {
    name,
    load() {
      const cap = ebpf.Capture.load(objectPath ? { objectPath } : {});
      cap.setTarget(SERVER, 1, 1);
      return {
        programFd: cap.programFd,
        counted: () => cap.read().self,
        [Symbol.dispose]: () => cap.close(),
      };
    },
  };
}

const empty: Variant = {
  name: 'empty socket filter',
  load() {
    const object = LoadedObject.load(EMPTY_OBJECT, ['owlk8s_empty']);
    return {
      programFd: object.programFd('owlk8s_empty'),
      counted: () => undefined,
      [Symbol.dispose]: () => object.close(),
    };
  },
};

/** The recorded conversation, as replay.c reads it: (u32 length, frame) records; requests even, answers odd. */
function conversation(): Buffer {
  const frames: Buffer[] = [];
  const conns = Array.from({ length: CONNECTIONS }, (_, i) => ({
    port: 40_000 + i,
    client: (1_000 + i * 10_000_000) >>> 0,
    server: (500_000_000 + i * 10_000_000) >>> 0,
  }));
  const from = (c: (typeof conns)[number], payload: string, flags?: number, ack = c.server) =>
    frame({
      src: CLIENT,
      dst: SERVER,
      sport: c.port,
      dport: 80,
      payload,
      seq: c.client,
      ack,
      flags,
    });
  const to = (c: (typeof conns)[number], payload: string, flags?: number) =>
    frame({
      src: SERVER,
      dst: CLIENT,
      sport: 80,
      dport: c.port,
      payload,
      seq: c.server,
      ack: c.client,
      flags,
    });
  for (const c of conns) {
    frames.push(from(c, '', 0x02, 0)); // a SYN acknowledges nothing
    c.client = (c.client + 1) >>> 0;
    frames.push(to(c, '', 0x12));
    c.server = (c.server + 1) >>> 0;
  }
  for (let i = 0; i < EXCHANGES; i++) {
    const c = conns[i % CONNECTIONS]!;
    frames.push(from(c, REQUEST));
    c.client = (c.client + REQUEST.length) >>> 0;
    frames.push(to(c, RESPONSE));
    c.server = (c.server + RESPONSE.length) >>> 0;
  }
  return Buffer.concat(
    frames.flatMap((f) => {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(f.length);
      return [len, f];
    }),
  );
}

/** bench/build/replay, compiled from bench/lib/replay.c when missing or older than its source. */
function replayBinary(): string {
  if (!existsSync(BINARY) || statSync(BINARY).mtimeMs < statSync(SOURCE).mtimeMs) {
    mkdirSync(join(BINARY, '..'), { recursive: true });
    try {
      execFileSync('cc', ['-O2', '-Wall', '-o', BINARY, SOURCE], { stdio: 'inherit' });
    } catch (error) {
      throw new Error(`${WHAT}: cannot compile ${SOURCE} with cc (Debian: clang or gcc): ${error}`);
    }
  }
  return BINARY;
}

/** One replay of the conversation through a program: a request's and a response's median ns. */
function replay(binary: string, frames: string, v: Variant): { request: number; response: number } {
  using loaded = v.load();
  const r = spawnSync(binary, [frames], {
    stdio: ['ignore', 'pipe', 'inherit', loaded.programFd],
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`${WHAT}: ${binary} exited with ${r.status} (${v.name})`);
  const medianOf = (kind: string) => {
    const m = new RegExp(`^${kind} (\\d+) `, 'm').exec(r.stdout);
    if (!m) throw new Error(`${WHAT}: no "${kind}" line in the replay's output: ${r.stdout}`);
    return Number(m[1]);
  };
  const counted = loaded.counted();
  if (counted && (counted.requests !== BigInt(EXCHANGES) || counted.responses !== BigInt(EXCHANGES)))
    throw new Error(
      `${WHAT}: ${v.name} counted ${counted.requests} requests and ${counted.responses} responses of ${EXCHANGES}`,
    );
  return { request: medianOf('even'), response: medianOf('odd') };
}

const variants = [
  empty,
  await captureOf(
    CAPTURE_OBJECT ? `this checkout, ${CAPTURE_OBJECT}` : 'this checkout',
    undefined,
    CAPTURE_OBJECT,
  ),
  ...(BASELINE === undefined ? [] : [await captureOf(`baseline ${BASELINE}`, BASELINE)]),
];
const dir = mkdtempSync(join(tmpdir(), 'owlk8s-replay-'));
try {
  const frames = join(dir, 'frames');
  writeFileSync(frames, conversation());
  const binary = replayBinary();
  const results = variants.map(() => [] as { request: number; response: number }[]);
  for (let run = 0; run < RUNS; run++) {
    for (let k = 0; k < variants.length; k++) {
      const i = (run + k) % variants.length;
      results[i]!.push(replay(binary, frames, variants[i]!));
    }
    console.error(
      `run ${run + 1}/${RUNS}: ${results.map((r) => `${r.at(-1)!.request}/${r.at(-1)!.response}`).join(', ')} ns`,
    );
  }
  const perPacket = (r: { request: number; response: number }) => (r.request + r.response) / 2;
  console.log(
    `${cpus().length} × ${cpus()[0]?.model ?? '?'}, Linux ${release()}; ${CONNECTIONS} connections, ${EXCHANGES} ` +
      `exchanges (wrk's GET, nginx's ${RESPONSE.length}-byte answer) per run, ${RUNS} runs; medians over runs of each run's median\n`,
  );
  console.log('| program | request ns | response ns | per packet ns | over the floor |');
  console.log('|---|---:|---:|---:|---:|');
  const floor = median(results[0]!.map(perPacket));
  variants.forEach((v, i) => {
    const r = results[i]!;
    const p = median(r.map(perPacket));
    console.log(
      `| ${v.name} | ${formatSummary(summarize(r.map((x) => x.request)), 0)} | ${formatSummary(summarize(r.map((x) => x.response)), 0)} | ` +
        `${p.toFixed(0)} | ${i === 0 ? '' : `+${(p - floor).toFixed(0)}`} |`,
    );
  });
  if (BASELINE !== undefined) {
    // over the floor, run by run: the difference the programs make, without the timing's own cost
    const ratios = results[1]!.map(
      (r, i) =>
        (perPacket(r) - perPacket(results[0]![i]!)) /
        (perPacket(results[2]![i]!) - perPacket(results[0]![i]!)),
    );
    console.log(
      `\nthis checkout ÷ baseline, over the floor, per run: ${formatCi(bootstrapMedianCi(ratios, { seed: 16 }))}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
