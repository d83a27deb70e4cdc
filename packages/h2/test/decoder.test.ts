// Crafted records: each HTTP/2 and HPACK case the decoder must handle, with exact results.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { H2Record } from '../src/record.ts';
import { encodeHeaderBlock, type Field, frame, PREFACE, recordsFromStream } from '../src/testing/index.ts';
import { decodeAll, IDENTITY } from './conversation.ts';

const HEADERS = 1;
const DATA = 0;
const RST = 3;
const SETTINGS = 4;
const GOAWAY = 7;
const CONT = 9;
const END_STREAM = 1;
const END_HEADERS = 4;
const PADDED = 8;
const PRIORITY = 0x20;

const GRPC_REQ: Field[] = [
  { indexed: 3 }, // :method POST
  { indexed: 6 }, // :scheme http
  { literal: 'incremental', name: 4, value: '/pkg.Svc/Get', huffman: true }, // :path -> 62
  { literal: 'incremental', name: 'content-type', value: 'application/grpc', huffman: false }, // -> 62, path 63
  { literal: 'without', name: 'te', value: 'trailers' },
];
const GRPC_REQ_WARM: Field[] = [{ indexed: 3 }, { indexed: 6 }, { indexed: 63 }, { indexed: 62 }];

/** Records of a conversation: [direction, bytes, ms] in order; the preface is prepended. */
function conversation(
  steps: ['request' | 'response', Buffer, number][],
  opts: { fromStart?: boolean; cap?: number } = {},
): H2Record[] {
  const fromStart = opts.fromStart ?? true;
  const segs = {
    request: [] as { tsNs: bigint; bytes: Buffer }[],
    response: [] as { tsNs: bigint; bytes: Buffer }[],
  };
  if (fromStart) segs.request.push({ tsNs: 0n, bytes: PREFACE });
  for (const [d, bytes, ms] of steps) segs[d].push({ tsNs: BigInt(ms) * 1_000_000n, bytes });
  const id = { ...IDENTITY, connId: 9 };
  const out: H2Record[] = [];
  const req = recordsFromStream(segs.request, {
    ...id,
    direction: 'request',
    fromStart,
    fragmentCap: opts.cap,
  });
  const res = recordsFromStream(segs.response, {
    ...id,
    direction: 'response',
    fromStart,
    fragmentCap: opts.cap,
  });
  out.push(...req, ...res);
  return out.sort((a, b) => (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : 0));
}

const block = (fields: Field[]) => encodeHeaderBlock(fields);

/** A record of the response direction of conversation()'s connection at `ms`: a gap or its end. */
function responseMark(
  r: { kind: 'gap'; cause: 'boundary' | 'resync' } | { kind: 'end'; cause: 'fin' },
  ms: number,
): H2Record {
  return {
    ...IDENTITY,
    connId: 9,
    direction: 'response',
    prefaceSeen: true,
    seq: 0,
    tsNs: BigInt(ms) * 1_000_000n,
    ...r,
  } as H2Record;
}

/** Records in time order, the response direction's numbered 0, 1, … as the kernel numbers them; decoded. */
function decodeInOrder(records: H2Record[]): ReturnType<typeof decodeAll> {
  let seq = 0;
  return decodeAll(
    [...records]
      .sort((a, b) => (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : 0))
      .map((r) => (r.direction === 'response' ? { ...r, seq: seq++ } : r)),
  );
}
const settings = (pairs: [number, number][]) => {
  const b = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, v], i) => {
    b.writeUInt16BE(id, i * 6);
    b.writeUInt32BE(v, i * 6 + 2);
  });
  return frame(SETTINGS, 0, 0, b);
};
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
};

describe('H2Decoder on crafted records', () => {
  it('a gRPC unary call with trailers, then a warm-table call: exact fields and duration', () => {
    const { calls, decoder } = decodeAll(
      conversation([
        ['request', frame(HEADERS, END_HEADERS, 1, block(GRPC_REQ)), 10],
        ['request', frame(DATA, END_STREAM, 1, Buffer.alloc(5)), 10],
        [
          'response',
          frame(
            HEADERS,
            END_HEADERS,
            1,
            block([{ indexed: 8 }, { literal: 'incremental', name: 31, value: 'application/grpc' }]),
          ),
          13,
        ],
        ['response', frame(DATA, 0, 1, Buffer.alloc(7)), 13],
        [
          'response',
          frame(
            HEADERS,
            END_HEADERS | END_STREAM,
            1,
            block([{ literal: 'incremental', name: 'grpc-status', value: '0', huffman: true }]),
          ),
          14,
        ],
        ['request', frame(HEADERS, END_HEADERS, 3, block(GRPC_REQ_WARM)), 20],
        ['response', frame(HEADERS, END_HEADERS, 3, block([{ indexed: 8 }, { indexed: 63 }])), 21],
        [
          'response',
          frame(HEADERS, END_HEADERS | END_STREAM, 3, block([{ literal: 'without', name: 62, value: '5' }])),
          25,
        ],
      ]),
    );
    assert.equal(calls.length, 2);
    assert.deepEqual(
      calls.map((c) => [
        c.streamId,
        c.method,
        c.path,
        c.statusCode,
        c.grpc,
        c.grpcStatus,
        c.grpcMethod,
        c.durationNs,
        c.error,
        c.incomplete,
      ]),
      [
        [1, 'POST', '/pkg.Svc/Get', 200, true, 0, 'pkg.Svc/Get', 4_000_000, undefined, false],
        [3, 'POST', '/pkg.Svc/Get', 200, true, 5, 'pkg.Svc/Get', 5_000_000, undefined, false],
      ],
    );
    assert.equal(decoder.counters().calls, 2);
  });

  it('trailers-only gRPC response (one HEADERS with :status, grpc-status and END_STREAM)', () => {
    const { calls } = decodeAll(
      conversation([
        ['request', frame(HEADERS, END_HEADERS | END_STREAM, 1, block(GRPC_REQ)), 1],
        [
          'response',
          frame(
            HEADERS,
            END_HEADERS | END_STREAM,
            1,
            block([{ indexed: 8 }, { literal: 'never', name: 'grpc-status', value: '16' }]),
          ),
          3,
        ],
      ]),
    );
    assert.deepEqual(
      calls.map((c) => [c.statusCode, c.grpcStatus, c.durationNs]),
      [[200, 16, 2_000_000]],
    );
  });

  it('PADDED and PRIORITY flags on HEADERS, CONTINUATION joining, a block split over records', () => {
    const b = block([
      { indexed: 2 },
      { indexed: 6 },
      { literal: 'without', name: 4, value: '/a/long/path/for/splitting', huffman: true },
    ]);
    const padded = Buffer.concat([
      Buffer.from([3]),
      Buffer.from([0, 0, 0, 0, 16]),
      b.subarray(0, 5),
      Buffer.alloc(3),
    ]);
    for (const cap of [1, 2, 512]) {
      const { calls, decoder } = decodeAll(
        conversation(
          [
            [
              'request',
              Buffer.concat([
                frame(HEADERS, PADDED | PRIORITY, 1, padded),
                frame(CONT, 0, 1, b.subarray(5, 9)),
                frame(CONT, END_HEADERS, 1, b.subarray(9)),
              ]),
              1,
            ],
            [
              'response',
              frame(
                HEADERS,
                END_HEADERS | END_STREAM | PADDED,
                1,
                Buffer.concat([Buffer.from([2]), block([{ indexed: 13 }]), Buffer.alloc(2)]),
              ),
              2,
            ],
          ],
          { cap },
        ),
      );
      assert.deepEqual(
        calls.map((c) => [c.method, c.path, c.statusCode, c.grpc]),
        [['GET', '/a/long/path/for/splitting', 404, false]],
        `cap ${cap}`,
      );
      assert.equal(decoder.counters().framesMalformed, 0);
    }
  });

  it('several frames in one segment, streams interleaved, RST_STREAM and GOAWAY', () => {
    const get = (path: string) => block([{ indexed: 2 }, { literal: 'without', name: 4, value: path }]);
    const { calls } = decodeAll(
      conversation([
        [
          'request',
          Buffer.concat([
            frame(HEADERS, END_HEADERS | END_STREAM, 1, get('/a')),
            frame(HEADERS, END_HEADERS | END_STREAM, 3, get('/b')),
            frame(HEADERS, END_HEADERS | END_STREAM, 5, get('/c')),
            frame(HEADERS, END_HEADERS | END_STREAM, 7, get('/d')),
          ]),
          1,
        ],
        [
          'response',
          Buffer.concat([frame(HEADERS, END_HEADERS, 3, block([{ indexed: 8 }])), frame(RST, 0, 1, u32(8))]),
          2,
        ],
        [
          'response',
          Buffer.concat([
            frame(DATA, END_STREAM, 3, Buffer.from('x')),
            frame(GOAWAY, 0, 0, Buffer.concat([u32(5), u32(0), Buffer.from('debug data')])),
          ]),
          4,
        ],
        ['response', frame(HEADERS, END_HEADERS | END_STREAM, 5, block([{ indexed: 14 }])), 6],
      ]),
    );
    assert.deepEqual(
      calls.map((c) => [c.path, c.statusCode, c.error, c.resetCode, c.durationNs]),
      [
        ['/a', undefined, 'stream_reset', 8, 1_000_000],
        ['/b', 200, undefined, undefined, 3_000_000],
        ['/d', undefined, 'goaway', undefined, 3_000_000],
        ['/c', 500, undefined, undefined, 5_000_000],
      ],
    );
  });

  it('a complete response before the request body ends, then RST_STREAM NO_ERROR (RFC 9113 section 8.1): one call, no orphan', () => {
    const post = block([{ indexed: 3 }, { literal: 'without', name: 4, value: '/up' }]);
    const { calls, decoder } = decodeAll(
      conversation([
        [
          'request',
          Buffer.concat([frame(HEADERS, END_HEADERS, 1, post), frame(DATA, 0, 1, Buffer.alloc(100))]),
          1,
        ],
        [
          'response',
          Buffer.concat([
            frame(HEADERS, END_HEADERS, 1, block([{ indexed: 8 }])),
            frame(DATA, END_STREAM, 1, Buffer.from('ok')),
            frame(RST, 0, 1, u32(0)),
          ]),
          2,
        ],
        // a reset with an error code on a stream not followed is still a response not followed
        ['response', frame(RST, 0, 9, u32(8)), 3],
      ]),
    );
    assert.deepEqual(
      calls.map((c) => [c.method, c.path, c.statusCode, c.error, c.durationNs]),
      [['POST', '/up', 200, undefined, 1_000_000]],
    );
    assert.equal(decoder.counters().orphanResponses, 1);
  });

  it('a dynamic table size update and SETTINGS_HEADER_TABLE_SIZE: evictions follow, an update over the limit is an HPACK error', () => {
    const steps: ['request' | 'response', Buffer, number][] = [
      ['request', settings([[1, 100]]), 1], // the client's decoder allows 100 bytes: caps the response direction
      ['request', frame(HEADERS, END_HEADERS | END_STREAM, 1, block([{ indexed: 2 }, { indexed: 4 }])), 2],
      // size update to 100, then two entries of 42 bytes: both fit (84)
      [
        'response',
        frame(
          HEADERS,
          END_HEADERS,
          1,
          block([
            { sizeUpdate: 100 },
            { indexed: 8 },
            { literal: 'incremental', name: 'x-a', value: '1234567' },
            { literal: 'incremental', name: 'x-b', value: '1234567' },
          ]),
        ),
        3,
      ],
      // a third evicts x-a: 62 = x-c, 63 = x-b; 64 is past the table (an error on a trusted table)
      [
        'response',
        frame(
          HEADERS,
          END_HEADERS | END_STREAM,
          1,
          block([{ literal: 'incremental', name: 'grpc-status', value: '3' }, { indexed: 63 }]),
        ),
        4,
      ],
      ['request', frame(HEADERS, END_HEADERS | END_STREAM, 3, block([{ indexed: 2 }, { indexed: 4 }])), 5],
      [
        'response',
        frame(HEADERS, END_HEADERS | END_STREAM, 3, block([{ sizeUpdate: 200 }, { indexed: 8 }])),
        6,
      ],
    ];
    const { calls, decoder } = decodeAll(conversation(steps));
    assert.deepEqual(
      calls.map((c) => [c.streamId, c.statusCode, c.grpcStatus, c.incomplete]),
      [
        [1, 200, 3, false],
        [3, undefined, undefined, true],
      ],
    );
    assert.equal(decoder.counters().hpackErrors, 1);
  });

  it('an index past a trusted table is an HPACK error; the call is incomplete', () => {
    const { calls, decoder } = decodeAll(
      conversation([
        ['request', frame(HEADERS, END_HEADERS | END_STREAM, 1, block([{ indexed: 2 }, { indexed: 70 }])), 1],
        ['response', frame(HEADERS, END_HEADERS | END_STREAM, 1, block([{ indexed: 8 }])), 2],
      ]),
    );
    assert.deepEqual(
      calls.map((c) => [c.method, c.statusCode, c.incomplete]),
      [['GET', 200, true]],
    );
    assert.deepEqual([decoder.counters().hpackErrors, decoder.counters().blocksIncomplete], [1, 1]);
  });

  it('joined mid-way: static and literal fields decode, older dynamic references are unknown, new entries are known', () => {
    const { calls, decoder } = decodeAll(
      conversation(
        [
          // 62 here is an entry inserted before the decoder joined
          [
            'request',
            frame(
              HEADERS,
              END_HEADERS,
              101,
              block([
                { indexed: 3 },
                { indexed: 62 },
                { literal: 'incremental', name: 'content-type', value: 'application/grpc+proto' },
              ]),
            ),
            1,
          ],
          [
            'response',
            frame(HEADERS, END_HEADERS | END_STREAM, 101, block([{ indexed: 8 }, { indexed: 70 }])),
            2,
          ],
          // 62 is now the content-type inserted above; 64 is unknown
          [
            'request',
            frame(
              HEADERS,
              END_HEADERS,
              103,
              block([{ indexed: 3 }, { literal: 'without', name: 4, value: '/p.S/M' }, { indexed: 62 }]),
            ),
            3,
          ],
          [
            'response',
            frame(
              HEADERS,
              END_HEADERS | END_STREAM,
              103,
              block([{ indexed: 8 }, { literal: 'without', name: 'grpc-status', value: '0' }]),
            ),
            4,
          ],
          [
            'request',
            frame(HEADERS, END_HEADERS, 105, block([{ indexed: 3 }, { indexed: 64 }, { indexed: 62 }])),
            5,
          ],
          ['response', frame(HEADERS, END_HEADERS | END_STREAM, 105, block([{ indexed: 14 }])), 6],
        ],
        { fromStart: false },
      ),
    );
    assert.deepEqual(
      calls.map((c) => [
        c.streamId,
        c.method,
        c.path,
        c.statusCode,
        c.grpc,
        c.grpcStatus,
        c.grpcMethod,
        c.incomplete,
      ]),
      [
        [101, 'POST', undefined, 200, true, undefined, undefined, true],
        [103, 'POST', '/p.S/M', 200, true, 0, 'p.S/M', false],
        [105, 'POST', undefined, 500, true, undefined, undefined, true],
      ],
    );
    const c = decoder.counters();
    assert.deepEqual(
      [c.connectionsJoinedMidway, c.blocksIncomplete, c.hpackErrors, c.callsIncomplete],
      [1, 3, 0, 2],
    );
  });

  it("a gap: the direction's table is lost; entries inserted after it are known again", () => {
    const base = conversation([
      ['request', frame(HEADERS, END_HEADERS, 1, block(GRPC_REQ)), 1],
      [
        'response',
        frame(
          HEADERS,
          END_HEADERS | END_STREAM,
          1,
          block([{ indexed: 8 }, { literal: 'never', name: 'grpc-status', value: '0' }]),
        ),
        2,
      ],
      ['request', frame(HEADERS, END_HEADERS, 3, block(GRPC_REQ_WARM)), 3],
      [
        'response',
        frame(
          HEADERS,
          END_HEADERS | END_STREAM,
          3,
          block([{ indexed: 8 }, { literal: 'never', name: 'grpc-status', value: '0' }]),
        ),
        4,
      ],
      [
        'request',
        frame(
          HEADERS,
          END_HEADERS,
          5,
          block([
            { indexed: 3 },
            { literal: 'incremental', name: 4, value: '/pkg.Svc/Put' },
            { indexed: 63 },
          ]),
        ),
        5,
      ],
      [
        'response',
        frame(
          HEADERS,
          END_HEADERS | END_STREAM,
          5,
          block([{ indexed: 8 }, { literal: 'never', name: 'grpc-status', value: '7' }]),
        ),
        6,
      ],
    ]);
    // A gap record in the request direction between stream 1 and 3 (the kernel lost bytes).
    const gap: H2Record = {
      ...IDENTITY,
      connId: 9,
      kind: 'gap',
      cause: 'dropped',
      direction: 'request',
      prefaceSeen: true,
      seq: 99,
      tsNs: 2_500_000n,
    };
    const records = [
      ...base.filter((r) => r.tsNs < 2_500_000n),
      gap,
      ...base.filter((r) => r.tsNs > 2_500_000n),
    ];
    const { calls, decoder } = decodeAll(records);
    assert.deepEqual(
      calls.map((c) => [c.streamId, c.path, c.grpc, c.grpcStatus, c.incomplete]),
      [
        [1, '/pkg.Svc/Get', true, 0, false],
        [3, undefined, undefined, 0, true], // 62 and 63 were lost with the gap
        [5, '/pkg.Svc/Put', undefined, 7, true], // its path is new: known; 63 (content-type) is not
      ],
    );
    // The gap record, and its seq 99 being out of order twice (it and the record after it).
    assert.deepEqual([decoder.counters().gaps, decoder.counters().callsIncomplete], [3, 2]);
  });

  it('a response boundary gap, then a resync: streams in flight at either may have lost their answer (lost in gap, never timeout); only the gap is counted', () => {
    const get = (id: number, ms: number): ['request', Buffer, number] => [
      'request',
      frame(HEADERS, END_HEADERS | END_STREAM, id, block([{ indexed: 2 }, { indexed: 4 }])),
      ms,
    ];
    const ok = (id: number, ms: number): ['response', Buffer, number] => [
      'response',
      frame(HEADERS, END_HEADERS | END_STREAM, id, block([{ indexed: 8 }])),
      ms,
    ];
    // 1 answered; 3 in flight at the gap, answered after the resync; 5 begun while the response
    // direction was lost, never answered here; 7 begun after the resync, never answered.
    const base = conversation([get(1, 1), ok(1, 2), get(3, 3), get(5, 5), ok(3, 7), get(7, 8)]);
    const { calls, decoder } = decodeInOrder([
      ...base,
      responseMark({ kind: 'gap', cause: 'boundary' }, 4),
      responseMark({ kind: 'gap', cause: 'resync' }, 6),
    ]);
    assert.deepEqual(
      calls.map((c) => [c.streamId, c.statusCode, c.error]),
      [
        [1, 200, undefined],
        [3, 200, undefined],
      ],
    );
    decoder.sweep(70_000_000_000n); // past the 60-s request timeout of 5 and 7
    assert.deepEqual(
      calls.slice(2).map((c) => [c.streamId, c.statusCode, c.error]),
      [[7, undefined, 'timeout']],
    );
    const c = decoder.counters();
    assert.deepEqual([c.gaps, c.streamsLostInGap, c.calls], [1, 1, 3]);
  });

  it('a response whose HEADERS went by in a gap and whose END_STREAM came after the resync: a call with its status unknown (incomplete), not one without a status', () => {
    const records = conversation([
      ['request', frame(HEADERS, END_HEADERS | END_STREAM, 1, block([{ indexed: 2 }, { indexed: 4 }])), 1],
      ['response', frame(DATA, END_STREAM, 1, Buffer.from('ok')), 5],
    ]);
    // the response's HEADERS (:status 200) in the bytes the boundary gap stands for
    const { calls, decoder } = decodeInOrder([
      ...records,
      responseMark({ kind: 'gap', cause: 'boundary' }, 3),
      responseMark({ kind: 'gap', cause: 'resync' }, 4),
    ]);
    assert.deepEqual(
      calls.map((c) => [c.streamId, c.method, c.statusCode, c.error, c.incomplete]),
      [[1, 'GET', undefined, undefined, true]],
    );
    const c = decoder.counters();
    assert.deepEqual([c.calls, c.callsIncomplete, c.streamsLostInGap], [1, 1, 0]);
  });

  it('a stream begun after a boundary gap while no answer record says the direction is framed again: its answer may have gone by unseen (lost in the gap at the connection end, not a connection_closed call)', () => {
    const get = (id: number, ms: number): ['request', Buffer, number] => [
      'request',
      frame(HEADERS, END_HEADERS | END_STREAM, id, block([{ indexed: 2 }, { indexed: 4 }])),
      ms,
    ];
    const gap = responseMark({ kind: 'gap', cause: 'boundary' }, 3);
    const fin = responseMark({ kind: 'end', cause: 'fin' }, 7);
    // 1 in flight at the gap; 3 begun after it, the direction still unframed; the server's FIN
    const lost = decodeInOrder([...conversation([get(1, 1), get(3, 5)]), gap, fin]);
    assert.deepEqual(lost.calls, []);
    assert.deepEqual([lost.decoder.counters().streamsLostInGap, lost.decoder.counters().gaps], [2, 1]);
    // the same, but stream 5's answer comes right after the gap (the kernel framed that segment
    // at once): 7, begun after it, left unanswered at the FIN, is a connection_closed call
    const ok: ['response', Buffer, number] = [
      'response',
      frame(HEADERS, END_HEADERS | END_STREAM, 5, block([{ indexed: 8 }])),
      4,
    ];
    const framed = decodeInOrder([...conversation([get(1, 1), get(5, 2), ok, get(7, 5)]), gap, fin]);
    assert.deepEqual(
      framed.calls.map((c) => [c.streamId, c.statusCode, c.error]),
      [
        [5, 200, undefined],
        [7, undefined, 'connection_closed'],
      ],
    );
    assert.deepEqual([framed.decoder.counters().streamsLostInGap, framed.decoder.counters().gaps], [1, 1]);
  });

  it('the connection ends: unanswered streams finish as connection_closed (server FIN) or connection_reset (RST)', () => {
    for (const [cause, direction, error] of [
      ['fin', 'response', 'connection_closed'],
      ['rst', 'request', 'connection_reset'],
    ] as const) {
      const recs = conversation([
        ['request', frame(HEADERS, END_HEADERS | END_STREAM, 1, block([{ indexed: 2 }, { indexed: 4 }])), 1],
      ]);
      recs.push({
        ...IDENTITY,
        connId: 9,
        kind: 'end',
        cause,
        direction,
        prefaceSeen: true,
        seq: direction === 'request' ? recs.length : 0,
        tsNs: 9_000_000n,
      });
      // The other side's GOAWAY and FIN after the end: no new connection.
      recs.push({
        ...IDENTITY,
        connId: 9,
        kind: 'frame',
        frameType: 7,
        frameFlags: 0,
        streamId: 0,
        frameLength: 8,
        fragmentOffset: 0,
        fragment: new Uint8Array(8),
        direction: direction === 'request' ? 'response' : 'request',
        prefaceSeen: true,
        seq: 5,
        tsNs: 9_500_000n,
      });
      const { calls, decoder } = decodeAll(recs);
      assert.deepEqual(
        calls.map((c) => [c.path, c.error, c.durationNs]),
        [['/', error, 8_000_000]],
      );
      assert.deepEqual([decoder.connections, decoder.counters().connectionsJoinedMidway], [0, 0]);
    }
  });

  it("the client's FIN alone does not end the calls; sweep finishes them as timeout", () => {
    const recs = conversation([
      ['request', frame(HEADERS, END_HEADERS | END_STREAM, 1, block([{ indexed: 2 }, { indexed: 4 }])), 1],
    ]);
    recs.push({
      ...IDENTITY,
      connId: 9,
      kind: 'end',
      cause: 'fin',
      direction: 'request',
      prefaceSeen: true,
      seq: recs.length,
      tsNs: 2_000_000n,
    });
    const { calls, decoder } = decodeAll(recs, { requestTimeoutNs: 1e9, idleTimeoutNs: 5e9 });
    assert.equal(calls.length, 0);
    decoder.sweep(900_000_000n);
    assert.equal(calls.length, 0);
    decoder.sweep(1_001_000_000n);
    assert.deepEqual(
      calls.map((c) => [c.error, c.durationNs]),
      [['timeout', 1_000_000_000]],
    );
    decoder.sweep(5_002_000_000n);
    assert.deepEqual([decoder.connections, decoder.counters().connectionsExpired], [0, 1]);
  });

  it('a record cut short at the end of a batch is counted, and bad options are refused by name', () => {
    const { decoder } = decodeAll([]);
    decoder.push(Buffer.alloc(20));
    assert.equal(decoder.counters().recordsMalformed, 1);
    assert.throws(
      () => decodeAll([], { maxStreamsPerConnection: 0 }),
      /maxStreamsPerConnection 0: must be a whole number of at least 1/,
    );
  });
});
