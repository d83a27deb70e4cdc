// A program's own run-time statistics, kept by the kernel while kernel.bpf_stats_enabled is 1.
import { BpfError } from './errors.ts';
import * as sys from './sys/ffi.ts';

export interface ProgramStats {
  readonly id: number;
  /** Total time spent in the program since load, in ns (0 while bpf_stats_enabled is 0). */
  readonly runTimeNs: bigint;
  /** Number of runs counted while bpf_stats_enabled was 1. */
  readonly runCount: bigint;
}

// struct bpf_prog_info offsets (include/uapi/linux/bpf.h)
const INFO_SIZE = 224;
const ID = 4;
const RUN_TIME_NS = 192;
const RUN_CNT = 200;

/** Reads a program's id and run statistics. Throws BpfError. */
export function programStats(programFd: number): ProgramStats {
  const info = Buffer.alloc(INFO_SIZE);
  const r = sys.objectInfo(programFd, info);
  if (r < 0) throw new BpfError(`program info of fd ${programFd}`, -r);
  return {
    id: info.readUInt32LE(ID),
    runTimeNs: info.readBigUInt64LE(RUN_TIME_NS),
    runCount: info.readBigUInt64LE(RUN_CNT),
  };
}
