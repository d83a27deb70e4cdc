// The BPF program's parsing and matching rules, through BPF_PROG_TEST_RUN on crafted frames: the
// real program in the real kernel, no network. Target 198.18.0.9 / 2001:2::9 is monitored on
// ifindex 1 (the test run's interface) unless a test says otherwise.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { Capture } from '../src/capture.ts';
import { type CaptureOptions, DEFAULT_BOUNDARIES_NS } from '../src/config.ts';
import type { Aggregate } from '../src/snapshot.ts';
import { type FrameSpec, frame } from '../src/testing/frames.ts';
import { testRun } from '../src/testing/test-run.ts';
import { requireBpf } from './kernel.ts';

const POD4 = '198.18.0.9';
const PEER4 = '198.18.0.1';
const POD6 = '2001:2::9';
const PEER6 = '2001:2::1';

before(() => requireBpf('the BPF program tests'));

function setup(options: CaptureOptions = {}, ifindex = 1): Capture {
  const cap = Capture.load(options);
  cap.setTarget(POD4, ifindex, 7);
  cap.setTarget(POD6, ifindex, 8);
  return cap;
}

type Extra = Omit<FrameSpec, 'src' | 'dst' | 'sport' | 'dport' | 'payload'>;

/** A request from the peer to the pod (server side) on connection :sport → :dport. */
type Conn = Extra & { v6?: boolean; sport?: number; dport?: number; ack?: number };

/**
 * Where each connection's two byte streams stand, per capture: frames of one connection carry
 * consecutive sequence numbers and acknowledge what the other side sent (a frame given its own
 * `seq` leaves the stream where it was: a retransmission).
 */
const streams = new WeakMap<Capture, Map<string, { client: number; server: number }>>();

function position(cap: Capture, o: Conn) {
  const m = streams.get(cap) ?? new Map<string, { client: number; server: number }>();
  streams.set(cap, m);
  const key = `${o.v6 ? 6 : 4} ${o.sport ?? 40000} ${o.dport ?? 80}`;
  const p = m.get(key) ?? { client: 100_000, server: 900_000 };
  m.set(key, p);
  return p;
}

function send(cap: Capture, from: 'client' | 'server', payload: string | Buffer, o: Conn) {
  const { v6, sport, dport, seq, ack, ...extra } = o;
  const [peer, pod] = v6 ? [PEER6, POD6] : [PEER4, POD4];
  const p = position(cap, o);
  const other = from === 'client' ? 'server' : 'client';
  const client = { src: peer, dst: pod, sport: sport ?? 40000, dport: dport ?? 80 };
  const ends = from === 'client' ? client : { src: pod, dst: peer, sport: client.dport, dport: client.sport };
  testRun(cap.programFd, frame({ ...ends, payload, seq: seq ?? p[from], ack: ack ?? p[other], ...extra }));
  // SYN and FIN take a sequence number each
  const flags = (extra.flags ?? 0) & 0x03;
  if (seq === undefined)
    p[from] += Buffer.byteLength(payload, 'latin1') + (flags === 0 ? 0 : flags === 3 ? 2 : 1);
}

function req(cap: Capture, payload: string | Buffer, o: Conn = {}) {
  send(cap, 'client', payload, o);
}

/** The response to req with the same o (the ports swapped). */
function res(cap: Capture, payload: string | Buffer, o: Conn = {}) {
  send(cap, 'server', payload, o);
}

const GET = 'GET /status/404 HTTP/1.1\r\nHost: pod\r\n\r\n';
const R = (code: number, minor = 1) => `HTTP/1.${minor} ${code} Whatever\r\nContent-Length: 0\r\n\r\n`;

function summary(a: Aggregate) {
  return `${a.targetId} ${a.role} ${a.port} ${a.method} ${a.statusCode} 1.${a.httpMinor} n=${a.count}`;
}

function sorted(cap: Capture): string[] {
  return cap.readAggregates().map(summary).sort();
}

describe('requests and responses', () => {
  test('IPv4: a request then its response make one aggregate, in the first bucket', () => {
    using cap = setup();
    req(cap, GET);
    res(cap, R(404));
    const aggs = cap.readAggregates();
    assert.deepEqual(aggs.map(summary), ['7 server 80 GET 404 1.1 n=1']);
    // one request: the sum is its duration, and its bucket is the first bound at or above it
    // (normally the first, <= 5 ms; a busy machine may pause between the two test runs)
    const d = aggs[0]!.durationSumNs;
    const bucket = DEFAULT_BOUNDARIES_NS.findIndex((b) => d <= b);
    const expected = new Array(15).fill(0);
    expected[bucket === -1 ? 14 : bucket] = 1;
    assert.ok(d > 0n);
    assert.deepEqual(aggs[0]!.bucketCounts, expected);
    const s = cap.readSelf();
    assert.deepEqual(
      [s.packets, s.requests, s.responses, s.unmatchedResponses, s.parseFailures],
      [2n, 1n, 1n, 0n, 0n],
    );
  });

  test('IPv6 with hop-by-hop, destination-options and routing headers, and TCP options', () => {
    using cap = setup();
    const o = { v6: true, ipv6Ext: [0, 60, 43], tcpOptions: 12, dport: 8080 };
    req(cap, 'POST /items HTTP/1.1\r\nContent-Length: 0\r\n\r\n', o);
    res(cap, R(201), o);
    assert.deepEqual(sorted(cap), ['8 server 8080 POST 201 1.1 n=1']);
  });

  test('IPv6 first fragment is parsed; a non-first fragment is ignored', () => {
    using cap = setup();
    req(cap, 'DELETE /x HTTP/1.1\r\n\r\n', { v6: true, ipv6Ext: [44] });
    res(cap, R(204), { v6: true });
    req(cap, 'DELETE /x HTTP/1.1\r\n\r\n', { v6: true, ipv6Ext: [44], fragmentOffset: 185, sport: 40001 });
    res(cap, R(204), { v6: true, sport: 40001 });
    assert.deepEqual(sorted(cap), ['8 server 80 DELETE 204 1.1 n=1']);
    const s = cap.readSelf();
    assert.deepEqual([s.requests, s.responses, s.unmatchedResponses], [1n, 2n, 1n]);
  });

  test('802.1Q and 802.1ad+802.1Q tags, IPv4 options, TCP options', () => {
    using cap = setup();
    req(cap, 'PUT /a HTTP/1.1\r\n\r\n', { vlanTags: 1, ipOptions: 8, tcpOptions: 12 });
    res(cap, R(200), { vlanTags: 1, ipOptions: 8, tcpOptions: 12 });
    req(cap, 'PATCH /a HTTP/1.1\r\n\r\n', { vlanTags: 2, ipOptions: 40, tcpOptions: 40, sport: 40001 });
    res(cap, R(409), { vlanTags: 2, sport: 40001 });
    assert.deepEqual(sorted(cap), ['7 server 80 PATCH 409 1.1 n=1', '7 server 80 PUT 200 1.1 n=1']);
    assert.equal(cap.readSelf().parseFailures, 0n);
  });

  test('all nine methods, and HTTP/1.0 responses', () => {
    using cap = setup();
    const methods = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'];
    methods.forEach((m, i) => {
      req(cap, `${m} / HTTP/1.0\r\n\r\n`, { sport: 41000 + i });
      res(cap, R(200 + i, 0), { sport: 41000 + i });
    });
    assert.deepEqual(sorted(cap), methods.map((m, i) => `7 server 80 ${m} ${200 + i} 1.0 n=1`).sort());
  });

  test('a request from the target is counted on the client side, under the peer server port', () => {
    using cap = setup();
    testRun(cap.programFd, frame({ src: POD4, dst: PEER4, sport: 50000, dport: 9000, payload: GET }));
    testRun(cap.programFd, frame({ src: PEER4, dst: POD4, sport: 9000, dport: 50000, payload: R(503) }));
    assert.deepEqual(sorted(cap), ['7 client 9000 GET 503 1.1 n=1']);
  });

  test('a request between two targets on the same interface counts once per role', () => {
    using cap = setup();
    cap.setTarget(PEER4, 1, 9);
    req(cap, GET);
    res(cap, R(200));
    assert.deepEqual(sorted(cap), ['7 server 80 GET 200 1.1 n=1', '9 client 80 GET 200 1.1 n=1']);
  });
});

const LONG_GET = `GET /a/long/path HTTP/1.1\r\nHost: pod\r\nUser-Agent: test\r\nAccept: */*\r\n${'X-Pad: 0\r\n'.repeat(6)}\r\n`;
const LONG_RES = (code: number) =>
  `HTTP/1.1 ${code} Whatever\r\n${'X-Pad: 0\r\n'.repeat(8)}Content-Length: 0\r\n\r\n`;

describe('one-read fast path (frames of 104 bytes or more)', () => {
  test('IPv4 and IPv6, TCP headers of 20, 24 (slow path) and 32 bytes, and a frame of exactly 104 bytes', () => {
    using cap = setup();
    let sport = 42000;
    for (const v6 of [false, true]) {
      for (const tcpOptions of [0, 4, 12]) {
        sport++;
        req(cap, LONG_GET, { v6, tcpOptions, sport });
        res(cap, LONG_RES(v6 ? 503 : 502), { v6, tcpOptions, sport });
      }
    }
    // a frame of exactly 104 bytes: the smallest the fast path reads
    const options = `OPTIONS * HTTP/1.1\r\nX: ${'p'.repeat(11)}\r\n\r\n`;
    assert.equal(
      frame({ src: PEER4, dst: POD4, sport: 43000, dport: 80, tcpOptions: 12, payload: options }).length,
      104,
    );
    req(cap, options, { sport: 43000, tcpOptions: 12 });
    res(cap, `HTTP/1.0 204 No Content\r\nX: ${'p'.repeat(8)}\r\n\r\n`, { sport: 43000, tcpOptions: 12 });
    assert.deepEqual(sorted(cap), [
      '7 server 80 GET 502 1.1 n=3',
      '7 server 80 OPTIONS 204 1.0 n=1',
      '8 server 80 GET 503 1.1 n=3',
    ]);
    assert.equal(cap.readSelf().parseFailures, 0n);
  });
});

describe('durations', () => {
  test('a 60 ms wait lands in the bucket holding its duration, (50 ms, 75 ms] on a quiet machine', async () => {
    using cap = setup();
    req(cap, GET);
    await new Promise((r) => setTimeout(r, 60));
    res(cap, R(200));
    const [a] = cap.readAggregates();
    const d = a!.durationSumNs;
    assert.ok(d >= 59_000_000n, `${d}`); // timers may fire up to 1 ms early
    const expected = new Array(15).fill(0);
    const bucket = DEFAULT_BOUNDARIES_NS.findIndex((b) => d <= b);
    expected[bucket] = 1;
    assert.deepEqual(a!.bucketCounts, expected);
    assert.ok(bucket >= 4, 'never below (50, 75]');
  });

  test('boundaries set before load are the ones used: [1 ms, 1 s] gives three buckets', async () => {
    using cap = setup({ boundariesNs: [1_000_000n, 1_000_000_000n] });
    req(cap, GET);
    await new Promise((r) => setTimeout(r, 5));
    res(cap, R(200));
    assert.deepEqual(cap.readAggregates()[0]!.bucketCounts, [0, 1, 0]);
    assert.deepEqual(cap.read().boundariesNs, [1_000_000n, 1_000_000_000n]);
  });
});

describe('informational responses and upgrades', () => {
  test('100 Continue then 200: one request, status 200', () => {
    using cap = setup();
    req(cap, 'POST /upload HTTP/1.1\r\nExpect: 100-continue\r\n\r\n');
    res(cap, 'HTTP/1.1 100 Continue\r\n\r\n');
    res(cap, R(200));
    assert.deepEqual(sorted(cap), ['7 server 80 POST 200 1.1 n=1']);
    const s = cap.readSelf();
    assert.deepEqual([s.requests, s.responses, s.informational], [1n, 1n, 1n]);
  });

  test('101 completes the request and ends HTTP tracking on the connection', () => {
    using cap = setup();
    req(cap, 'GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n');
    res(cap, 'HTTP/1.1 101 Switching Protocols\r\n\r\n');
    req(cap, 'GET / HTTP/1.1 inside the upgraded stream');
    res(cap, R(200));
    assert.deepEqual(sorted(cap), ['7 server 80 GET 101 1.1 n=1']);
    const s = cap.readSelf();
    assert.deepEqual([s.requests, s.responses, s.upgrades, s.ignoredAfterUpgrade], [1n, 1n, 1n, 2n]);
  });
});

describe('what counts nothing', () => {
  test('a response with no request is counted as unmatched only', () => {
    using cap = setup();
    res(cap, R(200));
    assert.deepEqual(sorted(cap), []);
    const s = cap.readSelf();
    assert.deepEqual([s.requests, s.responses, s.unmatchedResponses], [0n, 1n, 1n]);
  });

  test('payloads shorter than a token', () => {
    using cap = setup();
    for (const p of ['G', 'GE', 'GET', 'POS', 'HTTP/1.1', 'HTTP/1.1 20']) req(cap, p);
    for (const p of ['HTTP', 'HTTP/1.1 ', 'HTTP/1.1 20']) res(cap, p);
    assert.deepEqual(sorted(cap), []);
    const s = cap.readSelf();
    assert.deepEqual([s.packets, s.requests, s.responses, s.parseFailures], [9n, 0n, 0n, 0n]);
  });

  test('a TLS ClientHello and random bytes', () => {
    using cap = setup();
    const hello = Buffer.from(`16030100c4010000c00303${'5a'.repeat(32)}000002c02f0100`, 'hex');
    req(cap, hello, { dport: 443 });
    let x = 12345;
    const random = Buffer.alloc(1400);
    for (let i = 0; i < random.length; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      random[i] = x >> 16;
    }
    req(cap, random);
    res(cap, random);
    res(cap, 'HTTP/2.0 200 OK\r\n\r\n');
    res(cap, 'HTTP/1.1 600 Nope\r\n\r\n');
    assert.deepEqual(sorted(cap), []);
    const s = cap.readSelf();
    assert.deepEqual([s.packets, s.requests, s.responses], [5n, 0n, 0n]);
  });

  test('a non-first IPv4 fragment', () => {
    using cap = setup();
    req(cap, GET, { fragmentOffset: 185 });
    res(cap, R(200));
    const s = cap.readSelf();
    assert.deepEqual([s.requests, s.unmatchedResponses], [0n, 1n]);
  });

  test('the same packets on the wrong interface', () => {
    using cap = setup({}, 2);
    req(cap, GET);
    res(cap, R(200));
    assert.deepEqual(sorted(cap), []);
    const s = cap.readSelf();
    assert.deepEqual([s.packets, s.requests, s.responses], [2n, 0n, 0n]);
  });

  test('an interface whose array slot another holds is found in the spill hash, and after promotion', () => {
    const cap = Capture.load({ interfaceSlots: 16 });
    try {
      cap.setTarget('198.18.0.50', 17, 5); // 17 & 15 = 1: takes interface 1's slot
      cap.setTarget(POD4, 1, 7); // spills
      req(cap, GET);
      res(cap, R(200));
      cap.deleteTarget('198.18.0.50'); // interface 1 moves into its slot
      req(cap, GET);
      res(cap, R(201));
      assert.deepEqual(sorted(cap), ['7 server 80 GET 200 1.1 n=1', '7 server 80 GET 201 1.1 n=1']);
    } finally {
      cap.close();
    }
  });

  test('a server port outside the port filter', () => {
    using cap = setup({ ports: [8080] });
    req(cap, GET, { dport: 80 });
    res(cap, R(200), { dport: 80 });
    req(cap, GET, { dport: 8080 });
    res(cap, R(200), { dport: 8080 });
    assert.deepEqual(sorted(cap), ['7 server 8080 GET 200 1.1 n=1']);
  });

  test('an unmonitored destination', () => {
    using cap = setup();
    testRun(cap.programFd, frame({ src: PEER4, dst: '198.18.0.99', sport: 1, dport: 80, payload: GET }));
    assert.equal(cap.readSelf().requests, 0n);
  });
});

describe('retransmissions', () => {
  test('a request or response start seen again with the same sequence number counts once', () => {
    using cap = setup();
    for (const o of [{ tcpOptions: 12 }, { tcpOptions: 12, ipOptions: 4 }]) {
      const sport = 'ipOptions' in o ? 40001 : 40000; // the fast path, then the slow one
      const [q, r] = [5000, 9000]; // where the two streams start
      const [ql, rl] = [GET.length, R(200).length];
      req(cap, GET, { ...o, sport, seq: q, ack: r });
      req(cap, GET, { ...o, sport, seq: q, ack: r });
      res(cap, R(200), { ...o, sport, seq: r, ack: q + ql });
      res(cap, R(200), { ...o, sport, seq: r, ack: q + ql });
      req(cap, GET, { ...o, sport, seq: q + ql, ack: r + rl });
      res(cap, R(404), { ...o, sport, seq: r + rl, ack: q + 2 * ql });
    }
    assert.deepEqual(sorted(cap), ['7 server 80 GET 200 1.1 n=2', '7 server 80 GET 404 1.1 n=2']);
    const s = cap.readSelf();
    assert.deepEqual([s.requests, s.responses, s.unmatchedResponses, s.retransmissions], [4n, 4n, 0n, 4n]);
    assert.deepEqual(cap.readInFlight(), []);
  });
});

describe('pipelining', () => {
  test('three pipelined requests then three responses are matched in order', () => {
    using cap = setup();
    req(cap, GET);
    req(cap, 'POST /b HTTP/1.1\r\n\r\n');
    req(cap, 'DELETE /c HTTP/1.1\r\n\r\n');
    assert.deepEqual(
      cap
        .readInFlight()
        .map((f) => `${f.method}=${f.count}`)
        .sort(),
      ['DELETE=1', 'GET=1', 'POST=1'],
    );
    res(cap, R(200));
    res(cap, R(404));
    res(cap, R(500));
    assert.deepEqual(sorted(cap), [
      '7 server 80 DELETE 500 1.1 n=1',
      '7 server 80 GET 200 1.1 n=1',
      '7 server 80 POST 404 1.1 n=1',
    ]);
    assert.deepEqual(cap.readInFlight(), []);
  });

  test('a ninth request in flight on one connection is not tracked (pipeline full); its response is unmatched', () => {
    using cap = setup();
    for (let i = 0; i < 9; i++) req(cap, i === 0 ? 'HEAD / HTTP/1.1\r\n\r\n' : GET);
    for (let i = 0; i < 9; i++) res(cap, R(200));
    assert.deepEqual(sorted(cap), ['7 server 80 GET 200 1.1 n=7', '7 server 80 HEAD 200 1.1 n=1']);
    const snap = cap.read();
    assert.deepEqual(
      [snap.self.requests, snap.self.responses, snap.self.pipelineFull, snap.self.unmatchedResponses],
      [8n, 9n, 1n, 1n],
    );
  });
});

describe('conns map pressure', () => {
  test('100 waiting connections in a 32-entry conns map: 68 are not tracked (connsFull), their responses unmatched', () => {
    using cap = setup({ maxConnections: 32 });
    for (let i = 0; i < 100; i++) req(cap, GET, { sport: 30000 + i });
    const before = cap.read();
    assert.equal(
      before.inFlight.reduce((n, f) => n + f.count, 0),
      32,
    );
    assert.deepEqual([before.self.requests, before.self.connsFull], [32n, 68n]);
    for (let i = 0; i < 100; i++) res(cap, R(200), { sport: 30000 + i });
    const after = cap.read();
    assert.deepEqual(sorted(cap), ['7 server 80 GET 200 1.1 n=32']);
    assert.deepEqual(after.inFlight, []);
  });
});

describe('connections that end', () => {
  const FIN = 0x11; // FIN, ACK
  const RST = 0x04;
  const SYN = 0x02;

  test('a reset, a server FIN and a new SYN on the same ports finish the requests waiting, with their error', () => {
    using cap = setup();
    req(cap, GET, { sport: 44001 });
    res(cap, '', { sport: 44001, flags: RST }); // the server resets
    req(cap, GET, { sport: 44002 });
    req(cap, GET, { sport: 44002 });
    res(cap, '', { sport: 44002, flags: FIN }); // the server closes: two will never be answered
    req(cap, 'POST /x HTTP/1.1\r\n\r\n', { sport: 44003 });
    req(cap, '', { sport: 44003, flags: SYN }); // the client's ports come back for a new connection
    req(cap, GET, { sport: 44003 });
    res(cap, R(200), { sport: 44003 });
    const snap = cap.read();
    assert.deepEqual(snap.aggregates.map((a) => `${summary(a)} ${a.error ?? '-'}`).sort(), [
      '7 server 80 GET 0 1.1 n=1 connection_reset',
      '7 server 80 GET 0 1.1 n=2 connection_closed',
      '7 server 80 GET 200 1.1 n=1 -',
      '7 server 80 POST 0 1.1 n=1 connection_closed',
    ]);
    assert.deepEqual(
      [snap.self.requests, snap.self.resets, snap.self.closed, snap.inFlight.length],
      [5n, 1n, 3n, 0],
    );
  });

  test('a client FIN after its request (half-close) keeps it waiting; the last response with the FIN counts', () => {
    using cap = setup();
    req(cap, GET, { sport: 44010 });
    req(cap, '', { sport: 44010, flags: FIN });
    res(cap, R(200), { sport: 44010, flags: FIN | 0x08 });
    assert.deepEqual(sorted(cap), ['7 server 80 GET 200 1.1 n=1']);
    const snap = cap.read();
    assert.deepEqual([snap.self.resets + snap.self.closed, snap.inFlight.length], [0n, 0]);
    assert.equal(snap.self.responses, 1n);
  });

  test('the client side: the peer server resets', () => {
    using cap = setup();
    testRun(cap.programFd, frame({ src: POD4, dst: PEER4, sport: 50001, dport: 9000, payload: GET }));
    testRun(
      cap.programFd,
      frame({ src: PEER4, dst: POD4, sport: 9000, dport: 50001, payload: '', flags: RST }),
    );
    assert.deepEqual([cap.read().self.resets, cap.readInFlight().length], [1n, 0]);
  });
});

describe('malformed input', () => {
  test('5,000 random frames (IPv4, IPv6, VLAN ethertypes, 14 to 300 bytes): every one run, none counted', () => {
    using cap = setup();
    let x = 987654321;
    const rnd = () => {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      return x >> 8;
    };
    const types = [0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806];
    for (let i = 0; i < 5000; i++) {
      const f = Buffer.alloc(14 + (rnd() % 287));
      for (let j = 0; j < f.length; j++) f[j] = rnd() & 0xff;
      f.writeUInt16BE(types[i % types.length]!, 12);
      if (f.length > 14 && i % 2 === 0) {
        // every other frame has a plausible IP version byte, so parsing goes past the first check
        const v4 = i % 4 === 0;
        f.writeUInt16BE(v4 ? 0x0800 : 0x86dd, 12);
        f[14] = v4 ? 0x45 : 0x60;
      }
      assert.equal(testRun(cap.programFd, f), 0);
    }
    const s = cap.readSelf();
    assert.deepEqual([s.packets, s.requests, s.responses], [5000n, 0n, 0n]);
    assert.ok(s.parseFailures > 0n, 'truncated and malformed headers are counted as parse failures');
    assert.deepEqual(sorted(cap), []);
  });
});
