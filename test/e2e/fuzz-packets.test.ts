// A seeded, reproducible fuzz run of the capture program through BPF_PROG_TEST_RUN: 100,000+
// frames of random bytes, mutated valid HTTP requests and responses, truncated payloads and
// frames, lying length fields, long IPv6 extension-header chains and VLAN stacks. Each kind goes
// to its own target (its own target id), so the oracle is exact per kind: what the parsing rules
// (packages/ebpf/README.md) say is a request and its response is counted, nothing else is. The
// self counters must add up. Set FUZZ_SEED to replay another seed; a failure prints the seed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requireBpf, TestNetwork } from '@owlk8s/e2e/harness';
import { Capture } from '@owlk8s/ebpf';
import { frame, testRun } from '@owlk8s/ebpf/testing';

const SEED = Number(process.env.FUZZ_SEED ?? 20261125);
const ROUNDS = Number(process.env.FUZZ_ROUNDS ?? 100_000);

/** mulberry32: small, fast, and the same sequence on every machine. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    float: next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
    bytes: (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256))),
  };
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'];
const KINDS = [
  'random', // random bytes, random ethertypes (IPv4, IPv6, VLAN, ARP, other)
  'garbage', // well-formed TCP to the target, payload that starts with no method token
  'valid', // valid pairs whose bytes past the first 16 are mutated: all counted
  'broken', // valid pairs with the method token or the status line broken: none counted
  'truncated', // request payload cut inside its method token, or the frame cut inside its headers
  'lying', // IPv4 total length, IPv6 payload length or TCP data offset that lie
  'ipv6ext', // 0 to 10 extension headers: counted up to six
  'vlan', // 0 to 4 tags: counted up to two
] as const;
type Kind = (typeof KINDS)[number];

const POD = (k: number, v6: boolean) => (v6 ? `2001:2::${(0x10 + k).toString(16)}` : `198.18.0.${10 + k}`);
const PEER = (i: number, v6: boolean) =>
  v6 ? `2001:2::1:${(i % 250).toString(16)}` : `198.18.1.${1 + (i % 250)}`;

test(`fuzz: ${ROUNDS} rounds of crafted and random frames through the program (seed ${SEED})`, async (t) => {
  requireBpf();
  // Four host interfaces for the program to be run "on" (two kinds each: at most four target IPs
  // share an interface); the test run needs interfaces that exist.
  await using net = await TestNetwork.create();
  const ifindexes: number[] = [];
  for (let n = 0; n < 4; n++) ifindexes.push(await (await net.addRoutedPod(`if-${n}`)).hostIfIndex());
  const IFINDEX = (k: number) => ifindexes[k >> 1]!;
  const r = prng(SEED);
  using cap = Capture.load({ maxConnections: 65536, maxAggregates: 65536 });
  for (const [k] of KINDS.entries()) {
    // Each kind on an interface of its own (at most four target IPs share one).
    cap.setTarget(POD(k, false), IFINDEX(k), 100 + k);
    cap.setTarget(POD(k, true), IFINDEX(k), 100 + k);
  }
  const expected = new Map<number, Map<string, number>>(); // target id → "METHOD status 1.minor" → count
  const atMost = new Map<number, number>(); // for kinds whose outcome is allowed to vary: an upper bound
  const sentPairs = new Map<Kind, number>();
  let runs = 0;
  let ifindex = 1;
  const transient: string[] = [];
  const run = (f: Buffer) => {
    try {
      testRun(cap.programFd, f, ifindex);
    } catch (e) {
      // A rare EINVAL from BPF_PROG_TEST_RUN that the same frame does not repeat (see the report
      // in docs/reliability.md); the retry must succeed, and the program ran once either way.
      transient.push(`${runs}: ${(e as Error).message}`);
      try {
        testRun(cap.programFd, f, ifindex);
      } catch (again) {
        throw new Error(`seed ${SEED}, frame ${runs} on ${ifindex}: ${f.toString('hex')}`, { cause: again });
      }
    }
    runs++;
  };
  const expect = (kind: Kind, key: string) => {
    const id = 100 + KINDS.indexOf(kind);
    const m = expected.get(id) ?? new Map<string, number>();
    m.set(key, (m.get(key) ?? 0) + 1);
    expected.set(id, m);
  };
  const t0 = Date.now();

  for (let i = 0; i < ROUNDS; i++) {
    const kind = KINDS[i % KINDS.length]!;
    const k = KINDS.indexOf(kind);
    ifindex = IFINDEX(k);
    const v6 =
      kind === 'ipv6ext'
        ? true
        : kind === 'vlan' || kind === 'valid' || kind === 'broken'
          ? r.int(2) === 1
          : r.int(2) === 1;
    const conn = { sport: 1024 + (Math.floor(i / 250) % 60000), dport: 80 };
    const pod = POD(k, v6);
    const peer = PEER(i, v6);
    const method = r.pick(METHODS);
    const minor = r.int(2);
    const status = 200 + r.int(400);
    const request = Buffer.from(
      `${method} /p/${i} HTTP/1.${minor}\r\nHost: pod\r\nX-Pad: ${'a'.repeat(r.int(40))}\r\n\r\n`,
      'latin1',
    );
    const response = Buffer.from(
      `HTTP/1.${minor} ${status} Some reason\r\nContent-Length: 0\r\n\r\n`,
      'latin1',
    );
    const pair = (
      req: Buffer,
      res: Buffer,
      extra: Parameters<typeof frame>[0] extends infer F ? Partial<F> : never = {},
    ) => {
      run(frame({ src: peer, dst: pod, ...conn, payload: req, ...extra }));
      run(frame({ src: pod, dst: peer, sport: conn.dport, dport: conn.sport, payload: res, ...extra }));
      sentPairs.set(kind, (sentPairs.get(kind) ?? 0) + 1);
    };

    switch (kind) {
      case 'random': {
        const f = r.bytes(r.int(400));
        if (f.length >= 14)
          f.writeUInt16BE(r.pick([0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806, r.int(65536)]), 12);
        run(f);
        break;
      }
      case 'garbage': {
        const payload = r.bytes(1 + r.int(200));
        if (payload[0]! >= 0x41 && payload[0]! <= 0x5a) payload[0] = 0x61; // no token starts lower-case
        pair(payload, r.bytes(1 + r.int(60)).fill(0x30, 0, 1)); // a response starting "0": no "HTTP/"
        break;
      }
      case 'valid': {
        // Mutations past the 16 bytes the program reads, and in the TCP options: still counted.
        for (let m = 0; m < 1 + r.int(4); m++) {
          if (request.length > 16) request[16 + r.int(request.length - 16)] = r.int(256);
          if (response.length > 16) response[16 + r.int(response.length - 16)] = r.int(256);
        }
        pair(request, response, { tcpOptions: 4 * r.int(4), ...(v6 ? {} : { ipOptions: 4 * r.int(3) }) });
        expect(kind, `${method} ${status} 1.${minor}`);
        break;
      }
      case 'broken': {
        const which = r.int(4);
        if (which === 0) {
          const at = r.int(method.length);
          request[at] = request[at]! + 0x20; // a lower-case letter in the token
        } else if (which === 1)
          request[method.length] = r.pick([0x09, 0x2f, 0x00, 0x5f]); // no space after it
        else if (which === 2)
          response[r.int(5)] = r.pick([0x68, 0x20, 0x58]); // "HTTP/" broken
        else response.write(r.pick(['099', '600', '9x9', '1 2']), 9, 'latin1'); // a code out of 100–599
        pair(request, response);
        break;
      }
      case 'truncated': {
        if (r.int(2) === 0) {
          pair(request.subarray(0, r.int(method.length + 1)), response); // shorter than "TOKEN "
        } else {
          const f = frame({ src: peer, dst: pod, ...conn, payload: request });
          run(f.subarray(0, r.int(14 + (v6 ? 40 : 20) + 20))); // cut inside Ethernet, IP or TCP
          run(
            frame({ src: pod, dst: peer, sport: conn.dport, dport: conn.sport, payload: response }).subarray(
              0,
              20 + r.int(40),
            ),
          );
        }
        break;
      }
      case 'lying': {
        const f = frame({ src: peer, dst: pod, ...conn, payload: request });
        const ipEnd = 14 + (v6 ? 40 : 20);
        const lie = r.int(3);
        if (lie === 0 && !v6) f.writeUInt16BE(r.int(65536), 16);
        else if (lie === 0 && v6) f.writeUInt16BE(r.int(65536), 18);
        else if (lie === 1) f[ipEnd + 12] = (r.int(16) << 4) | (f[ipEnd + 12]! & 0x0f);
        else if (!v6)
          f[14] = 0x40 | r.int(16); // IHL
        else f[20] = r.int(256); // next header
        run(f);
        run(frame({ src: pod, dst: peer, sport: conn.dport, dport: conn.sport, payload: response }));
        sentPairs.set(kind, (sentPairs.get(kind) ?? 0) + 1);
        atMost.set(100 + k, (atMost.get(100 + k) ?? 0) + 1);
        break;
      }
      case 'ipv6ext': {
        const n = r.int(11);
        const chain = Array.from({ length: n }, (_, j) => (j === 0 && r.int(2) === 0 ? 0 : r.pick([60, 43])));
        pair(request, response, { ipv6Ext: chain });
        if (n <= 6) expect(kind, `${method} ${status} 1.${minor}`);
        break;
      }
      case 'vlan': {
        const tags = r.int(5);
        pair(request, response, { vlanTags: tags });
        if (tags <= 2) expect(kind, `${method} ${status} 1.${minor}`);
        break;
      }
    }
  }
  const ms = Date.now() - t0;
  const snap = cap.read();
  const counted = new Map<number, Map<string, number>>();
  for (const a of snap.aggregates) {
    assert.equal(a.role, 'server', `seed ${SEED}: only server-side traffic was sent`);
    assert.equal(a.port, 80);
    const m = counted.get(a.targetId) ?? new Map<string, number>();
    const key = `${a.method} ${a.statusCode} 1.${a.httpMinor}`;
    m.set(key, (m.get(key) ?? 0) + Number(a.count));
    counted.set(a.targetId, m);
  }
  const total = (m: Map<string, number> | undefined) => [...(m?.values() ?? [])].reduce((x, y) => x + y, 0);
  for (const [k, kind] of KINDS.entries()) {
    const id = 100 + k;
    if (kind === 'lying') {
      assert.ok(
        total(counted.get(id)) <= (atMost.get(id) ?? 0),
        `seed ${SEED}: lying lengths counted at most once per pair`,
      );
      continue;
    }
    const got = counted.get(id) ?? new Map<string, number>();
    const want = expected.get(id) ?? new Map<string, number>();
    const diff = [...new Set([...got.keys(), ...want.keys()])]
      .filter((key) => got.get(key) !== want.get(key))
      .map((key) => `${key}: counted ${got.get(key) ?? 0}, expected ${want.get(key) ?? 0}`);
    if (diff.length > 0) t.diagnostic(`${kind}: ${diff.length} differences: ${diff.slice(0, 12).join('; ')}`);
    assert.deepEqual(
      [...(counted.get(id) ?? new Map<string, number>())].sort(),
      [...(expected.get(id) ?? new Map<string, number>())].sort(),
      `seed ${SEED}: ${kind}`,
    );
  }
  assert.deepEqual(
    [...counted.keys()].filter((id) => id < 100 || id >= 100 + KINDS.length),
    [],
    'no other target counted',
  );
  // The self counters add up: every run seen; every finished request (a final response matched,
  // or ended without one) is one count, or lost to a full aggregates map.
  const self = snap.self;
  assert.equal(self.packets, BigInt(runs), 'packets');
  const countedAll = BigInt(snap.aggregates.reduce((n, a) => n + a.count, 0));
  assert.equal(
    self.responses - self.unmatchedResponses + self.timeouts + self.resets + self.closed,
    countedAll + self.aggregatesFull,
    'matched responses + requests ended unanswered = counts',
  );
  const waiting = BigInt(snap.inFlight.reduce((n, f) => n + f.count, 0));
  assert.equal(
    self.requests,
    countedAll + self.aggregatesFull + self.responsesLost + waiting,
    'every request is finished (answered, timed out, reset, closed), lost with its response, or waiting',
  );
  t.diagnostic(`test runs refused once, then run: ${transient.length} ${transient.slice(0, 5).join('; ')}`);
  assert.ok(transient.length * 1000 <= runs, `${transient.length} of ${runs} test runs refused once`);
  t.diagnostic(
    `seed ${SEED}: ${runs} frames in ${ms} ms; counted ${countedAll} (valid ${total(counted.get(102))}, ipv6ext ${total(counted.get(106))}, vlan ${total(counted.get(107))}, lying ${total(counted.get(105))} of ${atMost.get(105)}); requests ${self.requests}, responses ${self.responses}, unmatched ${self.unmatchedResponses}, parse failures ${self.parseFailures}, waiting ${waiting}, timeouts ${self.timeouts}, resets ${self.resets}, closed ${self.closed}`,
  );
  assert.ok(runs >= ROUNDS);
});
