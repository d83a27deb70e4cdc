// What programs attached side by side (socket filters, or TC programs) cost over one burst of
// traffic, from the kernel's own per-program statistics (kernel.bpf_stats_enabled): the kernel
// benchmarks' shared stage (a pod serving nginx, bpf_stats on), attach order and measurement.
import { readFileSync, writeFileSync } from 'node:fs';
import {
  type AttachMode,
  Attachment,
  type HostInterface,
  programStats,
  requireHostInterface,
  TcAttachment,
} from '@owlk8s/ebpf';
import { sleep } from '../../test/harness/exec.ts';
import { type PodOptions, TestNetwork } from '../../test/harness/network.ts';
import type { Pod } from '../../test/harness/pod.ts';
import { requireBpf } from '../../test/harness/privileges.ts';
import { type RunningServer, startNginx } from '../../test/harness/servers.ts';

const STATS = '/proc/sys/kernel/bpf_stats_enabled';

/** Switches kernel.bpf_stats_enabled on; the function returned puts the machine's own value back. */
export function enableBpfStats(): () => void {
  const before = readFileSync(STATS, 'utf8').trim();
  writeFileSync(STATS, '1');
  return () => writeFileSync(STATS, before);
}

/** What the kernel benchmarks measure on: a routed pod serving nginx on port 80, and its host interface. */
export interface NginxStage {
  readonly net: TestNetwork;
  readonly web: Pod;
  readonly nginx: RunningServer;
  readonly iface: HostInterface;
}

/**
 * Runs `body` on a routed pod 'web' serving nginx on port 80, with kernel.bpf_stats_enabled on:
 * the machine's own value is put back and the network torn down afterwards, also on failure.
 * `what` names the benchmark in the message when BPF or root is missing.
 */
export async function onNginxPod<T>(
  what: string,
  body: (stage: NginxStage) => Promise<T>,
  podOptions?: PodOptions,
): Promise<T> {
  requireBpf(what);
  const restoreStats = enableBpfStats();
  try {
    await using net = await TestNetwork.create();
    const web = await net.addRoutedPod('web', podOptions);
    const nginx = await startNginx(web, 80);
    const iface = await requireHostInterface(web.ipv4);
    return await body({ net, web, nginx, iface });
  } finally {
    restoreStats();
  }
}

/**
 * Attaches the programs to one interface (as socket filters, or as TC programs on its ingress and
 * egress), in reverse order on odd rounds: a program that runs later on a packet finds it warmer in
 * cache, so the order alternates. Disposing detaches them all.
 */
export function attachAlternating(
  programFds: readonly number[],
  ifindex: number,
  round: number,
  how: AttachMode = 'socket',
): Disposable {
  const order = round % 2 === 0 ? programFds : [...programFds].reverse();
  const attachments: (Attachment | TcAttachment)[] = [];
  try {
    for (const fd of order) {
      attachments.push(how === 'tc' ? TcAttachment.open(fd, ifindex) : Attachment.open(fd, ifindex));
    }
  } catch (error) {
    for (const a of attachments) a.close();
    throw error;
  }
  return {
    [Symbol.dispose]() {
      for (const a of attachments) a.close();
    },
  };
}

export interface ProgramRun {
  readonly packets: number;
  readonly nsPerPacket: number;
}

/**
 * Runs the traffic, then reads each program's packets and ns per packet over it. Throws when the
 * programs, attached to the same interface, did not see the same packets.
 */
export async function measurePrograms(
  programFds: readonly number[],
  traffic: () => Promise<void>,
): Promise<ProgramRun[]> {
  const before = programFds.map((fd) => programStats(fd));
  await traffic();
  // The connections' last packets (FIN, ACK) trail the client's exit; let them pass before reading.
  await sleep(500);
  const runs = programFds.map((fd, i) => {
    const after = programStats(fd);
    return {
      packets: Number(after.runCount - before[i]!.runCount),
      ns: Number(after.runTimeNs - before[i]!.runTimeNs),
    };
  });
  const counts = runs.map((r) => r.packets);
  // Read one after another, the programs may still differ by a straggler or two.
  if (Math.max(...counts) - Math.min(...counts) > Math.max(...counts) / 1000)
    throw new Error(`the programs saw different packet counts: ${counts.join(', ')}`);
  return runs.map((r) => ({ packets: r.packets, nsPerPacket: r.ns / r.packets }));
}
