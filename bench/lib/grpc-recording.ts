// The recorded gRPC conversation the HTTP/2 user-space benchmarks (bench/h2-decode.ts,
// bench/h2-agent.ts) decode: @grpc/grpc-js client and server on loopback through @owlk8s/h2's
// recording proxy, CONNECTIONS connections, CALLS unary calls (status codes 0 to 16 in turn,
// IN_FLIGHT in flight per connection), seen at the server pod's end; its bytes become kernel
// records through the reference framer (the kernel side's oracle), in batches of BATCH records.
import * as grpc from '@grpc/grpc-js';
import { encodeRecords, type H2Record } from '@owlk8s/h2';
import {
  endRecord,
  mergeByTime,
  RecordingProxy,
  rawBytes,
  rawGrpcMethod,
  recordsFromStream,
} from '@owlk8s/h2/testing';

export const CONNECTIONS = 4;
export const CALLS = 20_000;
export const IN_FLIGHT = 100;
export const BATCH = 256;

const PATH = '/bench.v1.Orders/Get';
const service = { get: rawGrpcMethod(PATH) };

async function record(): Promise<RecordingProxy> {
  const server = new grpc.Server();
  server.addService(service, {
    get: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const code = call.request[0]!;
      if (code === 0) cb(null, Buffer.from('order 42: 3 items'));
      else cb({ code, details: 'failed' });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  const proxy = new RecordingProxy();
  const proxyPort = await proxy.listen(port);
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, c) => {
      // A channel option that differs keeps grpc-js from sharing one subchannel between clients.
      const client = new grpc.Client(`127.0.0.1:${proxyPort}`, grpc.credentials.createInsecure(), {
        'grpc.bench-connection': c,
      });
      let next = 0;
      const perConn = CALLS / CONNECTIONS;
      const worker = async () => {
        while (next < perConn) {
          const i = next++;
          await new Promise<void>((resolve) =>
            client.makeUnaryRequest(PATH, rawBytes, rawBytes, Buffer.from([i % 17, 1, 2, 3]), () =>
              resolve(),
            ),
          );
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
      client.close();
    }),
  );
  await proxy.drained();
  await proxy.close();
  server.forceShutdown();
  return proxy;
}

export interface RecordedGrpc {
  /** How long recording took. */
  readonly recordMs: number;
  /** The records, in the order the kernel would send them. */
  readonly records: readonly H2Record[];
  /** The records encoded in batches of BATCH, as ring reads give them. */
  readonly batches: readonly Buffer[];
  /** Bytes of all batches. */
  readonly bytes: number;
}

/** Records the conversation; its records carry target 1, `peerId` and server port 50051. */
export async function recordGrpc(peerId: number): Promise<RecordedGrpc> {
  const t0 = performance.now();
  const proxy = await record();
  return recorded(proxy, performance.now() - t0, peerId, 50051);
}

/**
 * What a recording proxy saw, as the kernel would send it from the server pod's end: records of
 * target 1, `peerId` and `serverPort`, merged by time, in batches of BATCH.
 */
export function recorded(
  proxy: RecordingProxy,
  recordMs: number,
  peerId: number,
  serverPort: number,
): RecordedGrpc {
  const all: H2Record[] = [];
  proxy.connections.forEach((conn, i) => {
    const id = { connId: i + 1, targetId: 1, peerId, serverPort, role: 'server' as const };
    const req = recordsFromStream(conn.request, { ...id, direction: 'request' });
    const res = recordsFromStream(conn.response, { ...id, direction: 'response' });
    const seqs = { request: req.length, response: res.length };
    const ends = conn.ends.map((e) => endRecord(id, e.direction, 'fin', e.tsNs, seqs[e.direction]++));
    all.push(...req, ...res, ...ends);
  });
  const records = mergeByTime(all);
  const batches: Buffer[] = [];
  for (let i = 0; i < records.length; i += BATCH) batches.push(encodeRecords(records.slice(i, i + BATCH)));
  return { recordMs, records, batches, bytes: batches.reduce((n, b) => n + b.length, 0) };
}
