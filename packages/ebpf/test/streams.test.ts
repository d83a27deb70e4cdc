// Stream framing and matching on crafted TCP connections (BPF_PROG_TEST_RUN, real sequence and
// acknowledgement numbers): the shapes real clients and servers produce — pipelining, coalesced
// responses, split lines, bodies that look like requests, interim responses, retransmission and
// reordering, connections that end or stall. Each test states every count it expects.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { readAll } from '../src/batch.ts';
import { Capture } from '../src/capture.ts';
import type { CaptureOptions } from '../src/config.ts';
import { CONN_KEY_LAYOUT, CONN_LAYOUT, HALF_LAYOUT } from '../src/layout.ts';
import type { Aggregate, SelfCounters } from '../src/snapshot.ts';
import * as sys from '../src/sys/ffi.ts';
import { Conversation, type ConversationSpec } from '../src/testing/conversation.ts';
import { requireBpf, writeOnlyValue } from './kernel.ts';

before(() => requireBpf('the stream framing tests'));

const POD = '198.18.0.9';
const PEER = '198.18.0.1';
const POD6 = '2001:2::9';
const PEER6 = '2001:2::1';

function setup(options: CaptureOptions = {}): Capture {
  const cap = Capture.load(options);
  cap.setTarget(POD, 1, 7);
  cap.setTarget(POD6, 1, 8);
  return cap;
}

/** A connection from the peer to the pod's port 80 (the pod serves). */
function server(cap: Capture, o: Partial<ConversationSpec> = {}): Conversation {
  return new Conversation(cap.programFd, { client: PEER, server: POD, ...o });
}

function summary(a: Aggregate): string {
  return `${a.role} ${a.method} ${a.error ?? a.statusCode} n=${a.count}`;
}

function counts(cap: Capture): string[] {
  return cap.read().aggregates.map(summary).sort();
}

/** The named self counters, as numbers (a zero is left out, so a test lists what moved). */
function moved(cap: Capture): Record<string, number> {
  const s = cap.readSelf() as unknown as Record<string, bigint>;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(s))
    if (typeof v === 'bigint' && v !== 0n && k !== 'packets') out[k] = Number(v);
  return out;
}

const GET = (path = '/') => `GET ${path} HTTP/1.1\r\nHost: pod\r\n\r\n`;
const RES = (code: number, body = '') =>
  `HTTP/1.1 ${code} X\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

/** Sends `parts` in the order `order` (indexes), waiting `lateMs` before each part sent after a later one. */
async function outOfOrder(
  c: Conversation,
  from: 'client' | 'server',
  parts: string[],
  order: number[],
  lateMs = 0,
) {
  const frames = parts.map((p) => c.segment(from, p, { unseen: true })); // numbered in the stream's order
  let highest = -1;
  for (const i of order) {
    if (i < highest && lateMs > 0) await new Promise((r) => setTimeout(r, lateMs));
    c.play({ from, frame: frames[i]! });
    highest = Math.max(highest, i);
  }
}

/** n bytes of body. */
const x = (n: number) => 'x'.repeat(n);
/** Statuses that may carry a body (not 204 or 205), one per place in a pipeline. */
const CODES = [200, 201, 202, 203, 206, 207, 208, 226];

describe('several messages in one segment', () => {
  for (const depth of [2, 4, 8]) {
    test(`${depth} pipelined requests in one segment, ${depth} responses coalesced in one segment, 3 rounds`, () => {
      using cap = setup();
      const c = server(cap).open();
      for (let round = 0; round < 3; round++) {
        c.segment('client', Array.from({ length: depth }, (_, i) => GET(`/${i}`)).join(''));
        c.segment('server', Array.from({ length: depth }, (_, i) => RES(CODES[i]!, 'x'.repeat(i))).join(''));
      }
      assert.deepEqual(
        counts(cap),
        CODES.slice(0, depth).map((code) => `server GET ${code} n=3`),
      );
      assert.deepEqual(moved(cap), { requests: 3 * depth, responses: 3 * depth });
    });
  }

  test('chunked bodies (with extensions and trailers) and Content-Length bodies between messages', () => {
    using cap = setup();
    const c = server(cap).open();
    c.segment(
      'client',
      'POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n' +
        'PUT /b HTTP/1.1\r\ncontent-length: 5\r\n\r\nGET /' +
        GET('/c'),
    );
    c.segment(
      'server',
      'HTTP/1.1 201 X\r\ntransfer-encoding: gzip, chunked\r\n\r\n2\r\nGE\r\n0\r\n\r\n' +
        RES(202, 'HTTP/1.1 200') +
        RES(203),
    );
    assert.deepEqual(counts(cap), ['server GET 203 n=1', 'server POST 201 n=1', 'server PUT 202 n=1']);
    assert.deepEqual(moved(cap), { requests: 3, responses: 3 });
  });
});

describe('bodies that look like messages', () => {
  const line = 'GET /x HTTP/1.1" 200 512 "-" "curl"\n';
  const request = GET('/inside-a-body');
  for (const [name, body] of [
    ['access-log lines', line.repeat(4)],
    ['whole request lines', request.repeat(3)],
  ] as const) {
    test(`a POST body of ${name}, one segment each, Content-Length and chunked`, () => {
      using cap = setup();
      const c = server(cap).open();
      c.segment('client', `POST /logs HTTP/1.1\r\nContent-Length: ${body.length * 2}\r\n\r\n`);
      c.segment('client', body);
      c.segment('client', body);
      c.segment('server', RES(204));
      c.segment('client', `POST /logs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n`);
      c.segment('client', `${body.length.toString(16)}\r\n`);
      c.segment('client', body);
      c.segment('client', '\r\n0\r\n\r\n');
      c.segment('server', RES(202));
      assert.deepEqual(counts(cap), ['server POST 202 n=1', 'server POST 204 n=1']);
      assert.deepEqual(moved(cap), { requests: 2, responses: 2 });
    });
  }

  test('a response body that starts with a status line is not a response', () => {
    using cap = setup();
    const c = server(cap).open();
    c.segment('client', GET());
    c.segment('server', 'HTTP/1.1 200 OK\r\nContent-Length: 34\r\n\r\n');
    c.segment('server', 'HTTP/1.1 500 Internal Server Error');
    c.segment('client', GET());
    c.segment('server', RES(201));
    assert.deepEqual(counts(cap), ['server GET 200 n=1', 'server GET 201 n=1']);
    assert.deepEqual(moved(cap), { requests: 2, responses: 2 });
  });
});

describe('lines split across segments', () => {
  test('a request and its status line cut at every byte position', () => {
    using cap = setup();
    const c = server(cap).open();
    const q = GET('/split');
    const r = RES(200, 'ok');
    for (let i = 1; i < q.length; i++) {
      c.split('client', q, [i]);
      c.split('server', r, [Math.min(i, r.length - 1)]);
    }
    assert.deepEqual(counts(cap), [`server GET 200 n=${q.length - 1}`]);
    assert.deepEqual(moved(cap), { requests: q.length - 1, responses: q.length - 1 });
  });

  test('a first segment of a whole method token and a space (5–8 bytes), the rest after', () => {
    using cap = setup();
    const c = server(cap).open();
    const methods = ['POST', 'DELETE', 'HEAD', 'PATCH', 'TRACE', 'OPTIONS', 'PUT', 'GET'];
    for (const m of methods) {
      c.split('client', `${m} /t HTTP/1.1\r\nContent-Length: 0\r\n\r\n`, [m.length + 1]);
      c.segment('server', m === 'HEAD' ? 'HTTP/1.1 200 X\r\nContent-Length: 9\r\n\r\n' : RES(200));
    }
    assert.deepEqual(counts(cap), methods.map((m) => `server ${m} 200 n=1`).sort());
  });

  test('the status line one byte per segment', () => {
    using cap = setup();
    const c = server(cap).open();
    c.segment('client', GET());
    const r = RES(418, 'teapot');
    for (const ch of r) c.segment('server', ch);
    c.segment('client', GET());
    c.segment('server', RES(200));
    assert.deepEqual(counts(cap), ['server GET 200 n=1', 'server GET 418 n=1']);
    assert.deepEqual(moved(cap), { requests: 2, responses: 2 });
  });
});

describe('interim responses, methods, odd lines', () => {
  test('100 Continue and 103 Early Hints in the same segment as the final response', () => {
    using cap = setup();
    const c = server(cap).open();
    c.segment('client', 'POST /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n');
    c.segment('server', 'HTTP/1.1 100 Continue\r\n\r\n');
    c.segment('client', 'abc');
    c.segment('server', `HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n${RES(201)}`);
    c.segment('client', GET());
    c.segment('server', `HTTP/1.1 100 Continue\r\n\r\n${RES(200)}`);
    assert.deepEqual(counts(cap), ['server GET 200 n=1', 'server POST 201 n=1']);
    assert.deepEqual(moved(cap), { requests: 2, responses: 2, informational: 3 });
  });

  test('_OTHER for methods outside the nine; a leading CRLF; HTTP/1.1 2000 and binary junk are not messages', () => {
    using cap = setup();
    const c = server(cap).open();
    c.segment('client', 'PROPFIND /d HTTP/1.1\r\nDepth: 1\r\n\r\n');
    c.segment('server', RES(207));
    c.segment('client', `\r\nPURGE /cache HTTP/1.1\r\n\r\n\r\n${GET()}`);
    c.segment('server', RES(200) + RES(204));
    assert.deepEqual(counts(cap), ['server GET 204 n=1', 'server _OTHER 200 n=1', 'server _OTHER 207 n=1']);

    const d = server(cap, { clientPort: 40001 }).open();
    d.segment('client', GET());
    d.segment('server', 'HTTP/1.1 2000 OK\r\n\r\n');
    const e = server(cap, { clientPort: 40002 }).open();
    e.segment('client', Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
    e.segment('server', RES(200));
    assert.deepEqual(moved(cap), { requests: 4, responses: 3, notHttp: 2 });
    // the GET answered by "2000" waits; nothing else does
    assert.deepEqual(
      cap.readInFlight().map((f) => `${f.method} ${f.count}`),
      ['GET 1'],
    );
  });

  test('101 Switching Protocols counts, then the connection is not parsed', () => {
    using cap = setup();
    const c = server(cap).open();
    c.segment('client', 'GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    c.segment('server', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello');
    c.segment('client', GET());
    c.segment('server', RES(200));
    assert.deepEqual(counts(cap), ['server GET 101 n=1']);
    assert.deepEqual(moved(cap), { requests: 1, responses: 1, upgrades: 1, ignoredAfterUpgrade: 2 });
  });
});

describe('retransmission and reordering', () => {
  test('an older pipelined request and a response retransmitted later are not counted again', () => {
    using cap = setup();
    const c = server(cap).open();
    const first = c.segment('client', GET('/a') + GET('/b'));
    const res1 = c.segment('server', RES(200));
    c.play({ from: 'server', frame: res1 });
    c.segment('server', RES(201));
    c.segment('client', GET('/c'));
    c.play({ from: 'client', frame: first });
    c.segment('server', RES(202));
    assert.deepEqual(counts(cap), ['server GET 200 n=1', 'server GET 201 n=1', 'server GET 202 n=1']);
    assert.deepEqual(moved(cap), { requests: 3, responses: 3, retransmissions: 2 });
  });

  test('a retransmission that overlaps new bytes: the new part is parsed', () => {
    using cap = setup();
    const c = server(cap).open();
    const start = c.next('client');
    c.segment('client', GET('/a'));
    // the peer resends /a together with /b (a bigger segment from the same sequence number)
    c.segment('client', GET('/a') + GET('/b'), { seq: start });
    c.segment('server', RES(200) + RES(201), { ack: (start + GET('/a').length + GET('/b').length) >>> 0 });
    assert.deepEqual(counts(cap), ['server GET 200 n=1', 'server GET 201 n=1']);
    assert.deepEqual(moved(cap), { requests: 2, responses: 2 });
  });

  test('TCP Fast Open: the data on the SYN, resent after a refused cookie, counts once', () => {
    using cap = setup();
    const c = server(cap);
    const isn = c.next('client');
    c.segment('client', GET('/tfo'), { flags: 0x02, ack: 0, seq: isn });
    c.segment('server', '', { flags: 0x12, ack: (isn + 1) >>> 0 }); // SYN-ACK: the cookie refused, the SYN acknowledged
    c.segment('client', GET('/tfo'), { seq: (isn + 1) >>> 0 });
    c.segment('server', RES(200), {
      seq: (c.next('server') + 1) >>> 0,
      ack: (isn + 1 + GET('/tfo').length) >>> 0,
    });
    assert.deepEqual(counts(cap), ['server GET 200 n=1']);
    assert.deepEqual(moved(cap), { requests: 1, responses: 1, retransmissions: 1 });
  });

  test('a request segment first lost before the capture, then resent after the next one: both count, in order', () => {
    using cap = setup();
    const c = server(cap).open();
    c.segment('client', GET('/0'));
    c.segment('server', RES(200));
    c.segment('client', GET('/1')); // sent after the answer: a client that waits
    c.segment('server', RES(201));
    // /2's first copy is lost before the capture; /3 is seen, then /2's retransmission
    const at2 = c.next('client');
    const two = GET('/2');
    const three = GET('/3');
    c.segment('client', three, { seq: (at2 + two.length) >>> 0 });
    c.segment('client', two, { seq: at2 });
    c.segment('server', RES(202) + RES(203), { ack: (at2 + two.length + three.length) >>> 0 });
    assert.deepEqual(counts(cap), [
      'server GET 200 n=1',
      'server GET 201 n=1',
      'server GET 202 n=1',
      'server GET 203 n=1',
    ]);
    assert.deepEqual(moved(cap), { requests: 4, responses: 4, streamGaps: 1, resyncs: 1 });
  });

  test('a response lost before the capture (never resent): its request is not counted, none shifts', () => {
    using cap = setup();
    const c = server(cap).open();
    c.segment('client', GET('/0'));
    c.segment('server', RES(200));
    c.segment('client', GET('/1')); // sent after the answer: a client that waits
    c.segment('server', RES(201), { unseen: true });
    c.segment('client', GET('/2'));
    c.segment('server', RES(202));
    c.segment('client', GET('/3'));
    c.segment('server', RES(203));
    assert.deepEqual(counts(cap), ['server GET 200 n=1', 'server GET 202 n=1', 'server GET 203 n=1']);
    assert.deepEqual(moved(cap), { requests: 4, responses: 3, streamGaps: 1, resyncs: 1, responsesLost: 1 });
  });

  test('a gap on a connection that pipelines, or whose client was never seen waiting: the connection is given up, nothing guessed', () => {
    using cap = setup();
    const c = server(cap).open();
    c.segment('client', GET('/1') + GET('/2')); // pipelined
    c.segment('server', RES(201));
    c.segment('server', RES(202), { unseen: true });
    c.segment('client', GET('/3'));
    c.segment('server', RES(203, x(2100))); // too large to hold until the missing bytes come
    const d = server(cap, { clientPort: 40001 }).open();
    d.segment('client', GET('/a'), { unseen: true }); // the first request lost: nothing known of the client
    d.segment('client', GET('/b'));
    d.segment('server', RES(200) + RES(204));
    // c: /2 and /3 wait when the gap shows (responses_lost 2); d: /b is read (resync), and its
    // answer may be the lost /a's: unmatched, /b in responses_lost, the rest of d ignored
    assert.deepEqual(counts(cap), ['server GET 201 n=1']);
    assert.deepEqual(moved(cap), {
      requests: 4,
      responses: 2,
      unmatchedResponses: 1,
      streamGaps: 2,
      resyncs: 1,
      responsesLost: 3,
    });
    // what comes on a connection given up is not parsed, and says so
    c.segment('client', GET('/4'));
    c.segment('server', RES(204));
    d.segment('client', GET('/c'));
    assert.deepEqual(counts(cap), ['server GET 201 n=1']);
    assert.equal(cap.readSelf().ignoredAfterGap, 3n);
  });
});

describe('missing bytes inside a body: segments that reach the capture out of order', () => {
  // A sender whose segments leave from two CPUs (its process on one, its ACK-clocked sends on
  // another) reaches the capture out of order without a byte lost; a body is skipped by its length,
  // so the framing holds while the segment after the missing bytes starts inside the body.
  const MS = 1_000_000n;

  test('a Content-Length body, its middle segment last: counted once, its duration to the segment with its last byte, the framing held', async () => {
    using cap = setup({ boundariesNs: [100n * MS] });
    const c = server(cap).open();
    c.segment('client', GET('/big'));
    const head = 'HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n';
    // the middle segment comes 150 ms after the last: the response ended with the last one
    await outOfOrder(c, 'server', [head + x(1000), x(1000), x(1000)], [0, 2, 1], 150);
    c.segment('client', GET('/next'));
    c.segment('server', RES(201));
    const snap = cap.read();
    assert.deepEqual(snap.aggregates.map(summary).sort(), ['server GET 200 n=1', 'server GET 201 n=1']);
    assert.deepEqual(
      snap.aggregates.map((a) => a.bucketCounts),
      [
        [1, 0],
        [1, 0],
      ],
    );
    assert.deepEqual(moved(cap), { requests: 2, responses: 2, retransmissions: 1 });
  });

  test('a Content-Length body whose middle segment never reaches the capture: counted once, no gap', () => {
    using cap = setup();
    const c = server(cap).open();
    c.segment('client', GET());
    c.segment('server', `HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n${x(1000)}`);
    c.segment('server', x(1000), { unseen: true });
    c.segment('server', x(1000));
    c.segment('client', GET());
    c.segment('server', RES(201));
    assert.deepEqual(counts(cap), ['server GET 200 n=1', 'server GET 201 n=1']);
    assert.deepEqual(moved(cap), { requests: 2, responses: 2 });
  });

  test("a chunk's data, a close-delimited body and a POST body, each with a segment late", async () => {
    using cap = setup();
    const a = server(cap, { clientPort: 42001 }).open();
    a.segment('client', GET());
    const chunkHead = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nbb8\r\n';
    await outOfOrder(a, 'server', [chunkHead + x(1000), x(1000), `${x(1000)}\r\n0\r\n\r\n`], [0, 2, 1]);
    a.segment('client', GET());
    a.segment('server', RES(202));
    const b = server(cap, { clientPort: 42002 }).open();
    b.segment('client', GET());
    await outOfOrder(b, 'server', [`HTTP/1.0 203 OK\r\n\r\n${x(1000)}`, x(1000), x(1000)], [0, 2, 1]);
    b.fin('server');
    const d = server(cap, { clientPort: 42003 }).open();
    const post = 'POST /upload HTTP/1.1\r\nHost: pod\r\nContent-Length: 3000\r\n\r\n';
    // the body's bytes look like requests: they are skipped by length, never read
    await outOfOrder(d, 'client', [post + x(1000), GET().repeat(20).slice(0, 1000), x(1000)], [0, 2, 1]);
    d.segment('server', RES(201));
    assert.deepEqual(counts(cap), [
      'server GET 200 n=1',
      'server GET 202 n=1',
      'server GET 203 n=1',
      'server POST 201 n=1',
    ]);
    assert.deepEqual(moved(cap), { requests: 4, responses: 4, retransmissions: 3 });
  });

  test("missing bytes that reach past the body's end hide where the next message starts: a stream gap", () => {
    using cap = setup();
    const c = server(cap).open();
    c.segment('client', GET('/0'));
    c.segment('server', RES(200));
    c.segment('client', GET('/1')); // sent after the answer: a client that waits
    c.segment('server', `HTTP/1.1 202 OK\r\nContent-Length: 2000\r\n\r\n${x(500)}`);
    c.segment('server', x(1500), { unseen: true }); // the body's end
    c.segment('client', GET('/2'));
    c.segment('server', RES(203));
    // 202 counts to its last segment seen; 203 is read again from its status line
    assert.deepEqual(counts(cap), ['server GET 200 n=1', 'server GET 202 n=1', 'server GET 203 n=1']);
    assert.deepEqual(moved(cap), { requests: 3, responses: 3, streamGaps: 1, resyncs: 1 });
  });
});

describe('answers overtaken by a later segment on a connection that pipelines', () => {
  // A server whose answers leave from two CPUs (lighttpd's to pipelined requests) reaches the
  // capture with a later segment first, and the bytes it overtook may hold an answer's head: the
  // overtaking segment is held (reorders) until they come, then framed in its place.
  const MS = 1_000_000n;
  const pipelined = (n: number) => Array.from({ length: n }, (_, i) => GET(`/${i}`)).join('');

  test('the later of two segments first: each answer counted against its own request, nothing lost', async () => {
    using cap = setup();
    const c = server(cap).open();
    c.segment('client', pipelined(4));
    await outOfOrder(c, 'server', [RES(200, 'a') + RES(201, 'bb'), RES(202, 'ccc') + RES(203)], [1, 0]);
    c.segment('client', GET('/4'));
    c.segment('server', RES(206));
    assert.deepEqual(counts(cap), [
      'server GET 200 n=1',
      'server GET 201 n=1',
      'server GET 202 n=1',
      'server GET 203 n=1',
      'server GET 206 n=1',
    ]);
    assert.deepEqual(moved(cap), { requests: 5, responses: 5, reordered: 1 });
    assert.deepEqual(cap.readInFlight(), []);
  });

  test("lighttpd's shape: the overtaking segment begins inside an answer's header section, the overtaken one holds the end of a body and that answer's head", () => {
    using cap = setup();
    const c = server(cap).open();
    c.segment('client', pipelined(3));
    const second = `HTTP/1.1 200 OK\r\nContent-Length: 3000\r\nDate: Mon, 07 Dec 2026 20:00:00 GMT\r\n\r\n`;
    c.segment('server', `HTTP/1.1 201 OK\r\nContent-Length: 3000\r\n\r\n${x(1658)}`);
    const overtaken = c.segment('server', x(1342) + second.slice(0, 60), { unseen: true });
    c.segment('server', second.slice(60) + x(600)); // first: it begins inside a header line
    c.play({ from: 'server', frame: overtaken });
    c.segment('server', x(2400) + RES(202));
    assert.deepEqual(counts(cap), ['server GET 200 n=1', 'server GET 201 n=1', 'server GET 202 n=1']);
    assert.deepEqual(moved(cap), { requests: 3, responses: 3, reordered: 1 });
  });

  for (const order of [
    [1, 2, 0],
    [1, 0, 2],
  ]) {
    test(`an answer whose body runs past the overtaking segment, segments in the order ${order.join(', ')}: every answer once, the held ones when the late bytes come`, async () => {
      using cap = setup({ boundariesNs: [100n * MS] });
      const c = server(cap).open();
      c.segment('client', pipelined(4));
      const parts = [
        RES(200) + RES(201),
        `${RES(202)}HTTP/1.1 203 X\r\nContent-Length: 800\r\n\r\n${x(200)}`,
        x(600),
      ];
      // the late segment comes 150 ms after the others: the answers are framed when it comes, so
      // those held took that long too (202, and 203 when its end was held with it)
      await outOfOrder(c, 'server', parts, order, 150);
      const snap = cap.read();
      assert.deepEqual(snap.aggregates.map(summary).sort(), [
        'server GET 200 n=1',
        'server GET 201 n=1',
        'server GET 202 n=1',
        'server GET 203 n=1',
      ]);
      const buckets = Object.fromEntries(snap.aggregates.map((a) => [a.statusCode, a.bucketCounts]));
      assert.deepEqual(buckets, { 200: [0, 1], 201: [0, 1], 202: [0, 1], 203: [0, 1] });
      assert.deepEqual(moved(cap), { requests: 4, responses: 4, reordered: 1 });
    });
  }

  test('the late bytes in two segments, the held one resent while they are awaited: framed when the second fills the hole', () => {
    using cap = setup();
    const c = server(cap).open();
    c.segment('client', pipelined(4));
    const cut = 'HTTP/1.1 201 X\r\nCont';
    const frames = [RES(200) + cut, RES(201).slice(cut.length), RES(202) + RES(203)].map((p) =>
      c.segment('server', p, { unseen: true }),
    );
    for (const i of [2, 2, 0]) c.play({ from: 'server', frame: frames[i]! });
    assert.deepEqual(counts(cap), ['server GET 200 n=1']);
    assert.deepEqual(
      cap.readInFlight().map((f) => `${f.method} ${f.count}`),
      ['GET 3'],
    );
    c.play({ from: 'server', frame: frames[1]! });
    assert.deepEqual(counts(cap), [
      'server GET 200 n=1',
      'server GET 201 n=1',
      'server GET 202 n=1',
      'server GET 203 n=1',
    ]);
    assert.deepEqual(moved(cap), { requests: 4, responses: 4, retransmissions: 1, reordered: 1 });
  });

  test('framed in its place, not on its own: held bytes that look like a status line inside a body are body, and the answer to a HEAD has none', async () => {
    using cap = setup();
    // a: 200's body runs on into the held segment, which begins with a status line's bytes
    const a = server(cap, { clientPort: 43001 }).open();
    a.segment('client', pipelined(2));
    const lookalike = 'HTTP/1.1 299 X\r\nContent-Length: 0\r\n\r\n';
    const head = `HTTP/1.1 200 X\r\nContent-Length: ${10 + lookalike.length}\r\n\r\n${x(10)}`;
    await outOfOrder(a, 'server', [head, lookalike], [1, 0]);
    a.segment('server', RES(201));
    // b: the held segment answers a HEAD: its Content-Length announces a body that is not sent
    const b = server(cap, { clientPort: 43002 }).open();
    b.segment('client', `${GET('/0')}HEAD /1 HTTP/1.1\r\nHost: pod\r\n\r\n${GET('/2')}`);
    const toHead = 'HTTP/1.1 200 X\r\nContent-Length: 5\r\n\r\n';
    await outOfOrder(b, 'server', [RES(202), toHead + RES(203, 'abcde')], [1, 0]);
    assert.deepEqual(counts(cap), [
      'server GET 200 n=1',
      'server GET 201 n=1',
      'server GET 202 n=1',
      'server GET 203 n=1',
      'server HEAD 200 n=1',
    ]);
    assert.deepEqual(moved(cap), { requests: 5, responses: 5, reordered: 2 });
  });

  test('more than 2,048 bytes after the hole before its bytes come, or a second hole: given up as at any gap', () => {
    using cap = setup();
    const a = server(cap, { clientPort: 43021 }).open();
    a.segment('client', pipelined(3));
    a.segment('server', RES(200), { unseen: true });
    a.segment('server', RES(201, x(1200)));
    a.segment('server', RES(202, x(900))); // 2,180 bytes held would be too many
    const b = server(cap, { clientPort: 43022 }).open();
    b.segment('client', pipelined(3));
    b.segment('server', RES(200), { unseen: true });
    b.segment('server', RES(201));
    b.segment('server', RES(202), { unseen: true }); // a second hole, after the held bytes
    b.segment('server', RES(203));
    assert.deepEqual(counts(cap), []);
    assert.deepEqual(moved(cap), { requests: 6, streamGaps: 2, responsesLost: 6 });
  });

  test('the late bytes never come: the waiting requests go to responses_lost at the server FIN, or 1 s after the hole', async () => {
    using cap = setup();
    const a = server(cap, { clientPort: 43011 }).open();
    a.segment('client', pipelined(4));
    a.segment('server', RES(200) + RES(201), { unseen: true });
    a.segment('server', RES(202) + RES(203));
    const b = server(cap, { clientPort: 43012 }).open();
    b.segment('client', pipelined(2));
    b.segment('server', RES(200), { unseen: true });
    b.segment('server', RES(201));
    assert.deepEqual(counts(cap), []);
    assert.deepEqual(
      cap.readInFlight().map((f) => `${f.method} ${f.count}`),
      ['GET 6'],
    );
    assert.deepEqual(moved(cap), { requests: 6 });
    a.fin('server');
    assert.deepEqual(moved(cap), { requests: 6, streamGaps: 1, responsesLost: 4 });
    await new Promise((r) => setTimeout(r, 1100));
    assert.deepEqual(counts(cap), []); // (the read runs the sweep)
    assert.deepEqual(moved(cap), { requests: 6, streamGaps: 2, responsesLost: 6 });
    assert.deepEqual(cap.readInFlight(), []);
  });
});

describe('one CPU at a time frames a direction', () => {
  /** Sets the busy word of the one connection's request or response half, as another CPU framing it would. */
  function setBusy(cap: Capture, half: 'req' | 'resp', busy: number): void {
    const at = CONN_LAYOUT.fields[half]!.offset + HALF_LAYOUT.fields.busy!.offset;
    writeOnlyValue(cap.mapFd('conns'), CONN_KEY_LAYOUT.size, CONN_LAYOUT.size, at, busy);
  }

  test('a segment that comes while its direction stays busy is not framed (contended): a body segment costs nothing, a status line is a gap', () => {
    using cap = setup();
    const c = server(cap).open();
    c.segment('client', GET('/0'));
    c.segment('server', RES(200));
    c.segment('client', GET('/1')); // a client that waits
    c.segment('server', `HTTP/1.1 201 OK\r\nContent-Length: 2000\r\n\r\n${x(1000)}`);
    setBusy(cap, 'resp', 1);
    c.segment('server', x(500)); // not framed
    setBusy(cap, 'resp', 0);
    c.segment('server', x(500)); // inside the body: the framing holds
    c.segment('client', GET('/2'));
    setBusy(cap, 'resp', 1);
    c.segment('server', RES(202)); // not framed: its request waits
    c.segment('client', GET('/3')); // the request direction is not busy
    setBusy(cap, 'resp', 0);
    c.segment('server', RES(203)); // after the missing status line: /2's answer went by unseen
    assert.deepEqual(counts(cap), ['server GET 200 n=1', 'server GET 201 n=1', 'server GET 203 n=1']);
    assert.deepEqual(moved(cap), {
      requests: 4,
      responses: 3,
      streamGaps: 1,
      resyncs: 1,
      responsesLost: 1,
      contended: 2,
    });
  });
});

describe('connections that end, requests that never get an answer', () => {
  test('a Connection: close response whose body spans segments, with the FIN on its last data segment', () => {
    using cap = setup();
    const c = server(cap).open();
    c.segment('client', GET());
    c.segment('server', 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 10\r\n\r\nhello');
    c.segment('server', 'world', { flags: 0x19 }); // FIN, PSH, ACK
    c.fin('client');
    assert.deepEqual(counts(cap), ['server GET 200 n=1']);
    assert.deepEqual(moved(cap), { requests: 1, responses: 1 });
    assert.equal(cap.readSelf().requests, 1n);
    assert.deepEqual(cap.readInFlight(), []);
  });

  test('a close-delimited body ends at the server FIN', () => {
    using cap = setup();
    const c = server(cap).open();
    c.segment('client', GET());
    c.segment('server', 'HTTP/1.0 200 OK\r\n\r\nstreamed...');
    c.segment('server', 'more');
    c.fin('server');
    assert.deepEqual(counts(cap), ['server GET 200 n=1']);
    assert.deepEqual(cap.readInFlight(), []);
  });

  test('reset, server close and port reuse finish waiting requests once, with their error; a client FIN does not', () => {
    using cap = setup();
    const a = server(cap, { clientPort: 41001 }).open();
    a.segment('client', GET() + GET());
    a.rst('server');
    const b = server(cap, { clientPort: 41002 }).open();
    b.segment('client', GET());
    b.fin('server');
    const c = server(cap, { clientPort: 41003 }).open();
    c.segment('client', GET());
    server(cap, { clientPort: 41003, clientIsn: 12345 }).open(); // a new connection on the same ports
    const d = server(cap, { clientPort: 41004 }).open();
    d.segment('client', GET());
    d.fin('client'); // half-close: the answer may still come
    assert.deepEqual(counts(cap), ['server GET connection_closed n=2', 'server GET connection_reset n=2']);
    assert.deepEqual(moved(cap), { requests: 5, resets: 2, closed: 2 });
    assert.deepEqual(
      cap.readInFlight().map((f) => `${f.method} ${f.count}`),
      ['GET 1'],
    );
    d.segment('server', RES(200));
    assert.deepEqual(counts(cap), [
      'server GET 200 n=1',
      'server GET connection_closed n=2',
      'server GET connection_reset n=2',
    ]);
  });

  test('a request unanswered past the timeout finishes as a timeout with the time it waited, and leaves the in-flight figures', async () => {
    using cap = setup({ requestTimeoutMs: 300, boundariesNs: [50_000_000n, 100_000_000n, 250_000_000n] });
    const c = server(cap).open();
    c.segment('client', GET());
    assert.deepEqual(
      cap.readInFlight().map((f) => `${f.method} ${f.count}`),
      ['GET 1'],
    );
    await new Promise((r) => setTimeout(r, 400));
    const snap = cap.read();
    assert.deepEqual(snap.aggregates.map(summary), ['server GET timeout n=1']);
    assert.deepEqual(snap.aggregates[0]!.bucketCounts, [0, 0, 0, 1]); // waited 400 ms: above every bound
    assert.deepEqual(snap.inFlight, []);
    // the answer after the timeout answers nothing
    c.segment('server', RES(200));
    assert.deepEqual(counts(cap), ['server GET timeout n=1']);
    assert.deepEqual(moved(cap), { requests: 1, responses: 1, unmatchedResponses: 1, timeouts: 1 });
  });

  test('a connection is forgotten by the sweep once idle for idleTimeoutMs, not while its packets keep coming', () => {
    using cap = setup({ requestTimeoutMs: 1000, idleTimeoutMs: 1000, boundariesNs: [50_000_000n] });
    const c = server(cap).open();
    const fd = cap.mapFd('conns');
    const conns = () => readAll(fd, 'conns', CONN_KEY_LAYOUT.size, CONN_LAYOUT.size);
    const at = CONN_LAYOUT.fields.last_ns!.offset;
    // The connection's stamp moved back by ms, as if its last packet came that long ago (no sleeps:
    // a loaded machine's late timer cannot make the test's idea of time differ from the sweep's).
    const age = (ms: number) => {
      const { count, keys, values } = conns();
      assert.equal(count, 1);
      values.writeBigUInt64LE(values.readBigUInt64LE(at) - BigInt(ms) * 1_000_000n, at);
      assert.equal(sys.mapUpdate(fd, keys, values, 2 /* BPF_EXIST */), 0);
    };
    c.segment('client', GET());
    c.segment('server', RES(200));
    age(5000);
    c.segment('client', GET()); // a packet of an old connection: its stamp moves to now
    c.segment('server', RES(200));
    cap.sweep();
    assert.equal(conns().count, 1);
    age(500);
    cap.sweep(); // idle 500 ms (and the few since): kept
    assert.equal(conns().count, 1);
    age(600);
    cap.sweep(); // idle 1.1 s: forgotten
    assert.equal(conns().count, 0);
    assert.deepEqual(counts(cap), ['server GET 200 n=2']);
    assert.deepEqual(moved(cap), { requests: 2, responses: 2, connsExpired: 1 });
  });

  test('a request and a connection stamped after the sweep read its clock (a packet on another CPU, mid-sweep) are not old: no timeout, no expiry', () => {
    using cap = setup(); // the default timeouts: 60 s per request, 300 s idle
    const c = server(cap).open();
    c.segment('client', GET());
    // What the sweep sees when another CPU handles a packet after the sweep read its clock: the
    // request's and the connection's stamps lie ahead of the sweep's now (here by 10 s).
    const fd = cap.mapFd('conns');
    const { count, keys, values } = readAll(fd, 'conns', CONN_KEY_LAYOUT.size, CONN_LAYOUT.size);
    assert.equal(count, 1);
    const ahead = 10_000_000_000n;
    const at = (f: string) => CONN_LAYOUT.fields[f]!.offset;
    values.writeBigUInt64LE(values.readBigUInt64LE(at('last_ns')) + ahead, at('last_ns'));
    values.writeBigUInt64LE(values.readBigUInt64LE(at('slots')) + ahead, at('slots')); // slot 0's start_ns
    assert.equal(sys.mapUpdate(fd, keys, values, 2 /* BPF_EXIST */), 0);
    cap.sweep();
    assert.deepEqual(counts(cap), []);
    assert.deepEqual(
      cap.readInFlight().map((f) => `${f.method} ${f.count}`),
      ['GET 1'],
    );
    c.segment('server', RES(200));
    assert.deepEqual(counts(cap), ['server GET 200 n=1']);
    assert.deepEqual(moved(cap), { requests: 1, responses: 1 });
  });
});

describe('both roles, both families', () => {
  test('the pod as a client over IPv6: pipelined requests, coalesced responses', () => {
    using cap = setup();
    const c = new Conversation(cap.programFd, {
      client: POD6,
      server: PEER6,
      clientPort: 50000,
      serverPort: 8080,
    });
    c.open();
    c.segment('client', `${GET('/a')}DELETE /b HTTP/1.1\r\nContent-Length: 0\r\n\r\n`);
    c.segment('server', RES(200, 'a') + RES(404));
    assert.deepEqual(
      cap
        .read()
        .aggregates.map((a) => `${a.targetId} ${a.role} ${a.port} ${a.method} ${a.statusCode} n=${a.count}`)
        .sort(),
      ['8 client 8080 DELETE 404 n=1', '8 client 8080 GET 200 n=1'],
    );
  });
});

describe('series budgets and a full aggregates map', () => {
  const view = (cap: Capture) =>
    cap
      .read()
      .aggregates.map(
        (a) =>
          `${a.targetId} ${a.role} ${a.overflow ? 'overflow' : `${a.method} ${a.statusCode}`} n=${a.count}`,
      )
      .sort();
  /** One connection to `pod` answering each status once, in order. */
  const answer = (cap: Capture, pod: string, port: number, codes: readonly number[]) => {
    const c = server(cap, { server: pod, client: pod === POD6 ? PEER6 : PEER, clientPort: port }).open();
    for (const code of codes) {
      c.segment('client', GET());
      c.segment('server', RES(code));
    }
  };

  test('a target past seriesPerTarget counts the rest in its own overflow series; another target keeps exact series; forgetting it frees its budget', () => {
    using cap = setup({ seriesPerTarget: 3 });
    answer(cap, POD, 41000, [200, 201, 202, 203, 204, 200, 205]);
    answer(cap, POD6, 41001, [200, 503]);
    assert.deepEqual(view(cap), [
      '7 server GET 200 n=2',
      '7 server GET 201 n=1',
      '7 server GET 202 n=1',
      '7 server overflow n=3',
      '8 server GET 200 n=1',
      '8 server GET 503 n=1',
    ]);
    assert.deepEqual(moved(cap), { requests: 9, responses: 9, seriesOverflow: 3 });
    // The pod goes away and another takes its IP: a fresh budget.
    assert.equal(cap.forgetTarget(7), 4);
    cap.deleteTarget(POD);
    cap.setTarget(POD, 1, 9);
    answer(cap, POD, 41002, [201, 202, 203]);
    assert.deepEqual(
      view(cap).filter((v) => v.startsWith('9 ')),
      ['9 server GET 201 n=1', '9 server GET 202 n=1', '9 server GET 203 n=1'],
    );
  });

  test('a target past connsPerTarget: its next connection is not measured; a connection that ends gives its place back; another target is unaffected', () => {
    using cap = setup({ connsPerTarget: 2 });
    const conns = [41000, 41001, 41002].map((port) => server(cap, { clientPort: port }).open());
    const other = server(cap, { server: POD6, client: PEER6, clientPort: 41003 }).open();
    for (const c of [...conns, other]) {
      c.segment('client', GET());
      c.segment('server', RES(200));
    }
    assert.deepEqual(view(cap), ['7 server GET 200 n=2', '8 server GET 200 n=1']);
    // the third connection's SYN, SYN-ACK, request and response each tried
    assert.deepEqual(moved(cap), { requests: 3, responses: 3, connsOverBudget: 4 });
    // one of the two ends: the next connection takes its place
    conns[0]!.fin('client');
    conns[0]!.fin('server');
    const next = server(cap, { clientPort: 41004 }).open();
    next.segment('client', GET());
    next.segment('server', RES(201));
    assert.deepEqual(view(cap), ['7 server GET 200 n=2', '7 server GET 201 n=1', '8 server GET 200 n=1']);
    assert.deepEqual(moved(cap), { requests: 4, responses: 4, connsOverBudget: 4 });
  });

  test('a full aggregates map: a new series is not counted, and aggregates_full says how many requests', () => {
    using cap = setup({ maxAggregates: 4 });
    answer(cap, POD, 41000, [200, 201, 202, 203, 204, 205, 200]);
    assert.deepEqual(view(cap), [
      '7 server GET 200 n=2',
      '7 server GET 201 n=1',
      '7 server GET 202 n=1',
      '7 server GET 203 n=1',
    ]);
    assert.deepEqual(moved(cap), { requests: 7, responses: 7, aggregatesFull: 2 });
  });

  test('a forgotten series: its counts go, its place in agg_values goes to the next new series, and a connection that remembered the place counts in a series of its own target', () => {
    using cap = setup();
    const old = server(cap, { clientPort: 41000 }).open();
    old.segment('client', GET());
    old.segment('server', RES(200)); // 7 GET 200: the connection remembers where its counts are
    assert.equal(cap.forgetTarget(7), 1);
    answer(cap, POD6, 41001, [200]); // 8 GET 200: the first new series, in the place 7's had
    old.segment('client', GET());
    old.segment('server', RES(200)); // the same outcome on the same connection of target 7
    assert.deepEqual(view(cap), ['7 server GET 200 n=1', '8 server GET 200 n=1']);
    assert.deepEqual(moved(cap), { requests: 3, responses: 3 });
  });
});

describe('peers: the other end of each connection, as user space named its address', () => {
  /** Services and a pod of the cluster, in both families; 198.18.1.9 and 2001:2::1:9 are unknown. */
  const SVC_A = '198.18.1.1';
  const SVC_B = '198.18.1.2';
  const SVC_A6 = '2001:2::1:1';
  const UNKNOWN = '198.18.1.9';
  const UNKNOWN6 = '2001:2::1:9';
  const view = (cap: Capture) =>
    cap
      .read()
      .aggregates.map(
        (a) =>
          `${a.targetId} ${a.role} peer=${a.peerId ?? 0} ${a.overflow ? 'overflow' : `${a.port} ${a.method} ${a.statusCode}`} n=${a.count}`,
      )
      .sort();
  /** The pod calls `server` on port 8080 from clientPort: one connection, each status answered once. */
  const call = (
    cap: Capture,
    client: string,
    server: string,
    clientPort: number,
    codes: readonly number[],
  ) => {
    const c = new Conversation(cap.programFd, { client, server, clientPort, serverPort: 8080 }).open();
    for (const code of codes) {
      c.segment('client', GET());
      c.segment('server', RES(code));
    }
    return c;
  };

  test('client role, IPv4 and IPv6: a known address counts under its peer id, an unknown one under 0; two peers on one port are two series', () => {
    using cap = setup();
    cap.setPeer(SVC_A, 11);
    cap.setPeer(SVC_B, 12);
    cap.setPeer(SVC_A6, 21);
    call(cap, POD, SVC_A, 50000, [200, 200, 503]);
    call(cap, POD, SVC_B, 50001, [200]);
    call(cap, POD, UNKNOWN, 50002, [404, 200]);
    call(cap, POD6, SVC_A6, 50003, [200, 201]);
    call(cap, POD6, UNKNOWN6, 50004, [200]);
    assert.deepEqual(view(cap), [
      '7 client peer=0 8080 GET 200 n=1',
      '7 client peer=0 8080 GET 404 n=1',
      '7 client peer=11 8080 GET 200 n=2',
      '7 client peer=11 8080 GET 503 n=1',
      '7 client peer=12 8080 GET 200 n=1',
      '8 client peer=0 8080 GET 200 n=1',
      '8 client peer=21 8080 GET 200 n=1',
      '8 client peer=21 8080 GET 201 n=1',
    ]);
    // peer 0 is no field at all (the shape of every series before peers existed)
    const unknown = cap.readAggregates().find((a) => a.targetId === 7 && a.statusCode === 404);
    assert.equal(unknown !== undefined && 'peerId' in unknown, false);
    assert.deepEqual(moved(cap), { requests: 9, responses: 9 });
  });

  test('requests ended without an answer keep their peer: a reset (the end of the connection) and a timeout (the sweep)', async () => {
    using cap = setup({ requestTimeoutMs: 300, boundariesNs: [50_000_000n] });
    cap.setPeer(SVC_A, 11);
    cap.setPeer(SVC_B, 12);
    const reset = call(cap, POD, SVC_A, 50000, []);
    reset.segment('client', GET());
    reset.rst('server');
    call(cap, POD, SVC_B, 50001, []).segment('client', GET());
    await new Promise((r) => setTimeout(r, 400)); // past the request timeout
    cap.sweep();
    assert.deepEqual(
      cap
        .readAggregates()
        .map((a) => `${a.role} peer=${a.peerId ?? 0} ${a.error} n=${a.count}`)
        .sort(),
      ['client peer=11 connection_reset n=1', 'client peer=12 timeout n=1'],
    );
    assert.deepEqual(moved(cap), { requests: 2, resets: 1, timeouts: 1 });
  });

  test('requests in flight carry their peer: one per peer, and the unknown one without', () => {
    using cap = setup();
    cap.setPeer(SVC_A, 11);
    cap.setPeer(SVC_B, 12);
    for (const [server, port] of [
      [SVC_A, 50000],
      [SVC_A, 50001],
      [SVC_B, 50002],
      [UNKNOWN, 50003],
    ] as const) {
      new Conversation(cap.programFd, { client: POD, server, clientPort: port, serverPort: 8080 })
        .open()
        .segment('client', GET());
    }
    assert.deepEqual(
      cap
        .readInFlight()
        .map((f) => `${f.targetId} ${f.role} peer=${f.peerId ?? 0} ${f.port} ${f.method} ${f.count}`)
        .sort(),
      ['7 client peer=0 8080 GET 1', '7 client peer=11 8080 GET 2', '7 client peer=12 8080 GET 1'],
    );
  });

  for (const serverPeers of [false, true]) {
    test(`server role with serverPeers ${serverPeers}: the caller's id ${serverPeers ? 'for a known caller, 0 for an unknown one' : 'is never looked up (peer 0)'}; the client role alike either way`, () => {
      using cap = setup({ serverPeers });
      cap.setPeer(PEER, 31);
      cap.setPeer(PEER6, 32);
      cap.setPeer(SVC_A, 11);
      const answer = (client: string, pod: string, port: number) => {
        const c = server(cap, { client, server: pod, clientPort: port }).open();
        c.segment('client', GET());
        c.segment('server', RES(200));
      };
      answer(PEER, POD, 41000);
      answer(PEER6, POD6, 41001);
      answer(UNKNOWN, POD, 41002);
      call(cap, POD, SVC_A, 50000, [200]);
      assert.deepEqual(
        view(cap),
        serverPeers
          ? [
              '7 client peer=11 8080 GET 200 n=1',
              '7 server peer=0 80 GET 200 n=1',
              '7 server peer=31 80 GET 200 n=1',
              '8 server peer=32 80 GET 200 n=1',
            ]
          : [
              '7 client peer=11 8080 GET 200 n=1',
              '7 server peer=0 80 GET 200 n=2', // the known and the unknown caller: one series
              '8 server peer=0 80 GET 200 n=1',
            ],
      );
    });
  }

  test('a peer deleted (or renamed) after its connection started: the connection keeps the id it recorded when it was made; a new connection, or the same ports after a new SYN, looks again', () => {
    using cap = setup();
    cap.setPeer(SVC_A, 11);
    const c = call(cap, POD, SVC_A, 50000, [200]);
    cap.deletePeer(SVC_A);
    c.segment('client', GET());
    c.segment('server', RES(201));
    const d = call(cap, POD, SVC_B, 50001, [200]); // SVC_B not a peer yet
    cap.setPeer(SVC_B, 12); // after its connection started: not looked up again
    d.segment('client', GET());
    d.segment('server', RES(202));
    call(cap, POD, SVC_A, 50002, [203]); // a new connection to the deleted peer: 0
    assert.deepEqual(view(cap), [
      '7 client peer=0 8080 GET 200 n=1',
      '7 client peer=0 8080 GET 202 n=1',
      '7 client peer=0 8080 GET 203 n=1',
      '7 client peer=11 8080 GET 200 n=1',
      '7 client peer=11 8080 GET 201 n=1',
    ]);
    // the same ports again, with a new SYN far from the old stream: the entry is made anew, looked up anew
    const again = new Conversation(cap.programFd, {
      client: POD,
      server: SVC_B,
      clientPort: 50001,
      serverPort: 8080,
      clientIsn: 0x10000000,
    }).open();
    again.segment('client', GET());
    again.segment('server', RES(204));
    assert.deepEqual(
      view(cap).filter((v) => v.includes(' 204 ')),
      ['7 client peer=12 8080 GET 204 n=1'],
    );
    assert.deepEqual(moved(cap), { requests: 6, responses: 6 });
  });

  test('the overflow series stay one per target and role, with peer 0, whatever the peers', () => {
    using cap = setup({ seriesPerTarget: 2 });
    cap.setPeer(SVC_A, 11);
    cap.setPeer(SVC_B, 12);
    cap.setPeer('198.18.1.3', 13);
    call(cap, POD, SVC_A, 50000, [200]);
    call(cap, POD, SVC_B, 50001, [200]);
    call(cap, POD, '198.18.1.3', 50002, [200, 500]);
    call(cap, POD, UNKNOWN, 50003, [200]);
    assert.deepEqual(view(cap), [
      '7 client peer=0 overflow n=3',
      '7 client peer=11 8080 GET 200 n=1',
      '7 client peer=12 8080 GET 200 n=1',
    ]);
    const overflow = cap.readAggregates().find((a) => a.overflow);
    assert.equal(overflow !== undefined && 'peerId' in overflow, false);
    assert.deepEqual(moved(cap), { requests: 5, responses: 5, seriesOverflow: 3 });
  });
});

describe('self counters', () => {
  test('every counter is monotonic and the books balance: requests = answered + finished unanswered + in flight', () => {
    using cap = setup();
    const c = server(cap).open();
    c.segment('client', GET() + GET() + GET());
    c.segment('server', RES(200));
    const d = server(cap, { clientPort: 41005 }).open();
    d.segment('client', GET());
    d.rst('client');
    const s: SelfCounters = cap.readSelf();
    const inFlight = cap.readInFlight().reduce((n, f) => n + f.count, 0);
    const answered = s.responses - s.unmatchedResponses;
    assert.equal(s.requests, answered + s.timeouts + s.resets + s.closed + BigInt(inFlight));
    assert.deepEqual([s.requests, answered, s.resets, inFlight], [4n, 1n, 1n, 2]);
  });
});
