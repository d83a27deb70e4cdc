// The admin endpoint: liveness, readiness, what is monitored now and the Service graph. Listens on
// localhost by default: it tells which pods a node runs, which is nobody else's business.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Readiness {
  readonly ready: boolean;
  /** Each condition and whether it holds, e.g. {"bpf program loaded": true, "first sync done": false}. */
  readonly checks: Readonly<Record<string, boolean>>;
  /** Extra state worth showing, e.g. the Kubernetes connection. */
  readonly detail?: Readonly<Record<string, unknown>>;
}

export interface AdminSource {
  readiness(): Readiness;
  /** What `owlk8s targets` prints: plain JSON-serialisable records. */
  targets(): unknown[];
  /** What `owlk8s targets --graph` prints: the Service graph of the last minute (JSON-serialisable). */
  graph?(): unknown;
}

export interface AdminServer {
  readonly url: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'cache-control': 'no-store',
  });
  res.end(text);
}

function handle(source: AdminSource, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'method not allowed: use GET\n');
    return;
  }
  const path = new URL(req.url ?? '/', 'http://admin').pathname;
  if (path === '/healthz') {
    // Alive as long as the event loop answers; a restart would not fix an unreachable API server.
    send(res, 200, 'ok\n');
  } else if (path === '/readyz') {
    const r = source.readiness();
    send(res, r.ready ? 200 : 503, r);
  } else if (path === '/targets') {
    send(res, 200, source.targets());
  } else if (path === '/graph' && source.graph !== undefined) {
    send(res, 200, source.graph());
  } else {
    send(res, 404, 'not found: try /healthz, /readyz, /targets or /graph\n');
  }
}

/** Starts the admin endpoint; rejects with a clear error when the address is taken. */
export function startAdminServer(source: AdminSource, host: string, port: number): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    try {
      handle(source, req, res);
    } catch (err) {
      send(res, 500, `internal error: ${(err as Error).message}\n`);
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new Error(
          `admin endpoint ${host}:${port}: ${err.code === 'EADDRINUSE' ? 'address in use' : err.message}`,
        ),
      );
    });
    server.listen(port, host, () => {
      const addr = server.address() as AddressInfo;
      const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      resolve({
        url: `http://${h}:${addr.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
