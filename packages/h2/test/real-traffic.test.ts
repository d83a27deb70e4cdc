// Real HTTP/2 and gRPC traffic on loopback (Node's http2, @grpc/grpc-js) through a recording
// proxy; the recorded bytes become kernel records through the reference framer, and the decoder's
// calls must equal what the clients sent and the servers answered, exactly.
import assert from 'node:assert/strict';
import { connect, createServer, type Http2Server } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { Segment } from '../src/testing/index.ts';
import { RecordingProxy, rawBytes, rawGrpcMethod } from '../src/testing/index.ts';
import { decodeAll, recordsOf, tally } from './conversation.ts';

const STATUS_BY_PATH: Record<string, number> = {
  '/ok': 200,
  '/missing': 404,
  '/broken': 500,
  '/created': 201,
};

describe('Node http2 (h2c): 100 concurrent streams on one connection', () => {
  let server: Http2Server;
  const proxy = new RecordingProxy();
  const expected: Record<string, number> = {};
  before(async () => {
    server = createServer((req, res) => {
      res.writeHead(STATUS_BY_PATH[req.url] ?? 400, { 'content-type': 'text/plain', 'x-server': 'test' });
      res.end('body');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = await proxy.listen((server.address() as { port: number }).port);
    const session = connect(`http://127.0.0.1:${port}`);
    const methods = ['GET', 'POST', 'DELETE', 'PUT'];
    const paths = Object.keys(STATUS_BY_PATH);
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => {
        const method = methods[i % methods.length]!;
        const path = paths[Math.floor(i / 4) % paths.length]!;
        const key = [method, path, STATUS_BY_PATH[path], false, undefined, undefined, '-', false].join(' ');
        expected[key] = (expected[key] ?? 0) + 1;
        return new Promise<void>((resolve, reject) => {
          const req = session.request(
            { ':method': method, ':path': path, 'x-request': `r${i}` },
            { endStream: method === 'GET' || method === 'DELETE' },
          );
          if (method !== 'GET' && method !== 'DELETE') req.end('payload');
          req.on('response', () => {});
          req.resume();
          req.on('end', resolve);
          req.on('error', reject);
        });
      }),
    );
    await new Promise<void>((r) => session.close(r));
    await proxy.drained();
  });
  after(async () => {
    await proxy.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('gives every call with its method, path and status, and nothing lost', () => {
    assert.equal(proxy.connections.length, 1);
    const { calls, decoder } = decodeAll(recordsOf(proxy.connections[0]!, 1));
    assert.equal(calls.length, 100);
    assert.deepEqual(
      tally(calls),
      Object.fromEntries(Object.entries(expected).sort(([a], [b]) => (a < b ? -1 : 1))),
    );
    const c = decoder.counters();
    assert.deepEqual(
      [
        c.gaps,
        c.blocksIncomplete,
        c.hpackErrors,
        c.framesMalformed,
        c.recordsMalformed,
        c.orphanResponses,
        c.streamsEvicted,
        c.connectionsJoinedMidway,
      ],
      [0, 0, 0, 0, 0, 0, 0, 0],
    );
    assert.equal(decoder.connections, 0); // the server's FIN ended it
    for (const call of calls) {
      assert.ok(call.durationNs > 0);
      assert.equal(call.targetId, 7);
      assert.equal(call.peerId, 3);
      assert.equal(call.serverPort, 50051);
      assert.equal(call.role, 'server');
    }
  });

  it('with maxStreamsPerConnection 10, evicts the oldest streams and counts them', () => {
    const { calls, decoder } = decodeAll(recordsOf(proxy.connections[0]!, 1), {
      maxStreamsPerConnection: 10,
    });
    const c = decoder.counters();
    assert.equal(calls.length + c.streamsEvicted, 100);
    assert.equal(c.orphanResponses, c.streamsEvicted * 2); // each evicted stream's HEADERS and END_STREAM DATA
    assert.ok(c.streamsEvicted > 0);
  });
});

const CODES = Array.from({ length: 17 }, (_, i) => i); // OK (0) to UNAUTHENTICATED (16)
const SERVICE = {
  unary: rawGrpcMethod('/test.v1.Echo/Unary'),
  stream: rawGrpcMethod('/test.v1.Echo/Stream', true),
};

describe('@grpc/grpc-js: unary and server-streaming calls, every status from OK to UNAUTHENTICATED', () => {
  let server: grpc.Server;
  const proxy = new RecordingProxy();
  const expected: Record<string, number> = {};
  const count = (key: string) => {
    expected[key] = (expected[key] ?? 0) + 1;
  };
  before(async () => {
    server = new grpc.Server();
    server.addService(SERVICE, {
      unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        const code = call.request[0]!;
        if (code === 0) cb(null, Buffer.from('pong'));
        else cb({ code, details: `status ${code}` });
      },
      stream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        const n = call.request[0]!;
        for (let i = 0; i < n; i++) call.write(Buffer.from(`m${i}`));
        if (call.request[1] === 0) call.end();
        else call.emit('error', { code: call.request[1], details: 'stream failed' });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    const proxyPort = await proxy.listen(port);
    const client = new grpc.Client(`127.0.0.1:${proxyPort}`, grpc.credentials.createInsecure());
    const unary = (code: number) =>
      new Promise<void>((resolve) => {
        client.makeUnaryRequest(SERVICE.unary.path, rawBytes, rawBytes, Buffer.from([code]), () => resolve());
        count(['POST', SERVICE.unary.path, 200, true, code, 'test.v1.Echo/Unary', '-', false].join(' '));
      });
    const streaming = (n: number, code: number) =>
      new Promise<void>((resolve) => {
        const call = client.makeServerStreamRequest(
          SERVICE.stream.path,
          rawBytes,
          rawBytes,
          Buffer.from([n, code]),
        );
        call.on('data', () => {});
        call.on('error', () => {});
        call.on('status', () => resolve());
        count(['POST', SERVICE.stream.path, 200, true, code, 'test.v1.Echo/Stream', '-', false].join(' '));
      });
    // Three rounds: the first fills the dynamic tables, the others use them.
    for (let round = 0; round < 3; round++) {
      await Promise.all(CODES.map(unary));
      await Promise.all([streaming(5, 0), streaming(0, 0), streaming(3, 13), streaming(2, 16)]);
    }
    client.close();
    await proxy.drained();
  });
  after(async () => {
    await proxy.close();
    server.forceShutdown();
  });

  const sorted = () => Object.fromEntries(Object.entries(expected).sort(([a], [b]) => (a < b ? -1 : 1)));

  it('gives each call its gRPC method and grpc-status (trailers and trailers-only)', () => {
    assert.equal(proxy.connections.length, 1);
    const { calls, decoder } = decodeAll(recordsOf(proxy.connections[0]!, 5));
    assert.equal(calls.length, 3 * (17 + 4));
    assert.deepEqual(tally(calls), sorted());
    const c = decoder.counters();
    assert.deepEqual(
      [c.gaps, c.blocksIncomplete, c.hpackErrors, c.framesMalformed, c.orphanResponses],
      [0, 0, 0, 0, 0],
    );
  });

  it('gives the same calls with every payload in records of 1, 7 and 64 bytes', () => {
    for (const cap of [1, 7, 64]) {
      const { calls, decoder } = decodeAll(recordsOf(proxy.connections[0]!, 5, undefined, cap));
      assert.deepEqual(tally(calls), sorted(), `fragment cap ${cap}`);
      assert.equal(decoder.counters().gaps, 0);
    }
  });

  it('gives the same calls with the stream cut at every byte of its header blocks', () => {
    const conn = proxy.connections[0]!;
    // Cut each direction's whole byte stream once at position k, for every k up to the end of
    // the first three header blocks of the direction (the ones that fill the dynamic table).
    const join = (segs: Segment[]) => Buffer.concat(segs.map((s) => s.bytes));
    for (const d of ['request', 'response'] as const) {
      const all = join(conn[d]);
      const limit = Math.min(all.length, 600);
      for (let k = 1; k < limit; k++) {
        const cut = (dir: 'request' | 'response', segs: Segment[]): Segment[] => {
          if (dir !== d) return segs;
          // Re-segment: the same bytes and times, with one more boundary at k.
          const out: Segment[] = [];
          let at = 0;
          for (const s of segs) {
            const end = at + s.bytes.length;
            if (k > at && k < end) {
              out.push(
                { tsNs: s.tsNs, bytes: s.bytes.subarray(0, k - at) },
                { tsNs: s.tsNs, bytes: s.bytes.subarray(k - at) },
              );
            } else out.push(s);
            at = end;
          }
          return out;
        };
        const { calls } = decodeAll(recordsOf(conn, 5, cut));
        assert.deepEqual(tally(calls), sorted(), `${d} cut at byte ${k}`);
      }
    }
  });

  it('joined mid-way (the first 4 records of each direction missed): fields it cannot know are unknown, never guessed', () => {
    const records = recordsOf(proxy.connections[0]!, 5).map((r) => ({ ...r, prefaceSeen: false }));
    const { calls, decoder } = decodeAll(records.filter((r) => r.seq >= 4));
    const c = decoder.counters();
    assert.equal(c.connectionsJoinedMidway, 1);
    for (const call of calls) {
      if (call.incomplete) continue;
      // A complete call is exactly one the client made.
      assert.ok(
        expected[
          [
            call.method,
            call.path,
            call.statusCode,
            call.grpc,
            call.grpcStatus,
            call.grpcMethod,
            '-',
            false,
          ].join(' ')
        ],
      );
    }
    for (const call of calls.filter((x) => x.incomplete)) {
      // Whatever is set is right: the method is POST, paths are the service's.
      if (call.method !== undefined) assert.equal(call.method, 'POST');
      if (call.path !== undefined) assert.match(call.path, /^\/test\.v1\.Echo\/(Unary|Stream)$/);
    }
    assert.equal(c.callsIncomplete, calls.filter((x) => x.incomplete).length);
    assert.ok(c.callsIncomplete > 0);
  });
});
