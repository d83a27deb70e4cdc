// Servers and clients nobody here wrote: Debian's lighttpd, Apache (event MPM) and haproxy, and
// Python's http.server, driven from another pod by h2load and wrk (pipelining: h2load's -m, and a
// Lua script for wrk, as its own examples do), ApacheBench and curl. The kernel's counts per method
// and status, on the server's pod (through haproxy, on both sides of the proxy too), must equal the
// server's own access log. Two things are allowed for, by name: wrk ends a run with requests in
// flight, which end as connection_reset or connection_closed and whose answers a server may log
// without sending them; and a pipelining connection whose answers reach the interface out of order
// may be given up (README, Limitations), which the counters must then say.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { must, type Pod, requireBpf, requireTool, sleep, TestNetwork } from '@owlk8s/e2e/harness';
import { ATTACH_MODES, type Capture, type Snapshot } from '@owlk8s/ebpf';
import { assertBalanced, assertSelf, tally, watch } from './streams.ts';
import { type Logged, type ServerKind, startServer } from './third-party-servers.ts';

let net: TestNetwork;
let web: Pod;
let cli: Pod;
let proxy: Pod;

before(async () => {
  requireBpf('the third-party servers test');
  requireTool('/usr/bin/ab', 'apache2-utils');
  requireTool('/usr/bin/wrk', 'wrk');
  requireTool('/usr/bin/h2load', 'nghttp2-client');
  net = await TestNetwork.create();
  web = await net.addRoutedPod('web');
  cli = await net.addRoutedPod('cli');
  proxy = await net.addBridgedPod('proxy');
  writeFileSync(BODY, Buffer.alloc(200_000, 'b'));
  writeFileSync(WRK_PIPELINE, pipelineScript(8, ['/small', '/nope', '/mid']));
});
after(async () => {
  await net?.close();
  rmSync(BODY, { force: true });
  rmSync(WRK_PIPELINE, { force: true });
});

const PORT = 8090;
/** A request body for POSTs and uploads (200,000 bytes: several segments). */
const BODY = `/tmp/owlk8s-third-party-body-${process.pid}`;
const NINE = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
const ERRORS = new Set(['connection_reset', 'connection_closed']);

/** wrk's Lua script that writes 8 requests in one write (pipelineScript). */
const WRK_PIPELINE = `/tmp/owlk8s-wrk-pipeline-${process.pid}.lua`;

/** A wrk Lua script that writes `depth` requests in one write, cycling through the paths. */
function pipelineScript(depth: number, paths: readonly string[]): string {
  const list = paths.map((p) => `"${p}"`).join(', ');
  return `local paths = {${list}}
init = function(args)
  local r = {}
  for i = 1, ${depth} do r[i] = wrk.format(nil, paths[((i - 1) % #paths) + 1]) end
  req = table.concat(r)
end
request = function() return req end
`;
}

/** Runs a shell command in the client pod; throws on a non-zero exit. */
function client(cmd: string): Promise<string> {
  return must(['ip', 'netns', 'exec', cli.netns, 'sh', '-c', cmd], { timeoutMs: 60_000 });
}

/** `METHOD STATUS` as the kernel names it (methods outside the nine are _OTHER). */
const key = (method: string, status: number) => `${NINE.has(method) ? method : '_OTHER'} ${status}`;

interface Side {
  /** The series' requests that got a final response, as `METHOD STATUS` counts. */
  readonly answered: Record<string, number>;
  /** Requests ended without one, by error type. */
  readonly unanswered: Record<string, number>;
}

/** One target's series in one role, split into answered and unanswered. */
function side(s: Snapshot, targetId: number, role: 'server' | 'client'): Side {
  const answered: Record<string, number> = {};
  const unanswered: Record<string, number> = {};
  for (const a of s.aggregates) {
    if (a.targetId !== targetId || a.role !== role) continue;
    if (a.error === undefined)
      answered[key(a.method, a.statusCode)] = (answered[key(a.method, a.statusCode)] ?? 0) + a.count;
    else unanswered[a.error] = (unanswered[a.error] ?? 0) + a.count;
  }
  return { answered, unanswered };
}

const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

/**
 * Asserts a side against a server's log, method and status alike. A log line is not proof that
 * its response reached the wire: a server logs what it wrote to its socket, and a client's reset
 * throws away what was not yet sent (Apache and lighttpd log such a response with the bytes they
 * wrote, often 0). So the log may have more than the kernel saw answered, by at most the requests
 * the kernel saw end unanswered (as a reset or a close), of which there are at most
 * `inFlightAtEnd`: 0 for a client that waits for every answer, which makes the two equal.
 *
 * On a pipelining connection a gap that is not inside a body gives the connection up (README,
 * Limitations): its waiting requests go to responses_lost and its later segments to
 * ignored_after_gap, and the log has those requests too. A drive that pipelines may end so; then
 * the counters must say it, and every answer the kernel did count must still be in the log.
 */
function assertLogged(got: Side, log: readonly Logged[], s: Snapshot, drive: Ending, what: string): void {
  const logged = tally(log.map((l) => key(l.method, l.status)));
  const unanswered = total(got.unanswered);
  const surplus = total(logged) - total(got.answered);
  const seen = Object.fromEntries(
    Object.keys(got.answered).map((k) => [k, Math.min(got.answered[k]!, logged[k] ?? 0)]),
  );
  assert.deepEqual(
    got.answered,
    seen,
    `${what}: answered requests not in the access log (${JSON.stringify(logged)})`,
  );
  assert.ok(
    unanswered <= drive.inFlightAtEnd,
    `${what}: ${unanswered} unanswered, at most ${drive.inFlightAtEnd}`,
  );
  assert.ok(
    Object.keys(got.unanswered).every((e) => ERRORS.has(e)),
    `${what}: ${JSON.stringify(got.unanswered)}`,
  );
  if (givenUp(s, drive)) {
    // what the log has beyond the kernel's answered and unanswered: the requests the gap cost,
    // those waiting at it (responses_lost) and those on the segments after it (ignored_after_gap)
    const { responsesLost, ignoredAfterGap } = s.self;
    const lost = surplus - unanswered;
    assert.ok(
      lost >= Number(responsesLost) && (lost === Number(responsesLost) || ignoredAfterGap > 0n),
      `${what}: given up at a gap, ${lost} logged and not counted, responses_lost ${responsesLost}, ignored_after_gap ${ignoredAfterGap}`,
    );
    return;
  }
  if (drive.inFlightAtEnd === 0)
    assert.deepEqual(got.answered, logged, `${what}: answered requests against the access log`);
  assert.ok(
    surplus <= unanswered,
    `${what}: the log has ${surplus} more than the kernel saw answered, ${unanswered} unanswered`,
  );
}

/** Whether the kernel gave a connection up at a gap in this pipelining drive (stream_gaps moved). */
function givenUp(s: Snapshot, drive: Ending): boolean {
  return drive.pipelined && s.self.streamGaps > 0n;
}

/**
 * Asserts the capture's self counters: requests and responses as the sides say, resets and closes
 * as their series, `informational` and `unmatchedResponses` as given (for a client that stops with
 * requests in flight, unmatched responses up to the requests that ended unanswered may be added:
 * answers that crossed the client's reset), every other counter 0 but
 * three that count what the wire did, not what the kernel lost: retransmissions (TCP's resends, and
 * segments that reached the interface after a later one, as a server's sends from two CPUs do),
 * reordered (response holes filled by their late bytes, the answers after them matched in order)
 * and contended (segments of a direction another CPU was parsing: harmless on a body, and a message
 * start lost that way is a stream gap). A pipelining drive given up at a gap has its gap counters
 * as they are, checked by assertLogged.
 */
function assertCounters(
  s: Snapshot,
  sides: readonly Side[],
  drive: Ending,
  extra: { informational?: number; unmatchedResponses?: number } = {},
): void {
  const answered = sides.reduce((n, x) => n + total(x.answered), 0);
  const by = (e: string) => sides.reduce((n, x) => n + (x.unanswered[e] ?? 0), 0);
  // a connection given up after a segment held past a hole: while it was held, the client's next
  // pipelined requests may have found the 8 tracked ones still waiting (pipeline_full)
  const gap = givenUp(s, drive)
    ? {
        streamGaps: s.self.streamGaps,
        responsesLost: s.self.responsesLost,
        ignoredAfterGap: s.self.ignoredAfterGap,
        pipelineFull: s.self.pipelineFull,
      }
    : {};
  const lost = Number(gap.responsesLost ?? 0n);
  // a client that stops with requests in flight (wrk) resets connections whose answers may be on
  // their way: an answer that reaches the interface after the reset answers no request any more
  const ended = by('connection_reset') + by('connection_closed');
  const crossed =
    drive.inFlightAtEnd > 0 ? Number(s.self.unmatchedResponses) - (extra.unmatchedResponses ?? 0) : 0;
  assert.ok(
    crossed >= 0 && crossed <= ended,
    `${crossed} answers after their connection ended, ${ended} ended`,
  );
  const unmatched = (extra.unmatchedResponses ?? 0) + crossed;
  assertSelf(s.self, {
    requests: BigInt(answered + ended + lost),
    responses: BigInt(answered + unmatched),
    unmatchedResponses: BigInt(unmatched),
    informational: BigInt(extra.informational ?? 0),
    resets: BigInt(by('connection_reset')),
    closed: BigInt(by('connection_closed')),
    retransmissions: s.self.retransmissions,
    reordered: s.self.reordered,
    contended: s.self.contended,
    ...gap,
  });
  assert.deepEqual(s.inFlight, []);
  if (lost === 0) assertBalanced(s);
}

/**
 * Reads the capture once the wire is quiet: no packet for 200 ms and nothing in flight. A server may
 * still be sending (a 300,000-byte answer, the client's RSTs) after the client has exited, and a
 * snapshot read under traffic can have a response counted in one part and not yet in another.
 */
async function settled(cap: Capture): Promise<Snapshot> {
  let last = cap.read();
  for (let i = 0; i < 50; i++) {
    await sleep(200);
    const s = cap.read();
    if (s.self.packets === last.self.packets && s.inFlight.length === 0) return s;
    last = s;
  }
  throw new Error(
    `the capture did not settle in 10 s: ${last.self.packets} packets, ${last.inFlight.length} in flight`,
  );
}

/** How a client's requests may end: how many may be left in flight, and whether it pipelines. */
interface Ending {
  readonly inFlightAtEnd: number;
  /** The client writes requests before the answers to earlier ones (HTTP/1.1 pipelining). */
  readonly pipelined: boolean;
}

/** What a server is driven with (a shell command in the client pod, given the server's URL). */
interface Drive extends Ending {
  readonly name: string;
  readonly cmd: (base: string) => string;
}

const DRIVES: readonly Drive[] = [
  {
    // h2load's -m is HTTP/1.1's pipelining depth: it writes the requests together and waits for every answer
    name: 'h2load, 8 requests pipelined on each of 4 connections',
    cmd: (base) => `h2load --h1 -n 24000 -c 4 -m 8 ${base}/small ${base}/nope ${base}/mid`,
    inFlightAtEnd: 0,
    pipelined: true,
  },
  {
    name: 'h2load, 2 requests pipelined on each of 16 connections',
    cmd: (base) => `h2load --h1 -n 4000 -c 16 -m 2 ${base}/big ${base}/small`,
    inFlightAtEnd: 0,
    pipelined: true,
  },
  {
    // wrk stops at its deadline with each connection's last write unanswered
    name: 'wrk, 8 requests in one write on each of 4 connections',
    cmd: (base) => `wrk -t1 -c4 -d2s -s ${WRK_PIPELINE} ${base}`,
    inFlightAtEnd: 4 * 8,
    pipelined: true,
  },
  {
    name: 'ApacheBench: keep-alive GETs and HEADs, a connection per request, POST bodies',
    cmd: (base) =>
      `ab -q -k -n 2000 -c 8 ${base}/small && ab -q -k -i -n 300 -c 3 ${base}/big && ab -q -n 300 -c 3 ${base}/nope && ab -q -k -n 300 -c 3 -p ${BODY} ${base}/small`,
    inFlightAtEnd: 0,
    pipelined: false,
  },
  {
    name: 'curl: 100-continue, a chunked upload, PUT, DELETE, OPTIONS, a range',
    cmd: (base) =>
      `for i in 1 2 3; do curl -s -o /dev/null -H 'Expect: 100-continue' --data-binary @${BODY} ${base}/small --next -H 'Transfer-Encoding: chunked' --data-binary @${BODY} ${base}/mid --next -X PUT -d x ${base}/nope --next -X DELETE ${base}/small --next -X OPTIONS ${base}/ --next -r 0-99 ${base}/big; done`,
    inFlightAtEnd: 0,
    pipelined: false,
  },
];

/** Clients that wait for each answer, to the end (the tests of Python's server and of haproxy)... */
const WAITING: Ending = { inFlightAtEnd: 0, pipelined: false };
/** ...and Apache closing each of 200 connections after a 400, with 3 pipelined requests unread... */
const WAITING_OR_CLOSED: Ending = { inFlightAtEnd: 600, pipelined: true };
/** ...and wrk's 16 connections through haproxy, each ending with at most one request in flight. */
const WRK: Ending = { inFlightAtEnd: 16, pipelined: false };

/** Apache answers curl's Expect: 100-continue with a 100 (3 requests); lighttpd goes straight to the answer. */
const CONTINUES: Partial<Record<ServerKind, number>> = { apache2: 3 };

/**
 * Runs `cmd` in the client pod against haproxy in the proxy pod, which passes it on to lighttpd in
 * the web pod; the capture watches both pods (web target 1, proxy 2). Returns the snapshot,
 * lighttpd's log, and the three sides: lighttpd's, haproxy's to lighttpd, the client's to haproxy.
 */
async function throughHaproxy(attach: (typeof ATTACH_MODES)[number], cmd: string) {
  await using backend = await startServer(web, 'lighttpd', PORT);
  await using front = await startServer(proxy, 'haproxy', PORT, `${web.ipv4}:${PORT}`);
  using cap = await watch([web, proxy], { attach });
  await client(cmd);
  const s = await settled(cap);
  await front.stop();
  const log = await backend.stop();
  return {
    s,
    log,
    lighttpd: side(s, 1, 'server'),
    outbound: side(s, 2, 'client'),
    inbound: side(s, 2, 'server'),
  };
}

for (const attach of ATTACH_MODES) {
  describe(`attached as ${attach === 'tc' ? 'a TC program' : 'a socket filter'}`, () => {
    for (const kind of ['lighttpd', 'apache2'] as const) {
      for (const drive of DRIVES) {
        test(`${kind}, ${drive.name}: the counts are its access log's`, async (t) => {
          await using server = await startServer(web, kind, PORT);
          using cap = await watch([web], { attach });
          await client(drive.cmd(`http://${web.ipv4}:${PORT}`));
          const s = await settled(cap);
          const log = await server.stop();
          const got = side(s, 1, 'server');
          if (givenUp(s, drive))
            t.diagnostic(
              `given up at a gap: ${total(got.answered)} of ${log.length} counted, stream_gaps ${s.self.streamGaps}, responses_lost ${s.self.responsesLost}, ignored_after_gap ${s.self.ignoredAfterGap}, contended ${s.self.contended}, pipeline_full ${s.self.pipelineFull}`,
            );
          if (s.self.reordered > 0n)
            t.diagnostic(
              `reordered ${s.self.reordered}: answers overtaken, matched when their late bytes came`,
            );
          assertLogged(got, log, s, drive, kind);
          const continues = drive.name.startsWith('curl') ? (CONTINUES[kind] ?? 0) : 0;
          assertCounters(s, [got], drive, { informational: continues });
        });
      }
    }

    test("apache2 over IPv6: ApacheBench exact; h2load's requests, whose Host Apache refuses, 400 and the pipeline behind each closed unanswered", async () => {
      // h2load 1.52 writes an IPv6 address's Host without brackets (`Host: 2001:2::a:8090`): Apache
      // answers the first request of each connection 400 and closes it, with the 3 requests h2load
      // pipelined behind it unread. h2load then opens a new connection for the next 4.
      await using server = await startServer(web, 'apache2', PORT);
      using cap = await watch([web], { attach });
      const base = web.url(PORT, '', 6);
      await client(`ab -q -k -n 1000 -c 4 ${base}/mid && ab -q -n 200 -c 2 ${base}/nope`);
      await client(`h2load --h1 -n 800 -c 4 -m 4 ${base}/small`);
      const s = await settled(cap);
      const log = await server.stop();
      const got = side(s, 1, 'server');
      assertLogged(got, log, s, WAITING_OR_CLOSED, 'apache2 over IPv6');
      assert.deepEqual(got, {
        answered: { 'GET 200': 1000, 'GET 404': 200, 'GET 400': 200 },
        unanswered: { connection_closed: 600 },
      });
      assertCounters(s, [got], WAITING_OR_CLOSED);
    });

    test("Python's http.server (HTTP/1.0, a connection per response): the counts are its log's", async () => {
      await using server = await startServer(web, 'python', PORT);
      using cap = await watch([web], { attach });
      const base = `http://${web.ipv4}:${PORT}`;
      await client(
        `ab -q -k -n 300 -c 3 ${base}/small && ab -q -n 200 -c 2 ${base}/nope && curl -s -o /dev/null ${base}/big ${base}/mid --next -I ${base}/small --next -X POST -d x ${base}/small`,
      );
      const s = await settled(cap);
      const log = await server.stop();
      assert.deepEqual(tally(log.map((l) => key(l.method, l.status))), {
        'GET 200': 302,
        'GET 404': 200,
        'HEAD 200': 1,
        'POST 501': 1,
      });
      const got = side(s, 1, 'server');
      assertLogged(got, log, s, WAITING, 'python');
      assertCounters(s, [got], WAITING);
    });

    test('haproxy reusing its connections to lighttpd: both sides of the proxy count what lighttpd logged', async () => {
      const { s, log, lighttpd, outbound, inbound } = await throughHaproxy(
        attach,
        `ab -q -k -n 3000 -c 8 http://${proxy.ipv4}:${PORT}/small`,
      );
      assert.deepEqual(lighttpd, { answered: { 'GET 200': 3000 }, unanswered: {} });
      assertLogged(lighttpd, log, s, WAITING, 'lighttpd behind haproxy');
      assert.deepEqual(outbound, lighttpd, "haproxy's requests to lighttpd");
      assert.deepEqual(inbound, lighttpd, "ab's requests to haproxy");
      assertCounters(s, [lighttpd, outbound, inbound], WAITING);
    });

    test('haproxy under wrk: its empty first connection is answered 400, an unmatched response', async () => {
      // wrk opens a connection and closes it before it starts (it checks the address); haproxy
      // answers the empty request 400 Bad request on it, and logs <BADREQ>: no request was on the
      // wire, so the kernel counts an unmatched response, not a request.
      const { s, log, lighttpd, outbound, inbound } = await throughHaproxy(
        attach,
        `wrk -t1 -c16 -d2s http://${proxy.ipv4}:${PORT}/mid`,
      );
      // wrk's 16 connections each end with at most one request in flight: haproxy may have passed
      // it on, and lighttpd answered and logged it, with no one left to deliver the answer to
      assertLogged(lighttpd, log, s, WRK, 'lighttpd behind haproxy');
      assert.deepEqual(outbound, lighttpd, "haproxy's requests to lighttpd");
      const cut = total(lighttpd.answered) - total(inbound.answered);
      for (const [k, n] of Object.entries(inbound.answered)) assert.ok(n <= (lighttpd.answered[k] ?? 0), k);
      assert.ok(
        cut >= 0 && cut <= total(inbound.unanswered) && total(inbound.unanswered) <= WRK.inFlightAtEnd,
        JSON.stringify(inbound),
      );
      assertCounters(s, [lighttpd, outbound, inbound], WRK, { unmatchedResponses: 1 });
    });
  });
}
