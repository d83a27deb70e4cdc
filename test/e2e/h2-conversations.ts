// Real HTTP/2 and gRPC conversations, recorded once on loopback (Node's http2, @grpc/grpc-js)
// through @owlk8s/h2's recording proxy, and turned into the records the kernel side sends for both
// ends of each connection: the fake H2RecordSource of the agent-level tests replays them. Each
// conversation also says what its clients did and its servers answered, independently of the
// decoder: the tests' expected figures.
import { connect, createServer } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import type { H2Record } from '@owlk8s/h2';
import {
  endRecord,
  mergeByTime,
  type RecordedConnection,
  RecordingProxy,
  rawBytes,
  rawGrpcMethod,
  recordsFromStream,
} from '@owlk8s/h2/testing';

/** A call as its client made it and its server answered it. */
export interface MadeCall {
  /** The HTTP method, or the gRPC method `pkg.Svc/Method`. */
  readonly method: string;
  /** The HTTP status, or the grpc-status. */
  readonly status: number;
}

export interface Conversation {
  readonly connections: readonly RecordedConnection[];
  readonly calls: readonly MadeCall[];
  /** recordGrpc: the time each round's last call ended (process.hrtime, the segments' clock). */
  readonly roundEnds?: readonly bigint[];
}

export const STATUS_BY_PATH: Readonly<Record<string, number>> = {
  '/ok': 200,
  '/missing': 404,
  '/broken': 500,
  '/created': 201,
};

/** Node's http2 (h2c): 100 concurrent streams on one connection, 4 methods × 4 paths (statuses). */
export async function recordH2c(): Promise<Conversation> {
  const server = createServer((req, res) => {
    res.writeHead(STATUS_BY_PATH[req.url] ?? 400, { 'content-type': 'text/plain' });
    res.end('body');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const proxy = new RecordingProxy();
  const calls: MadeCall[] = [];
  try {
    const port = await proxy.listen((server.address() as { port: number }).port);
    const session = connect(`http://127.0.0.1:${port}`);
    const methods = ['GET', 'POST', 'DELETE', 'PUT'];
    const paths = Object.keys(STATUS_BY_PATH);
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => {
        const method = methods[i % methods.length]!;
        const path = paths[Math.floor(i / 4) % paths.length]!;
        calls.push({ method, status: STATUS_BY_PATH[path]! });
        return new Promise<void>((resolve, reject) => {
          const body = method === 'POST' || method === 'PUT';
          const req = session.request({ ':method': method, ':path': path }, { endStream: !body });
          if (body) req.end('payload');
          req.resume();
          req.on('end', resolve);
          req.on('error', reject);
        });
      }),
    );
    await new Promise<void>((r) => session.close(r));
    await proxy.drained();
  } finally {
    await proxy.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
  return { connections: proxy.connections, calls };
}

export const ECHO = {
  unary: rawGrpcMethod('/test.v1.Echo/Unary'),
  stream: rawGrpcMethod('/test.v1.Echo/Stream', true),
};

/** A gRPC server on loopback: Unary answers the status in the request's first byte; Stream sends n messages, then the status. */
async function echoServer(): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(ECHO, {
    unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const code = call.request[0]!;
      if (code === 0) cb(null, Buffer.from('pong'));
      else cb({ code, details: `status ${code}` });
    },
    stream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      for (let i = 0; i < call.request[0]!; i++) call.write(Buffer.from(`m${i}`));
      if (call.request[1] === 0) call.end();
      else call.emit('error', { code: call.request[1], details: 'stream failed' });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { server, port };
}

/**
 * @grpc/grpc-js on one connection: `rounds` rounds of 17 unary calls (grpc-status 0 to 16, in
 * flight together) and 4 server-streaming calls (5 messages then OK, none then OK, 3 then INTERNAL,
 * 2 then UNAUTHENTICATED). The first round fills the HPACK tables, the others use them.
 */
export async function recordGrpc(rounds: number): Promise<Conversation> {
  const { server, port } = await echoServer();
  const proxy = new RecordingProxy();
  const calls: MadeCall[] = [];
  const roundEnds: bigint[] = [];
  try {
    const proxyPort = await proxy.listen(port);
    const client = new grpc.Client(`127.0.0.1:${proxyPort}`, grpc.credentials.createInsecure());
    const unary = (code: number) =>
      new Promise<void>((resolve) => {
        calls.push({ method: 'test.v1.Echo/Unary', status: code });
        client.makeUnaryRequest(ECHO.unary.path, rawBytes, rawBytes, Buffer.from([code]), () => resolve());
      });
    const streaming = (n: number, code: number) =>
      new Promise<void>((resolve) => {
        calls.push({ method: 'test.v1.Echo/Stream', status: code });
        const call = client.makeServerStreamRequest(
          ECHO.stream.path,
          rawBytes,
          rawBytes,
          Buffer.from([n, code]),
        );
        call.on('data', () => {});
        call.on('error', () => {});
        call.on('status', () => resolve());
      });
    for (let round = 0; round < rounds; round++) {
      await Promise.all(Array.from({ length: 17 }, (_, code) => unary(code)));
      await Promise.all([streaming(5, 0), streaming(0, 0), streaming(3, 13), streaming(2, 16)]);
      roundEnds.push(process.hrtime.bigint());
      // The last frames of the round (trailers, WINDOW_UPDATE) pass the proxy before the next round.
      await new Promise((r) => setTimeout(r, 20));
    }
    client.close();
    await proxy.drained();
  } finally {
    await proxy.close();
    server.forceShutdown();
  }
  return { connections: proxy.connections, calls, roundEnds };
}

/**
 * @grpc/grpc-js calling `methods` distinct methods of a service the server does not have (a client
 * can send any `:path`), `perMethod` calls each, one after the other: each answered UNIMPLEMENTED.
 */
export async function recordUnknownMethods(methods: number, perMethod: number): Promise<Conversation> {
  const { server, port } = await echoServer();
  const proxy = new RecordingProxy();
  const calls: MadeCall[] = [];
  try {
    const proxyPort = await proxy.listen(port);
    const client = new grpc.Client(`127.0.0.1:${proxyPort}`, grpc.credentials.createInsecure());
    for (let m = 0; m < methods; m++) {
      for (let i = 0; i < perMethod; i++) {
        calls.push({ method: `test.v1.Probe/M${m}`, status: 12 });
        await new Promise<void>((resolve) =>
          client.makeUnaryRequest(`/test.v1.Probe/M${m}`, rawBytes, rawBytes, Buffer.from([0]), () =>
            resolve(),
          ),
        );
      }
    }
    client.close();
    await proxy.drained();
  } finally {
    await proxy.close();
    server.forceShutdown();
  }
  return { connections: proxy.connections, calls };
}

/** Where a connection's two ends are: the server pod's target and the client pod's (0: not monitored). */
export interface Ends {
  readonly serverTarget: number;
  readonly clientTarget: number;
  readonly serverPort: number;
  /** The first connection id; each connection and end gets its own from there. */
  readonly firstConnId: number;
  /**
   * The agent joins the connections after this time: only later segments are seen, from a frame
   * boundary, without the preface, their first record numbered 1 (records before were missed).
   */
  readonly joinAfterNs?: bigint;
}

/**
 * The records the kernel sends for the connections, seen at both monitored ends (the server pod's
 * interface and the client pod's), both directions and the FINs, in the order of their segments.
 */
export function kernelRecords(connections: readonly RecordedConnection[], ends: Ends): H2Record[] {
  const lists: H2Record[][] = [];
  let connId = ends.firstConnId;
  for (const conn of connections) {
    for (const [role, targetId] of [
      ['server', ends.serverTarget],
      ['client', ends.clientTarget],
    ] as const) {
      if (targetId === 0) continue;
      const id = { connId: connId++, targetId, peerId: 0, serverPort: ends.serverPort, role };
      const after = ends.joinAfterNs;
      const seen = (segments: RecordedConnection['request']) =>
        after === undefined ? segments : segments.filter((g) => g.tsNs > after);
      const join = after === undefined ? {} : { fromStart: false, firstSeq: 1 };
      const req = recordsFromStream(seen(conn.request), { ...id, direction: 'request', ...join });
      const res = recordsFromStream(seen(conn.response), { ...id, direction: 'response', ...join });
      const seqs = { request: req.length, response: res.length };
      const first = after === undefined ? 0 : 1;
      const fins = conn.ends.map((e) =>
        endRecord(id, e.direction, 'fin', e.tsNs, first + seqs[e.direction]++, after === undefined),
      );
      lists.push(req, res, fins);
    }
  }
  return mergeByTime(...lists);
}
