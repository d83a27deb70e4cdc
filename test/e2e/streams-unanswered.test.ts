// Requests that never get a final response (issue 16): a server that does not answer within the
// request timeout, a server that resets or closes the connection, a client that gives up. Each is
// a finished request with status 0 and its error (timeout, connection_reset, connection_closed),
// counted once, in the bucket of the time it waited, and never in flight afterwards. The server is
// streams-server.ts in a pod; its access log says what it did with each request.
import assert from 'node:assert/strict';
import { get as httpGet } from 'node:http';
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
  api = await net.addRoutedPod('api');
  servers = await startScriptedServers(api);
});
after(async () => {
  await net?.close();
});
beforeEach(() => servers.clear());

const RAW = 8081;
const MS = 1_000_000n;
// Buckets (0, 20 ms], (20, 200 ms], (200 ms, 1 s], (1 s, +Inf); requests time out after 1.5 s.
// The servers' and clients' delays are 50 ms (bucket 1) and 400 ms (bucket 2): only a machine
// that stalls 150 ms (600 ms) at the wrong moment moves a count.
const OPTIONS = { boundariesNs: [20n * MS, 200n * MS, 1000n * MS], requestTimeoutMs: 1500 };

function get(path: string, method = 'GET'): string {
  return `${method} ${path} HTTP/1.1\r\nhost: api\r\n${method === 'POST' ? 'content-length: 0\r\n' : ''}\r\n`;
}

for (const attach of ATTACH_MODES) {
  describe(`attached as ${attach === 'tc' ? 'a TC program' : 'a socket filter'}`, () => {
    test('a server that does not answer: in flight until the timeout, then one timeout (a client FIN does not end it, a later RST does not count it again)', async () => {
      using cap = await watch([api], { ...OPTIONS, attach });
      const wire = await Wire.watch(api);
      const c = await RawClient.connect(api.ipv4, RAW);
      const sent = Date.now();
      await c.write(get('/r?never=1'));
      await servers.waitFor(1);
      c.socket.end(); // the client's FIN: a half-close, the server may still answer
      await servers.waitFor(1, (e) => e.event === 'client-fin');
      await sleep(100);
      let retransmissions = await wire.retransmitted();
      let s = cap.read();
      assert.deepEqual(series(s), []);
      assert.deepEqual(inFlight(s), ['server 8081 GET n=1']);
      assertSelf(s.self, { requests: 1n, retransmissions });
      assertBalanced(s);

      await sleep(sent + 1800 - Date.now());
      retransmissions = await wire.retransmitted();
      s = cap.read();
      assert.deepEqual(series(s), ['server 8081 GET 0 timeout n=1']);
      assert.deepEqual(buckets(s), { 'server 8081 GET 0 timeout': [0, 0, 0, 1] });
      const waited = s.aggregates[0]!.durationSumNs;
      assert.ok(waited >= 1500n * MS && waited < BigInt(Date.now() - sent + 5) * MS, `waited ${waited} ns`);
      assert.deepEqual(inFlight(s), []);
      assertSelf(s.self, { requests: 1n, timeouts: 1n, retransmissions });
      assertBalanced(s);

      c.socket.resetAndDestroy();
      await sleep(50);
      retransmissions = await wire.retransmitted();
      s = cap.read();
      assert.deepEqual(series(s), ['server 8081 GET 0 timeout n=1']);
      assertSelf(s.self, { requests: 1n, timeouts: 1n, retransmissions });
      assertBalanced(s);
      assert.deepEqual(await servers.accessLog('raw', 1), ['GET never']);
    });

    test('a server that resets: every request waiting on the connection ends as connection_reset, once', async () => {
      using cap = await watch([api], { ...OPTIONS, attach });
      const wire = await Wire.watch(api);
      const one = await RawClient.connect(api.ipv4, RAW);
      await one.write(get('/r?sleep_ms=50&reset=1'));
      // three pipelined requests in one write; the server resets on the first
      const three = await RawClient.connect(api.ipv4, RAW);
      await three.write(get('/r?sleep_ms=50&reset=1') + get('/r', 'POST') + get('/r'));
      await Promise.all([one.closed(), three.closed()]);
      await servers.waitFor(4);
      await sleep(50);
      const retransmissions = await wire.retransmitted();
      const s = cap.read();
      assert.deepEqual(tally(await servers.accessLog('raw', 4)), {
        'GET reset': 2,
        'POST dropped': 1,
        'GET dropped': 1,
      });
      assert.deepEqual(series(s), [
        'server 8081 GET 0 connection_reset n=3',
        'server 8081 POST 0 connection_reset n=1',
      ]);
      assert.deepEqual(buckets(s), {
        'server 8081 GET 0 connection_reset': [0, 3, 0, 0],
        'server 8081 POST 0 connection_reset': [0, 1, 0, 0],
      });
      assertSelf(s.self, { requests: 4n, resets: 4n, retransmissions });
      assertBalanced(s);
      assert.deepEqual(inFlight(s), []);
    });

    test('a server that closes without answering: connection_closed, also behind an answered request', async () => {
      using cap = await watch([api], { ...OPTIONS, attach });
      const wire = await Wire.watch(api);
      const one = await RawClient.connect(api.ipv4, RAW);
      await one.write(get('/r?sleep_ms=50&close=1'));
      const two = await RawClient.connect(api.ipv4, RAW);
      two.expect('GET');
      await two.write(get('/r?status=200') + get('/r?sleep_ms=50&close=1'));
      assert.equal((await two.responses(1))[0]!.status, 200);
      await Promise.all([one.closed(), two.closed()]);
      await sleep(50);
      const retransmissions = await wire.retransmitted();
      const s = cap.read();
      assert.deepEqual(tally(await servers.accessLog('raw', 3)), { 'GET close': 2, 'GET 200': 1 });
      assert.deepEqual(series(s), ['server 8081 GET 0 connection_closed n=2', 'server 8081 GET 200 n=1']);
      assert.deepEqual(buckets(s)['server 8081 GET 0 connection_closed'], [0, 2, 0, 0]);
      assertSelf(s.self, { requests: 3n, responses: 1n, closed: 2n, retransmissions });
      assertBalanced(s);
      assert.deepEqual(inFlight(s), []);
    });

    /**
     * Node's http client giving up ms after its request went out: it destroys its socket (a FIN, since
     * nothing is left unread). Resolves with what the client saw.
     */
    function giveUp(path: string, ms: number): Promise<string> {
      return new Promise((resolve) => {
        const req = httpGet({ host: api.ipv4, port: RAW, path, agent: false });
        req.on('finish', () => setTimeout(() => req.destroy(new Error('gave up')), ms));
        req.on('response', () => resolve('answered'));
        req.on('error', (e) => resolve(e.message));
      });
    }

    test('a client that gives up: its FIN ends nothing (the server closing does, or the server answers), its RST ends the request', async () => {
      using cap = await watch([api], { ...OPTIONS, attach });
      const wire = await Wire.watch(api);
      // a server that closes when the client's FIN comes (as nginx does, logging 499)
      assert.equal(await giveUp('/r?hang=1', 50), 'gave up');
      // a server that answers anyway, 400 ms in: the response is on the wire, counted as the server logged it
      assert.equal(await giveUp('/r?sleep_ms=400&status=200', 50), 'gave up');
      // a client that resets its connection
      const c = await RawClient.connect(api.ipv4, RAW);
      await c.write(get('/r?hang=1'));
      await sleep(50);
      c.socket.resetAndDestroy();
      await servers.waitFor(2, (e) => e.event === 'client-fin');
      await servers.waitFor(1, (e) => e.status === 200);
      await sleep(100);
      const retransmissions = await wire.retransmitted();
      const s = cap.read();
      assert.deepEqual(tally(await servers.accessLog('raw', 3)), { 'GET hang': 2, 'GET 200': 1 });
      assert.deepEqual(series(s), [
        'server 8081 GET 0 connection_closed n=1',
        'server 8081 GET 0 connection_reset n=1',
        'server 8081 GET 200 n=1',
      ]);
      assert.deepEqual(buckets(s), {
        'server 8081 GET 0 connection_closed': [0, 1, 0, 0],
        'server 8081 GET 0 connection_reset': [0, 1, 0, 0],
        'server 8081 GET 200': [0, 0, 1, 0],
      });
      assertSelf(s.self, { requests: 3n, responses: 1n, closed: 1n, resets: 1n, retransmissions });
      assertBalanced(s);
      assert.deepEqual(inFlight(s), []);
    });
  });
}
