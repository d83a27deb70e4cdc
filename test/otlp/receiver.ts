// An OTLP metrics receiver for tests, over gRPC and over HTTP/protobuf, on loopback: it decodes
// each export as a Collector would and keeps it, with the headers and compression it came with.
// It can be stopped and started again on the same ports (a Collector outage) or told to refuse.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  createServer as createHttp2Server,
  createSecureServer as createSecureHttp2Server,
  type Http2SecureServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { decodeExportRequest, type ReceivedResourceMetrics } from './decode.ts';
import { ExportMetricsServiceResponse } from './schema.ts';

export interface ReceivedExport {
  readonly transport: 'grpc' | 'http';
  /** Lower-cased header names (gRPC metadata for gRPC). */
  readonly headers: Readonly<Record<string, string>>;
  /** Content-Encoding (HTTP), or gzip when the gRPC message carried the compressed flag; else 'identity'. */
  readonly encoding: string;
  readonly resourceMetrics: readonly ReceivedResourceMetrics[];
}

const EXPORT_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

export interface OtlpReceiverOptions {
  /**
   * Serve TLS (https, gRPC over TLS) with this PEM key and certificate; with `requestCert`,
   * `rejectUnauthorized` and `ca`, only clients with a certificate signed by `ca` (mutual TLS).
   */
  readonly tls?: {
    readonly key: string | Buffer;
    readonly cert: string | Buffer;
    readonly ca?: string | Buffer;
    readonly requestCert?: boolean;
    readonly rejectUnauthorized?: boolean;
  };
}

export class OtlpReceiver {
  readonly exports: ReceivedExport[] = [];
  readonly #tls: OtlpReceiverOptions['tls'];
  #grpc: Http2Server | Http2SecureServer | undefined;
  readonly #sessions = new Set<ServerHttp2Session>();
  #http: Server | undefined;
  #grpcPort = 0;
  #httpPort = 0;
  #refusing = false;
  #waiters: (() => void)[] = [];

  constructor(options: OtlpReceiverOptions = {}) {
    this.#tls = options.tls;
  }

  /** Listens on 127.0.0.1, on fresh ports the first time and on the same ports after a stop. */
  async start(): Promise<void> {
    await Promise.all([this.#startGrpc(), this.#startHttp()]);
  }

  /** Closes both servers and their connections at once, like a Collector that went away. */
  async stop(): Promise<void> {
    const g = this.#grpc;
    const h = this.#http;
    this.#grpc = undefined;
    this.#http = undefined;
    for (const session of this.#sessions) session.destroy();
    this.#sessions.clear();
    if (g !== undefined) await new Promise<void>((resolve) => g.close(() => resolve()));
    if (h !== undefined) {
      h.closeAllConnections();
      await new Promise<void>((resolve) => h.close(() => resolve()));
    }
  }

  /** While set, exports are answered with UNAVAILABLE (gRPC) and 503 (HTTP) and not kept. */
  refuse(on: boolean): void {
    this.#refusing = on;
  }

  get grpcEndpoint(): string {
    return `${this.#tls ? 'https' : 'http'}://127.0.0.1:${this.#grpcPort}`;
  }

  get httpEndpoint(): string {
    return `${this.#tls ? 'https' : 'http'}://127.0.0.1:${this.#httpPort}/v1/metrics`;
  }

  /** Resolves once `count` exports in all have arrived; rejects after `timeoutMs`. */
  async waitForExports(count: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.exports.length < count) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `OTLP receiver: ${this.exports.length} exports after ${timeoutMs} ms, wanted ${count}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  clear(): void {
    this.exports.length = 0;
  }

  #keep(received: ReceivedExport): void {
    this.exports.push(received);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  // gRPC is served by node:http2 directly, not by a gRPC library, so that the test sees the wire
  // as it is: the grpc-encoding header and each message's compressed flag (grpc-js hides both).
  async #startGrpc(): Promise<void> {
    const server = this.#tls ? createSecureHttp2Server({ ...this.#tls }) : createHttp2Server();
    server.on('session', (session) => {
      this.#sessions.add(session);
      session.on('close', () => this.#sessions.delete(session));
    });
    server.on('stream', (stream, headers) => this.#onGrpc(stream, headers));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#grpcPort, '127.0.0.1', () => resolve());
    });
    this.#grpcPort = (server.address() as AddressInfo).port;
    this.#grpc = server;
  }

  #onGrpc(stream: ServerHttp2Stream, requestHeaders: IncomingHttpHeaders): void {
    const trailersOnly = (status: number, message: string) =>
      stream.respond(
        {
          ':status': 200,
          'content-type': 'application/grpc',
          'grpc-status': String(status),
          'grpc-message': message,
        },
        { endStream: true },
      );
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      if (requestHeaders[':path'] !== EXPORT_PATH) {
        trailersOnly(12, `unimplemented: ${requestHeaders[':path']}`);
        return;
      }
      if (this.#refusing) {
        trailersOnly(14, 'receiver refusing (test)');
        return;
      }
      const body = Buffer.concat(chunks);
      const headers: Record<string, string> = {};
      for (const [key, value] of Object.entries(requestHeaders)) {
        if (!key.startsWith(':')) headers[key] = String(value);
      }
      try {
        // One length-prefixed message: compressed flag (1 byte), length (4 bytes, big endian).
        if (body.length < 5 || body.readUInt32BE(1) !== body.length - 5) {
          throw new Error(`gRPC frame of ${body.length} bytes is not one length-prefixed message`);
        }
        const compressed = body.readUInt8(0) === 1;
        const declared = headers['grpc-encoding'] ?? 'identity';
        if (compressed && declared !== 'gzip')
          throw new Error(`compressed message with grpc-encoding ${declared}`);
        const payload = compressed ? gunzipSync(body.subarray(5)) : body.subarray(5);
        this.#keep({
          transport: 'grpc',
          headers,
          encoding: compressed ? 'gzip' : 'identity',
          resourceMetrics: decodeExportRequest(payload),
        });
        const response = Buffer.from(ExportMetricsServiceResponse.encode({}).finish());
        const frame = Buffer.alloc(5 + response.length);
        frame.writeUInt32BE(response.length, 1);
        response.copy(frame, 5);
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(frame);
      } catch (error) {
        trailersOnly(3, `cannot decode: ${(error as Error).message}`);
      }
    });
  }

  async #startHttp(): Promise<void> {
    const handler = (req: IncomingMessage, res: ServerResponse) => this.#onHttp(req, res);
    const server = this.#tls ? createHttpsServer({ ...this.#tls }, handler) : createServer(handler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#httpPort, '127.0.0.1', () => resolve());
    });
    this.#httpPort = (server.address() as AddressInfo).port;
    this.#http = server;
  }

  #onHttp(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/metrics') {
        res.writeHead(404).end();
        return;
      }
      if (this.#refusing) {
        res.writeHead(503).end();
        return;
      }
      if (req.headers['content-type'] !== 'application/x-protobuf') {
        res.writeHead(415).end(`content-type ${req.headers['content-type']} is not application/x-protobuf`);
        return;
      }
      const encoding = req.headers['content-encoding'] ?? 'identity';
      try {
        const body = Buffer.concat(chunks);
        const payload = encoding === 'gzip' ? gunzipSync(body) : body;
        const headers: Record<string, string> = {};
        for (const [key, value] of Object.entries(req.headers)) headers[key] = String(value);
        this.#keep({ transport: 'http', headers, encoding, resourceMetrics: decodeExportRequest(payload) });
        res.writeHead(200, { 'content-type': 'application/x-protobuf' });
        res.end(Buffer.from(ExportMetricsServiceResponse.encode({}).finish()));
      } catch (error) {
        res.writeHead(400).end(`cannot decode: ${(error as Error).message}`);
      }
    });
  }
}
