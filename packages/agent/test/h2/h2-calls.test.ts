// H2Calls between a fake ring and a fake pipeline: reads bounded per poll, failures logged once
// per streak, calls counted per pod only when the pipeline took them, the reports it makes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CallRecord, H2Report } from '@owlk8s/otel';
import { H2Calls, type H2RecordSource, isH2RecordSource } from '../../src/h2/h2-calls.ts';
import { oneCall } from './records.ts';

function logger() {
  const lines: string[] = [];
  const log = (level: string) => (_o: object, msg: string) => lines.push(`${level} ${msg}`);
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

function pipeline(accept: (c: CallRecord) => boolean = () => true) {
  const calls: CallRecord[] = [];
  const reports: H2Report[] = [];
  return {
    calls,
    reports,
    recordCall: (c: CallRecord) => {
      calls.push(c);
      return accept(c);
    },
    reportH2: (r: H2Report) => reports.push(r),
  };
}

test('a poll empties the ring in at most 64 reads; calls count for their pod only when the pipeline took them', () => {
  const batches = [oneCall(1, 1), oneCall(2, 2), oneCall(1, 3)];
  let reads = 0;
  const source: H2RecordSource = {
    readH2Records: () => {
      reads++;
      return batches.shift() ?? Buffer.alloc(0);
    },
  };
  const p = pipeline((c) => c.targetId === 1);
  const h2 = new H2Calls({ source, pipeline: p, logger: logger(), nowNs: () => 10_000n });
  h2.poll();
  assert.equal(reads, 4); // three batches, then the empty read
  assert.deepEqual(
    p.calls.map((c) => [c.targetId, c.method, c.statusCode, c.durationNs]),
    [
      [1, 'GET', 200, 4000],
      [2, 'GET', 200, 4000],
      [1, 'GET', 200, 4000],
    ],
  );
  assert.deepEqual(h2.stats(1), { calls: 2, incomplete: 0, inFlight: 0 });
  assert.deepEqual(h2.stats(2), { calls: 0, incomplete: 0, inFlight: 0 }); // refused: not its pod's
  assert.equal(p.reports.length, 1);
  assert.equal(p.reports[0]!.decoder.calls, 3);
  assert.equal(p.reports[0]!.kernel, undefined); // the source has no h2Counters
  assert.equal(p.reports[0]!.inFlight, undefined); // asked at collections only
  h2.forgetTarget(1);
  assert.deepEqual(h2.stats(1), { calls: 0, incomplete: 0, inFlight: 0 });

  // A ring that never empties (records faster than a poll reads): 64 reads, then the poll ends.
  let endless = 0;
  const busy: H2RecordSource = {
    readH2Records: () => {
      endless++;
      return oneCall(1, 100 + endless);
    },
  };
  new H2Calls({ source: busy, pipeline: pipeline(), logger: logger() }).poll();
  assert.equal(endless, 64);
});

test('a failing ring read is logged once per streak, and the poll still reports', () => {
  let fail = true;
  const source: H2RecordSource = {
    readH2Records: () => {
      if (fail) throw new Error('ring: EBADF');
      return Buffer.alloc(0);
    },
    h2Counters: () => ({ ringFull: 3n }),
  };
  const log = logger();
  const p = pipeline();
  const h2 = new H2Calls({ source, pipeline: p, logger: log });
  h2.poll();
  h2.poll();
  fail = false;
  h2.poll();
  fail = true;
  h2.poll(true);
  assert.deepEqual(log.lines, [
    'error reading the kernel HTTP/2 records failed; will retry',
    'error reading the kernel HTTP/2 records failed; will retry',
  ]);
  assert.equal(p.reports.length, 4);
  assert.deepEqual(p.reports[3]!.kernel, { ringFull: 3n });
  assert.deepEqual(p.reports[3]!.inFlight, []);
});

test("a poll says whether the ring held records; the kernel's counters are read at collections and carried by the polls between", () => {
  const batches = [oneCall(1, 1)];
  let counterReads = 0;
  const source: H2RecordSource = {
    readH2Records: () => batches.shift() ?? Buffer.alloc(0),
    h2Counters: () => ({ ringFull: BigInt(++counterReads) }),
  };
  const p = pipeline();
  const h2 = new H2Calls({ source, pipeline: p, logger: logger(), nowNs: () => 10_000n });
  assert.equal(h2.poll(), true);
  assert.equal(h2.poll(), false);
  assert.equal(h2.poll(true), false);
  assert.equal(h2.poll(), false);
  assert.equal(counterReads, 1);
  assert.deepEqual(
    p.reports.map((r) => r.kernel),
    [undefined, undefined, { ringFull: 1n }, { ringFull: 1n }],
  );
});

test('isH2RecordSource: a capture with readH2Records', () => {
  assert.equal(isH2RecordSource({ readH2Records: () => Buffer.alloc(0) }), true);
  assert.equal(isH2RecordSource({ read: () => ({}) }), false);
});
