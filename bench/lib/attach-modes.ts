// The two attach modes of the capture program on the same traffic, each alone: no program, the
// socket filter (an AF_PACKET socket on the pod's interface) and the TC program (ingress and egress
// of the interface), in rotating order within each round. Per run: machine-wide busy CPU time
// (/proc/stat) over the wrk run divided by the requests served, which counts what the program costs
// and what its attachment costs the kernel around it (a packet socket gets every packet delivered,
// and on transmit dev_queue_xmit_nit clones the skb for each tap); and the program's own ns per
// packet from the kernel's statistics (bpf_stats, on for the whole benchmark, so every run with a
// program also pays the statistics' two clock reads per packet).
import { type Capture, programStats } from '@owlk8s/ebpf';
import { wrk } from '../../test/harness/clients.ts';
import { sleep } from '../../test/harness/exec.ts';
import { machineCpu } from './machine.ts';
import { pairRatios, summarize } from './stats.ts';

export type Mode = 'none' | 'socket' | 'tc';
const MODES: readonly Mode[] = ['none', 'socket', 'tc'];

export interface AttachRun {
  readonly mode: Mode;
  readonly requests: number;
  /** Requests the program counted (0 with no program). */
  readonly counted: number;
  readonly busyS: number;
  readonly cpuUsPerRequest: number;
  readonly packets: number;
  readonly nsPerPacket: number;
}

export interface AttachModes {
  readonly runs: readonly AttachRun[];
  readonly cpuUsPerRequest: Record<Mode, ReturnType<typeof summarize>>;
  /** Round by round: socket ÷ none, tc ÷ none, tc ÷ socket (CPU per request). */
  readonly ratios: Record<'socketOverNone' | 'tcOverNone' | 'tcOverSocket', ReturnType<typeof summarize>>;
  readonly nsPerPacket: Record<'socket' | 'tc', ReturnType<typeof summarize>>;
}

/**
 * Measures `rounds` rounds of the three modes, `seconds` of full-rate wrk each. `socket` and `tc` are
 * captures loaded in those modes, with the pod as their target, attached to nothing yet.
 */
export async function measureAttachModes(opts: {
  readonly url: string;
  readonly ifindex: number;
  readonly socket: Capture;
  readonly tc: Capture;
  readonly rounds: number;
  readonly seconds: number;
  readonly log: (line: string) => void;
}): Promise<AttachModes> {
  const runs: AttachRun[] = [];
  for (let round = 0; round < opts.rounds; round++) {
    const order = MODES.map((_, i) => MODES[(i + round) % MODES.length]!);
    for (const mode of order) {
      const cap = mode === 'none' ? undefined : opts[mode];
      cap?.attach(opts.ifindex);
      try {
        await sleep(500);
        const s0 = cap ? programStats(cap.programFd) : undefined;
        const r0 = cap?.readSelf().requests ?? 0n;
        const c0 = machineCpu();
        const w = await wrk(undefined, opts.url, { connections: 16, threads: 2, durationS: opts.seconds });
        const c1 = machineCpu();
        if (w.socketErrors > 0 || w.non2xx3xx > 0) {
          throw new Error(`wrk: ${w.socketErrors} socket errors, ${w.non2xx3xx} non-2xx`);
        }
        await sleep(500); // the connections' last packets
        const s1 = cap ? programStats(cap.programFd) : undefined;
        const packets = s0 && s1 ? Number(s1.runCount - s0.runCount) : 0;
        const busyS = c1.busy - c0.busy;
        const run: AttachRun = {
          mode,
          requests: w.requests,
          counted: Number((cap?.readSelf().requests ?? 0n) - r0),
          busyS: +busyS.toFixed(2),
          cpuUsPerRequest: +((busyS / w.requests) * 1e6).toFixed(3),
          packets,
          nsPerPacket:
            s0 && s1 && packets > 0 ? +(Number(s1.runTimeNs - s0.runTimeNs) / packets).toFixed(1) : 0,
        };
        runs.push(run);
        opts.log(
          `attach round ${round + 1}/${opts.rounds} ${mode.padEnd(6)}: ${run.requests} requests (${run.counted} counted), ` +
            `${run.cpuUsPerRequest} µs CPU/request${cap ? `, ${run.nsPerPacket} ns/packet over ${packets} packets` : ''}`,
        );
      } finally {
        cap?.detach(opts.ifindex);
      }
    }
  }
  const of = (mode: Mode) => runs.filter((r) => r.mode === mode);
  const cpu = (mode: Mode) => of(mode).map((r) => r.cpuUsPerRequest);
  return {
    runs,
    cpuUsPerRequest: {
      none: summarize(cpu('none')),
      socket: summarize(cpu('socket')),
      tc: summarize(cpu('tc')),
    },
    ratios: {
      socketOverNone: summarize(pairRatios(cpu('socket'), cpu('none'))),
      tcOverNone: summarize(pairRatios(cpu('tc'), cpu('none'))),
      tcOverSocket: summarize(pairRatios(cpu('tc'), cpu('socket'))),
    },
    nsPerPacket: {
      socket: summarize(of('socket').map((r) => r.nsPerPacket)),
      tc: summarize(of('tc').map((r) => r.nsPerPacket)),
    },
  };
}
