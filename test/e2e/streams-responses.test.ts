// Response framing on real TCP streams (issue 16): a status line written one byte per segment,
// several responses in one write, bodies whose segments start with a status line, many chunks in
// one segment, bodies delimited by the close, a 304 with a length, an upgrade, 100 Continue and
// 103 Early Hints, and a status line that is not one. The servers are streams-server.ts in a pod
// behind a bridge (the other streams files use routed pods): a raw node:net server with
// TCP_NODELAY, and Node's http server. The kernel's counts must equal their access log, every self
// counter has its stated value, every finished request is in a series.
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import { type Pod, requireBpf, sleep, TestNetwork } from '@owlk8s/e2e/harness';
import { ATTACH_MODES } from '@owlk8s/ebpf';
import {
  assertBalanced,
  assertSelf,
  buckets,
  inFlight,
  RawClient,
  type ScriptedServers,
  series,
  startScriptedServers,
  tally,
  Wire,
  watch,
} from './streams.ts';

let net: TestNetwork;
let api: Pod;
let servers: ScriptedServers;

before(async () => {
  requireBpf('the streams end-to-end tests');
  net = await TestNetwork.create();
  api = await net.addBridgedPod('api'); // a bridge port, as docker's bridge and flannel's cni0 make
  servers = await startScriptedServers(api);
});
after(async () => {
  await net?.close();
});
beforeEach(() => servers.clear());

const RAW = 8081;
const HTTP = 8082;
const MS = 1_000_000n;

function get(path: string, method = 'GET'): string {
  return `${method} ${path} HTTP/1.1\r\nhost: api\r\n\r\n`;
}

for (const attach of ATTACH_MODES) {
  describe(`attached as ${attach === 'tc' ? 'a TC program' : 'a socket filter'}`, () => {
    test('a status line written one byte per segment: each response once, its duration to the last byte', async () => {
      // status line bytes written 10 ms apart: every response takes >= 160 ms, well inside (100 ms, 2 s]
      using cap = await watch([api], { attach, boundariesNs: [100n * MS, 2000n * MS] });
      const wire = await Wire.watch(api);
      const c = await RawClient.connect(api.ipv4, RAW);
      const statuses = [200, 404, 201, 500, 204];
      let segments = 0;
      for (const [i, status] of [...statuses, ...statuses].entries()) {
        const chunked = i >= statuses.length ? '&chunked=1' : '';
        c.expect('GET');
        await c.write(get(`/r?bytewise=1&pause_ms=10&status=${status}${chunked}`));
        assert.equal((await c.responses(1))[0]!.status, status);
        const line = `HTTP/1.1 ${status} ${{ 200: 'OK', 201: 'Created', 204: 'No Content' }[status] ?? 'Status'}\r\n`;
        segments += line.length + 1;
      }
      assert.equal(segments, 2 * (17 + 21 + 22 + 21 + 25) + 10);
      assert.equal(await wire.sent(c), 10);
      assert.equal(await wire.answered(c), segments, 'the server wrote one segment per write');
      await c.end();
      const retransmissions = await wire.retransmitted();
      const s = cap.read();
      assert.deepEqual(tally(await servers.accessLog('raw', 10)), {
        'GET 200': 2,
        'GET 404': 2,
        'GET 201': 2,
        'GET 500': 2,
        'GET 204': 2,
      });
      assert.deepEqual(series(s), [
        'server 8081 GET 200 n=2',
        'server 8081 GET 201 n=2',
        'server 8081 GET 204 n=2',
        'server 8081 GET 404 n=2',
        'server 8081 GET 500 n=2',
      ]);
      for (const b of Object.values(buckets(s))) assert.deepEqual(b, [0, 2, 0]);
      assertSelf(s.self, { requests: 10n, responses: 10n, retransmissions });
      assertBalanced(s);
      assert.deepEqual(inFlight(s), []);
    });

    test('two and four responses in one write (chunked, HEAD with a length, 204): each counted once', async () => {
      using cap = await watch([api], { attach });
      const wire = await Wire.watch(api);
      const c = await RawClient.connect(api.ipv4, RAW);
      const ROUNDS = 10;
      for (let r = 0; r < ROUNDS; r++) {
        // each request its own segment; the server answers them all in one write
        c.expect('GET', 'HEAD', 'GET', 'GET');
        await c.writeParts([
          get('/r?status=201&chunked=1&hold=1'),
          get('/r?status=200&hold=1', 'HEAD'),
          get('/r?status=204&hold=1'),
          get('/r?status=404'),
        ]);
        assert.deepEqual(
          (await c.responses(4)).map((x) => x.status),
          [201, 200, 204, 404],
        );
        c.expect('GET', 'GET');
        await c.writeParts([get('/r?status=200&hold=1'), get('/r?status=500&chunked=1')]);
        assert.deepEqual(
          (await c.responses(2)).map((x) => x.status),
          [200, 500],
        );
      }
      assert.equal(await wire.sent(c), 6 * ROUNDS);
      assert.equal(await wire.answered(c), 2 * ROUNDS, 'one segment per flush');
      await c.end();
      const retransmissions = await wire.retransmitted();
      const s = cap.read();
      const expected = {
        'GET 201': 10,
        'HEAD 200': 10,
        'GET 204': 10,
        'GET 404': 10,
        'GET 200': 10,
        'GET 500': 10,
      };
      assert.deepEqual(tally(await servers.accessLog('raw', 60)), expected);
      assert.deepEqual(series(s), [
        'server 8081 GET 200 n=10',
        'server 8081 GET 201 n=10',
        'server 8081 GET 204 n=10',
        'server 8081 GET 404 n=10',
        'server 8081 GET 500 n=10',
        'server 8081 HEAD 200 n=10',
      ]);
      assertSelf(s.self, { requests: 60n, responses: 60n, retransmissions });
      assertBalanced(s);
      assert.deepEqual(inFlight(s), []);
    });

    test('response bodies whose segments each start with a status line: one response each', async () => {
      using cap = await watch([api], { attach });
      const wire = await Wire.watch(api);
      const c = await RawClient.connect(api.ipv4, RAW);
      for (let r = 0; r < 5; r++) {
        c.expect('GET');
        await c.write(get('/r?bodylines=4&pause_ms=3&status=200'));
        assert.equal((await c.responses(1))[0]!.status, 200);
      }
      assert.equal(await wire.sent(c), 5);
      assert.equal(await wire.answered(c), 5 * 5);
      await c.end();
      const retransmissions = await wire.retransmitted();
      const s = cap.read();
      assert.deepEqual(tally(await servers.accessLog('raw', 5)), { 'GET 200': 5 });
      assert.deepEqual(series(s), ['server 8081 GET 200 n=5']);
      assertSelf(s.self, { requests: 5n, responses: 5n, retransmissions });
      assertBalanced(s);
    });

    test('chunked responses of 40 chunks in one segment (Node http with its socket corked; raw, coalesced with two more responses): each counted once', async () => {
      using cap = await watch([api], { attach });
      const wire = await Wire.watch(api);
      const node = await RawClient.connect(api.ipv4, HTTP);
      for (let i = 0; i < 3; i++) {
        node.expect('GET');
        await node.write(get('/stream?chunks=40'));
        assert.equal((await node.responses(1))[0]!.status, 200);
      }
      assert.equal(await wire.sent(node), 3);
      assert.equal(await wire.answered(node), 3, 'one segment per response');
      await node.end();
      const raw = await RawClient.connect(api.ipv4, RAW);
      for (let i = 0; i < 3; i++) {
        raw.expect('GET', 'GET', 'GET');
        await raw.write(
          get('/r?chunked=1&chunks=40&status=201&hold=1') +
            get('/r?status=404&hold=1') +
            get('/r?status=500'),
        );
        assert.deepEqual(
          (await raw.responses(3)).map((x) => x.status),
          [201, 404, 500],
        );
      }
      assert.equal(await wire.sent(raw), 3);
      assert.equal(await wire.answered(raw), 3, 'three responses per segment');
      await raw.end();
      const retransmissions = await wire.retransmitted();
      const s = cap.read();
      assert.deepEqual(tally(await servers.accessLog('http', 3)), { 'GET 200': 3 });
      assert.deepEqual(tally(await servers.accessLog('raw', 9)), {
        'GET 201': 3,
        'GET 404': 3,
        'GET 500': 3,
      });
      assert.deepEqual(series(s), [
        'server 8081 GET 201 n=3',
        'server 8081 GET 404 n=3',
        'server 8081 GET 500 n=3',
        'server 8082 GET 200 n=3',
      ]);
      assertSelf(s.self, { requests: 12n, responses: 12n, retransmissions });
      assertBalanced(s);
      assert.deepEqual(inFlight(s), []);
    });

    test('a body delimited by the close (duration to the FIN), a 304 with a Content-Length and no body, an upgrade with HTTP-looking bytes after it', async () => {
      // the close-delimited bodies take 5 x 50 ms: bucket (200 ms, 1 s]
      using cap = await watch([api], { attach, boundariesNs: [20n * MS, 200n * MS, 1000n * MS] });
      const wire = await Wire.watch(api);
      for (let i = 0; i < 3; i++) {
        const c = await RawClient.connect(api.ipv4, RAW);
        c.expect('GET');
        await c.write(get('/r?closebody=5&pause_ms=50'));
        assert.equal((await c.responses(1))[0]!.status, 200);
      }
      const c = await RawClient.connect(api.ipv4, RAW);
      for (let i = 0; i < 3; i++) {
        c.expect('GET', 'GET');
        await c.write(get('/r?status=304&hold=1') + get('/r?status=200'));
        assert.deepEqual(
          (await c.responses(2)).map((x) => x.status),
          [304, 200],
        );
      }
      assert.equal(await wire.answered(c), 3, 'the 304 and the 200 in one segment');
      assert.equal(await wire.sent(c), 3);
      await c.end();
      // 101, then 6 writes that look like HTTP, each echoed: 12 segments after the upgrade
      const up = await RawClient.connect(api.ipv4, HTTP);
      up.expect('GET');
      await up.write('GET /upgrade HTTP/1.1\r\nhost: api\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n');
      assert.equal((await up.responses(1))[0]!.status, 101);
      up.socket.removeAllListeners('data');
      let echoed = 0;
      up.socket.on('data', (d: Buffer) => {
        echoed += d.length;
      });
      const tunnel = ['GET / HTTP/1.1\r\nhost: api\r\n\r\n', 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'];
      for (let i = 0; i < 3; i++) {
        for (const t of tunnel) {
          const want = echoed + t.length;
          await up.write(t);
          while (echoed < want) await sleep(5);
        }
      }
      assert.equal(await wire.sent(up), 7);
      assert.equal(await wire.answered(up), 7);
      up.socket.destroy();
      await sleep(50);
      const retransmissions = await wire.retransmitted();
      const s = cap.read();
      assert.deepEqual(tally(await servers.accessLog('raw', 9)), { 'GET 200': 6, 'GET 304': 3 });
      assert.deepEqual(tally(await servers.accessLog('http', 1)), { 'GET 101': 1 });
      assert.deepEqual(series(s), [
        'server 8081 GET 200 n=6',
        'server 8081 GET 304 n=3',
        'server 8082 GET 101 n=1',
      ]);
      assert.deepEqual(buckets(s)['server 8081 GET 200'], [3, 0, 3, 0]);
      assertSelf(s.self, {
        requests: 10n,
        responses: 10n,
        upgrades: 1n,
        ignoredAfterUpgrade: 12n,
        retransmissions,
      });
      assertBalanced(s);
      assert.deepEqual(inFlight(s), []);
    });

    /** One request with Node's http client on a keep-alive agent; resolves with status and 1xx codes. */
    function nodeRequest(
      agent: Agent,
      path: string,
      opts: { method?: string; body?: string; expectContinue?: boolean } = {},
    ): Promise<{ status: number; informational: number[] }> {
      return new Promise((resolve, reject) => {
        const informational: number[] = [];
        const headers: Record<string, string> = {};
        if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body));
        if (opts.expectContinue) headers.expect = '100-continue';
        const req = httpRequest({
          host: api.ipv4,
          port: HTTP,
          path,
          method: opts.method ?? 'GET',
          agent,
          headers,
        });
        req.on('information', (i) => informational.push(i.statusCode));
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, informational }));
        });
        req.on('error', reject);
        // with Expect: 100-continue the body goes out only after the server's 100 (the 'continue' event)
        if (opts.expectContinue) req.on('continue', () => req.end(opts.body));
        else req.end(opts.body);
      });
    }

    test('100 Continue (Node http server) and 103 Early Hints (Node, and raw in the segment of the final response): final responses only', async () => {
      using cap = await watch([api], { attach });
      const wire = await Wire.watch(api);
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        for (let i = 0; i < 5; i++) {
          const r = await nodeRequest(agent, '/status/201', {
            method: 'POST',
            body: 'x'.repeat(100),
            expectContinue: true,
          });
          assert.deepEqual(r, { status: 201, informational: [100] });
        }
        for (let i = 0; i < 5; i++) {
          assert.deepEqual(await nodeRequest(agent, '/hints'), { status: 200, informational: [103] });
        }
      } finally {
        agent.destroy();
      }
      const c = await RawClient.connect(api.ipv4, RAW);
      for (let i = 0; i < 5; i++) {
        c.expect('GET');
        await c.write(get('/r?early=1&status=200'));
        assert.deepEqual(await c.responses(1), [{ status: 200, informational: [103] }]);
      }
      assert.equal(await wire.sent(c), 5);
      assert.equal(await wire.answered(c), 5, '103 and 200 in one segment');
      await c.end();
      const retransmissions = await wire.retransmitted();
      const s = cap.read();
      assert.deepEqual(tally(await servers.accessLog('http', 10)), { 'POST 201': 5, 'GET 200': 5 });
      assert.equal(servers.entries().filter((e) => e.continued === true).length, 5);
      assert.deepEqual(tally(await servers.accessLog('raw', 5)), { 'GET 200': 5 });
      assert.deepEqual(series(s), [
        'server 8081 GET 200 n=5',
        'server 8082 GET 200 n=5',
        'server 8082 POST 201 n=5',
      ]);
      assertSelf(s.self, { requests: 15n, responses: 15n, informational: 15n, retransmissions });
      assertBalanced(s);
      assert.deepEqual(inFlight(s), []);
    });

    test('`HTTP/1.1 2000` is not a status line: no response counted; the request ends when the server closes', async () => {
      using cap = await watch([api], { attach });
      const wire = await Wire.watch(api);
      const c = await RawClient.connect(api.ipv4, RAW);
      c.expect('GET');
      await c.write(get('/r?line=HTTP/1.1%202000%20OK'));
      await c.closed();
      assert.match(String(c.protocolError), /not a status line: "HTTP\/1\.1 2000 OK"/);
      const retransmissions = await wire.retransmitted();
      const s = cap.read();
      assert.deepEqual(await servers.accessLog('raw', 1), ['GET line']);
      assert.deepEqual(series(s), ['server 8081 GET 0 connection_closed n=1']);
      assertSelf(s.self, { requests: 1n, notHttp: 1n, closed: 1n, retransmissions });
      assertBalanced(s);
      assert.deepEqual(inFlight(s), []);
    });
  });
}
