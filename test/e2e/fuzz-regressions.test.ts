// The edge cases of the packet fuzz run, kept as fixed frames (test/fixtures/fuzz-regressions.json,
// made by test/fixtures/generate-fuzz-regressions.ts): each case's frames run through the program
// on a fresh capture, and it must count exactly what the case says.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { requireBpf } from '@owlk8s/e2e/harness';
import { Capture } from '@owlk8s/ebpf';
import { testRun } from '@owlk8s/ebpf/testing';

interface Case {
  readonly name: string;
  readonly frames: readonly string[];
  readonly counted: number;
}

const CASES = JSON.parse(
  readFileSync(new URL('../fixtures/fuzz-regressions.json', import.meta.url), 'utf8'),
) as Case[];

test('the fuzz regression frames count exactly what each case says', () => {
  requireBpf();
  assert.ok(CASES.length >= 20, `${CASES.length} cases`);
  const results: string[] = [];
  for (const c of CASES) {
    using cap = Capture.load({});
    cap.setTarget('198.18.0.9', 1, 7);
    cap.setTarget('2001:2::9', 1, 8);
    for (const hex of c.frames) testRun(cap.programFd, Buffer.from(hex, 'hex'), 1);
    const snap = cap.read();
    const counted = snap.aggregates.reduce((n, a) => n + Number(a.count), 0);
    assert.equal(snap.self.packets, BigInt(c.frames.length), `${c.name}: every frame seen`);
    results.push(`${c.name}: ${counted}`);
    assert.equal(counted, c.counted, `${c.name}: counted`);
  }
});
