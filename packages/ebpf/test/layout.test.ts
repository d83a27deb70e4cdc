// C and TypeScript agree on every byte: each codec's size and field offsets equal those in the
// built object's BTF, and no struct has padding the compiler added on its own.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { DEFAULT_OBJECT_PATH } from '../src/config.ts';
import { ALL_LAYOUTS, CONN_KEY_LAYOUT, CONN_LAYOUT } from '../src/layout.ts';

interface BtfStruct {
  size: number;
  members: Map<string, { offset: number; typeId: number }>;
}

/** Structs (with member byte offsets) and every type's size, from `bpftool btf dump ... format raw`. */
function readBtf(path: string): { structs: Map<string, BtfStruct>; sizes: Map<number, number> } {
  if (!existsSync('/usr/sbin/bpftool'))
    throw new Error('this test needs bpftool (Debian: apt-get install bpftool)');
  const raw = execFileSync('/usr/sbin/bpftool', ['btf', 'dump', 'file', path, 'format', 'raw'], {
    encoding: 'utf8',
  });
  const structs = new Map<string, BtfStruct>();
  const types = new Map<number, string>();
  let current: BtfStruct | undefined;
  for (const line of raw.split('\n')) {
    const head = /^\[(\d+)\] (\w+) '([^']*)'(.*)$/.exec(line);
    if (head) {
      types.set(Number(head[1]), line);
      current = undefined;
      if (head[2] === 'STRUCT') {
        current = { size: Number(/size=(\d+)/.exec(head[4]!)![1]), members: new Map() };
        structs.set(head[3]!, current);
      }
      continue;
    }
    const m = /^\s+'(\w+)' type_id=(\d+) bits_offset=(\d+)/.exec(line);
    if (m && current) current.members.set(m[1]!, { offset: Number(m[3]) / 8, typeId: Number(m[2]) });
  }
  const sizes = new Map<number, number>();
  const sizeOf = (id: number): number => {
    const line = types.get(id)!;
    const s = /size=(\d+)/.exec(line);
    if (s && !/^\[\d+\] (TYPEDEF|ARRAY)/.test(line)) return Number(s[1]);
    const arr = /ARRAY .* type_id=(\d+) index_type_id=\d+ nr_elems=(\d+)/.exec(line);
    if (arr) return sizeOf(Number(arr[1])) * Number(arr[2]);
    const td = /(TYPEDEF|VOLATILE|CONST) .*type_id=(\d+)/.exec(line);
    if (td) return sizeOf(Number(td[2]));
    throw new Error(`no size for BTF type ${line}`);
  };
  for (const id of types.keys()) {
    try {
      sizes.set(id, sizeOf(id));
    } catch {}
  }
  return { structs, sizes };
}

const { structs, sizes } = readBtf(DEFAULT_OBJECT_PATH);

for (const layout of ALL_LAYOUTS) {
  test(`struct ${layout.struct}: size and field offsets equal the object's BTF`, () => {
    const s = structs.get(layout.struct);
    assert.ok(s, `struct ${layout.struct} is not in ${DEFAULT_OBJECT_PATH}'s BTF`);
    assert.equal(layout.size, s.size, 'size');
    assert.deepEqual(
      Object.fromEntries(
        [...s.members].map(([name, m]) => [name, { offset: m.offset, size: sizes.get(m.typeId) }]),
      ),
      layout.fields,
    );
    const covered = Object.values(layout.fields).reduce((n, f) => n + f.size, 0);
    assert.equal(covered, s.size, 'fields cover the struct: no padding the compiler inserted');
  });
}

test("a conns element is ten whole cache lines, and the key's second line holds only read-mostly fields", () => {
  const HEADER = 48; // struct htab_elem in 6.18's BTF; the key follows, rounded up to 8 bytes
  const keyEnd = HEADER + CONN_KEY_LAYOUT.size;
  assert.equal(keyEnd + CONN_LAYOUT.size, 640);
  const inKeyLine = Object.entries(CONN_LAYOUT.fields)
    .filter(([, f]) => keyEnd + f.offset < 128)
    .map(([name]) => name);
  // fins too: every packet reads it, and it is written only when one of its bits changes (rare)
  assert.deepEqual(inKeyLine, [
    'target_id',
    'peer_id',
    'series_code',
    'series_index',
    'series_gen',
    'fins',
    '_line',
  ]);
});
