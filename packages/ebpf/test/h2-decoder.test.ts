// Real conversations through the kernel: Node's http2 and @grpc/grpc-js talk through @owlk8s/h2's
// recording proxy on loopback; each recorded connection is played to the capture program as TCP
// segments of at most 1400 bytes (in the order the proxy read them, both directions), and the ring's
// records must equal the reference framer's and, pushed into H2Decoder, give exactly the calls made.
import assert from 'node:assert/strict';
import { connect, createServer, type Http2Server } from 'node:http2';
import { before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { decodeRecords, type H2Call, H2Decoder } from '@owlk8s/h2';
import { type RecordedConnection, RecordingProxy, rawBytes, rawGrpcMethod } from '@owlk8s/h2/testing';
import type { Capture } from '../src/capture.ts';
import { H2Conn, h2Capture, withoutTime } from './h2/harness.ts';
import { requireBpf } from './kernel.ts';

before(() => requireBpf('the HTTP/2 decoder tests'));

const MSS = 1400;

/** Plays a recorded connection to the kernel (handshake, segments by time, FINs); its oracle. */
function play(cap: Capture, rec: RecordedConnection, clientPort: number): H2Conn {
  const c = new H2Conn(cap, { clientPort }).open();
  const events = [
    ...rec.request.map((s) => ({ t: s.tsNs, side: 'client' as const, bytes: Buffer.from(s.bytes) })),
    ...rec.response.map((s) => ({ t: s.tsNs, side: 'server' as const, bytes: Buffer.from(s.bytes) })),
    ...rec.ends.map((e) => ({
      t: e.tsNs,
      side: e.direction === 'request' ? ('client' as const) : ('server' as const),
      bytes: undefined,
    })),
  ].sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
  for (const e of events) {
    if (e.bytes === undefined) c.fin(e.side);
    else for (let at = 0; at < e.bytes.length; at += MSS) c.send(e.side, e.bytes.subarray(at, at + MSS));
  }
  return c;
}

function summary(c: H2Call): string {
  return [
    c.method,
    c.path,
    c.statusCode,
    c.grpc,
    c.grpcStatus,
    c.grpcMethod,
    c.error ?? '-',
    c.incomplete,
  ].join(' ');
}

function tally(calls: readonly H2Call[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of calls) out[summary(c)] = (out[summary(c)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function decode(batch: Buffer): { calls: H2Call[]; decoder: H2Decoder } {
  const calls: H2Call[] = [];
  const decoder = new H2Decoder({ onCall: (c) => calls.push(c) });
  decoder.push(batch);
  return { calls, decoder };
}

describe('Node http2: 40 concurrent streams on one connection, through the kernel', () => {
  const proxy = new RecordingProxy();
  const expected: Record<string, number> = {};
  const STATUS: Record<string, number> = { '/ok': 200, '/missing': 404, '/broken': 500, '/created': 201 };
  before(async () => {
    const server: Http2Server = createServer((req, res) => {
      res.writeHead(STATUS[req.url] ?? 400, { 'content-type': 'text/plain', 'x-long': 'v'.repeat(700) });
      res.end('body');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = await proxy.listen((server.address() as { port: number }).port);
    const session = connect(`http://127.0.0.1:${port}`);
    const methods = ['GET', 'POST', 'DELETE', 'PUT'];
    const paths = Object.keys(STATUS);
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const method = methods[i % 4]!;
        const path = paths[Math.floor(i / 4) % 4]!;
        const key = [method, path, STATUS[path], false, undefined, undefined, '-', false].join(' ');
        expected[key] = (expected[key] ?? 0) + 1;
        return new Promise<void>((resolve, reject) => {
          const req = session.request(
            { ':method': method, ':path': path, 'x-request': `r${i}`.repeat(30) },
            { endStream: method === 'GET' || method === 'DELETE' },
          );
          if (method !== 'GET' && method !== 'DELETE') req.end('payload');
          req.resume();
          req.on('end', resolve);
          req.on('error', reject);
        });
      }),
    );
    await new Promise<void>((r) => session.close(r));
    await proxy.drained();
    await proxy.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  test('the ring holds the framer’s records, and the decoder gives the 40 calls exactly', () => {
    assert.equal(proxy.connections.length, 1);
    using cap = h2Capture();
    const c = play(cap, proxy.connections[0]!, 40000);
    const batch = cap.readH2Records();
    assert.deepEqual(withoutTime(decodeRecords(batch)), withoutTime(c.expected(1)));
    const { calls, decoder } = decode(batch);
    assert.equal(calls.length, 40);
    assert.deepEqual(
      tally(calls),
      Object.fromEntries(Object.entries(expected).sort(([a], [b]) => (a < b ? -1 : 1))),
    );
    const k = decoder.counters();
    assert.deepEqual(
      [k.gaps, k.blocksIncomplete, k.hpackErrors, k.framesMalformed, k.recordsMalformed, k.orphanResponses],
      [0, 0, 0, 0, 0, 0],
    );
    assert.equal(decoder.connections, 0); // the server's FIN ended it
    for (const call of calls)
      assert.deepEqual([call.targetId, call.peerId, call.serverPort, call.role], [7, 3, 50051, 'server']);
    const h2 = cap.h2Counters();
    assert.deepEqual(
      [h2.conns, h2.ringFull, h2.gaps, h2.notH2, cap.readSelf().notHttp],
      [1n, 0n, 0n, 0n, 0n],
    );
  });
});

const UNARY = '/test.v1.Echo/Unary';

describe('@grpc/grpc-js: unary calls with every status from OK to UNAUTHENTICATED, through the kernel', () => {
  const proxy = new RecordingProxy();
  const expected: Record<string, number> = {};
  before(async () => {
    const server = new grpc.Server();
    server.addService(
      {
        unary: rawGrpcMethod(UNARY),
      },
      {
        unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
          const code = call.request[0]!;
          if (code === 0) cb(null, Buffer.from('pong'));
          else cb({ code, details: `status ${code}` });
        },
      },
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    const client = new grpc.Client(
      `127.0.0.1:${await proxy.listen(port)}`,
      grpc.credentials.createInsecure(),
    );
    for (let round = 0; round < 2; round++) {
      await Promise.all(
        Array.from(
          { length: 17 },
          (_, code) =>
            new Promise<void>((resolve) => {
              client.makeUnaryRequest(UNARY, rawBytes, rawBytes, Buffer.from([code]), () => resolve());
              const key = ['POST', UNARY, 200, true, code, 'test.v1.Echo/Unary', '-', false].join(' ');
              expected[key] = (expected[key] ?? 0) + 1;
            }),
        ),
      );
    }
    client.close();
    await proxy.drained();
    await proxy.close();
    server.forceShutdown();
  });

  test('34 calls, each with its grpc-status, from the ring’s records', () => {
    assert.equal(proxy.connections.length, 1);
    using cap = h2Capture();
    const c = play(cap, proxy.connections[0]!, 40001);
    const batch = cap.readH2Records();
    assert.deepEqual(withoutTime(decodeRecords(batch)), withoutTime(c.expected(1)));
    const { calls, decoder } = decode(batch);
    assert.equal(calls.length, 34);
    assert.deepEqual(
      tally(calls),
      Object.fromEntries(Object.entries(expected).sort(([a], [b]) => (a < b ? -1 : 1))),
    );
    const k = decoder.counters();
    assert.deepEqual(
      [k.gaps, k.blocksIncomplete, k.hpackErrors, k.framesMalformed, k.orphanResponses],
      [0, 0, 0, 0, 0],
    );
  });
});
