// Benchmark: what the agent's export costs at the workload of a full node — 110 pods (the
// kubelet's default maximum) × 100 histogram series, a 10-s export interval — through the SDK's
// own OTLP exporters, one resource per pod, to a loopback sink in another process that reads and
// discards. Each round records a snapshot in which every series changed (the worst case: nothing
// is left out of a delta) and exports it; the process's whole CPU time (main thread and libuv's
// threads, where zlib compresses) per round, over the 10-s interval, is the share of one core.
// Run: node bench/otel-pipeline.ts   (goal: under 2 % of one core with gzip on)

import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { podIdentity } from '@owlk8s/agent';
import type { Aggregate, HttpMethod, Snapshot } from '@owlk8s/ebpf';
import { ZERO_SELF } from '@owlk8s/ebpf/testing';
import type { PodTarget } from '@owlk8s/k8s';
import { createPipeline, type ExporterOptions } from '@owlk8s/otel';
import { OTEL_GOAL_ROW } from './lib/others.ts';

const BOUNDARIES_NS = [5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000].map(
  (ms) => BigInt(ms) * 1_000_000n,
);
const PODS = 110;
const INTERVAL_MS = 10_000;
const ROUNDS = 30;
const WARMUP = 5;
/** The gRPC sink's HTTP/2 flow-control windows (stream and connection), as a Collector's grow. */
const GRPC_WINDOW = 16 * 2 ** 20;

/** A fixed-seed generator (mulberry32): the same pods and counts in every run. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const APPS = ['checkout', 'cart', 'payments', 'catalog', 'search', 'recommendations', 'shipping', 'frontend'];
const NAMESPACES = ['shop', 'payments', 'platform'];
/** The characters Kubernetes uses in generated name suffixes. */
const SUFFIX = 'bcdfghjklmnpqrstvwxz2456789';

/**
 * Pods as a cluster names them, so that the payload has its real size and variety (a bare
 * `web-1` made it an eighth smaller and far easier to compress): a UUID, generated name suffixes,
 * a cloud node name.
 */
function podsOf(n: number): PodTarget[] {
  const rnd = generator(1);
  const pick = (chars: string, length: number) =>
    Array.from({ length }, () => chars[Math.floor(rnd() * chars.length)]).join('');
  const templateHash = APPS.map(() => pick(SUFFIX, 10));
  return Array.from({ length: n }, (_, i) => {
    const app = i % APPS.length;
    const namespace = NAMESPACES[i % NAMESPACES.length]!;
    const replicaSet = `${APPS[app]}-${templateHash[app]}`;
    const hex = pick('0123456789abcdef', 32);
    return {
      uid: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
      name: `${replicaSet}-${pick(SUFFIX, 5)}`,
      namespace,
      node: 'ip-10-0-12-34.eu-west-1.compute.internal',
      ips: ['198.18.0.10'],
      phase: 'Running',
      ready: true,
      workload: { kind: 'Deployment', name: APPS[app]! },
      replicaSet,
      // None, as the agent keeps by default (`targets.kubernetes.labels: []`): each configured
      // label would add its key and value to every point.
      labels: {},
      ports: [{ port: 8080, services: [{ namespace, name: APPS[app]!, port: 80 }] }],
    };
  });
}

/** Requests per bucket and collection, at most: most are fast, a few slow. */
const BUCKET_RATES = [400, 300, 200, 100, 60, 40, 20, 8, 4, 2, 1, 1, 1, 1, 1];
/** A bucket's typical duration, for the sum: between its bounds (the last one: 15 s). */
const BUCKET_MID_NS = BOUNDARIES_NS.map(
  (b, i) => (Number(b) + (i === 0 ? 0 : Number(BOUNDARIES_NS[i - 1]))) / 2,
).concat([15e9]);

/**
 * The kernel's running totals, 100 series per pod (server and client × 5 methods × 10 statuses).
 * Every bucket of every series grows by its own amount each collection (the worst case: nothing
 * is unchanged), so counts differ from series to series as they do in a cluster.
 */
function traffic(pods: number): (round: number) => Snapshot {
  const rnd = generator(2);
  const series = pods * 100;
  const buckets = new Float64Array(series * BUCKET_RATES.length);
  const sumNs = new Float64Array(series);
  return (round) => {
    const aggregates: Aggregate[] = [];
    let s = 0;
    for (let t = 0; t < pods; t++) {
      for (const role of ['server', 'client'] as const) {
        for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] as HttpMethod[]) {
          for (const statusCode of [200, 201, 204, 301, 304, 400, 401, 404, 500, 503]) {
            const bucketCounts: number[] = [];
            let count = 0;
            for (let b = 0; b < BUCKET_RATES.length; b++) {
              const added = 1 + Math.floor(rnd() * BUCKET_RATES[b]!);
              const at = s * BUCKET_RATES.length + b;
              buckets[at]! += added;
              sumNs[s]! += added * BUCKET_MID_NS[b]! * (0.8 + 0.4 * rnd());
              bucketCounts.push(buckets[at]!);
              count += buckets[at]!;
            }
            aggregates.push({
              targetId: t,
              role,
              port: role === 'server' ? 8080 : 9000,
              method,
              statusCode,
              httpMinor: 1,
              count,
              durationSumNs: BigInt(Math.round(sumNs[s]!)),
              bucketCounts,
            });
            s++;
          }
        }
      }
    }
    return {
      monotonicNs: BigInt(round),
      time: new Date(),
      boundariesNs: BOUNDARIES_NS,
      aggregates,
      inFlight: [],
      self: ZERO_SELF,
    };
  };
}

/** Runs in its own process (argument `sink`): the receiving side must not share the measured event loop. */
async function serveSinks(): Promise<void> {
  const http = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  // HTTP/2 flow-control windows at the most a Collector's reach (grpc-go grows them from its
  // bandwidth-delay estimate, up to 16 MiB), so that the gRPC rows show the agent's cost: with
  // Node's 64 KiB defaults the sink paced the 7.7 MB request (49–108 ms at 10,000 series). On a
  // real network a Collector's windows, and so this transfer, depend on that network.
  const grpc = createHttp2Server({ settings: { initialWindowSize: GRPC_WINDOW } });
  grpc.on('session', (session) => session.setLocalWindowSize(GRPC_WINDOW));
  grpc.on('stream', (stream) => {
    stream.resume();
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.alloc(5));
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => grpc.listen(0, '127.0.0.1', r));
  process.stdout.write(`${(http.address() as AddressInfo).port} ${(grpc.address() as AddressInfo).port}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

async function sinks(): Promise<{ http: string; grpc: string; close: () => void }> {
  const child = spawn(process.execPath, [import.meta.filename, 'sink'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const ports = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', (code) => reject(new Error(`sink exited with ${code}`)));
  });
  const [http, grpc] = ports.split(' ');
  return {
    http: `http://127.0.0.1:${http}/v1/metrics`,
    grpc: `http://127.0.0.1:${grpc}`,
    close: () => child.stdin.end(),
  };
}

const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

/** One case: ROUNDS measured rounds of record + export, after WARMUP ones. */
async function run(exporter: ExporterOptions | undefined, label: string): Promise<string> {
  const pipeline = await createPipeline({
    exporters: exporter === undefined ? [] : [exporter],
    exportIntervalMillis: 3_600_000,
    exportTimeoutMillis: 60_000,
    cardinalityLimit: PODS * 100,
    logger: { warn: () => {}, error: (d, m) => console.error(m, d) },
  });
  for (const [t, pod] of podsOf(PODS).entries()) pipeline.setTarget(t, podIdentity(pod));
  const snapshot = traffic(PODS);
  const cpuMs: number[] = [];
  const wallMs: number[] = [];
  for (let i = 0; i < ROUNDS + WARMUP; i++) {
    const next = snapshot(i);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    pipeline.record(next);
    await pipeline.forceFlush();
    const t1 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    if (i >= WARMUP) {
      cpuMs.push((cpu.user + cpu.system) / 1000);
      wallMs.push(t1 - t0);
    }
  }
  await pipeline.shutdown();
  global.gc?.();
  const rssMb = process.memoryUsage().rss / 2 ** 20;
  const mean = cpuMs.reduce((a, b) => a + b, 0) / cpuMs.length;
  const f = (x: number) => x.toFixed(1);
  return `| ${label} | ${f(mean)} | ${f(quantile(cpuMs, 0.5))} | ${f(quantile(cpuMs, 0.9))} | ${((mean / INTERVAL_MS) * 100).toFixed(2)} | ${f(quantile(wallMs, 0.5))} | ${f(quantile(wallMs, 0.9))} | ${rssMb.toFixed(0)} |`;
}

// Each case runs in its own process, so that its memory and JIT state are its own.
const CASES: readonly {
  label: string;
  exporter?: 'otlp-http' | 'otlp-grpc';
  extra?: Partial<ExporterOptions>;
}[] = [
  // The baseline: the same rounds without an exporter (record and nothing else).
  { label: 'no exporter (record only)' },
  // The protocol and compression of every owlk8s file in otel-config/.
  { label: OTEL_GOAL_ROW, exporter: 'otlp-http', extra: { compression: 'gzip' } },
  {
    label: 'OTLP HTTP, delta, gzip',
    exporter: 'otlp-http',
    extra: { compression: 'gzip', temporality: 'delta' },
  },
  { label: 'OTLP HTTP, cumulative, uncompressed', exporter: 'otlp-http', extra: {} },
  { label: 'OTLP gRPC, cumulative, gzip', exporter: 'otlp-grpc', extra: { compression: 'gzip' } },
];

if (process.argv[2] === 'sink') {
  await serveSinks();
} else if (process.argv[2] === 'case') {
  const c = CASES[Number(process.argv[3])]!;
  const sink = await sinks();
  const endpoint = c.exporter === 'otlp-grpc' ? sink.grpc : sink.http;
  const exporter =
    c.exporter === undefined ? undefined : ({ type: c.exporter, endpoint, ...c.extra } as ExporterOptions);
  console.log(await run(exporter, c.label));
  sink.close();
} else {
  const rows: string[] = [];
  for (let i = 0; i < CASES.length; i++) {
    const r = spawnSync(process.execPath, ['--expose-gc', import.meta.filename, 'case', String(i)], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`case ${CASES[i]!.label} failed: ${r.stderr}`);
    rows.push(r.stdout.trim());
  }
  console.log(
    `Node ${process.version}; ${PODS} pods × 100 series, ${ROUNDS} rounds after ${WARMUP} warm-up ones, every series changed each round; ` +
      `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}.\n`,
  );
  console.log(
    '| exporter | CPU ms per round (mean) | CPU ms (p50) | CPU ms (p90) | % of one core at a 10-s interval | wall ms (p50) | wall ms (p90) | RSS MiB |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) console.log(row);
}
