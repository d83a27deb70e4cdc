// A sampling profile of a BPF program by source line: bpftool's listing of the loaded program (which
// instruction is which source line), the JIT's address of every line-info record (jitedLines), and
// `perf script` call chains. Used by bench/kernel-profile.ts.
import type { JitedLines } from '@owlk8s/ebpf';

/** One translated instruction's place in the source, from `bpftool prog dump xlated id … linum`. */
export interface Source {
  readonly fn: string;
  readonly where: string;
  readonly code: string;
}

/** Instruction offset → function and source line, from bpftool's listing of the loaded program. */
export function parseXlated(listing: string): Map<number, Source> {
  const byInsn = new Map<number, Source>();
  let fn = '?';
  let where = '?';
  let code = '';
  for (const line of listing.split('\n')) {
    const insn = /^\s*(\d+): \(/.exec(line);
    if (insn) {
      byInsn.set(Number(insn[1]), { fn, where, code });
    } else if (line.startsWith('; ')) {
      const m = /^; (.*?)\s*\[file:(?:.*\/)?([^/\s]+) line_num:(\d+)/.exec(line);
      if (m) [code, where] = [m[1]!, `${m[2]}:${m[3]}`];
    } else if (/^\S.*\):$/.test(line)) {
      fn = /(\w+)\(/.exec(line)?.[1] ?? line;
    }
  }
  return byInsn;
}

/** Whether `address` lies in one of the program's functions' machine code. */
export function inProgram(lines: JitedLines, address: bigint): boolean {
  return lines.functions.some((f) => address >= f.address && address < f.address + BigInt(f.bytes));
}

/** The line-info record whose machine code holds `address`, as its instruction offset; -1 outside the program. */
export function insnAt(lines: JitedLines, address: bigint): number {
  if (!inProgram(lines, address)) return -1;
  // the last record at or below the address (each function's first instruction has one)
  const byAddress = sortedByAddress(lines);
  let lo = 0;
  let hi = byAddress.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (byAddress[mid]!.address <= address) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found < 0 ? -1 : byAddress[found]!.insn;
}

const sorted = new WeakMap<JitedLines, JitedLines['lines']>();
function sortedByAddress(lines: JitedLines): JitedLines['lines'] {
  let s = sorted.get(lines);
  if (!s) {
    s = [...lines.lines].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    sorted.set(lines, s);
  }
  return s;
}

/** Samples counted: all of them, the program's, and the program's by function, source line and helper. */
export interface Tally {
  all: number;
  program: number;
  /** The innermost function of the program in the sample's call chain. */
  byFn: Map<string, number>;
  /** `file:line` of the innermost program address: the running line, or the line of the call to a helper. */
  byLine: Map<string, { code: string; fn: string; n: number }>;
  /** The kernel function running (the leaf) when the program had called it. */
  byHelper: Map<string, number>;
}

/** Attributes `perf script -F ip,sym` call chains (leaf first, blank-line separated) to the program. */
export function attribute(script: string, lines: JitedLines, source: Map<number, Source>): Tally {
  const t: Tally = { all: 0, program: 0, byFn: new Map(), byLine: new Map(), byHelper: new Map() };
  const add = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);
  for (const block of script.split(/\n\s*\n/)) {
    const frames = block
      .split('\n')
      .map((l) => /^\s*([0-9a-f]+) (\S+)/.exec(l))
      .filter((m) => m !== null)
      .map((m) => ({ address: BigInt(`0x${m[1]}`), sym: m[2]! }));
    if (frames.length === 0) continue;
    t.all++;
    const at = frames.findIndex((f) => inProgram(lines, f.address));
    if (at < 0) continue;
    t.program++;
    // a caller's frame holds the return address: the call is the instruction before it
    const address = at === 0 ? frames[0]!.address : frames[at]!.address - 1n;
    const src = source.get(insnAt(lines, address)) ?? { fn: '?', where: '?', code: '' };
    add(t.byFn, src.fn);
    const line = t.byLine.get(src.where) ?? { code: src.code, fn: src.fn, n: 0 };
    line.n++;
    t.byLine.set(src.where, line);
    if (at > 0) add(t.byHelper, frames[0]!.sym);
  }
  return t;
}
