import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JitedLines } from '@owlk8s/ebpf';
import { attribute, insnAt, parseXlated } from '../lib/profile.ts';

// A program of two functions: main_fn (instructions 0–9, machine code 0x1000–0x103f) and sub
// (10–12, 0x1040–0x105f), with four line-info records.
const LINES: JitedLines = {
  id: 7,
  functions: [
    { address: 0x1000n, bytes: 0x40 },
    { address: 0x1040n, bytes: 0x20 },
  ],
  lines: [
    { insn: 0, address: 0x1000n },
    { insn: 3, address: 0x1010n },
    { insn: 10, address: 0x1040n },
    { insn: 12, address: 0x1050n },
  ],
};
const LISTING = `int main_fn(struct __sk_buff * skb):
; int main_fn(struct __sk_buff *skb) [file:/src/bpf/a.bpf.c line_num:10 line_col:0]
   0: (bf) r6 = r1
   1: (b4) w1 = 0
   2: (63) *(u32 *)(r10 -4) = r1
; x = bpf_map_lookup_elem(&m, &k); [file:/src/bpf/a.bpf.c line_num:12 line_col:3]
   3: (85) call __htab_map_lookup_elem#123
   9: (95) exit
int sub(int a):
; int sub(int a) [file:/src/bpf/b.h line_num:5 line_col:0]
  10: (bf) r0 = r1
; return a; [file:/src/bpf/b.h line_num:6 line_col:2]
  12: (95) exit
`;

describe('parseXlated', () => {
  it("names each instruction's function and source line", () => {
    const src = parseXlated(LISTING);
    assert.deepEqual([...src.keys()], [0, 1, 2, 3, 9, 10, 12]);
    assert.deepEqual(src.get(2), {
      fn: 'main_fn',
      where: 'a.bpf.c:10',
      code: 'int main_fn(struct __sk_buff *skb)',
    });
    assert.deepEqual(src.get(9), {
      fn: 'main_fn',
      where: 'a.bpf.c:12',
      code: 'x = bpf_map_lookup_elem(&m, &k);',
    });
    assert.deepEqual(src.get(12), { fn: 'sub', where: 'b.h:6', code: 'return a;' });
  });
});

describe('insnAt', () => {
  it('gives the record at or below the address, and -1 outside every function', () => {
    assert.deepEqual(
      [0x1000n, 0x100fn, 0x1010n, 0x103fn, 0x1040n, 0x1055n, 0x105fn].map((a) => insnAt(LINES, a)),
      [0, 0, 3, 3, 10, 12, 12],
    );
    assert.deepEqual(
      [0xfffn, 0x1060n, 0xffffffff81000000n].map((a) => insnAt(LINES, a)),
      [-1, -1, -1],
    );
  });
});

describe('attribute', () => {
  it("counts a sample for the innermost program address of its chain, a caller's at the call", () => {
    const script = [
      // running in main_fn, line 12
      '\t1012 bpf_prog_x_main_fn\n\tffffffff81200000 bpf_prog_run',
      // in a helper main_fn called at line 12 (return address 0x1014)
      '\tffffffff81000000 __htab_map_lookup_elem\n\t1014 bpf_prog_x_main_fn\n\tffffffff81200000 bpf_prog_run',
      // in a helper whose return address starts line 12's code: the call was line 10's
      '\tffffffff81000000 __htab_map_lookup_elem\n\t1010 bpf_prog_x_main_fn',
      // in sub, at its first line and at its second
      '\t1041 bpf_prog_x_sub\n\t1020 bpf_prog_x_main_fn',
      '\t1055 bpf_prog_x_sub\n\t1020 bpf_prog_x_main_fn',
      // not the program: the kernel alone, and an address just past sub
      '\tffffffff82242055 pvm_safe_halt_hc\n\tffffffff82243c75 default_idle',
      '\t1060 bpf_prog_y_other',
    ].join('\n\n');
    const t = attribute(`\n${script}\n\n`, LINES, parseXlated(LISTING));
    assert.equal(t.all, 7);
    assert.equal(t.program, 5);
    assert.deepEqual(Object.fromEntries(t.byFn), { main_fn: 3, sub: 2 });
    assert.deepEqual(Object.fromEntries([...t.byLine].map(([k, v]) => [k, v.n])), {
      'a.bpf.c:12': 2,
      'a.bpf.c:10': 1,
      'b.h:5': 1,
      'b.h:6': 1,
    });
    assert.deepEqual(Object.fromEntries(t.byHelper), { __htab_map_lookup_elem: 2 });
  });
});
