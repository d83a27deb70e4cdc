// The reference framer is the oracle the kernel side will be tested against: its records for a
// crafted byte stream, exactly.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { frame, PREFACE, recordsFromStream } from '../../src/testing/index.ts';

const id = { connId: 1, targetId: 2, peerId: 0, serverPort: 80, role: 'server' as const };

describe('recordsFromStream', () => {
  it('skips the preface, sends the frames that matter, splits at segments and at the cap', () => {
    const headers = frame(1, 4, 1, Buffer.from('0123456789'));
    const bytes = Buffer.concat([
      PREFACE,
      frame(4, 0, 0, Buffer.from([0, 1, 0, 0, 0x10, 0])), // SETTINGS
      frame(8, 0, 0, Buffer.from([0, 0, 0, 1])), // WINDOW_UPDATE: not sent
      headers,
      frame(0, 0, 1, Buffer.from('body')), // DATA without END_STREAM: not sent
      frame(0, 1, 1, Buffer.from('end')), // DATA with END_STREAM: in the request direction, not sent
      frame(6, 0, 0, Buffer.alloc(8)), // PING: not sent
      frame(7, 0, 0, Buffer.from('\x00\x00\x00\x01\x00\x00\x00\x00debug', 'latin1')), // GOAWAY: 8 bytes
    ]);
    // Segments cut inside the HEADERS payload (its 4th byte) and inside the GOAWAY frame header.
    const headersAt = PREFACE.length + 15 + 13;
    const cut1 = headersAt + 9 + 4;
    const cut2 = bytes.length - 15;
    const segs = [
      { tsNs: 10n, bytes: bytes.subarray(0, cut1) },
      { tsNs: 20n, bytes: bytes.subarray(cut1, cut2) },
      { tsNs: 30n, bytes: bytes.subarray(cut2) },
    ];
    const recs = recordsFromStream(segs, { ...id, direction: 'request', fragmentCap: 4 });
    assert.deepEqual(
      recs.map((r) =>
        r.kind === 'frame'
          ? [
              r.seq,
              r.tsNs,
              r.frameType,
              r.frameFlags,
              r.streamId,
              r.frameLength,
              r.fragmentOffset,
              Buffer.from(r.fragment).toString('latin1'),
              r.prefaceSeen,
            ]
          : [r.kind],
      ),
      [
        [0, 10n, 4, 0, 0, 6, 0, '\x00\x01\x00\x00', true],
        [1, 10n, 4, 0, 0, 6, 4, '\x10\x00', true],
        [2, 10n, 1, 4, 1, 10, 0, '0123', true],
        [3, 20n, 1, 4, 1, 10, 4, '4567', true],
        [4, 20n, 1, 4, 1, 10, 8, '89', true],
        [5, 30n, 7, 0, 0, 13, 0, '\x00\x00\x00\x01', true],
        [6, 30n, 7, 0, 0, 13, 4, '\x00\x00\x00\x00', true],
      ],
    );
  });

  it('DATA: the response direction’s that ends its stream is sent without its payload; the one that does not end it, not', () => {
    const bytes = Buffer.concat([
      frame(0, 0, 1, Buffer.from('body')), // not sent
      frame(0, 1, 1, Buffer.from('end')), // sent, no payload
    ]);
    const recs = recordsFromStream([{ tsNs: 5n, bytes }], { ...id, direction: 'response' });
    assert.deepEqual(
      recs.map(
        (r) =>
          r.kind === 'frame' && [
            r.seq,
            r.frameType,
            r.frameFlags,
            r.streamId,
            r.frameLength,
            r.fragment.length,
          ],
      ),
      [[0, 0, 1, 1, 3, 0]],
    );
  });

  it('without the start: no preface expected, none claimed; a request stream without the preface is refused', () => {
    const recs = recordsFromStream([{ tsNs: 1n, bytes: frame(3, 0, 5, Buffer.from([0, 0, 0, 8])) }], {
      ...id,
      direction: 'request',
      fromStart: false,
      firstSeq: 40,
    });
    assert.deepEqual(
      recs.map((r) => [r.seq, r.kind, r.prefaceSeen]),
      [[40, 'frame', false]],
    );
    assert.throws(
      () =>
        recordsFromStream([{ tsNs: 1n, bytes: frame(3, 0, 5, Buffer.from([0, 0, 0, 8])) }], {
          ...id,
          direction: 'request',
        }),
      /does not begin with the HTTP\/2 preface \(byte 0\)/,
    );
  });
});
