// The codecs of src/layout.ts on hand-made buffers, with exact figures (no kernel needed; the BTF
// check of the same layouts is layout.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AGG_KEY_LAYOUT,
  AGG_LAYOUT,
  AGG_OVERFLOW,
  CONFIG_LAYOUT,
  CONN_LAYOUT,
  decodeAgg,
  decodeAggKey,
  decodeConn,
  decodeH2SelfPerCpu,
  decodeSelfPerCpu,
  encodeConfig,
  SELF_LAYOUT,
  SLOT_LAYOUT,
} from '../src/layout.ts';
import { ZERO_SELF } from '../src/testing/snapshots.ts';

test('the config codec writes bounds, count, all-ports flag, slot mask, timeouts and port bits where the struct has them', () => {
  const b = encodeConfig({
    boundsNs: [5n, 7n],
    ports: [80, 8080],
    ifSlots: 256,
    requestTimeoutNs: 60_000_000_000n,
    idleTimeoutNs: 300_000_000_000n,
    seriesPerTarget: 200,
    connsPerTarget: 512,
  });
  assert.equal(b.length, CONFIG_LAYOUT.size);
  assert.equal(b.length, 8496);
  assert.deepEqual(
    [
      b.readBigUInt64LE(0),
      b.readBigUInt64LE(8),
      b.readUInt32LE(256),
      b.readUInt32LE(260),
      b.readUInt32LE(264),
      b.readUInt32LE(268),
      b.readUInt32LE(272),
      b.readBigUInt64LE(280),
      b.readBigUInt64LE(288),
    ],
    [5n, 7n, 2, 0, 255, 200, 512, 60_000_000_000n, 300_000_000_000n],
  );
  assert.equal(b[296 + 10], 1); // 80 = 10 * 8 + 0
  assert.equal(b[296 + 1010], 1); // 8080 = 1010 * 8 + 0
  assert.equal(b.readUInt32LE(8488), 1); // h2_enabled: HTTP/2 on unless http2 is false
  assert.equal(
    b.subarray(296, 8488).reduce((n, x) => n + x, 0),
    2,
  );
  const off = encodeConfig({
    boundsNs: [],
    ports: undefined,
    ifSlots: 16,
    requestTimeoutNs: 1n,
    idleTimeoutNs: 1n,
    http2: false,
  });
  assert.equal(off.readUInt32LE(8488), 0);
});

function aggKey(fields: {
  status: number;
  method: number;
  error: number;
  role?: number;
  minor?: number;
  peer?: number;
}): Buffer {
  const b = Buffer.alloc(AGG_KEY_LAYOUT.size);
  b.writeUInt32LE(7, 0);
  b.writeUInt16LE(8080, 4);
  b.writeUInt16LE(fields.status, 6);
  b[8] = fields.role ?? 0;
  b[9] = fields.method;
  b[10] = fields.minor ?? 1;
  b[14] = fields.error;
  b.writeUInt32LE(fields.peer ?? 0, 20);
  return b;
}

test('an aggregate key: peer_id (offset 20) is peerId, absent when 0; with an error, both', () => {
  assert.equal('peerId' in decodeAggKey(aggKey({ status: 200, method: 0, error: 0 })), false);
  assert.deepEqual(decodeAggKey(aggKey({ status: 200, method: 0, error: 0, role: 1, peer: 0xfffffffe })), {
    targetId: 7,
    port: 8080,
    statusCode: 200,
    role: 'client',
    method: 'GET',
    httpMinor: 1,
    peerId: 0xfffffffe,
  });
  assert.deepEqual(decodeAggKey(aggKey({ status: 0, method: 1, error: 2, role: 1, peer: 3 })), {
    targetId: 7,
    port: 8080,
    statusCode: 0,
    role: 'client',
    method: 'POST',
    httpMinor: 1,
    peerId: 3,
    error: 'connection_reset',
  });
});

test('an aggregate key: error codes 1..3 are timeout, connection_reset, connection_closed; method 9 is _OTHER', () => {
  assert.deepEqual(decodeAggKey(aggKey({ status: 200, method: 0, error: 0 })), {
    targetId: 7,
    port: 8080,
    statusCode: 200,
    role: 'server',
    method: 'GET',
    httpMinor: 1,
  });
  assert.deepEqual(
    [1, 2, 3].map((error) => decodeAggKey(aggKey({ status: 0, method: 1, error, role: 1, minor: 0 }))),
    [
      {
        targetId: 7,
        port: 8080,
        statusCode: 0,
        role: 'client',
        method: 'POST',
        httpMinor: 0,
        error: 'timeout',
      },
      {
        targetId: 7,
        port: 8080,
        statusCode: 0,
        role: 'client',
        method: 'POST',
        httpMinor: 0,
        error: 'connection_reset',
      },
      {
        targetId: 7,
        port: 8080,
        statusCode: 0,
        role: 'client',
        method: 'POST',
        httpMinor: 0,
        error: 'connection_closed',
      },
    ],
  );
  assert.equal(decodeAggKey(aggKey({ status: 207, method: 9, error: 0 })).method, '_OTHER');
  assert.throws(
    () => decodeAggKey(aggKey({ status: 0, method: 0, error: 4 })),
    /^Error: error code 4 is outside 0..3$/,
  );
  assert.throws(
    () => decodeAggKey(aggKey({ status: 200, method: 10, error: 0 })),
    /^Error: method code 10 is outside 0..9$/,
  );
});

test('an aggregate: count is the sum of the bucket counts, whatever the count field says (a torn copy)', () => {
  const b = Buffer.alloc(AGG_LAYOUT.size + 8);
  // read mid-update: count already 5, buckets [3, 1, 0] (the fifth request's bucket not added yet), sum 40 ns
  b.writeBigUInt64LE(5n, 8);
  b.writeBigUInt64LE(40n, 16);
  b.writeBigUInt64LE(3n, 24);
  b.writeBigUInt64LE(1n, 32);
  assert.deepEqual(decodeAgg(b, 8, 3), { count: 4, sumNs: 40n, buckets: [3, 1, 0] });
});

test('an aggregate key with the overflow flag is its target overflow series', () => {
  const b = Buffer.alloc(AGG_KEY_LAYOUT.size);
  b.writeUInt32LE(7, 0);
  b[8] = 1; // role: client
  b[15] = AGG_OVERFLOW;
  assert.deepEqual(decodeAggKey(b), {
    targetId: 7,
    port: 0,
    statusCode: 0,
    role: 'client',
    method: decodeAggKey(Buffer.alloc(AGG_KEY_LAYOUT.size)).method,
    httpMinor: 0,
    overflow: true,
  });
});

test('a connection: PENDING slots and a tracked response in progress are in flight; FREE and CLAIMED slots and an untracked response are not', () => {
  const b = Buffer.alloc(CONN_LAYOUT.size);
  const slot = (i: number, state: number, method: number) => {
    const at = 40 + i * SLOT_LAYOUT.size;
    b.writeUInt32LE(state, at + 12);
    b[at + 24] = method;
  };
  slot(0, 2, 4); // CLAIMED HEAD: its response is in progress below
  slot(1, 1, 1); // PENDING POST
  slot(2, 1, 9); // PENDING _OTHER
  slot(3, 0, 3); // FREE (a DELETE that finished)
  slot(7, 1, 0); // PENDING GET
  b.writeUInt32LE(42, 0); // target_id
  b.writeUInt32LE(5, 4); // peer_id
  assert.deepEqual(decodeConn(b), {
    targetId: 42,
    peerId: 5,
    pending: ['POST', '_OTHER', 'GET'],
    responding: undefined,
  });
  b.writeUInt16LE(200, 544); // resp_status
  b[546] = 4; // resp_method HEAD
  assert.deepEqual(decodeConn(b), {
    targetId: 42,
    peerId: 5,
    pending: ['POST', '_OTHER', 'GET'],
    responding: 'HEAD',
  });
  b[546] = 0xff; // a response in progress that answers no tracked request: not in flight
  assert.deepEqual(decodeConn(b), {
    targetId: 42,
    peerId: 5,
    pending: ['POST', '_OTHER', 'GET'],
    responding: undefined,
  });
});

test('the self counters: every field of owlk8s_self in order (24, the 9 HTTP/2 ones, then contended, ignored_after_gap and reordered), summed over CPUs, in camelCase', () => {
  const ncpu = 3;
  const b = Buffer.alloc(ncpu * SELF_LAYOUT.size);
  const names = Object.keys(ZERO_SELF);
  assert.equal(names.length, 27);
  for (let c = 0; c < ncpu; c++) {
    // counter i holds (i + 1) * 10^c on CPU c: the sum is (i + 1) * 111
    for (let i = 0; i < 24; i++) b.writeBigUInt64LE(BigInt((i + 1) * 10 ** c), c * SELF_LAYOUT.size + 8 * i);
    b.writeBigUInt64LE(BigInt(34 * 10 ** c), c * SELF_LAYOUT.size + 8 * 33); // contended, after HTTP/2's
    b.writeBigUInt64LE(BigInt(35 * 10 ** c), c * SELF_LAYOUT.size + 8 * 34); // ignored_after_gap
    b.writeBigUInt64LE(BigInt(36 * 10 ** c), c * SELF_LAYOUT.size + 8 * 35); // reordered
  }
  assert.deepEqual(decodeSelfPerCpu(b, ncpu), {
    packets: 111n,
    requests: 222n,
    responses: 333n,
    unmatchedResponses: 444n,
    parseFailures: 555n,
    informational: 666n,
    upgrades: 777n,
    aggregatesFull: 888n,
    connsFull: 999n,
    pipelineFull: 1110n,
    retransmissions: 1221n,
    streamGaps: 1332n,
    resyncs: 1443n,
    notHttp: 1554n,
    ignoredAfterUpgrade: 1665n,
    timeouts: 1776n,
    resets: 1887n,
    closed: 1998n,
    budgetExhausted: 2109n,
    connsExpired: 2220n,
    malformed: 2331n,
    responsesLost: 2442n,
    seriesOverflow: 2553n,
    connsOverBudget: 2664n,
    contended: 3774n,
    ignoredAfterGap: 3885n,
    reordered: 3996n,
  });
  // the HTTP/2 counters follow: counter 24 + i holds (25 + i) * 10^c
  for (let c = 0; c < ncpu; c++)
    for (let i = 0; i < 9; i++)
      b.writeBigUInt64LE(BigInt((25 + i) * 10 ** c), c * SELF_LAYOUT.size + 8 * (24 + i));
  assert.equal(SELF_LAYOUT.size, 36 * 8);
  assert.deepEqual(decodeH2SelfPerCpu(b, ncpu), {
    conns: 2775n,
    records: 2886n,
    ringFull: 2997n,
    connsFull: 3108n,
    gaps: 3219n,
    notH2: 3330n,
    budgetExhausted: 3441n,
    resyncs: 3552n,
    contended: 3663n,
  });
});

test('the self counters of an object with fewer of them (a baseline built before HTTP/2): per-CPU stride as its value size, the rest 0', () => {
  const size = 24 * 8;
  const b = Buffer.alloc(2 * size);
  b.writeBigUInt64LE(5n, 0); // packets, CPU 0
  b.writeBigUInt64LE(7n, size); // packets, CPU 1
  b.writeBigUInt64LE(3n, size + 23 * 8); // conns_over_budget, CPU 1
  const s = decodeSelfPerCpu(b, 2, size);
  assert.deepEqual(
    [s.packets, s.connsOverBudget, s.contended, s.ignoredAfterGap, s.reordered],
    [12n, 3n, 0n, 0n, 0n],
  );
  assert.deepEqual(Object.values(decodeH2SelfPerCpu(b, 2, size)), [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n]);
});
