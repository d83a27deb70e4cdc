// One layout on both sides: include/h2_record.h, compiled for the BPF target with -Wpadded
// -Werror, must have exactly the codec's size and offsets (src/record.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import * as R from '../src/record.ts';

const FIELDS: [string, number][] = [
  ['ts_ns', R.OFF_TS],
  ['conn_id', R.OFF_CONN],
  ['target_id', R.OFF_TARGET],
  ['peer_id', R.OFF_PEER],
  ['seq', R.OFF_SEQ],
  ['stream_id', R.OFF_STREAM],
  ['frame_len', R.OFF_FRAME_LEN],
  ['frag_offset', R.OFF_FRAG_OFFSET],
  ['server_port', R.OFF_PORT],
  ['frag_len', R.OFF_FRAG_LEN],
  ['kind', R.OFF_KIND],
  ['flags', R.OFF_FLAGS],
  ['type', R.OFF_TYPE],
  ['frame_flags', R.OFF_FRAME_FLAGS],
  ['data', R.RECORD_HEADER_SIZE],
];

it('include/h2_record.h has the codec layout (clang -target bpf -Wpadded)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'h2-record-'));
  try {
    const src = join(dir, 'check.c');
    const asserts = [
      ...FIELDS.map(
        ([f, off]) => `_Static_assert(__builtin_offsetof(struct h2_record, ${f}) == ${off}, "${f}");`,
      ),
      `_Static_assert(sizeof(struct h2_record) == ${R.RECORD_HEADER_SIZE}, "size");`,
      `_Static_assert(_Alignof(struct h2_record) == ${R.RECORD_ALIGN}, "align");`,
      `_Static_assert(H2_RECORD_FRAGMENT_CAP == ${R.FRAGMENT_CAP}, "cap");`,
      `_Static_assert(H2_RECORD_FRAME == ${R.KIND_FRAME} && H2_RECORD_END == ${R.KIND_END} && H2_RECORD_GAP == ${R.KIND_GAP}, "kinds");`,
      `_Static_assert(H2_RECORD_F_RESPONSE == ${R.FLAG_RESPONSE} && H2_RECORD_F_CLIENT == ${R.FLAG_CLIENT} && H2_RECORD_F_PREFACE == ${R.FLAG_PREFACE}, "flags");`,
      `_Static_assert(H2_END_FIN == ${R.END_FIN} && H2_END_RST == ${R.END_RST} && H2_END_EVICTED == ${R.END_EVICTED}, "end causes");`,
      `_Static_assert(H2_GAP_DROPPED == ${R.GAP_DROPPED} && H2_GAP_CUT == ${R.GAP_CUT} && H2_GAP_BOUNDARY == ${R.GAP_BOUNDARY}, "gap causes");`,
    ];
    writeFileSync(src, `#include "h2_record.h"\n${asserts.join('\n')}\n`);
    const include = new URL('../include', import.meta.url).pathname;
    // As bpf/Makefile: the architecture's UAPI headers (asm/types.h) for linux/types.h.
    const archInclude = `/usr/include/${arch() === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
    const r = spawnSync(
      'clang',
      [
        '-target',
        'bpf',
        '-Wall',
        '-Wpadded',
        '-Werror',
        `-I${archInclude}`,
        `-I${include}`,
        '-c',
        src,
        '-o',
        join(dir, 'check.o'),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(
      r.error,
      undefined,
      `clang not found (Debian: clang, installed by scripts/setup.sh): ${r.error?.message}`,
    );
    assert.equal(r.status, 0, r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
