// Benchmark: one collection of the otel pipeline at 1,000 and 10,000 histogram series — record()
// of a snapshot in which every series changed (the worst case), then collection and export over
// OTLP (HTTP/protobuf and gRPC) to a loopback sink that reads and discards. Pods are named as a
// cluster names them and counts differ between series, because the payload's size and how well it
// compresses depend on both. Prints a Markdown table, then a second one: the least time a round of
// the goal's two rows could take on this machine, from its stages timed alone.
// Run: node bench/otel-pipeline.ts   (goal: under 20 ms per collection at 10,000 series)

import { spawn, spawnSync } from 'node:child_process';
import { subscribe } from 'node:diagnostics_channel';
import { Agent, type ClientRequest, createServer, type IncomingMessage, request } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { gzipSync } from 'node:zlib';
import type { Aggregate, HttpMethod, Snapshot } from '@owlk8s/ebpf';
import type { PodTarget } from '@owlk8s/k8s';
import { createPipeline, type ExporterOptions } from '@owlk8s/otel';
// Internals, timed from outside to split collect+export into its parts.
import { KernelMetricProducer } from '../packages/otel/src/kernel-producer.ts';
import { CachingMetricsSerializer } from '../packages/otel/src/otlp-serializer.ts';
import { gzipParallel } from '../packages/otel/src/parallel-gzip.ts';
import { ZERO_SELF } from '../packages/otel/test/fixtures.ts';
import { OTEL_DEFAULT_ROW, OTEL_GOAL_ROW } from './lib/others.ts';

const timings = { producer: [] as number[], serialize: [] as number[] };
/** Set for one round after the measured ones: the request's bytes are copied here (the buffer is reused). */
const captured = { on: false, bytes: undefined as Uint8Array | undefined };
const serializeRequest = CachingMetricsSerializer.prototype.serializeRequest;
// Every argument passed on: the HTTP exporter's gzip path gives the serializer a `WriteProgress`
// and compresses each part as soon as it is written; without it, all of it after the serializer.
CachingMetricsSerializer.prototype.serializeRequest = function (
  this: CachingMetricsSerializer,
  ...args: Parameters<typeof serializeRequest>
) {
  const t0 = performance.now();
  const bytes = serializeRequest.apply(this, args);
  timings.serialize.push(performance.now() - t0);
  if (captured.on && bytes !== undefined) captured.bytes = Uint8Array.from(bytes);
  return bytes;
};
const collect = KernelMetricProducer.prototype.collect;
KernelMetricProducer.prototype.collect = async function (this: KernelMetricProducer) {
  const t0 = performance.now();
  const result = await collect.call(this);
  timings.producer.push(performance.now() - t0);
  return result;
};

const BOUNDARIES_NS = [5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000].map(
  (ms) => BigInt(ms) * 1_000_000n,
);
const ROUNDS = 30;
const WARMUP = 5;
/** The gRPC sink's HTTP/2 flow-control windows (stream and connection). */
const GRPC_WINDOW = 16 * 2 ** 20;
/** The sink's answer says when it had read the whole request, in this header. */
const READ_HEADER = 'x-owlk8s-bench-read-at';

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
    req.on('end', () =>
      // When it had read the whole body, on the machine's clock (both processes add their
      // performance.now() to their timeOrigin): where the agent's part of the wall time ends.
      res
        .writeHead(200, {
          'content-type': 'application/x-protobuf',
          [READ_HEADER]: String(performance.timeOrigin + performance.now()),
        })
        .end(),
    );
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

/**
 * The HTTP export of the current round, seen from outside the exporter: when its last byte was
 * handed to the kernel ('finish') and when the receiver had read it all (its answer's header).
 */
const httpRound = { sentAt: Number.NaN, readAt: Number.NaN };
subscribe('http.client.request.created', (message) => {
  const req = (message as { request: ClientRequest }).request;
  req.once('finish', () => {
    httpRound.sentAt = performance.now();
  });
  req.once('response', (res: IncomingMessage) => {
    const at = Number(res.headers[READ_HEADER]);
    if (Number.isFinite(at)) httpRound.readAt = at - performance.timeOrigin;
  });
});

const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

/**
 * The least time a round of this design could take on this machine: its stages that must follow
 * one another, each timed alone at its fastest in the same process. `record`, then the producer,
 * then the serializer, which the compression (gzip row) overlaps at best entirely, then one HTTP
 * exchange of the request's bytes with the same receiver. Left out: the SDK's observable
 * instruments and transport, and what the stages take from each other when they share the CPUs.
 */
interface Least {
  readonly recordMs: number;
  readonly producerMs: number;
  readonly serializerMs: number;
  /** zlib level 1 of the whole request in one piece on one thread: the compression's CPU time. */
  readonly gzipOneThreadMs: number | undefined;
  /** The agent's own compression (`gzipParallel`, in parts on libuv's pool), alone. */
  readonly gzipPoolMs: number | undefined;
  readonly sentBytes: number;
  /** One POST of the bytes as sent to the same receiver, up to its answer, alone. */
  readonly exchangeMs: number;
  readonly leastMs: number;
}

/** Each stage timed alone this many times; the fastest counts. */
const ALONE_RUNS = 9;

async function fastest(run: () => unknown): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < ALONE_RUNS; i++) {
    const t0 = performance.now();
    await run();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

function post(url: string, body: Uint8Array, agent: Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.end(body);
  });
}

async function leastOf(
  record: number[],
  producer: number[],
  serializer: number[],
  request: Uint8Array,
  compress: boolean,
  endpoint: string,
): Promise<Least> {
  const min = (xs: number[]) => Math.min(...xs);
  const gzipOneThreadMs = compress ? await fastest(() => gzipSync(request, { level: 1 })) : undefined;
  const gzipPoolMs = compress ? await fastest(() => gzipParallel(request)) : undefined;
  const sent = compress ? await gzipParallel(request) : request;
  const agent = new Agent({ keepAlive: true });
  const exchangeMs = await fastest(() => post(endpoint, sent, agent));
  agent.destroy();
  const [r, p, s] = [min(record), min(producer), min(serializer)];
  return {
    recordMs: r,
    producerMs: p,
    serializerMs: s,
    gzipOneThreadMs,
    gzipPoolMs,
    sentBytes: sent.length,
    exchangeMs,
    leastMs: r + p + Math.max(s, gzipPoolMs ?? 0) + exchangeMs,
  };
}

async function run(
  series: number,
  exporter: ExporterOptions,
  label: string,
  seedMetrics = true,
): Promise<{ row: string; least?: string }> {
  const pods = Math.max(1, series / 100);
  const pipeline = await createPipeline({
    seedMetrics,
    exporters: [exporter],
    exportIntervalMillis: 3_600_000,
    exportTimeoutMillis: 60_000,
    cardinalityLimit: series,
    env: {},
  });
  for (const [t, target] of podsOf(pods).entries()) pipeline.setTarget(t, target);
  const snapshot = traffic(pods);
  const record: number[] = [];
  const exportMs: number[] = [];
  const sent: number[] = [];
  const read: number[] = [];
  let cpuMicros = 0;
  for (let i = 0; i < ROUNDS + WARMUP; i++) {
    const next = snapshot(i);
    httpRound.sentAt = Number.NaN;
    httpRound.readAt = Number.NaN;
    const cpu0 = process.threadCpuUsage();
    const t0 = performance.now();
    pipeline.record(next);
    const t1 = performance.now();
    await pipeline.forceFlush();
    const t2 = performance.now();
    if (i >= WARMUP) {
      record.push(t1 - t0);
      exportMs.push(t2 - t1);
      if (Number.isFinite(httpRound.sentAt)) sent.push(httpRound.sentAt - t0);
      if (Number.isFinite(httpRound.readAt)) read.push(httpRound.readAt - t0);
      // The main thread's CPU time: the agent's own work, without waiting for the receiver or
      // for a CPU. Counted in scheduler ticks (4 ms here), so only its mean over the rounds holds.
      const cpu = process.threadCpuUsage(cpu0);
      cpuMicros += cpu.user + cpu.system;
    }
  }
  global.gc?.();
  const rssMb = process.memoryUsage().rss / 2 ** 20;
  const heapMb = process.memoryUsage().heapUsed / 2 ** 20;
  const total = record.map((r, i) => r + exportMs[i]!);
  const f = (x: number) => x.toFixed(1);
  let least: string | undefined;
  if (label === OTEL_GOAL_ROW || label === OTEL_DEFAULT_ROW) {
    // After the measured rounds and the memory reading: one more round, whose request is kept.
    const producer = timings.producer.slice(WARMUP);
    const serializer = timings.serialize.slice(WARMUP);
    captured.on = true;
    pipeline.record(snapshot(ROUNDS + WARMUP));
    await pipeline.forceFlush();
    captured.on = false;
    if (captured.bytes === undefined) throw new Error('no request was serialised in the kept round');
    const l = await leastOf(
      record,
      producer,
      serializer,
      captured.bytes,
      label === OTEL_DEFAULT_ROW,
      (exporter as { endpoint: string }).endpoint,
    );
    const p50 = quantile(total, 0.5);
    const opt = (x: number | undefined) => (x === undefined ? '–' : f(x));
    least = `| ${series.toLocaleString('en-US')} | ${label} | ${f(l.recordMs)} | ${f(l.producerMs)} | ${f(l.serializerMs)} | ${opt(l.gzipOneThreadMs)} | ${opt(l.gzipPoolMs)} | ${(l.sentBytes / 1e6).toFixed(2)} | ${f(l.exchangeMs)} | ${f(l.leastMs)} | ${f(p50)} | ${(p50 / l.leastMs).toFixed(2)} |`;
  }
  await pipeline.shutdown();
  const parts = (xs: number[]) => (xs.length === 0 ? '–' : f(quantile(xs.slice(WARMUP), 0.5)));
  const median = (xs: number[]) => (xs.length === 0 ? '–' : f(quantile(xs, 0.5)));
  const row = `| ${series.toLocaleString('en-US')} (${pods}) | ${label} | ${f(quantile(record, 0.5))} | ${f(quantile(exportMs, 0.5))} (${parts(timings.producer)} + ${parts(timings.serialize)}) | ${f(quantile(total, 0.5))} | ${f(quantile(total, 0.95))} | ${median(sent)} | ${median(read)} | ${f(cpuMicros / 1000 / ROUNDS)} | ${rssMb.toFixed(0)} | ${heapMb.toFixed(0)} |`;
  return { row, least };
}

// Each case runs in its own process, so that its resident memory is its own.
const CASES: readonly {
  label: string;
  exporter: 'otlp-http' | 'otlp-grpc';
  extra: Partial<ExporterOptions>;
  seed: boolean;
}[] = [
  { label: OTEL_GOAL_ROW, exporter: 'otlp-http', extra: { temporality: 'cumulative' }, seed: true },
  { label: 'OTLP HTTP, delta', exporter: 'otlp-http', extra: { temporality: 'delta' }, seed: true },
  { label: 'OTLP gRPC, cumulative', exporter: 'otlp-grpc', extra: { temporality: 'cumulative' }, seed: true },
  // The protocol and compression of every owlk8s file in otel-config/.
  { label: 'OTLP gRPC, cumulative, gzip', exporter: 'otlp-grpc', extra: { compression: 'gzip' }, seed: true },
  { label: OTEL_DEFAULT_ROW, exporter: 'otlp-http', extra: { compression: 'gzip' }, seed: true },
  { label: 'OTLP HTTP, cumulative, seed set off', exporter: 'otlp-http', extra: {}, seed: false },
];

if (process.argv[2] === 'sink') {
  await serveSinks();
} else if (process.argv[2] === 'case') {
  const series = Number(process.argv[3]);
  const c = CASES[Number(process.argv[4])]!;
  const sink = await sinks();
  const endpoint = c.exporter === 'otlp-http' ? sink.http : sink.grpc;
  const { row, least } = await run(
    series,
    { type: c.exporter, endpoint, ...c.extra } as ExporterOptions,
    c.label,
    c.seed,
  );
  sink.close();
  console.log(row);
  if (least !== undefined) console.log(`least ${least}`);
} else {
  const rows: string[] = [];
  const leasts: string[] = [];
  for (const series of [100, 1000, 10_000]) {
    // 100 series (one pod): the baseline memory of the process.
    for (let i = 0; i < (series === 100 ? 1 : CASES.length); i++) {
      const r = spawnSync(
        process.execPath,
        ['--expose-gc', import.meta.filename, 'case', String(series), String(i)],
        {
          encoding: 'utf8',
        },
      );
      if (r.status !== 0) throw new Error(`case ${series} ${CASES[i]!.label} failed: ${r.stderr}`);
      for (const line of r.stdout.trim().split('\n')) {
        if (line.startsWith('least ')) leasts.push(line.slice('least '.length));
        else rows.push(line);
      }
    }
  }
  console.log(
    `Node ${process.version}, ${ROUNDS} collections after ${WARMUP} warm-up ones, every series changed each time; ` +
      `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}.\n`,
  );
  console.log(
    '| series (pods) | exporter | record ms (p50) | collect+export ms (p50) (producer + serializer) | total ms (p50) | total ms (p95) | sent ms (p50) | read ms (p50) | main-thread CPU ms (mean) | RSS MiB | heap after GC MiB |',
  );
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) console.log(row);
  console.log(
    `\nThe least time a round of this design could take here, for the two HTTP rows the goal is read from: the stages that must follow one another, each timed alone at its fastest (of ${ALONE_RUNS}) in the same process right after the rows' rounds: record, producer, the serializer or the compression on the pool if longer (it overlaps the serializer at best entirely), one HTTP exchange of the bytes as sent with the same receiver. A lower bound: the SDK's instruments and transport, and what the stages take from each other on shared CPUs, are left out.\n`,
  );
  console.log(
    '| series | exporter | record ms (min) | producer ms (min) | serializer ms (min) | gzip level 1, one thread ms (min) | gzip on the pool ms (min) | sent MB | exchange ms (min) | least ms | total ms (p50) | total / least |',
  );
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const least of leasts) console.log(least);
}
