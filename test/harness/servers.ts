// Real HTTP servers inside a pod: Debian's nginx with fixed responses, and the Node status server.

import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from './exec.ts';
import type { Pod } from './pod.ts';
import { requireTool } from './privileges.ts';

export interface RunningServer {
  readonly pod: Pod;
  readonly port: number;
  /** URL of a path on this server through the pod's IPv4 (or IPv6) address. */
  url(path?: string, family?: 4 | 6): string;
  stop(): Promise<void>;
}

/** Status codes nginx answers at /status/NNN (nginx's `return` needs literal codes). */
export const NGINX_STATUSES = [200, 201, 204, 301, 400, 401, 403, 404, 409, 429, 500, 502, 503, 504] as const;

/**
 * nginx's configuration for startNginx (its files under `dir`), also for a benchmark that runs
 * nginx outside a pod (bench/lib/nginx-recording.ts, on loopback with `address`).
 */
export function nginxConfig(dir: string, port: number, opts: NginxOptions): string {
  const listen = (p: number, extra: string) =>
    opts.address === undefined
      ? `    listen ${p}${extra} backlog=4096;\n    listen [::]:${p}${extra} ipv6only=on backlog=4096;\n`
      : `    listen ${opts.address}:${p}${extra} backlog=4096;\n`;
  const statuses = NGINX_STATUSES.map(
    (s) => `    location = /status/${s} { return ${s}${s === 301 ? ' /' : s === 204 ? '' : ` "${s}\\n"`}; }`,
  ).join('\n');
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
user root;
events { worker_connections 8192; }
http {
${opts.accessLog === true ? `  log_format owlk8s '$remote_addr $request_method $status';\n  access_log ${dir}/access.log owlk8s;` : '  access_log off;'}
  keepalive_requests 10000000;
  tcp_nodelay ${opts.tcpNodelay === false ? 'off' : 'on'};
  keepalive_timeout 120s;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  default_type text/plain;
  server {
${listen(port, '')}${opts.h2cPort === undefined ? '' : listen(opts.h2cPort, ' http2')}    location = / { return 200 "ok\\n"; }
    # a gRPC unary call's trailers-only answer (grpc-status in the response's headers), for loads
    # that speak gRPC's request shape without a gRPC server (h2load in bench/h2-cost.ts)
    location = /test.v1.Echo/Unary { default_type application/grpc; add_header grpc-status 0 always; return 200; }
${opts.downloadBytes === undefined ? '' : `    location = /download { root ${dir}/files; sendfile on; }\n`}${statuses}
    location / { return 404 "404\\n"; }
  }
}
`;
}

/** Resolves once `what` (the child) answers 200 at `/` on the port from inside the pod; rejects if it exits first or after 10 s. */
export async function waitReady(pod: Pod, port: number, child: ChildProcess, what: string): Promise<void> {
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${what} in pod ${pod.name} exited before it served`);
    const r = await pod.exec([
      'curl',
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      `http://127.0.0.1:${port}/`,
    ]);
    if (r.stdout === '200') return;
    await sleep(50);
  }
  throw new Error(`${what} in pod ${pod.name} did not answer on port ${port} within 10 s`);
}

/** Resolves once the child prints its `{"listening":…}` line; rejects if it exits first or after 10 s. */
function untilListening(child: ChildProcess, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start in 10 s`)), 10_000);
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('"listening"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}`));
    });
  });
}

/** A stop(): SIGTERM, SIGKILL after 3 s, resolved when the child has exited. */
export function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await Promise.race([done, sleep(3000).then(() => child.kill('SIGKILL'))]);
    await done;
  };
}

export interface NginxOptions {
  /** Log each request as `METHOD STATUS` (nginx's $request_method and $status); default off. */
  readonly accessLog?: boolean;
  /**
   * TCP_NODELAY on keep-alive connections (nginx's default, true). false leaves Nagle on: the
   * responses to pipelined requests that wait for an ACK go out together, in coalesced segments.
   */
  readonly tcpNodelay?: boolean;
  /**
   * A second port where the same server speaks HTTP/2 in clear text (h2c with prior knowledge, as
   * h2load and gRPC clients start it: nginx's `listen PORT http2` without TLS); default none.
   */
  readonly h2cPort?: number;
  /** Listen on this IPv4 address only (nginxConfig outside a pod); default every address, both families. */
  readonly address?: string;
  /** Serve `/download`: a file of this many bytes, with sendfile (a large body in many segments); default none. */
  readonly downloadBytes?: number;
}

export interface NginxServer extends RunningServer {
  /**
   * The access log's lines so far, `METHOD STATUS` each, for requests from outside the pod (nginx
   * writes a line when it finishes a request, unbuffered). Throws when started without accessLog.
   */
  accessLog(): string[];
}

/** Starts nginx in the pod: `/` → 200, `/status/NNN` → NNN for NGINX_STATUSES, `/download` with downloadBytes, else 404. */
export async function startNginx(pod: Pod, port = 80, opts: NginxOptions = {}): Promise<NginxServer> {
  requireTool('/usr/sbin/nginx', 'nginx-light');
  const dir = mkdtempSync(join(tmpdir(), `owlk8s-nginx-${pod.name}-`));
  writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, port, opts));
  if (opts.downloadBytes !== undefined) {
    mkdirSync(join(dir, 'files'));
    writeFileSync(join(dir, 'files', 'download'), Buffer.alloc(opts.downloadBytes, 'x'));
  }
  // nginx itself runs as root (user root) so it can read this temp dir; it is inside the pod only.
  const child = pod.spawn(['nginx', '-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: 'ignore',
  });
  child.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  await waitReady(pod, port, child, 'nginx');
  const stop = stopper(child);
  const accessLog = () => {
    if (opts.accessLog !== true) throw new Error(`nginx in pod ${pod.name} was started without accessLog`);
    // waitReady's probes come from inside the pod (127.0.0.1): not part of any test's traffic.
    const lines = readFileSync(join(dir, 'access.log'), 'utf8').split('\n').filter(Boolean);
    return lines.filter((l) => !l.startsWith('127.0.0.1 ')).map((l) => l.slice(l.indexOf(' ') + 1));
  };
  return { pod, port, url: (path = '/', family = 4) => pod.url(port, path, family), stop, accessLog };
}

/** Starts the Node status server (status-server.ts) in the pod. */
export async function startStatusServer(pod: Pod, port = 8080): Promise<RunningServer> {
  const script = new URL('./status-server.ts', import.meta.url).pathname;
  const child = pod.spawn([process.execPath, script, '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await untilListening(child, `status server in pod ${pod.name}`);
  const stop = stopper(child);
  return { pod, port, url: (path = '/', family = 4) => pod.url(port, path, family), stop };
}

/** h2c and gRPC servers in the pod (test/harness/h2-server.ts), once both accept connections. */
export async function startH2Servers(
  pod: Pod,
  ports: { readonly h2c: number; readonly grpc: number },
): Promise<{ readonly stop: () => Promise<void> }> {
  const script = new URL('./h2-server.ts', import.meta.url).pathname;
  const child = pod.spawn(
    [process.execPath, script, '--h2c-port', String(ports.h2c), '--grpc-port', String(ports.grpc)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await untilListening(child, `h2c and gRPC servers in pod ${pod.name}`);
  return { stop: stopper(child) };
}
