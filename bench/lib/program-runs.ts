// What socket filters attached side by side cost over one burst of traffic, from the kernel's own
// per-program statistics (kernel.bpf_stats_enabled): the kernel benchmarks' shared measurement.
import { readFileSync, writeFileSync } from 'node:fs';
import { programStats } from '@owlk8s/ebpf';
import { sleep } from '../../test/harness/exec.ts';

const STATS = '/proc/sys/kernel/bpf_stats_enabled';

/** Switches kernel.bpf_stats_enabled on; the function returned puts the machine's own value back. */
export function enableBpfStats(): () => void {
  const before = readFileSync(STATS, 'utf8').trim();
  writeFileSync(STATS, '1');
  return () => writeFileSync(STATS, before);
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
