// Recorded HTTP/2 conversations between implementations nobody here wrote, for the user-space
// HTTP/2 benchmarks (bench/h2-agent.ts): Debian's h2load (nghttp2) to Debian's nginx serving h2c,
// both on loopback, through @owlk8s/h2's recording proxy, in the two shapes bench/h2-cost.ts runs
// at the bound's rate (H2LOAD_SHAPES: GET /, and gRPC's unary shape answered trailers-only), with
// its connections and streams in flight (4 × 64). The bytes become kernel records through the
// reference framer (recorded() in grpc-recording.ts), as seen at nginx's end.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordingProxy } from '@owlk8s/h2/testing';
import { freePorts } from '../../test/e2e/ports.ts';
import { sleep } from '../../test/harness/exec.ts';
import { h2load, requireTool } from '../../test/harness/index.ts';
import { nginxConfig } from '../../test/harness/servers.ts';
import { type RecordedGrpc, recorded } from './grpc-recording.ts';

/** Requests per recorded conversation. */
export const H2LOAD_REQUESTS = 20_000;
/** h2load's connections, streams in flight on each and its one thread (bench/h2-cost.ts adds its pace). */
export const H2LOAD_ARGS: readonly string[] = ['-c', '4', '-m', '64', '-t', '1'];

export interface H2loadShape {
  /** bench/h2-cost.ts's key for the shape's figures (its `summary` line). */
  readonly key: 'rate' | 'rateGrpc';
  /** What is asked, e.g. `GET /`. */
  readonly what: string;
  readonly path: string;
  /** h2load options beyond H2LOAD_ARGS; `message` is a file holding GRPC_MESSAGE. */
  readonly extra: (message: string) => readonly string[];
  /** The Prometheus series that counts the shape's requests at nginx's end (the server role). */
  readonly metric: string;
}

/** bench/h2-cost.ts's two h2load shapes. */
export const H2LOAD_SHAPES: readonly H2loadShape[] = [
  {
    key: 'rate',
    what: 'GET /',
    path: '/',
    extra: () => [],
    metric: 'http_server_request_duration_seconds_count',
  },
  {
    key: 'rateGrpc',
    what: "gRPC's unary shape",
    path: '/test.v1.Echo/Unary',
    extra: (message) => ['-d', message, '-H', 'content-type: application/grpc', '-H', 'te: trailers'],
    metric: 'rpc_server_call_duration_seconds_count',
  },
];

/** gRPC's message framing: uncompressed, 5 bytes long, "hello". */
export const GRPC_MESSAGE = Buffer.concat([Buffer.from([0, 0, 0, 0, 5]), Buffer.from('hello')]);

/** Records each shape's H2LOAD_REQUESTS requests; the records carry target 1 and `peerId`. */
export async function recordNginx(
  peerId: number,
): Promise<{ shape: H2loadShape; recorded: RecordedGrpc; port: number }[]> {
  requireTool('/usr/sbin/nginx', 'nginx-light');
  requireTool('/usr/bin/h2load', 'nghttp2-client');
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-nginx-recording-'));
  const [port, h2cPort] = await freePorts(2);
  writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, port, { h2cPort, address: '127.0.0.1' }));
  const message = join(dir, 'message');
  writeFileSync(message, GRPC_MESSAGE);
  const nginx = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: 'ignore',
  });
  try {
    for (let i = 0; ; i++) {
      try {
        await h2load(undefined, 1, [`http://127.0.0.1:${h2cPort}/`]);
        break;
      } catch (err) {
        if (i === 100) throw err;
        await sleep(50);
      }
    }
    const out: { shape: H2loadShape; recorded: RecordedGrpc; port: number }[] = [];
    for (const shape of H2LOAD_SHAPES) {
      const proxy = new RecordingProxy();
      const proxyPort = await proxy.listen(h2cPort);
      const t0 = performance.now();
      const r = await h2load(undefined, H2LOAD_REQUESTS, [
        ...H2LOAD_ARGS,
        ...shape.extra(message),
        `http://127.0.0.1:${proxyPort}${shape.path}`,
      ]);
      if (r.status['2xx'] !== H2LOAD_REQUESTS)
        throw new Error(`h2load ${shape.what}: ${r.status['2xx']} of ${H2LOAD_REQUESTS} answered 2xx`);
      await proxy.drained();
      await proxy.close();
      out.push({ shape, recorded: recorded(proxy, performance.now() - t0, peerId, h2cPort), port: h2cPort });
    }
    return out;
  } finally {
    nginx.kill('SIGTERM');
    await new Promise((resolve) => nginx.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}
