// H2Calls between a fake ring and a fake pipeline: reads bounded per poll, failures logged once
// per streak, calls counted per pod only when the pipeline took them, the reports it makes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeRecords, type H2Record } from '@owlk8s/h2';
import { encodeHeaderBlock } from '@owlk8s/h2/testing';
import type { CallRecord, H2Report } from '@owlk8s/otel';
import { H2Calls, type H2RecordSource, isH2RecordSource } from '../../src/h2/h2-calls.ts';

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

/** One GET on stream 1 answered 200, as the kernel's records of a server pod's connection. */
function oneCall(targetId: number, connId: number): Buffer {
  const id = { connId, targetId, peerId: 0, serverPort: 8080, role: 'server' as const, prefaceSeen: true };
  // Static table (RFC 7541 Appendix A): 2 `:method GET`, 4 `:path /`, 6 `:scheme http`, 8 `:status 200`.
  const req = encodeHeaderBlock([{ indexed: 2 }, { indexed: 4 }, { indexed: 6 }]);
  const res = encodeHeaderBlock([{ indexed: 8 }]);
  const records: H2Record[] = [
    {
      ...id,
      direction: 'request',
      tsNs: 1000n,
      seq: 0,
      kind: 'frame',
      frameType: 1,
      frameFlags: 5,
      streamId: 1,
      frameLength: req.length,
      fragmentOffset: 0,
      fragment: req,
    },
    {
      ...id,
      direction: 'response',
      tsNs: 5000n,
      seq: 0,
      kind: 'frame',
      frameType: 1,
      frameFlags: 5,
      streamId: 1,
      frameLength: res.length,
      fragmentOffset: 0,
      fragment: res,
    },
  ];
  return encodeRecords(records);
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

test('isH2RecordSource: a capture with readH2Records', () => {
  assert.equal(isH2RecordSource({ readH2Records: () => Buffer.alloc(0) }), true);
  assert.equal(isH2RecordSource({ read: () => ({}) }), false);
});
