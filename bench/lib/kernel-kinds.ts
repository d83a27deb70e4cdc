// Item 1, kernel cost per packet for three kinds of traffic, measured as bench/kernel-cost.ts does
// for keep-alive (the same harness, the same objects, the same kernel statistics): the empty socket
// filter (the floor) and the capture program attached at once to the same pod's host interface,
// so both run on exactly the same packets; Δrun_time_ns / Δrun_cnt per round; the attach order
// alternates. Kinds: keep-alive HTTP (wrk), a new connection per request (wrk, `Connection: close`)
// and non-HTTP TCP (a ping-pong echo over 16 keep-alive connections, small messages like the HTTP
// ones). The kinds take turns within every round, so a noisy minute hits all of them.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Capture, LoadedObject } from '@owlk8s/ebpf';
import { wrk } from '../../test/harness/clients.ts';
import { sleep } from '../../test/harness/exec.ts';
import { type BenchOptions, type BenchResult, fmt } from './bench.ts';
import { table } from './markdown.ts';
import { attachAlternating, measurePrograms, type NginxStage, onNginxPod } from './program-runs.ts';
import { formatSummary, pairRatios, summarize } from './stats.ts';

const EMPTY_OBJECT = new URL('../../bpf/build/empty.bpf.o', import.meta.url).pathname;
const ECHO = new URL('./echo.ts', import.meta.url).pathname;
const KINDS = ['keep-alive HTTP', 'new connection per request', 'non-HTTP TCP'] as const;
type Kind = (typeof KINDS)[number];

interface Round {
  readonly kind: Kind;
  readonly round: number;
  readonly packets: number;
  readonly packetsPerSecond: number;
  readonly requests: number;
  readonly emptyNs: number;
  readonly captureNs: number;
}

export async function kernelKinds({ quick, log }: BenchOptions): Promise<BenchResult> {
  const ROUNDS = quick ? 2 : 7;
  const SECONDS = quick ? 2 : 4;
  const rounds: Round[] = [];
  const bench = async ({ web, nginx, iface }: NginxStage): Promise<void> => {
    const echo = web.spawn([process.execPath, ECHO, 'server', '9000']);
    await sleep(500);
    using empty = LoadedObject.load(EMPTY_OBJECT, ['owlk8s_empty']);
    using capture = Capture.load({});
    capture.setTarget(web.ipv4, iface.ifindex, 1);
    const emptyFd = empty.programFd('owlk8s_empty');
    const traffic = async (kind: Kind): Promise<void> => {
      if (kind === 'non-HTTP TCP') {
        await promisify(execFile)(
          process.execPath,
          [ECHO, 'client', web.ipv4, '9000', '16', String(SECONDS)],
          {
            timeout: (SECONDS + 30) * 1000,
          },
        );
        return;
      }
      const w = await wrk(undefined, nginx.url('/'), {
        connections: 16,
        threads: 2,
        durationS: SECONDS,
        ...(kind === 'new connection per request' ? { headers: ['Connection: close'] } : {}),
      });
      if (w.requests === 0) throw new Error(`wrk (${kind}) served no requests`);
    };
    try {
      for (let round = 0; round < ROUNDS; round++) {
        for (const kind of KINDS) {
          using _attached = attachAlternating([emptyFd, capture.programFd], iface.ifindex, round);
          const r0 = capture.readSelf().requests;
          let elapsedS = 0;
          const [e, c] = await measurePrograms([emptyFd, capture.programFd], async () => {
            const t0 = performance.now();
            await traffic(kind);
            elapsedS = (performance.now() - t0) / 1000;
          });
          const packets = c!.packets;
          const r: Round = {
            kind,
            round,
            packets,
            packetsPerSecond: packets / elapsedS,
            requests: Number(capture.readSelf().requests - r0),
            emptyNs: e!.nsPerPacket,
            captureNs: c!.nsPerPacket,
          };
          rounds.push(r);
          log(
            `kernel round ${round + 1}/${ROUNDS} ${kind}: ${packets} packets (${fmt(r.packetsPerSecond, 0)}/s), ${r.requests} requests counted; empty ${fmt(r.emptyNs)} ns, capture ${fmt(r.captureNs)} ns`,
          );
        }
      }
    } finally {
      echo.kill();
    }
  };
  await onNginxPod('bench kernel-kinds', bench, { ipv6: false });
  const summaries = KINDS.map((kind) => {
    const rs = rounds.filter((r) => r.kind === kind);
    return {
      kind,
      packetsPerSecond: summarize(rs.map((r) => r.packetsPerSecond)),
      requestsPerRound: summarize(rs.map((r) => r.requests)),
      emptyNs: summarize(rs.map((r) => r.emptyNs)),
      captureNs: summarize(rs.map((r) => r.captureNs)),
      ratio: summarize(
        pairRatios(
          rs.map((r) => r.captureNs),
          rs.map((r) => r.emptyNs),
        ),
      ),
    };
  });
  const keepAlive = summaries[0]!.ratio;
  const markdown = `${ROUNDS} rounds of ${SECONDS} s per kind; the kinds take turns within each round and the attach order
alternates between rounds. Traffic from the host to one routed pod: wrk (2 threads, 16 connections) to nginx, with
\`Connection: close\` for a new connection per request; the non-HTTP kind is a ping-pong echo (64-byte message,
128-byte answer, 16 keep-alive connections, \`bench/lib/echo.ts\`), which is the closest packet pattern to the
keep-alive HTTP one that a simple client gives (its packet rate is in the table: the Node client does not reach
wrk's rate, so "the same packet rate" is approximate). The ratio is capture / floor within each round.

${table(
  [
    'traffic',
    'packets/s',
    'requests counted per round',
    'empty filter ns/packet',
    'capture ns/packet',
    'ratio',
  ],
  summaries.map((s) => [
    s.kind,
    formatSummary(s.packetsPerSecond, 0),
    formatSummary(s.requestsPerRound, 0),
    formatSummary(s.emptyNs, 1),
    formatSummary(s.captureNs, 1),
    `**${formatSummary(s.ratio, 2)}**`,
  ]),
)}

Goal (keep-alive HTTP, ≤ 2.0× the floor): ${keepAlive.median <= 2 ? '**met**' : `**not met**: ${fmt(keepAlive.median, 2)}×, ${fmt((keepAlive.median / 2 - 1) * 100, 0)} % over`}. See the
section "Kernel capture program: cost per packet" above for where the time goes and what would close the gap.`;
  const goals = [
    {
      goal: 'kernel cost per packet, keep-alive HTTP ≤ 2.0× the empty filter',
      measured: `${fmt(keepAlive.median, 2)}× (${fmt(keepAlive.min, 2)}–${fmt(keepAlive.max, 2)})`,
      met: keepAlive.median <= 2,
    },
  ];
  return {
    name: 'kernel-kinds',
    goals,
    data: { rounds: ROUNDS, seconds: SECONDS, perRound: rounds, summaries },
    markdown,
  };
}
