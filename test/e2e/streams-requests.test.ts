// Request framing on real TCP streams (issue 16), against nginx: pipelined requests in one segment,
// request lines split at every byte, bodies that look like requests, `_OTHER` methods and leading
// CRLFs. A raw-socket client controls every write (Nagle off, one write per segment, checked with
// the socket's tcp_info); the kernel's counts per method and status must equal nginx's own access
// log, every self counter has its stated value (retransmissions: what TCP resent on the wire), and
// every finished request is in a series.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type NginxServer, type Pod, requireBpf, sleep, startNginx, TestNetwork } from '@owlk8s/e2e/harness';
import { ATTACH_MODES, type Capture } from '@owlk8s/ebpf';
import {
  assertBalanced,
  assertSelf,
  inFlight,
  RawClient,
  runClient,
  series,
  seriesTally,
  tally,
  Wire,
  watch,
} from './streams.ts';

let net: TestNetwork;
let web: Pod;
let cli: Pod; // a pod that calls web
let nginx: NginxServer; // port 80, TCP_NODELAY (nginx's default)
let nagle: NginxServer; // port 81, tcp_nodelay off: responses held for an ACK go out coalesced

before(async () => {
  requireBpf('the streams end-to-end tests');
  net = await TestNetwork.create();
  web = await net.addRoutedPod('web');
  cli = await net.addRoutedPod('cli');
  nginx = await startNginx(web, 80, { accessLog: true });
  nagle = await startNginx(web, 81, { accessLog: true, tcpNodelay: false });
});
after(async () => {
  await net?.close();
});

/** A request with a Host header and, when a body is given or the method sends one, its Content-Length. */
function request(method: string, path: string, body?: string): string {
  const length =
    body !== undefined || method === 'POST' || method === 'PUT'
      ? `content-length: ${(body ?? '').length}\r\n`
      : '';
  return `${method} ${path} HTTP/1.1\r\nhost: web\r\n${length}\r\n${body ?? ''}`;
}

/** The access log lines nginx wrote while fn ran (nginx logs once a request is finished). */
async function logged(server: NginxServer, fn: () => Promise<void>): Promise<string[]> {
  const before = server.accessLog().length;
  await fn();
  return server.accessLog().slice(before);
}

/** Methods outside the nine are `_OTHER` in the kernel's figures. */
const NINE = new Set(['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE']);
const asKernel = (line: string) => {
  const [method = '', status = ''] = line.split(' ');
  return `${NINE.has(method) ? method : '_OTHER'} ${status}`;
};

async function connect(family: 4 | 6 = 4, port = 80): Promise<RawClient> {
  return RawClient.connect(family === 4 ? web.ipv4 : web.ipv6!, port);
}

/** The capture's figures, read after the wire's retransmissions (the kernel has counted them by then). */
async function counts(cap: Capture, wire: Wire) {
  const retransmissions = await wire.retransmitted();
  const s = cap.read();
  return { s, series: seriesTally(s), retransmissions };
}

// Each round's requests rotate through this list; nginx answers each path with its status.
const MIX: readonly (readonly [string, string])[] = [
  ['GET', '/status/200'],
  ['HEAD', '/status/200'],
  ['GET', '/status/404'],
  ['POST', '/status/201'],
  ['GET', '/status/204'],
  ['DELETE', '/status/500'],
  ['GET', '/status/301'],
  ['PUT', '/status/503'],
];

for (const attach of ATTACH_MODES) {
  describe(`attached as ${attach === 'tc' ? 'a TC program' : 'a socket filter'}`, () => {
    test('pipelined requests in one write (depth 2, 4, 8; IPv4 and IPv6), answered one segment each and coalesced: each counted once, as nginx logged', async (t) => {
      using cap = await watch([web], { attach });
      const wire = await Wire.watch(web);
      const ROUNDS = 20;
      const plan: { family: 4 | 6; depth: number }[] = [
        { family: 4, depth: 2 },
        { family: 4, depth: 4 },
        { family: 4, depth: 8 },
        { family: 6, depth: 8 },
      ];
      const expected: string[] = [];
      for (const server of [nginx, nagle]) {
        const log = await logged(server, async () => {
          for (const { family, depth } of plan) {
            const c = await connect(family, server.port);
            for (let r = 0; r < ROUNDS; r++) {
              const reqs = Array.from({ length: depth }, (_, j) => MIX[(r + j) % MIX.length]!);
              c.expect(...reqs.map(([m]) => m));
              const body = (m: string, j: number) => (m === 'POST' || m === 'PUT' ? `body${j}` : undefined);
              await c.write(reqs.map(([m, p], j) => request(m, p, body(m, j))).join(''));
              const statuses = reqs.map(([, p]) => Number(p.slice('/status/'.length)));
              assert.deepEqual(
                (await c.responses(depth)).map((x) => x.status),
                statuses,
              );
              expected.push(...reqs.map(([m], j) => `${m} ${statuses[j]}`));
            }
            // one write per round, one segment per write
            assert.equal(await wire.sent(c), ROUNDS, `segments sent at depth ${depth}`);
            const answered = await wire.answered(c);
            t.diagnostic(
              `port ${server.port} depth ${depth}: ${ROUNDS * depth} responses in ${answered} segments`,
            );
            // Nagle holds the responses after the first of a round until its ACK: they go out together
            if (server === nagle && depth >= 4) assert.ok(answered < ROUNDS * depth, `${answered} segments`);
            await c.end();
          }
        });
        assert.deepEqual(tally(log), tally(expected.splice(0)));
      }
      const { s, retransmissions } = await counts(cap, wire);
      const perPort = {
        'GET 200': 54,
        'HEAD 200': 56,
        'GET 404': 57,
        'POST 201': 58,
        'GET 204': 56,
        'DELETE 500': 54,
        'GET 301': 53,
        'PUT 503': 52,
      };
      assert.deepEqual(
        series(s),
        [80, 81]
          .flatMap((port) => Object.entries(perPort).map(([k, n]) => `server ${port} ${k} n=${n}`))
          .sort(),
      );
      assertSelf(s.self, { requests: 880n, responses: 880n, retransmissions });
      assertBalanced(s);
      assert.deepEqual(inFlight(s), []);
    });

    test('deeper than the kernel pipeline (12 requests in one write): 8 counted, 4 refused as pipeline_full and their responses unmatched, later rounds exact', async () => {
      using cap = await watch([web], { attach });
      const wire = await Wire.watch(web);
      const log = await logged(nginx, async () => {
        const c = await connect();
        for (let r = 0; r < 5; r++) {
          c.expect(...Array<string>(12).fill('GET'));
          await c.write(
            Array.from({ length: 12 }, (_, j) => request('GET', j < 8 ? '/status/200' : '/status/404')).join(
              '',
            ),
          );
          assert.equal((await c.responses(12)).length, 12);
          // a round within the pipeline after each overflow: matched in order, nothing shifted
          c.expect('GET', 'GET');
          await c.write(request('GET', '/status/500') + request('GET', '/status/201'));
          assert.deepEqual(
            (await c.responses(2)).map((x) => x.status),
            [500, 201],
          );
        }
        assert.equal(await wire.sent(c), 10);
        await c.end();
      });
      const { s, series, retransmissions } = await counts(cap, wire);
      assert.deepEqual(tally(log), { 'GET 200': 40, 'GET 404': 20, 'GET 500': 5, 'GET 201': 5 });
      assert.deepEqual(series, { 'GET 200': 40, 'GET 500': 5, 'GET 201': 5 });
      assertSelf(s.self, {
        requests: 50n,
        responses: 70n,
        unmatchedResponses: 20n,
        pipelineFull: 20n,
        retransmissions,
      });
      assertBalanced(s);
      assert.deepEqual(inFlight(s), []);
    });

    test('request lines split at every byte position, and written one byte per segment: each counted once', async () => {
      using cap = await watch([web], { attach });
      const wire = await Wire.watch(web);
      const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];
      const expected: Record<string, number> = {};
      const log = await logged(nginx, async () => {
        for (const m of METHODS) {
          const c = await connect();
          const whole = request(
            m,
            '/status/200',
            m === 'GET' || m === 'HEAD' || m === 'OPTIONS' ? undefined : 'xyz',
          );
          const lineLength = whole.indexOf('\r\n') + 2;
          let writes = 0;
          // split after byte p of the request line, p = 1 … its length (the last: right after its CRLF)
          for (let p = 1; p <= lineLength; p++) {
            c.expect(m);
            await c.writeParts([whole.slice(0, p), whole.slice(p)]);
            writes += 2;
            assert.equal((await c.responses(1))[0]!.status, 200);
          }
          // the whole request line one byte per segment, then the rest
          c.expect(m);
          await c.writeParts([...whole.slice(0, lineLength), whole.slice(lineLength)]);
          writes += lineLength + 1;
          assert.equal((await c.responses(1))[0]!.status, 200);
          assert.equal(await wire.sent(c), writes, `segments sent for ${m}`);
          expected[`${m} 200`] = lineLength + 1;
          await c.end();
        }
      });
      const { s, series, retransmissions } = await counts(cap, wire);
      assert.deepEqual(tally(log), expected);
      assert.deepEqual(series, expected);
      assert.deepEqual(expected, {
        'GET 200': 27,
        'HEAD 200': 28,
        'POST 200': 28,
        'PUT 200': 27,
        'DELETE 200': 30,
        'PATCH 200': 29,
        'OPTIONS 200': 31,
      });
      assertSelf(s.self, { requests: 200n, responses: 200n, retransmissions });
      assertBalanced(s);
      assert.deepEqual(inFlight(s), []);
    });

    // A body that begins each segment with what looks like a request line or an access-log line.
    const REQUEST_LIKE = 'GET /x HTTP/1.1\r\nhost: y\r\n\r\n';
    const LOG_LIKE = 'GET /x HTTP/1.1" 200 512 "-" "curl/8.14.1"\n';

    /** A POST to /status/201 whose body is `parts` (Content-Length), one segment each after the head. */
    function lengthBody(parts: readonly string[]): string[] {
      const length = parts.reduce((n, p) => n + p.length, 0);
      return [`POST /status/201 HTTP/1.1\r\nhost: web\r\ncontent-length: ${length}\r\n\r\n`, ...parts];
    }

    /**
     * The same body chunked: a segment per chunk, each starting at its size line, or (split) with the
     * size line in a segment of its own, so the next segment starts with the chunk's data.
     */
    function chunkedBody(parts: readonly string[], split: boolean): string[] {
      const out = ['POST /status/201 HTTP/1.1\r\nhost: web\r\ntransfer-encoding: chunked\r\n\r\n'];
      for (const p of parts) {
        const size = `${p.length.toString(16)}\r\n`;
        if (split) out.push(size, `${p}\r\n`);
        else out.push(`${size}${p}\r\n`);
      }
      out.push('0\r\n\r\n');
      return out;
    }

    test('POST bodies that start segments with request lines or access-log lines: each POST once, no phantom GET', async () => {
      using cap = await watch([web], { attach });
      const wire = await Wire.watch(web);
      const ROUNDS = 5;
      const shapes: { name: string; segments: string[] }[] = [
        { name: 'content-length, request lines', segments: lengthBody(Array(4).fill(REQUEST_LIKE)) },
        { name: 'content-length, log lines', segments: lengthBody(Array(4).fill(LOG_LIKE)) },
        { name: 'chunked, request lines', segments: chunkedBody(Array(3).fill(REQUEST_LIKE), true) },
        { name: 'chunked, log lines', segments: chunkedBody(Array(3).fill(LOG_LIKE), false) },
        // a chunk whose data holds what looks like the last chunk and a request
        { name: 'chunked, fake end', segments: chunkedBody([`0\r\n\r\n${REQUEST_LIKE}`, LOG_LIKE], true) },
      ];
      const log = await logged(nginx, async () => {
        const c = await connect();
        let writes = 0;
        for (let r = 0; r < ROUNDS; r++) {
          for (const { name, segments } of shapes) {
            c.expect('POST');
            await c.writeParts(segments);
            writes += segments.length;
            assert.equal((await c.responses(1))[0]!.status, 201, name);
          }
          // the body's last segment also carries the next request: framing resumes mid-segment
          const [head, ...body] = lengthBody([LOG_LIKE, REQUEST_LIKE]);
          c.expect('POST', 'GET');
          await c.writeParts([head!, body[0]!, body[1]! + request('GET', '/status/404')]);
          writes += 3;
          assert.deepEqual(
            (await c.responses(2)).map((x) => x.status),
            [201, 404],
          );
        }
        assert.equal(await wire.sent(c), writes);
        await c.end();
      });
      const { s, series, retransmissions } = await counts(cap, wire);
      assert.deepEqual(tally(log), { 'POST 201': 30, 'GET 404': 5 });
      assert.deepEqual(series, { 'POST 201': 30, 'GET 404': 5 });
      assertSelf(s.self, { requests: 35n, responses: 35n, retransmissions });
      assertBalanced(s);
      assert.deepEqual(inFlight(s), []);
    });

    test('a chunked POST body of 40 chunks in one segment, the next request in the same segment: each counted once', async () => {
      using cap = await watch([web], { attach });
      const wire = await Wire.watch(web);
      const body = `${Array.from({ length: 40 }, (_, i) => `1\r\n${i % 10}\r\n`).join('')}0\r\n\r\n`;
      const post = `POST /status/201 HTTP/1.1\r\nhost: web\r\ntransfer-encoding: chunked\r\n\r\n${body}`;
      const log = await logged(nginx, async () => {
        const c = await connect();
        for (let r = 0; r < 3; r++) {
          c.expect('POST', 'GET');
          await c.write(post + request('GET', '/status/404'));
          assert.deepEqual(
            (await c.responses(2)).map((x) => x.status),
            [201, 404],
          );
        }
        assert.equal(await wire.sent(c), 3);
        await c.end();
      });
      const { s, series, retransmissions } = await counts(cap, wire);
      assert.deepEqual(tally(log), { 'POST 201': 3, 'GET 404': 3 });
      assert.deepEqual(series, { 'POST 201': 3, 'GET 404': 3 });
      assertSelf(s.self, { requests: 6n, responses: 6n, retransmissions });
      assertBalanced(s);
    });

    test('a monitored pod calling a monitored pod: pipelined and split requests counted once on each side, as nginx logged', async () => {
      using cap = await watch([cli, web], { attach }); // target 1: cli, the client side; target 2: web, the server side
      const wires = [await Wire.watch(cli), await Wire.watch(web)];
      const rounds: { writes: string[]; methods: string[]; statuses: number[] }[] = [];
      for (let r = 0; r < 10; r++) {
        const reqs = Array.from({ length: 8 }, (_, j) => MIX[(r + j) % MIX.length]!);
        const body = (m: string) => (m === 'POST' || m === 'PUT' ? 'body' : undefined);
        rounds.push({
          writes: [reqs.map(([m, p]) => request(m, p, body(m))).join('')],
          methods: reqs.map(([m]) => m),
          statuses: reqs.map(([, p]) => Number(p.slice('/status/'.length))),
        });
      }
      const split = request('GET', '/status/404');
      const lineLength = split.indexOf('\r\n') + 2;
      for (let p = 1; p <= lineLength; p++) {
        rounds.push({ writes: [split.slice(0, p), split.slice(p)], methods: ['GET'], statuses: [404] });
      }
      const log = await logged(nginx, async () => {
        const out = await runClient(cli, { host: web.ipv4, port: 80, rounds });
        assert.deepEqual(
          out.statuses,
          rounds.map((r) => r.statuses),
        );
        assert.equal(out.sent, 10 + 2 * lineLength);
      });
      const retransmitted = (await wires[0]!.retransmitted()) + (await wires[1]!.retransmitted());
      const s = cap.read();
      const expected = {
        'GET 200': 10,
        'HEAD 200': 10,
        'GET 404': 10 + lineLength,
        'POST 201': 10,
        'GET 204': 10,
        'DELETE 500': 10,
        'GET 301': 10,
        'PUT 503': 10,
      };
      assert.deepEqual(tally(log), expected);
      assert.deepEqual(
        series(s),
        ['client', 'server']
          .flatMap((role) => Object.entries(expected).map(([k, n]) => `${role} 80 ${k} n=${n}`))
          .sort(),
      );
      // each segment is seen twice, on the client's interface and on the server's
      assertSelf(s.self, { requests: 2n * 106n, responses: 2n * 106n, retransmissions: 2n * retransmitted });
      assertBalanced(s);
      assert.deepEqual(inFlight(s), []);
    });

    test('methods outside the nine are _OTHER; leading CRLFs before a request line are skipped', async () => {
      using cap = await watch([web], { attach });
      const wire = await Wire.watch(web);
      const log = await logged(nginx, async () => {
        const c = await connect();
        for (const m of ['PROPFIND', 'PURGE', 'MKCOL', 'QUERY']) {
          c.expect(m);
          await c.write(request(m, '/'));
          assert.equal((await c.responses(1))[0]!.status, 200, m);
        }
        // a CRLF in the same segment as the request line, and one in a segment of its own
        c.expect('GET');
        await c.write(`\r\n${request('GET', '/status/404')}`);
        c.expect('GET');
        await sleep(3);
        await c.writeParts(['\r\n', request('GET', '/status/404')]);
        await sleep(3);
        // the CRLF some clients send after a POST body, then the next request in the same write
        c.expect('POST', 'GET');
        await c.write(`${request('POST', '/status/201', 'abc')}\r\n${request('GET', '/status/200')}`);
        assert.deepEqual(
          (await c.responses(4)).map((x) => x.status),
          [404, 404, 201, 200],
        );
        assert.equal(await wire.sent(c), 8);
        await c.end();
      });
      const { s, series, retransmissions } = await counts(cap, wire);
      assert.deepEqual(tally(log), {
        'PROPFIND 200': 1,
        'PURGE 200': 1,
        'MKCOL 200': 1,
        'QUERY 200': 1,
        'GET 404': 2,
        'POST 201': 1,
        'GET 200': 1,
      });
      assert.deepEqual(series, tally(log.map(asKernel)));
      assert.deepEqual(series, { '_OTHER 200': 4, 'GET 404': 2, 'POST 201': 1, 'GET 200': 1 });
      assertSelf(s.self, { requests: 8n, responses: 8n, retransmissions });
      assertBalanced(s);
    });
  });
}
