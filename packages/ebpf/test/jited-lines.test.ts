// jitedLines against bpftool's own listing of the same loaded program: the capture program, in the
// real kernel.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { before, test } from 'node:test';
import { Capture } from '../src/capture.ts';
import { jitedLines } from '../src/jited-lines.ts';
import { programStats } from '../src/program-stats.ts';
import { requireBpf } from './kernel.ts';

before(() => requireBpf('the jited-lines test'));

test("every line-info record of the capture program, with its machine code's address", () => {
  using cap = Capture.load();
  const j = jitedLines(cap.programFd);
  assert.equal(j.id, programStats(cap.programFd).id);
  const listing = execFileSync('/usr/sbin/bpftool', ['prog', 'dump', 'xlated', 'id', String(j.id), 'linum'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  }).split('\n');
  // bpftool prints a `; source [file:… line_num:…]` line before the instruction each record starts at
  const recordInsns = listing.flatMap((l, i) =>
    l.startsWith('; ')
      ? [Number(/^\s*(\d+):/.exec(listing.slice(i + 1).find((x) => /^\s*\d+:/.test(x))!)![1])]
      : [],
  );
  assert.deepEqual(
    j.lines.map((l) => l.insn),
    recordInsns,
  );
  // one function per header line of the listing, each starting at a record's address
  const headers = listing.filter((l) => /^\S.*\):$/.test(l));
  assert.equal(j.functions.length, headers.length);
  assert.ok(j.functions.length > 1, 'the capture program has subprograms');
  const starts = new Set(j.lines.map((l) => l.address));
  for (const f of j.functions) {
    assert.ok(f.bytes > 0);
    assert.ok(starts.has(f.address), `a record starts function ${f.address.toString(16)}`);
  }
  // every record's code lies inside one function, and addresses rise with instructions within it
  let last = -1n;
  let fn = -1;
  for (const l of j.lines) {
    const i = j.functions.findIndex((f) => l.address >= f.address && l.address < f.address + BigInt(f.bytes));
    assert.ok(i >= 0, `record of instruction ${l.insn} is in a function`);
    if (i === fn)
      assert.ok(l.address >= last, `instruction ${l.insn}'s code is not before the one before it`);
    [fn, last] = [i, l.address];
  }
});
