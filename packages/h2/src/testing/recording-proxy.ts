// A TCP proxy on loopback that records each direction's bytes with their arrival times, as the
// kernel sees a connection's segments: the test double of the capture path.
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Segment } from './framer.ts';

export interface RecordedConnection {
  readonly request: Segment[];
  readonly response: Segment[];
  /** Which side closed first, and when (both FINs are recorded, in order). */
  readonly ends: { direction: 'request' | 'response'; tsNs: bigint }[];
}

export class RecordingProxy {
  readonly connections: RecordedConnection[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private pending = 0;
  private idle: (() => void) | undefined;

  /** Listens on 127.0.0.1 and forwards to `targetPort`; resolves with its own port. */
  async listen(targetPort: number): Promise<number> {
    this.server = createServer((client) => {
      const rec: RecordedConnection = { request: [], response: [], ends: [] };
      this.connections.push(rec);
      this.pending++;
      const upstream = connect(targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.setNoDelay(true);
      }
      let closed = 0;
      const done = () => {
        if (++closed === 2 && --this.pending === 0) this.idle?.();
      };
      client.on('data', (b) => {
        rec.request.push({ tsNs: process.hrtime.bigint(), bytes: Buffer.from(b) });
        upstream.write(b);
      });
      upstream.on('data', (b) => {
        rec.response.push({ tsNs: process.hrtime.bigint(), bytes: Buffer.from(b) });
        client.write(b);
      });
      client.on('end', () => {
        rec.ends.push({ direction: 'request', tsNs: process.hrtime.bigint() });
        upstream.end();
      });
      upstream.on('end', () => {
        rec.ends.push({ direction: 'response', tsNs: process.hrtime.bigint() });
        client.end();
      });
      client.on('close', done);
      upstream.on('close', done);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('proxy: no port');
    return addr.port;
  }

  /** Resolves when every proxied connection has closed on both sides. */
  async drained(): Promise<void> {
    if (this.pending === 0) return;
    await new Promise<void>((resolve) => {
      this.idle = resolve;
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
