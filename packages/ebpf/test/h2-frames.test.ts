// The kernel's HTTP/2 frame layer through BPF_PROG_TEST_RUN: crafted segments of one connection
// (real sequence numbers, both directions), and the records read from the ring must equal, record
// for record, what @owlk8s/h2's reference framer gives for the same bytes (ts_ns aside; conn_id is
// the kernel's counter, 1 for a capture's first connection).
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { encodeHeaderBlock, frame, PREFACE } from '@owlk8s/h2/testing';
import { CONN_KEY_LAYOUT } from '../src/layout.ts';
import { counters, H2Conn, h2Capture, moved, ringRecords, withoutTime } from './h2/harness.ts';
import { onlyValue, requireBpf, writeOnlyValue } from './kernel.ts';

before(() => requireBpf('the HTTP/2 frame tests'));

const DATA = 0;
const HEADERS = 1;
const PRIORITY = 2;
const RST_STREAM = 3;
const SETTINGS = 4;
const PING = 6;
const GOAWAY = 7;
const WINDOW_UPDATE = 8;
const CONTINUATION = 9;
const END_STREAM = 1;
const END_HEADERS = 4;
const PADDED = 8;
const PRIO = 0x20;

/** n bytes of a recognisable pattern (a header block's stand-in: the kernel does not decode it). */
const bytes = (n: number, seed = 1) =>
  Buffer.from(Array.from({ length: n }, (_, i) => (seed * 31 + i * 7) & 0xff));
const settings = (n: number) => frame(SETTINGS, 0, 0, bytes(6 * n, 9));
const SETTINGS_ACK = frame(SETTINGS, 1, 0);
/** Header blocks that open as a request's (:method POST, :scheme http) and a response's (:status 200) do. */
const REQUEST_BLOCK = encodeHeaderBlock([
  { indexed: 3 },
  { indexed: 6 },
  { literal: 'without', name: 4, value: '/a.B/C' },
]);
const RESPONSE_BLOCK = encodeHeaderBlock([
  { indexed: 8 },
  { literal: 'without', name: 31, value: 'application/grpc' },
]);

/** The client's opening: preface, SETTINGS, WINDOW_UPDATE. */
const OPENING = Buffer.concat([PREFACE, settings(3), frame(WINDOW_UPDATE, 0, 0, bytes(4))]);

/** The ring's records as `kind/direction/seq/what` (what: a frame's type:stream, else the cause). */
function labels(cap: ReturnType<typeof h2Capture>): string[] {
  return ringRecords(cap).map(
    (r) =>
      `${r.kind}/${r.direction}/${r.seq}/${r.kind === 'frame' ? `${r.frameType}:${r.streamId}` : r.cause}`,
  );
}

function check(conn: H2Conn, cap: ReturnType<typeof h2Capture>, connId = 1) {
  const got = ringRecords(cap);
  assert.deepEqual(got, withoutTime(conn.expected(connId)));
  return got;
}

describe('HTTP/2 recognised by its preface, records as the reference framer gives them', () => {
  test('a whole exchange: preface and SETTINGS in one segment, HEADERS, the answer, both FINs', () => {
    using cap = h2Capture();
    const self0 = counters(cap);
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    c.send('server', Buffer.concat([settings(2), SETTINGS_ACK]));
    c.send('client', Buffer.concat([SETTINGS_ACK, frame(HEADERS, END_HEADERS | END_STREAM, 1, bytes(40))]));
    c.send(
      'server',
      Buffer.concat([frame(HEADERS, END_HEADERS, 1, bytes(20, 2)), frame(DATA, 0, 1, bytes(100))]),
    );
    c.send('server', frame(DATA, END_STREAM, 1, bytes(5)));
    c.fin('client');
    c.fin('server');
    const got = check(c, cap);
    // client: SETTINGS, SETTINGS ack, HEADERS, FIN; server: SETTINGS, ack, HEADERS, DATA end, FIN
    assert.equal(got.length, 9);
    assert.deepEqual(moved(cap, self0), { packets: 10, h2Conns: 1, h2Records: 9 });
    assert.equal(cap.readH2Records().length, 0);
  });

  test('the preface split over segments (5, 10, 20 bytes, the rest)', () => {
    using cap = h2Capture();
    const c = new H2Conn(cap).open();
    c.split(
      'client',
      Buffer.concat([OPENING, frame(HEADERS, END_HEADERS | END_STREAM, 1, bytes(30))]),
      [5, 10, 20],
    );
    c.send('server', settings(1));
    // SETTINGS cut by the 35-byte mark (two records), HEADERS, the server's SETTINGS
    assert.equal(check(c, cap).length, 4);
  });

  test('the preface cut inside its first line, and inside its SM part', () => {
    using cap = h2Capture();
    const c = new H2Conn(cap).open();
    c.split('client', OPENING, [3, 17, 1, 6]);
    const d = new H2Conn(cap, { clientPort: 40001 }).open();
    d.split('client', OPENING, [19, 4]);
    const got = ringRecords(cap);
    assert.deepEqual(
      got.filter((r) => r.connId === 1),
      withoutTime(c.expected(1)),
    );
    assert.deepEqual(
      got.filter((r) => r.connId === 2),
      withoutTime(d.expected(2)),
    );
    assert.equal(got.length, 2);
  });

  test('HEADERS of 0, 1, 511, 512, 513, 1500 and 4000 bytes: payloads past 512 in several records', () => {
    using cap = h2Capture();
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    [0, 1, 511, 512, 513, 1500].forEach((n, i) => {
      c.send('client', frame(HEADERS, END_HEADERS | END_STREAM, 2 * i + 1, bytes(n, i)));
    });
    // 4000 bytes in two segments (a test run takes at most a page)
    c.split('client', frame(HEADERS, END_HEADERS | END_STREAM, 13, bytes(4000, 7)), [2000]);
    const got = check(c, cap);
    const sizes = got
      .filter((r) => r.kind === 'frame' && r.frameType === HEADERS)
      .map((r) => r.kind === 'frame' && r.fragment.length);
    // 4000: 1991 bytes in the first segment (512 × 3 + 455), 2009 in the second (512 × 3 + 473)
    assert.deepEqual(sizes, [0, 1, 511, 512, 512, 1, 512, 512, 476, 512, 512, 512, 455, 512, 512, 512, 473]);
  });

  test('CONTINUATION frames after a HEADERS without END_HEADERS', () => {
    using cap = h2Capture();
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    c.send(
      'client',
      Buffer.concat([
        frame(HEADERS, END_STREAM, 1, bytes(100)),
        frame(CONTINUATION, 0, 1, bytes(600, 2)),
        frame(CONTINUATION, END_HEADERS, 1, bytes(3, 3)),
      ]),
    );
    assert.equal(check(c, cap).length, 1 + 1 + 2 + 1);
  });

  test('PADDED and PRIORITY flags: the whole payload is sent, pad length, priority and padding too', () => {
    using cap = h2Capture();
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    const block = bytes(50);
    const padded = Buffer.concat([
      Buffer.from([10]),
      Buffer.from([0x80, 0, 0, 3, 200]),
      block,
      Buffer.alloc(10),
    ]);
    c.send('client', frame(HEADERS, END_HEADERS | END_STREAM | PADDED | PRIO, 1, padded));
    c.send('client', frame(HEADERS, END_HEADERS | PADDED, 3, Buffer.concat([Buffer.from([0]), block])));
    const got = check(c, cap);
    assert.deepEqual(
      got
        .filter((r) => r.kind === 'frame' && r.frameType === HEADERS)
        .map((r) => r.kind === 'frame' && r.frameLength),
      [66, 51],
    );
  });

  test('several frames in one segment: only the ones the contract lists make records', () => {
    using cap = h2Capture();
    const c = new H2Conn(cap).open();
    c.send(
      'client',
      Buffer.concat([
        OPENING,
        frame(PING, 0, 0, bytes(8)),
        frame(PRIORITY, 0, 1, bytes(5)),
        frame(HEADERS, END_HEADERS, 1, bytes(33)),
        frame(DATA, 0, 1, bytes(1000)),
        frame(DATA, END_STREAM, 1, bytes(10)),
        frame(WINDOW_UPDATE, 0, 1, bytes(4)),
        frame(HEADERS, END_HEADERS | END_STREAM, 3, bytes(7)),
      ]),
    );
    const got = check(c, cap);
    assert.deepEqual(
      got.map((r) => r.kind === 'frame' && `${r.frameType}/${r.streamId}/${r.fragment.length}`),
      ['4/0/18', '1/1/33', '1/3/7'], // not the request's DATA that ends stream 1,
    );
  });

  test('a frame split over 3 segments (inside its header, then inside its payload)', () => {
    using cap = h2Capture();
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    const f = frame(HEADERS, END_HEADERS | END_STREAM, 1, bytes(1200));
    c.split('client', Buffer.concat([f, frame(HEADERS, END_HEADERS, 3, bytes(9))]), [4, 600]);
    const got = check(c, cap);
    // the first part gives no record (the header is not whole); the second 595 payload bytes
    // (512 + 83), the third the remaining 605 (512 + 93), then stream 3's
    assert.deepEqual(
      got.slice(1).map((r) => r.kind === 'frame' && `${r.streamId}@${r.fragmentOffset}+${r.fragment.length}`),
      ['1@0+512', '1@512+83', '1@595+512', '1@1107+93', '3@0+9'],
    );
  });

  test('a retransmitted segment is not sent twice; one overlapping new bytes gives only the new ones', () => {
    using cap = h2Capture();
    const self0 = counters(cap);
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    const seqA = c.conv.next('client');
    const a = frame(HEADERS, END_HEADERS | END_STREAM, 1, bytes(20));
    c.send('client', a);
    c.send('client', a, { seq: seqA, noAdvance: true }); // the same segment again
    const b = frame(HEADERS, END_HEADERS | END_STREAM, 3, bytes(30));
    const seqB = c.conv.next('client');
    // a resend of a's last 5 bytes with b's first 10 (its header and a byte), then b's rest
    c.conv.segment('client', Buffer.concat([a.subarray(a.length - 5), b.subarray(0, 10)]), {
      seq: (seqB - 5) >>> 0,
      noAdvance: true,
    });
    c.oracle('client', b.subarray(0, 10));
    c.conv.segment('client', b.subarray(10), { seq: (seqB + 10) >>> 0, noAdvance: true });
    c.oracle('client', b.subarray(10));
    const got = check(c, cap);
    assert.deepEqual(
      got.map((r) => r.kind === 'frame' && `${r.streamId}@${r.fragmentOffset}+${r.fragment.length}/${r.seq}`),
      ['0@0+18/0', '1@0+20/1', '3@0+1/2', '3@1+29/3'],
    );
    assert.equal(moved(cap, self0).retransmissions, 1);
  });

  test('RST_STREAM, GOAWAY (only its first 8 bytes), DATA with and without END_STREAM: only the response direction’s end of stream makes a record', () => {
    using cap = h2Capture();
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    c.send('client', frame(HEADERS, END_HEADERS, 1, bytes(10)));
    c.send('client', frame(DATA, 0, 1, bytes(64)));
    c.send('client', frame(DATA, END_STREAM, 1, bytes(64)));
    c.send('server', Buffer.concat([settings(0), frame(HEADERS, END_HEADERS, 1, bytes(12))]));
    c.send('server', frame(DATA, 0, 1, bytes(300)));
    c.send('server', frame(RST_STREAM, 0, 1, Buffer.from([0, 0, 0, 8])));
    c.send(
      'server',
      frame(GOAWAY, 0, 0, Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 0]), Buffer.from('debug data')])),
    );
    c.send('client', frame(DATA, END_STREAM, 3, Buffer.alloc(0)));
    c.send('server', frame(DATA, END_STREAM, 3, bytes(20)));
    const got = check(c, cap);
    assert.deepEqual(
      got.map(
        (r) =>
          r.kind === 'frame' &&
          `${r.direction === 'request' ? 'q' : 's'}${r.frameType}/${r.frameLength}/${r.fragment.length}`,
      ),
      ['q4/18/18', 'q1/10/10', 's4/0/0', 's1/12/12', 's3/4/4', 's7/18/8', 's0/20/0'],
    );
  });

  test('an RST ends the connection (one end record, in the direction of its sender); the entry goes', () => {
    using cap = h2Capture();
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    c.send('server', settings(1));
    c.rst('server');
    const got = ringRecords(cap);
    const want = withoutTime(c.expected(1));
    assert.deepEqual(got, want);
    assert.deepEqual(got.at(-1), {
      ...want.at(-1),
      kind: 'end',
      cause: 'rst',
      direction: 'response',
      seq: 1,
    });
  });

  test('a client FIN, then the server FIN: one end record each', () => {
    using cap = h2Capture();
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    c.fin('client');
    c.send('server', settings(1));
    c.fin('server');
    const got = check(c, cap);
    assert.deepEqual(
      got.map((r) => `${r.kind}/${r.direction}/${r.seq}`),
      ['frame/request/0', 'end/request/1', 'frame/response/0', 'end/response/1'],
    );
  });

  test('IPv6', () => {
    using cap = h2Capture();
    const c = new H2Conn(cap, { v6: true }).open();
    c.send('client', Buffer.concat([OPENING, frame(HEADERS, END_HEADERS | END_STREAM, 1, bytes(700))]));
    c.send('server', Buffer.concat([settings(1), frame(HEADERS, END_HEADERS | END_STREAM, 1, bytes(3))]));
    assert.equal(check(c, cap).length, 5);
  });
});

describe('connections the kernel forgets: an evicted end record', () => {
  test('idle past idleTimeoutMs: the sweep forgets it, and its records end as evicted', async () => {
    using cap = h2Capture({ boundariesNs: [1_000_000n], requestTimeoutMs: 2, idleTimeoutMs: 2 });
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    c.send('server', settings(1));
    await new Promise((r) => setTimeout(r, 10));
    cap.sweep();
    const got = ringRecords(cap);
    assert.deepEqual(
      got.map((r) => `${r.kind}/${r.direction}/${r.seq}/${r.kind === 'end' ? r.cause : ''}`),
      ['frame/request/0/', 'frame/response/0/', 'end/request/1/evicted'],
    );
    assert.equal(cap.readSelf().connsExpired, 1n);
  });

  test('a new SYN on its ports: the old connection ends as evicted, the new one gets the next conn_id', () => {
    using cap = h2Capture();
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    const d = new H2Conn(cap, { clientIsn: 0x10000000 }).open(); // the same ports, a new handshake
    d.send('client', OPENING);
    assert.deepEqual(
      ringRecords(cap).map((r) => `${r.connId}/${r.kind}/${r.seq}/${r.kind === 'end' ? r.cause : ''}`),
      ['1/frame/0/', '1/end/1/evicted', '2/frame/0/'],
    );
  });
});

describe('HTTP/2 joined mid-way (the agent started after the connection did)', () => {
  test("the client's segment of whole frames first: both directions framed, no preface flag", () => {
    using cap = h2Capture();
    const self0 = counters(cap);
    const c = new H2Conn(cap); // no handshake seen
    c.send(
      'client',
      Buffer.concat([frame(HEADERS, END_HEADERS, 5, REQUEST_BLOCK), frame(DATA, END_STREAM, 5, bytes(7))]),
    );
    c.send(
      'server',
      Buffer.concat([frame(HEADERS, END_HEADERS, 5, RESPONSE_BLOCK), frame(DATA, 0, 5, bytes(20))]),
    );
    c.send('server', frame(HEADERS, END_HEADERS | END_STREAM, 5, bytes(600)));
    c.fin('server');
    const got = ringRecords(cap);
    assert.deepEqual(got, withoutTime(c.expected(1, { fromStart: false })));
    assert.equal(got.length, 1 + 1 + 2 + 1); // the request HEADERS (not its DATA ending the stream), the response HEADERS, 600 bytes in two, the FIN
    assert.ok(got.every((r) => !r.prefaceSeen));
    assert.equal(moved(cap, self0).h2Conns, 1);
  });

  test("the server's segment first; the client's next segment, cut inside a frame, waits for one that starts at a boundary", () => {
    using cap = h2Capture();
    const c = new H2Conn(cap);
    c.send(
      'server',
      Buffer.concat([frame(HEADERS, END_HEADERS, 1, RESPONSE_BLOCK), frame(DATA, END_STREAM, 1, bytes(3))]),
    );
    const h = frame(HEADERS, END_HEADERS | END_STREAM, 3, bytes(40));
    c.conv.segment('client', h.subarray(20)); // the end of a frame: not a boundary, skipped
    c.send('client', frame(HEADERS, END_HEADERS | END_STREAM, 5, bytes(12)));
    assert.deepEqual(ringRecords(cap), withoutTime(c.expected(1, { fromStart: false })));
  });

  test('bytes that are not HTTP/2 frames (a TLS record, a partial frame alone) start nothing', () => {
    using cap = h2Capture();
    const self0 = counters(cap);
    const c = new H2Conn(cap);
    c.conv.segment('client', Buffer.from([0x17, 0x03, 0x03, 0x00, 0x40, ...bytes(64)]));
    c.conv.segment('client', frame(HEADERS, END_HEADERS, 1, bytes(100)).subarray(0, 50));
    c.conv.segment('server', Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
    assert.equal(cap.readH2Records().length, 0);
    const m = moved(cap, self0);
    assert.deepEqual([m.h2Conns, m.requests], [undefined, undefined]);
  });
});

describe('HTTP/2 recognised by the server speaking first', () => {
  test("the server's SETTINGS before the client's preface: both directions' records", () => {
    using cap = h2Capture();
    const self0 = counters(cap);
    const c = new H2Conn(cap).open();
    c.send('server', settings(3));
    c.send('client', Buffer.concat([OPENING, frame(HEADERS, END_HEADERS | END_STREAM, 1, bytes(25))]));
    c.send('server', Buffer.concat([SETTINGS_ACK, frame(HEADERS, END_HEADERS | END_STREAM, 1, bytes(4))]));
    assert.equal(check(c, cap).length, 5);
    assert.equal(moved(cap, self0).h2Conns, 1);
  });
});

describe('what is not HTTP/2, and HTTP/2 switched off', () => {
  test('a preface line followed by other bytes: the connection ends as evicted, counted in h2NotH2', () => {
    using cap = h2Capture();
    const self0 = counters(cap);
    const c = new H2Conn(cap).open();
    c.conv.segment('client', Buffer.from('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n'));
    const got = ringRecords(cap);
    assert.deepEqual(
      got.map((r) => `${r.kind}/${r.kind === 'end' && r.cause}/${r.seq}/${r.connId}`),
      ['end/evicted/0/1'],
    );
    const m = moved(cap, self0);
    assert.deepEqual([m.h2Conns, m.h2NotH2, m.notHttp], [1, 1, undefined]);
  });

  test('http2: false: no records, the connection is not HTTP/1 either (notHttp)', () => {
    using cap = h2Capture({ http2: false });
    const self0 = counters(cap);
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    c.send('server', settings(1));
    assert.equal(cap.readH2Records().length, 0);
    const m = moved(cap, self0);
    assert.deepEqual([m.h2Conns, m.notHttp], [undefined, 1]);
  });

  test('HTTP/1 on the same port is counted as before, with no HTTP/2 record', () => {
    using cap = h2Capture();
    const c = new H2Conn(cap).open();
    c.conv.segment('client', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    c.conv.segment('server', Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    assert.equal(cap.readH2Records().length, 0);
    assert.deepEqual(
      cap.readAggregates().map((a) => `${a.method} ${a.statusCode} ${a.count}`),
      ['GET 200 1'],
    );
  });
});

describe('gaps', () => {
  test('bytes missing inside a DATA payload: framing goes on, no gap counted or recorded (nothing sent was lost); when they come, a retransmission', () => {
    using cap = h2Capture();
    const self0 = counters(cap);
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    // the response direction's (a request's DATA ending its stream makes no record)
    const d = frame(DATA, END_STREAM, 1, bytes(300));
    c.conv.segment('server', d.subarray(0, 100));
    const late = c.conv.next('server');
    c.conv.segment('server', d.subarray(100, 200), { unseen: true });
    c.conv.segment('server', Buffer.concat([d.subarray(200), frame(HEADERS, END_HEADERS, 3, bytes(5))]));
    c.conv.segment('server', d.subarray(100, 200), { seq: late, noAdvance: true });
    const got = ringRecords(cap);
    assert.deepEqual(
      got.map(
        (r) =>
          r.kind === 'frame' &&
          `${r.direction === 'request' ? 'q' : 's'}${r.frameType}/${r.streamId}/${r.seq}`,
      ),
      ['q4/0/0', 's0/1/0', 's1/3/1'],
    );
    // every counter that moved (7 packets: the handshake's 3, the opening, 3 of the 4 DATA segments
    // and the late one); h2Gaps not among them
    assert.deepEqual(moved(cap, self0), { packets: 7, h2Conns: 1, h2Records: 3, retransmissions: 1 });
  });

  test('bytes missing inside a HEADERS payload: a gap record (cut), then the rest at its offset', () => {
    using cap = h2Capture();
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    const h = frame(HEADERS, END_HEADERS, 1, bytes(300));
    c.conv.segment('client', h.subarray(0, 100));
    c.conv.segment('client', h.subarray(100, 200), { unseen: true });
    c.conv.segment('client', h.subarray(200));
    assert.deepEqual(
      ringRecords(cap).map((r) =>
        r.kind === 'frame'
          ? `f${r.fragmentOffset}+${r.fragment.length}`
          : `${r.kind}/${r.kind === 'gap' && r.cause}`,
      ),
      ['f0+18', 'f0+91', 'gap/cut', 'f191+109'],
    );
  });

  test('bytes missing across a frame boundary, the next segment beginning at a frame: a gap record (boundary), framed again from that segment', () => {
    using cap = h2Capture();
    const self0 = counters(cap);
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    c.conv.segment('client', frame(HEADERS, END_HEADERS, 1, bytes(10)), { unseen: true });
    c.conv.segment('client', frame(HEADERS, END_HEADERS, 3, bytes(10)));
    c.conv.segment('client', frame(HEADERS, END_HEADERS, 5, bytes(12)));
    c.conv.segment('server', settings(1));
    assert.deepEqual(labels(cap), [
      'frame/request/0/4:0',
      'gap/request/1/boundary',
      'frame/request/2/1:3',
      'frame/request/3/1:5',
      'frame/response/0/4:0',
    ]);
    const m = moved(cap, self0);
    assert.deepEqual([m.h2Gaps, m.h2Resyncs], [1, 1]);
  });

  test('a boundary lost inside a segment that does not begin at a frame: lost until a new one does (a resync record), older bytes resent in between not taken', () => {
    using cap = h2Capture();
    const self0 = counters(cap);
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    // unseen: a whole frame and the first 5 bytes of the next; seen: that frame's rest (not a frame)
    const f1 = frame(HEADERS, END_HEADERS, 1, bytes(10));
    const f3 = frame(HEADERS, END_HEADERS, 3, bytes(100));
    const seqF1 = c.conv.next('client');
    c.conv.segment('client', Buffer.concat([f1, f3.subarray(0, 5)]), { unseen: true });
    c.conv.segment('client', f3.subarray(5));
    // f1 resent alone: it begins at a frame and ends with one, but its bytes are older than those seen
    c.conv.segment('client', f1, { seq: seqF1, noAdvance: true });
    // new bytes that begin at a frame: framed again, after a resync record
    c.conv.segment(
      'client',
      Buffer.concat([frame(HEADERS, END_HEADERS, 5, bytes(12)), frame(HEADERS, END_HEADERS, 7, bytes(3))]),
    );
    c.conv.segment('client', frame(RST_STREAM, 0, 5, bytes(4)));
    assert.deepEqual(labels(cap), [
      'frame/request/0/4:0',
      'gap/request/1/boundary',
      'gap/request/2/resync',
      'frame/request/3/1:5',
      'frame/request/4/1:7',
      'frame/request/5/3:5',
    ]);
    const m = moved(cap, self0);
    assert.deepEqual([m.h2Gaps, m.h2Resyncs], [1, 1]);
  });

  test('a segment in a lost direction that only looks like a frame header (past 16384 bytes, or a stream rule broken) does not resync it', () => {
    using cap = h2Capture();
    const self0 = counters(cap);
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    c.conv.segment('client', frame(HEADERS, END_HEADERS, 1, bytes(30)), { unseen: true });
    c.conv.segment('client', bytes(30, 5)); // not a frame header: lost from here
    const big = frame(DATA, 0, 1, bytes(40));
    big.writeUIntBE(16385, 0, 3); // a length above SETTINGS_MAX_FRAME_SIZE's default
    c.conv.segment('client', big);
    c.conv.segment('client', frame(SETTINGS, 0, 1, bytes(6))); // SETTINGS on a stream
    c.conv.segment('client', frame(HEADERS, END_HEADERS, 3, bytes(10)));
    assert.deepEqual(labels(cap), [
      'frame/request/0/4:0',
      'gap/request/1/boundary',
      'gap/request/2/resync',
      'frame/request/3/1:3',
    ]);
    const m = moved(cap, self0);
    assert.deepEqual([m.h2Gaps, m.h2Resyncs], [1, 1]);
  });
});

describe('one CPU at a time frames a direction', () => {
  /**
   * struct owlk8s_h2_conn (bpf/owlk8s.h): 136 bytes, `busy` at 20: bit d, direction d being framed;
   * bit 4 << d (H2_FIN, bpf/h2.h), direction d's FIN seen; left by a segment of direction d not
   * framed for the CPU framing d (bpf/h2.h, h2_pending_of): 16 << d its FIN, 64 << d its RST,
   * 256 << d bytes of it unframed.
   */
  const CONN_VALUE = 136;
  const BUSY = 20;
  const PEND_FIN = 16;
  const PEND_RST = 64;
  const PEND_LOST = 256;
  const FIN_PSH_ACK = 0x19;
  /** The one connection's busy word, or undefined when h2_conns holds none. */
  function busy(cap: ReturnType<typeof h2Capture>): number | undefined {
    return onlyValue(cap.mapFd('h2_conns'), CONN_KEY_LAYOUT.size, CONN_VALUE)?.readUInt32LE(BUSY);
  }
  /** Sets the one connection's busy bits, as another CPU framing its directions would. */
  function setBusy(cap: ReturnType<typeof h2Capture>, bits: number): void {
    writeOnlyValue(cap.mapFd('h2_conns'), CONN_KEY_LAYOUT.size, CONN_VALUE, BUSY, bits);
  }

  test("each direction's FIN sets a bit of its own in the busy word; the second deletes the connection", () => {
    using cap = h2Capture();
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    c.send('server', settings(1));
    assert.equal(busy(cap), 0);
    c.fin('client');
    assert.equal(busy(cap), 4); // the client's FIN seen, no direction being framed
    c.fin('client'); // its retransmission: nothing more
    assert.equal(busy(cap), 4);
    c.fin('server');
    assert.equal(busy(cap), undefined);
    assert.deepEqual(
      labels(cap).filter((l) => l.startsWith('end/')),
      ['end/request/1/fin', 'end/response/1/fin'],
    );
  });

  test("a FIN framed while the other direction's FIN was set on another CPU deletes the connection", () => {
    using cap = h2Capture();
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    c.send('server', settings(1));
    setBusy(cap, 2 | 8); // another CPU framing the response direction has set the server's FIN
    c.fin('client');
    assert.equal(busy(cap), undefined);
  });

  test('a segment that comes while its direction is being framed is not framed (h2Contended); the next shows its bytes as a gap; the other direction goes on', () => {
    using cap = h2Capture();
    const self0 = counters(cap);
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    c.send('server', settings(1));
    setBusy(cap, 1); // the request direction
    c.conv.segment('client', frame(HEADERS, END_HEADERS, 1, bytes(10)));
    c.conv.segment('server', frame(HEADERS, END_HEADERS, 1, bytes(8)));
    setBusy(cap, 0);
    c.conv.segment('client', frame(HEADERS, END_HEADERS, 3, bytes(10)));
    setBusy(cap, 2); // the response direction
    c.conv.segment('server', frame(HEADERS, END_HEADERS, 3, bytes(8)));
    c.conv.segment('client', frame(HEADERS, END_HEADERS, 5, bytes(10)));
    setBusy(cap, 0);
    c.conv.segment('server', frame(HEADERS, END_HEADERS, 5, bytes(8)));
    assert.deepEqual(labels(cap), [
      'frame/request/0/4:0',
      'frame/response/0/4:0',
      'frame/response/1/1:1',
      'gap/request/1/boundary',
      'frame/request/2/1:3',
      'frame/request/3/1:5',
      'gap/response/2/boundary',
      'frame/response/3/1:5',
    ]);
    const m = moved(cap, self0);
    assert.deepEqual([m.h2Contended, m.h2Gaps, m.h2Resyncs], [2, 2, 2]);
  });

  test("a FIN on a segment not framed is left in the busy word for the CPU framing its direction, with its bytes' loss", () => {
    using cap = h2Capture();
    const self0 = counters(cap);
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    c.send('server', settings(1));
    setBusy(cap, 2); // another CPU framing the response direction
    c.conv.segment('server', frame(HEADERS, END_HEADERS | END_STREAM, 1, bytes(8)), { flags: FIN_PSH_ACK });
    assert.equal(busy(cap), 2 | ((PEND_FIN | PEND_LOST) << 1));
    // no record from it; the other direction goes on, and the FIN waits for the response
    // direction's CPU (h2_release, the next test)
    c.conv.segment('client', frame(HEADERS, END_HEADERS, 3, bytes(10)));
    assert.deepEqual(labels(cap), ['frame/request/0/4:0', 'frame/response/0/4:0', 'frame/request/1/1:3']);
    assert.equal(busy(cap), 2 | ((PEND_FIN | PEND_LOST) << 1));
    assert.deepEqual(moved(cap, self0), { packets: 7, h2Conns: 1, h2Records: 3, h2Contended: 1 });
  });

  test("the CPU framing a direction handles what a segment not framed left when it gives the bit back: the lost bytes' gap, then the FIN; an RST deletes the connection", () => {
    using cap = h2Capture();
    const self0 = counters(cap);
    const c = new H2Conn(cap).open();
    c.send('client', OPENING);
    c.send('server', settings(1));
    c.fin('client');
    // as a segment not framed leaves it while this CPU frames the direction (its bit, here taken
    // by the next segment)
    setBusy(cap, 4 | ((PEND_FIN | PEND_LOST) << 1));
    c.conv.segment('server', frame(HEADERS, END_HEADERS, 1, bytes(8)));
    assert.deepEqual(labels(cap), [
      'frame/request/0/4:0',
      'frame/response/0/4:0',
      'end/request/1/fin',
      'frame/response/1/1:1',
      'gap/response/2/boundary',
      'end/response/3/fin',
    ]);
    assert.equal(busy(cap), undefined); // both FINs: deleted
    assert.deepEqual([moved(cap, self0).h2Gaps], [1]);

    using cap2 = h2Capture();
    const d = new H2Conn(cap2).open();
    d.send('client', OPENING);
    setBusy(cap2, PEND_RST);
    d.send('client', frame(HEADERS, END_HEADERS, 1, bytes(8)));
    assert.deepEqual(labels(cap2), ['frame/request/0/4:0', 'frame/request/1/1:1', 'end/request/2/rst']);
    assert.equal(busy(cap2), undefined); // deleted
  });
});
