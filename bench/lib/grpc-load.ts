// gRPC load for bench/h2-cost.ts, run as its own process in the calling pod's namespace:
//   node grpc-load.ts '{"target":"198.18.0.2:50051","connections":4,"inFlight":64,"seconds":4,"countFrames":false}'
// Opens `connections` @grpc/grpc-js channels (a channel option that differs keeps grpc-js from
// sharing one connection between them), each with `inFlight` unary calls of test/harness's
// `test.v1.Echo/Unary` always in flight, grpc-status 0 to 16 in turn (the status is the request's
// first byte). After one warm-up call per connection it prints `{"start":true}`, then keeps the
// calls in flight for `seconds`, lets the last ones finish, and prints one JSON line: the calls
// finished since the start line and the time since it, the calls of the whole process, and any
// call whose status was not the one asked for. With `countFrames`, every connection goes through a
// proxy in this process that walks the HTTP/2 frame headers of both directions and the result also
// holds frames per type (not for measured runs: the proxy costs CPU).
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { GRPC_SERVICE } from '../../test/harness/h2-server.ts';

export interface GrpcLoadPlan {
  readonly target: string;
  readonly connections: number;
  readonly inFlight: number;
  readonly seconds: number;
  readonly countFrames?: boolean;
}

export interface GrpcLoadResult {
  readonly calls: number;
  readonly seconds: number;
  readonly wrongStatus: number;
  readonly firstError?: string;
  /** Frames of both directions by type name, with countFrames; the preface is not a frame. */
  readonly frames?: Record<string, number>;
  /** Calls finished over the whole process, the warm-up calls included: what a server counts. */
  readonly allCalls: number;
}

const FRAME_TYPES = [
  'DATA',
  'HEADERS',
  'PRIORITY',
  'RST_STREAM',
  'SETTINGS',
  'PUSH_PROMISE',
  'PING',
  'GOAWAY',
  'WINDOW_UPDATE',
  'CONTINUATION',
];
const PREFACE_LENGTH = 24;

/** Counts frames in one direction of a connection: a 9-byte header gives the payload's length and the type. */
class FrameWalker {
  #skip: number;
  #head = Buffer.alloc(0);
  readonly #frames: Record<string, number>;
  constructor(skip: number, frames: Record<string, number>) {
    this.#skip = skip;
    this.#frames = frames;
  }
  push(chunk: Buffer): void {
    let b = chunk;
    while (b.length > 0) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, b.length);
        this.#skip -= n;
        b = b.subarray(n);
        continue;
      }
      const need = 9 - this.#head.length;
      this.#head = Buffer.concat([this.#head, b.subarray(0, need)]);
      b = b.subarray(Math.min(need, b.length));
      if (this.#head.length < 9) return;
      const length = this.#head.readUIntBE(0, 3);
      const type = FRAME_TYPES[this.#head[3]!] ?? `type ${this.#head[3]}`;
      this.#frames[type] = (this.#frames[type] ?? 0) + 1;
      this.#skip = length;
      this.#head = Buffer.alloc(0);
    }
  }
}

async function countingProxy(target: string, frames: Record<string, number>): Promise<[Server, number]> {
  const m = /^\[?([^\]]+)\]?:(\d+)$/.exec(target);
  if (!m) throw new Error(`grpc-load: target ${target}: expected host:port`);
  const [host, port] = [m[1]!, Number(m[2])];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = tcpConnect(port, host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    const req = new FrameWalker(PREFACE_LENGTH, frames);
    const res = new FrameWalker(0, frames);
    client.on('data', (b: Buffer) => {
      req.push(b);
      upstream.write(b);
    });
    upstream.on('data', (b: Buffer) => {
      res.push(b);
      client.write(b);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  server.on('close', () => {
    for (const s of sockets) s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('grpc-load: proxy has no port');
  return [server, address.port];
}

export async function runGrpcLoad(plan: GrpcLoadPlan): Promise<GrpcLoadResult> {
  const frames: Record<string, number> = {};
  const proxied = plan.countFrames ? await countingProxy(plan.target, frames) : undefined;
  const target = proxied ? `127.0.0.1:${proxied[1]}` : plan.target;
  const id = (b: Buffer): Buffer => b;
  const clients = Array.from(
    { length: plan.connections },
    (_, c) => new grpc.Client(target, grpc.credentials.createInsecure(), { 'grpc.bench-connection': c }),
  );
  let wrongStatus = 0;
  let firstError: string | undefined;
  let finished = 0;
  let next = 0;
  const call = (client: grpc.Client): Promise<void> =>
    new Promise((resolve) => {
      const status = next++ % 17;
      client.makeUnaryRequest(GRPC_SERVICE.unary.path, id, id, Buffer.from([status]), (err) => {
        finished++;
        const got = err ? (err.code ?? -1) : 0;
        if (got !== status) {
          wrongStatus++;
          firstError ??= `asked for status ${status}, got ${got}: ${err?.message ?? 'OK'}`;
        }
        resolve();
      });
    });
  await Promise.all(clients.map((c) => call(c)));
  const warmUp = finished;
  let running = true;
  const worker = async (client: grpc.Client) => {
    while (running) await call(client);
  };
  process.stdout.write(`${JSON.stringify({ start: true })}\n`);
  const t0 = performance.now();
  const workers = clients.flatMap((c) => Array.from({ length: plan.inFlight }, () => worker(c)));
  await new Promise((r) => setTimeout(r, plan.seconds * 1000));
  running = false;
  await Promise.all(workers);
  const seconds = (performance.now() - t0) / 1000;
  const calls = finished - warmUp;
  for (const c of clients) c.close();
  if (proxied) {
    // Let the closes' last frames (GOAWAY) pass the proxy before counting.
    await new Promise((r) => setTimeout(r, 300));
    proxied[0].close();
  }
  return {
    calls,
    seconds,
    wrongStatus,
    ...(firstError ? { firstError } : {}),
    allCalls: finished,
    ...(proxied ? { frames } : {}),
  };
}

if (import.meta.main) {
  const plan = JSON.parse(process.argv[2] ?? '{}') as GrpcLoadPlan;
  const result = await runGrpcLoad(plan);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // grpc-js keeps timers for a moment after close.
  process.exit(0);
}
