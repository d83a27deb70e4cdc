// The decoder's bounds and loss rules on crafted records: per-target and per-connection limits,
// sequence and offset jumps, a response-direction gap, pushed streams, several connections.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeRecords, type H2Record } from '../src/record.ts';
import { encodeHeaderBlock, frame, PREFACE, recordsFromStream } from '../src/testing/index.ts';
import { decodeAll, IDENTITY } from './conversation.ts';

const GET = (path: string) =>
  encodeHeaderBlock([{ indexed: 2 }, { literal: 'without', name: 4, value: path }]);
const OK = encodeHeaderBlock([{ indexed: 8 }]);

function conn(
  connId: number,
  steps: ['request' | 'response', Buffer, number][],
  extra: { role?: 'server' | 'client'; targetId?: number; peerId?: number; serverPort?: number } = {},
): H2Record[] {
  const id = { ...IDENTITY, ...extra, connId };
  const req = [{ tsNs: 0n, bytes: PREFACE }];
  const res: { tsNs: bigint; bytes: Buffer }[] = [];
  for (const [d, bytes, ms] of steps)
    (d === 'request' ? req : res).push({ tsNs: BigInt(ms) * 1_000_000n, bytes });
  return [
    ...recordsFromStream(req, { ...id, direction: 'request' }),
    ...recordsFromStream(res, { ...id, direction: 'response' }),
  ];
}
const byTime = (r: H2Record[]) => r.sort((a, b) => (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : 0));

describe('H2Decoder bounds and losses', () => {
  it('several connections interleaved in one batch, both roles: each call keeps its own identity', () => {
    const a = conn(1, [
      ['request', frame(1, 5, 1, GET('/a')), 1],
      ['response', frame(1, 5, 1, OK), 4],
    ]);
    const b = conn(
      2,
      [
        ['request', frame(1, 5, 1, GET('/b')), 2],
        ['response', frame(1, 5, 1, OK), 3],
      ],
      { role: 'client', targetId: 8, peerId: 44, serverPort: 8080 },
    );
    const { calls } = decodeAll(byTime([...a, ...b]));
    assert.deepEqual(
      calls.map((c) => [c.connId, c.path, c.role, c.targetId, c.peerId, c.serverPort, c.durationNs]),
      [
        [2, '/b', 'client', 8, 44, 8080, 1_000_000],
        [1, '/a', 'server', 7, 3, 50051, 3_000_000],
      ],
    );
  });

  it("maxStreamsPerTarget: a target's streams past it are refused and counted; inFlightOf follows", () => {
    const steps: ['request' | 'response', Buffer, number][] = [1, 3, 5].map((s) => [
      'request',
      frame(1, 5, s, GET(`/${s}`)),
      s,
    ]);
    const { calls, decoder } = decodeAll(byTime([...conn(1, steps), ...conn(2, steps.slice(0, 1))]), {
      maxStreamsPerTarget: 2,
    });
    assert.deepEqual(
      [calls.length, decoder.inFlightOf(7), decoder.inFlight, decoder.counters().streamsRefused],
      [0, 2, 2, 2],
    );
    decoder.sweep(120_000_000_000n);
    assert.deepEqual([calls.length, decoder.inFlightOf(7)], [2, 0]);
  });

  it('maxConnections: records of further connections are refused; one admitted later is joined mid-way', () => {
    const a = conn(1, [['request', frame(1, 5, 1, GET('/a')), 1]]);
    const b = conn(2, [
      ['request', frame(1, 5, 1, GET('/b')), 2],
      ['request', frame(1, 5, 3, GET('/c')), 6],
      ['response', frame(1, 5, 3, OK), 7],
    ]);
    const end: H2Record = {
      ...IDENTITY,
      connId: 1,
      kind: 'end',
      cause: 'rst',
      direction: 'request',
      prefaceSeen: true,
      seq: 3,
      tsNs: 5_000_000n,
    };
    const { calls, decoder } = decodeAll(byTime([...a, ...b, end]), { maxConnections: 1 });
    const c = decoder.counters();
    assert.deepEqual(
      calls.map((x) => [x.connId, x.path, x.error]),
      [
        [1, '/a', 'connection_reset'],
        [2, '/c', undefined],
      ],
    );
    assert.deepEqual([c.recordsRefused, c.connectionsJoinedMidway], [1, 1]); // /b's HEADERS
  });

  it('a sequence jump and a fragment-offset jump are gaps; a response-direction gap makes streams in flight uncertain', () => {
    const recs = conn(1, [
      ['request', Buffer.concat([frame(1, 5, 1, GET('/a')), frame(1, 5, 3, GET('/b'))]), 1],
      ['response', frame(1, 5, 1, OK), 2],
    ]);
    // The server closes (its FIN is the response direction's record 1) ...
    recs.push({
      ...IDENTITY,
      connId: 1,
      kind: 'end',
      cause: 'fin',
      direction: 'response',
      prefaceSeen: true,
      seq: 1,
      tsNs: 9_000_000n,
    });
    // ... or a record was lost before it (seq 1 missing).
    const jumped = recs.map((r) => (r.direction === 'response' && r.kind === 'end' ? { ...r, seq: 2 } : r));
    const { calls, decoder } = decodeAll(byTime(jumped));
    assert.deepEqual(
      calls.map((c) => [c.path, c.error]),
      [['/a', undefined]],
    );
    assert.deepEqual([decoder.counters().gaps, decoder.counters().streamsLostInGap], [1, 1]);
    // Without the jump, stream 3 finishes as connection_closed.
    const { calls: exact } = decodeAll(byTime(recs));
    assert.deepEqual(
      exact.map((c) => [c.path, c.error]),
      [
        ['/a', undefined],
        ['/b', 'connection_closed'],
      ],
    );

    // A frame whose middle record is missing: the offset jumps, the block is lost.
    const split = conn(1, [['request', frame(1, 5, 1, GET('/a-long-path')), 1]]).map((r) => r);
    const parts = recordsFromStream(
      [
        { tsNs: 0n, bytes: PREFACE },
        { tsNs: 1_000_000n, bytes: frame(1, 5, 1, GET('/a-long-path')) },
      ],
      { ...IDENTITY, connId: 1, direction: 'request', fragmentCap: 4 },
    );
    assert.equal(split.length, 1);
    const holed = parts.filter((_, i) => i !== 1).map((r, i) => ({ ...r, seq: i }));
    const { calls: c2, decoder: d2 } = decodeAll(holed);
    assert.deepEqual([c2.length, d2.counters().gaps, d2.inFlight], [0, 1, 0]);
  });

  it("PUSH_PROMISE updates the server's table (a later reference resolves); pushed streams are not calls or orphans", () => {
    const promise = Buffer.concat([
      Buffer.from([0, 0, 0, 2]),
      encodeHeaderBlock([{ indexed: 2 }, { literal: 'incremental', name: 'x-pushed', value: 'yes' }]),
    ]);
    const { calls, decoder } = decodeAll(
      byTime(
        conn(1, [
          ['request', frame(1, 5, 1, GET('/page')), 1],
          ['response', frame(5, 4, 1, promise), 2],
          ['response', frame(1, 5, 2, OK), 3],
          ['response', frame(1, 5, 1, encodeHeaderBlock([{ indexed: 8 }, { indexed: 62 }])), 4],
        ]),
      ),
    );
    assert.deepEqual(
      calls.map((c) => [c.path, c.statusCode, c.incomplete]),
      [['/page', 200, false]],
    );
    assert.deepEqual([decoder.counters().orphanResponses, decoder.counters().hpackErrors], [0, 0]);
  });

  it('1xx responses are not final: the status is the next one', () => {
    const { calls } = decodeAll(
      byTime(
        conn(1, [
          ['request', frame(1, 4, 1, GET('/upload')), 1],
          ['response', frame(1, 4, 1, encodeHeaderBlock([{ literal: 'without', name: 8, value: '100' }])), 2],
          ['response', frame(1, 5, 1, encodeHeaderBlock([{ indexed: 9 }])), 3],
        ]),
      ),
    );
    assert.deepEqual(
      calls.map((c) => c.statusCode),
      [204],
    );
  });

  it('an evicted end finishes streams as timeout; an expired or evicted connection that comes back is joined mid-way, not ignored', () => {
    const recs = conn(1, [
      ['request', frame(1, 5, 1, GET('/a')), 1],
      ['response', frame(1, 5, 1, OK), 2],
      ['request', frame(1, 5, 3, GET('/b')), 3],
    ]);
    recs.push({
      ...IDENTITY,
      connId: 1,
      kind: 'end',
      cause: 'evicted',
      direction: 'request',
      prefaceSeen: true,
      seq: 2,
      tsNs: 4_000_000n,
    });
    const again = recordsFromStream([{ tsNs: 5_000_000n, bytes: frame(1, 5, 5, GET('/c')) }], {
      ...IDENTITY,
      connId: 1,
      direction: 'request',
      fromStart: false,
      firstSeq: 3,
    });
    const { calls, decoder } = decodeAll(byTime([...recs, ...again]));
    assert.deepEqual(
      calls.map((c) => [c.path, c.error]),
      [
        ['/a', undefined],
        ['/b', 'timeout'],
      ],
    );
    assert.deepEqual(
      [decoder.connections, decoder.inFlight, decoder.counters().connectionsJoinedMidway],
      [1, 1, 1],
    );
    // Expired by sweep, then back: followed again.
    decoder.sweep(700_000_000_000n);
    assert.deepEqual([decoder.connections, decoder.counters().connectionsExpired], [0, 1]);
    decoder.push(
      encodeRecords(
        recordsFromStream([{ tsNs: 701_000_000_000n, bytes: frame(1, 5, 7, GET('/d')) }], {
          ...IDENTITY,
          connId: 1,
          direction: 'request',
          fromStart: false,
          firstSeq: 4,
        }),
      ),
    );
    assert.deepEqual([decoder.connections, decoder.inFlight], [1, 1]);
  });

  it('frames over maxHeaderBlockBytes are not assembled: a header block is lost (and the table), another frame is malformed', () => {
    const big = encodeHeaderBlock([
      { indexed: 2 },
      { literal: 'without', name: 4, value: `/${'x'.repeat(300)}` },
    ]);
    const settings = Buffer.alloc(600); // 100 settings: a malformed size here
    const { calls, decoder } = decodeAll(
      byTime(
        conn(1, [
          ['request', Buffer.concat([frame(4, 0, 0, settings), frame(1, 5, 1, big)]), 1],
          ['response', frame(1, 5, 1, OK), 2],
        ]),
      ),
      { maxHeaderBlockBytes: 256 },
    );
    assert.deepEqual(
      calls.map((c) => [c.method, c.path, c.statusCode, c.incomplete]),
      [[undefined, undefined, 200, true]],
    );
    const c = decoder.counters();
    assert.deepEqual([c.framesMalformed, c.blocksIncomplete, c.gaps], [1, 1, 0]);
  });
});
