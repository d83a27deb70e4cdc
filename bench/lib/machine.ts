// What the machine is and what it spends: /proc/stat busy time, a process's CPU time and memory.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';

/** USER_HZ: /proc/stat and /proc/PID/stat count in these ticks (100 on every Linux we run on). */
const HZ = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export interface Machine {
  readonly cores: number;
  readonly cpu: string;
  readonly kernel: string;
  readonly memoryMiB: number;
  readonly node: string;
}

export function machine(): Machine {
  const mem = /MemTotal:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    kernel: release(),
    memoryMiB: Math.round(Number(mem?.[1] ?? 0) / 1024),
    node: process.version,
  };
}

export const load1 = (): number => loadavg()[0] ?? Number.NaN;

/** Machine-wide CPU seconds: busy (everything but idle and iowait) and total, over all cores. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = v[3]! + v[4]!;
  return { busy: (total - idle) / HZ, total: total / HZ };
}

/** CPU seconds (user + system) a process has used; fields 14 and 15 of /proc/PID/stat. */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / HZ;
}

/**
 * CPU seconds a process's live threads have run, from each thread's schedstat (nanoseconds, so a
 * few seconds of a mostly idle process are measured far finer than with 10 ms ticks).
 */
export function processCpuPrecise(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return ns / 1e9;
}

/**
 * A process's scheduling and memory events so far: minor page faults (field 10 of /proc/PID/stat),
 * and over its live threads the time spent runnable but waiting for a CPU and the number of times
 * it was given one (schedstat's second and third fields).
 */
export function processEvents(pid: number): { minorFaults: number; waitS: number; slices: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const minorFaults = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
  let waitNs = 0;
  let slices = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const f = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ');
      waitNs += Number(f[1]);
      slices += Number(f[2]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return { minorFaults, waitS: waitNs / 1e9, slices };
}

/** Resident memory in MiB (VmRSS) and its peak (VmHWM). */
export function processMemory(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: kb('VmRSS') / 1024, peakMiB: kb('VmHWM') / 1024 };
}
