// Debian's lighttpd, Apache and haproxy, and Python's http.server, run in a pod with their own
// access logs: the servers of third-party.test.ts, which nobody here wrote.

import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Pod, requireTool, sleep, stopper, waitReady } from '@owlk8s/e2e/harness';

/** The files every server but haproxy serves: `/`, `/small`, `/mid` and `/big`, of these sizes. */
export const FILES = { 'index.html': 10, small: 3, mid: 20_000, big: 300_000 } as const;

/** One request in a server's access log. */
export interface Logged {
  readonly method: string;
  readonly status: number;
}

export interface ThirdPartyServer extends AsyncDisposable {
  readonly port: number;
  /**
   * Stops the server (which flushes lighttpd's buffered log) and returns its access log, without
   * the readiness probes; haproxy's is empty (its log to stdout drops lines under load). Leaving
   * an `await using` block stops it too, if the test did not get that far.
   */
  stop(): Promise<Logged[]>;
}

export type ServerKind = 'lighttpd' | 'apache2' | 'python' | 'haproxy';

const TOOLS: Record<ServerKind, readonly [string, string]> = {
  lighttpd: ['/usr/sbin/lighttpd', 'lighttpd'],
  apache2: ['/usr/sbin/apache2', 'apache2'],
  python: ['/usr/bin/python3', 'python3'],
  haproxy: ['/usr/sbin/haproxy', 'haproxy'],
};

/**
 * Starts a server in the pod on `port`: haproxy proxies everything to `backend` (`host:port`),
 * reusing its connections, and keeps no log; the others serve FILES and log each request,
 * `ADDRESS METHOD STATUS` (python its own line, to stderr), lighttpd buffered until stop(). A line
 * is what the server wrote to its socket, not what reached the wire (third-party.test.ts).
 */
export async function startServer(
  pod: Pod,
  kind: ServerKind,
  port: number,
  backend?: string,
): Promise<ThirdPartyServer> {
  requireTool(...TOOLS[kind]);
  const dir = mkdtempSync(join(tmpdir(), `owlk8s-${kind}-${pod.name}-`));
  chmodSync(dir, 0o755); // Apache's workers run as www-data
  const www = join(dir, 'www');
  mkdirSync(www, { mode: 0o755 });
  for (const [name, size] of Object.entries(FILES)) writeFileSync(join(www, name), Buffer.alloc(size, 'x'));
  const log = join(dir, 'access.log');
  writeFileSync(log, '');
  chmodSync(log, 0o666);
  const child = pod.spawn(command(kind, dir, port, backend), { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: Buffer) => {
    output += d.toString();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  try {
    // haproxy's probe would reach its backend, whose log would count it: it is only listened for
    if (kind === 'haproxy') await listening(pod, port, child);
    else await waitReady(pod, port, child, kind);
  } catch (e) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${(e as Error).message}; its output: ${output.slice(-800)}`);
  }
  const stop = stopper(child);
  let stopped: Promise<Logged[]> | undefined;
  const stopAndRead = () => {
    stopped ??= stop().then(() => {
      const text = kind === 'python' ? output : kind === 'haproxy' ? '' : readFileSync(log, 'utf8');
      rmSync(dir, { recursive: true, force: true });
      return parseLog(kind, text);
    });
    return stopped;
  };
  return {
    port,
    stop: stopAndRead,
    [Symbol.asyncDispose]: async () => {
      await stopAndRead();
    },
  };
}

/** Resolves once something listens on the pod's TCP port; rejects if the child exits first or after 10 s. */
async function listening(pod: Pod, port: number, child: ChildProcess): Promise<void> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(50)) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`haproxy in pod ${pod.name} exited`);
    const r = await pod.exec(['ss', '-Hltn', `sport = :${port}`]);
    if (r.stdout.trim() !== '') return;
  }
  throw new Error(`haproxy in pod ${pod.name} did not listen on port ${port} within 10 s`);
}

/** The argv that starts `kind` in the foreground, after writing its configuration in `dir`. */
function command(kind: ServerKind, dir: string, port: number, backend: string | undefined): string[] {
  const www = join(dir, 'www');
  const log = join(dir, 'access.log');
  const conf = join(dir, `${kind}.conf`);
  switch (kind) {
    case 'lighttpd':
      writeFileSync(
        conf,
        `server.document-root = "${www}"
server.port = ${port}
server.errorlog = "${dir}/error.log"
server.modules = ("mod_accesslog", "mod_indexfile")
index-file.names = ("index.html")
accesslog.filename = "${log}"
accesslog.format = "%h %m %>s"
server.max-keep-alive-requests = 100000
`,
      );
      return ['lighttpd', '-D', '-f', conf];
    case 'apache2': {
      const m = '/usr/lib/apache2/modules';
      writeFileSync(
        conf,
        `ServerRoot ${dir}
Listen ${port}
PidFile ${dir}/apache2.pid
LoadModule mpm_event_module ${m}/mod_mpm_event.so
LoadModule authz_core_module ${m}/mod_authz_core.so
LoadModule mime_module ${m}/mod_mime.so
LoadModule dir_module ${m}/mod_dir.so
User www-data
Group www-data
ServerName owlk8s-test
TypesConfig /etc/mime.types
DocumentRoot ${www}
<Directory ${www}>
  Require all granted
</Directory>
ErrorLog ${dir}/error.log
LogFormat "%a %m %>s" owlk8s
CustomLog ${log} owlk8s
MaxKeepAliveRequests 0
`,
      );
      return ['apache2', '-DFOREGROUND', '-f', conf];
    }
    case 'python':
      return ['/usr/bin/python3', '-u', '-m', 'http.server', String(port), '--directory', www];
    case 'haproxy':
      if (backend === undefined) throw new Error('haproxy needs a backend (host:port)');
      writeFileSync(
        conf,
        `defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend fe
  bind :${port}
  default_backend be
backend be
  server web ${backend}
`,
      );
      return ['haproxy', '-db', '-f', conf];
  }
}

/** The log's requests from outside the pod (the readiness probes come from 127.0.0.1). */
function parseLog(kind: ServerKind, text: string): Logged[] {
  const out: Logged[] = [];
  for (const line of text.split('\n')) {
    if (kind === 'python') {
      // 198.18.0.11 - - [07/Dec/2026 17:36:10] "GET /small HTTP/1.0" 200 -
      const m = /^(\S+) - - \[[^\]]*\] "(\S+) \S+ HTTP\/1\.\d" (\d{3}) /.exec(line);
      if (m && m[1] !== '127.0.0.1') out.push({ method: m[2]!, status: Number(m[3]) });
      continue;
    }
    const [address, method, status] = line.split(' ');
    if (address === undefined || address === '' || address === '127.0.0.1') continue;
    out.push({ method: method!, status: Number(status) });
  }
  return out;
}
