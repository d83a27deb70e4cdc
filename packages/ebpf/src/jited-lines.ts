// Where the JIT put each of a loaded program's source lines: the kernel's line info (one record per
// source line change, with the instruction it starts at) paired with the address of that
// instruction's machine code. A profiler's sample address in the program then names its line.
import { BpfError } from './errors.ts';
import * as sys from './sys/ffi.ts';

/** One line-info record: the translated instruction it starts at, and where its machine code is. */
export interface JitedLine {
  /** Offset of the instruction in the translated program (`bpftool prog dump xlated`), in instructions. */
  readonly insn: number;
  /** Kernel address of that instruction's machine code. */
  readonly address: bigint;
}

/** Where one function's machine code is: `bytes` from `address`. */
export interface JitedFunction {
  readonly address: bigint;
  readonly bytes: number;
}

export interface JitedLines {
  /** The program's id (`bpftool prog dump xlated id …`). */
  readonly id: number;
  /** Each function's machine code: the main program, then each subprogram. */
  readonly functions: readonly JitedFunction[];
  /** Ordered by instruction; addresses rise within each function. */
  readonly lines: readonly JitedLine[];
}

// struct bpf_prog_info offsets (include/uapi/linux/bpf.h)
const INFO_SIZE = 224;
const ID = 4;
const NR_JITED_KSYMS = 104;
const NR_JITED_FUNC_LENS = 108;
const JITED_KSYMS = 112;
const JITED_FUNC_LENS = 120;
const LINE_INFO = 152;
const NR_LINE_INFO = 148;
const JITED_LINE_INFO = 160;
const NR_JITED_LINE_INFO = 168;
const LINE_INFO_REC_SIZE = 172;
const JITED_LINE_INFO_REC_SIZE = 176;
const LINE_REC = 16; // struct bpf_line_info: insn_off, file_name_off, line_off, line_col
const ADDRESS = 8;

/**
 * Reads a program's line info with the JIT's address for each record. Throws BpfError; an Error
 * when the program has no line info (loaded without BTF) or was not JIT-compiled.
 */
export function jitedLines(programFd: number): JitedLines {
  const first = Buffer.alloc(INFO_SIZE);
  const r0 = sys.objectInfo(programFd, first);
  if (r0 < 0) throw new BpfError(`program info of fd ${programFd}`, -r0);
  const id = first.readUInt32LE(ID);
  const nFunctions = first.readUInt32LE(NR_JITED_KSYMS);
  const nLines = first.readUInt32LE(NR_LINE_INFO);
  const nJited = first.readUInt32LE(NR_JITED_LINE_INFO);
  if (nLines === 0 || nJited !== nLines || nFunctions === 0) {
    throw new Error(
      `program ${id} has ${nLines} line-info records and ${nJited} JIT addresses for them: ` +
        'it needs BTF line info (clang -g) and the JIT (net.core.bpf_jit_enable=1)',
    );
  }
  const ksyms = Buffer.alloc(nFunctions * ADDRESS);
  const lengths = Buffer.alloc(nFunctions * 4);
  const lineInfo = Buffer.alloc(nLines * LINE_REC);
  const jited = Buffer.alloc(nLines * ADDRESS);
  const info = Buffer.alloc(INFO_SIZE);
  info.writeUInt32LE(nFunctions, NR_JITED_KSYMS);
  info.writeBigUInt64LE(sys.bufferAddress(ksyms), JITED_KSYMS);
  info.writeUInt32LE(nFunctions, NR_JITED_FUNC_LENS);
  info.writeBigUInt64LE(sys.bufferAddress(lengths), JITED_FUNC_LENS);
  info.writeUInt32LE(nLines, NR_LINE_INFO);
  info.writeBigUInt64LE(sys.bufferAddress(lineInfo), LINE_INFO);
  info.writeUInt32LE(LINE_REC, LINE_INFO_REC_SIZE);
  info.writeUInt32LE(nLines, NR_JITED_LINE_INFO);
  info.writeBigUInt64LE(sys.bufferAddress(jited), JITED_LINE_INFO);
  info.writeUInt32LE(ADDRESS, JITED_LINE_INFO_REC_SIZE);
  const r = sys.objectInfo(programFd, info);
  if (r < 0) throw new BpfError(`line info of program ${id}`, -r);
  const functions = Array.from({ length: nFunctions }, (_, i) => ({
    address: ksyms.readBigUInt64LE(i * ADDRESS),
    bytes: lengths.readUInt32LE(i * 4),
  }));
  const lines = Array.from({ length: nLines }, (_, i) => ({
    insn: lineInfo.readUInt32LE(i * LINE_REC),
    address: jited.readBigUInt64LE(i * ADDRESS),
  }));
  return { id, functions, lines };
}
