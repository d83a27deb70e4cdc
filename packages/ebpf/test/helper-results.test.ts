// The built object's code, read with llvm-objdump: how it tests what a map operation returned.
// Before Linux 6.4 the map operations behind bpf_map_update_elem, _delete_elem, _push_elem and
// _pop_elem return an int that the helper call leaves in the low 32 bits of r0, not sign-extended
// (-EEXIST reads 0x00000000ffffffef): `if r0 s< 0` never holds there, so a failure on 6.1 passed
// for a success. A result tested for == 0 or != 0, or as 32 bits (w0), reads right on every kernel.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { DEFAULT_OBJECT_PATH } from '../src/config.ts';

/** Helper ids: bpf_map_update_elem, bpf_map_delete_elem, bpf_map_push_elem, bpf_map_pop_elem. */
const MAP_OPS = new Map([
  [2, 'bpf_map_update_elem'],
  [3, 'bpf_map_delete_elem'],
  [87, 'bpf_map_push_elem'],
  [88, 'bpf_map_pop_elem'],
]);

/** Each call of a map operation whose next instruction tests r0 as a signed 64-bit number. */
export function signedTestsOfMapOps(disassembly: string): string[] {
  const insns = disassembly
    .split('\n')
    .map((l) => /^\s*(\d+):\s+(.*)$/.exec(l))
    .filter((m) => m !== null)
    .map((m) => ({ at: Number(m[1]), text: m[2]!.trim() }));
  const bad: string[] = [];
  for (let i = 0; i < insns.length - 1; i++) {
    const call = /^call (\d+)$/.exec(insns[i]!.text);
    const op = call ? MAP_OPS.get(Number(call[1])) : undefined;
    if (op === undefined) continue;
    const next = insns[i + 1]!;
    if (/^if r0 s[<>]=? /.test(next.text)) bad.push(`${insns[i]!.at}: ${op}, then ${next.at}: ${next.text}`);
  }
  return bad;
}

test('the program tests no map operation’s result as a signed 64-bit number (6.1 does not sign-extend it)', () => {
  const text = execFileSync('llvm-objdump', ['-d', '--no-show-raw-insn', DEFAULT_OBJECT_PATH], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const calls = [...text.matchAll(/^\s*\d+:\s+call (2|3|87|88)$/gm)].length;
  // the object has such calls at all (the check would pass on an empty disassembly)
  assert.ok(calls >= 20, `${calls} calls of map operations in ${DEFAULT_OBJECT_PATH}`);
  assert.deepEqual(signedTestsOfMapOps(text), []);
});

test('signedTestsOfMapOps: a 64-bit signed test after a map operation is found; == 0, != 0 and 32-bit tests pass', () => {
  const text = [
    '    10:\tcall 2',
    '    11:\tif r0 s< 0 goto +5 <LBB1_2>',
    '    12:\tcall 2',
    '    13:\tif r0 == 0 goto +5 <LBB1_3>',
    '    14:\tcall 3',
    '    15:\tif w0 s< 0 goto +1 <LBB1_4>',
    '    16:\tcall 88',
    '    17:\tif r0 s> -1 goto +1 <LBB1_5>',
    '    18:\tcall 1',
    '    19:\tif r0 s< 0 goto +1 <LBB1_6>',
  ].join('\n');
  assert.deepEqual(signedTestsOfMapOps(text), [
    '10: bpf_map_update_elem, then 11: if r0 s< 0 goto +5 <LBB1_2>',
    '16: bpf_map_pop_elem, then 17: if r0 s> -1 goto +1 <LBB1_5>',
  ]);
});
