// Benchmark: one collection of the otel pipeline at 1,000 and 10,000 histogram series — record()
// of a snapshot in which every series changed (the worst case), then collection and export over
// OTLP (HTTP/protobuf and gRPC) to a loopback sink that reads and discards. Prints a Markdown table.
// Run: node bench/otel-pipeline.ts   (goal: under 20 ms per collection at 10,000 series)

import { spawn, spawnSync } from 'node:child_process';
import { subscribe } from 'node:diagnostics_channel';
import { type ClientRequest, createServer, type IncomingMessage } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import type { Aggregate, HttpMethod, Snapshot } from '@owlk8s/ebpf';
import type { PodTarget } from '@owlk8s/k8s';
import { createPipeline, type ExporterOptions } from '@owlk8s/otel';
// Internals, timed from outside to split collect+export into its parts.
import { KernelMetricProducer } from '../packages/otel/src/kernel-producer.ts';
import { CachingMetricsSerializer } from '../packages/otel/src/otlp-serializer.ts';
import { ZERO_SELF } from '../packages/otel/test/fixtures.ts';

const timings = { producer: [] as number[], serialize: [] as number[] };
const serializeRequest = CachingMetricsSerializer.prototype.serializeRequest;
CachingMetricsSerializer.prototype.serializeRequest = function (this: CachingMetricsSerializer, request) {
  const t0 = performance.now();
  const bytes = serializeRequest.call(this, request);
  timings.serialize.push(performance.now() - t0);
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
/** The sink's answer says when it had read the whole request, in this header. */
const READ_HEADER = 'x-owlk8s-bench-read-at';

function pod(i: number): PodTarget {
  return {
    uid: `0000-${i}`,
    name: `web-${i}`,
    namespace: 'bench',
    node: 'node-1',
    ips: ['198.18.0.10'],
    phase: 'Running',
    ready: true,
    workload: { kind: 'Deployment', name: `web-${i % 50}` },
    replicaSet: `web-${i % 50}-abc`,
    labels: {},
    ports: [{ port: 8080, services: [{ namespace: 'bench', name: `web-${i % 50}`, port: 80 }] }],
  };
}

/** 100 series per pod (server and client × 5 methods × 10 statuses); every bucket grows each collection. */
function snapshot(pods: number, round: number): Snapshot {
  const aggregates: Aggregate[] = [];
  const per = round + 1;
  for (let t = 0; t < pods; t++) {
    for (const role of ['server', 'client'] as const) {
      for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] as HttpMethod[]) {
        for (const statusCode of [200, 201, 204, 301, 304, 400, 401, 404, 500, 503]) {
          aggregates.push({
            targetId: t,
            role,
            port: role === 'server' ? 8080 : 9000,
            method,
            statusCode,
            httpMinor: 1,
            count: per * 15,
            durationSumNs: BigInt(per * 15) * 30_000_000n,
            bucketCounts: BOUNDARIES_NS.map(() => per).concat([per]),
          });
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
  const grpc = createHttp2Server();
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

async function run(
  series: number,
  exporter: ExporterOptions,
  label: string,
  seedMetrics = true,
): Promise<string> {
  const pods = Math.max(1, series / 100);
  const pipeline = await createPipeline({
    seedMetrics,
    exporters: [exporter],
    exportIntervalMillis: 3_600_000,
    exportTimeoutMillis: 60_000,
    cardinalityLimit: series,
    env: {},
  });
  for (let t = 0; t < pods; t++) pipeline.setTarget(t, pod(t));
  const record: number[] = [];
  const exportMs: number[] = [];
  const sent: number[] = [];
  const read: number[] = [];
  let cpuMicros = 0;
  for (let i = 0; i < ROUNDS + WARMUP; i++) {
    const next = snapshot(pods, i);
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
  await pipeline.shutdown();
  const total = record.map((r, i) => r + exportMs[i]!);
  const f = (x: number) => x.toFixed(1);
  const parts = (xs: number[]) => (xs.length === 0 ? '–' : f(quantile(xs.slice(WARMUP), 0.5)));
  const median = (xs: number[]) => (xs.length === 0 ? '–' : f(quantile(xs, 0.5)));
  return `| ${series.toLocaleString('en-US')} (${pods}) | ${label} | ${f(quantile(record, 0.5))} | ${f(quantile(exportMs, 0.5))} (${parts(timings.producer)} + ${parts(timings.serialize)}) | ${f(quantile(total, 0.5))} | ${f(quantile(total, 0.95))} | ${median(sent)} | ${median(read)} | ${f(cpuMicros / 1000 / ROUNDS)} | ${rssMb.toFixed(0)} | ${heapMb.toFixed(0)} |`;
}

// Each case runs in its own process, so that its resident memory is its own.
const CASES: readonly {
  label: string;
  exporter: 'otlp-http' | 'otlp-grpc';
  extra: Partial<ExporterOptions>;
  seed: boolean;
}[] = [
  { label: 'OTLP HTTP, cumulative', exporter: 'otlp-http', extra: { temporality: 'cumulative' }, seed: true },
  { label: 'OTLP HTTP, delta', exporter: 'otlp-http', extra: { temporality: 'delta' }, seed: true },
  { label: 'OTLP gRPC, cumulative', exporter: 'otlp-grpc', extra: { temporality: 'cumulative' }, seed: true },
  { label: 'OTLP HTTP, cumulative, gzip', exporter: 'otlp-http', extra: { compression: 'gzip' }, seed: true },
  { label: 'OTLP HTTP, cumulative, seed set off', exporter: 'otlp-http', extra: {}, seed: false },
];

if (process.argv[2] === 'sink') {
  await serveSinks();
} else if (process.argv[2] === 'case') {
  const series = Number(process.argv[3]);
  const c = CASES[Number(process.argv[4])]!;
  const sink = await sinks();
  const endpoint = c.exporter === 'otlp-http' ? sink.http : sink.grpc;
  const row = await run(
    series,
    { type: c.exporter, endpoint, ...c.extra } as ExporterOptions,
    c.label,
    c.seed,
  );
  sink.close();
  console.log(row);
} else {
  const rows: string[] = [];
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
      rows.push(r.stdout.trim());
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
}
