import assert from 'node:assert/strict';
import { pbkdf2 } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttp2Server, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { gunzipSync, inflateRawSync } from 'node:zlib';
import type { HrTime } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { OtlpGrpcMetricExporter, OtlpHttpMetricExporter } from '../src/otlp-exporters.ts';
import { CachingMetricsSerializer } from '../src/otlp-serializer.ts';

/**
 * About 250 bytes a point: 1,000 points (250 kB) make the exporter reuse its buffer, 12,000 (3 MB)
 * make it gzip in parts. `value` makes each request's bytes its own.
 */
function request(value: number, points = 1000): ResourceMetrics {
  const gauge: MetricData = {
    descriptor: { name: 'g', description: '', unit: '', valueType: 1 },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints: attributes.slice(0, points).map((a, i) => ({
      startTime: START,
      endTime: END,
      attributes: a,
      value: value * 10_000 + i,
    })),
  };
  return { resource, scopeMetrics: [{ scope: { name: 's' }, metrics: [gauge] }] };
}
// Shared, as the SDK's points share their collection's times (the serializer caches each time's encoding).
const START: HrTime = [1_764_000_000, 0];
const END: HrTime = [1_764_000_060, 0];
const attributes = Array.from({ length: 12_000 }, (_, i) => ({
  'k8s.pod.name': `pod-${i}`,
  pad: 'x'.repeat(200),
}));
const resource = resourceFromAttributes({ 'service.name': 'owlk8s' });

/** What the tests need of an HTTP or HTTP/2 server. */
interface Listening {
  listen(port: number, host: string, listening: () => void): unknown;
  address(): AddressInfo | string | null;
  close(): unknown;
}

/**
 * Listens on a free port, makes the exporter for it, runs the checks with one export (of `points`
 * points) per call, then closes both.
 */
async function withExporter(
  server: Listening,
  make: (port: number) => OtlpGrpcMetricExporter | OtlpHttpMetricExporter,
  check: (send: (value: number) => Promise<ExportResult>) => Promise<void>,
  points = 1000,
): Promise<void> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const exporter = make((server.address() as AddressInfo).port);
  try {
    await check(
      (value) => new Promise<ExportResult>((resolve) => exporter.export(request(value, points), resolve)),
    );
  } finally {
    await exporter.shutdown();
    server.close();
  }
}

/**
 * Exports 1 and 2 at once (the first answer waits for the second request), then 3 and 4 one after
 * the other, and checks that each request carried exactly its own export's bytes.
 */
async function assertOwnBytes(
  send: (value: number) => Promise<ExportResult>,
  bodies: Buffer[],
  points = 1000,
): Promise<void> {
  const concurrent = await Promise.all([send(1), send(2)]);
  const successive = [await send(3), await send(4)];
  assert.deepEqual(
    [...concurrent, ...successive].map((r) => r.code),
    [ExportResultCode.SUCCESS, ExportResultCode.SUCCESS, ExportResultCode.SUCCESS, ExportResultCode.SUCCESS],
  );
  const expected = [1, 2, 3, 4].map((v) =>
    Buffer.from(ProtobufMetricsSerializer.serializeRequest(request(v, points))!),
  );
  assert.equal(bodies.length, 4);
  assert.ok(expected[0]!.length > 200 * points, `${expected[0]!.length} bytes`);
  // The two concurrent ones may arrive in either order.
  const firstTwo = bodies.slice(0, 2).sort(Buffer.compare);
  const expectedTwo = [expected[0]!, expected[1]!].sort(Buffer.compare);
  assert.ok(firstTwo[0]!.equals(expectedTwo[0]!), 'export 1 or 2');
  assert.ok(firstTwo[1]!.equals(expectedTwo[1]!), 'export 2 or 1');
  assert.ok(bodies[2]!.equals(expected[2]!), 'export 3');
  assert.ok(bodies[3]!.equals(expected[3]!), 'export 4');
}

/**
 * A gzip request body, unpacked: it must say gzip, and be one gzip member (raw inflate of what lies
 * between header and trailer stops at the first final block, so joined parts would come back short).
 */
function gunzipOne(req: IncomingMessage, body: Buffer): Buffer {
  assert.equal(req.headers['content-encoding'], 'gzip');
  const data = gunzipSync(body);
  assert.ok(inflateRawSync(body.subarray(10, body.length - 8)).equals(data), 'one gzip member');
  return data;
}

/**
 * An OTLP/HTTP receiver that keeps every request's body, unpacked with `gzip` (and then required to
 * be gzip; without, required not to be). `holdFirst`: the first answer waits for the second request,
 * so that two exports are in flight at once. `status`: the answer to the n-th request (from 1).
 */
function bodyReceiver(
  bodies: Buffer[],
  options: { gzip?: boolean; holdFirst?: boolean; status?: (n: number) => number } = {},
): Server {
  const waiting: ServerResponse[] = [];
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (options.gzip) bodies.push(gunzipOne(req, body));
      else {
        assert.equal(req.headers['content-encoding'], undefined);
        bodies.push(body);
      }
      waiting.push(res);
      if (options.holdFirst && bodies.length === 1) return;
      const status = options.status?.(bodies.length) ?? 200;
      for (const r of waiting.splice(0))
        r.writeHead(status, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
}

test('HTTP exporter: concurrent and successive exports each arrive with their own bytes', async () => {
  const bodies: Buffer[] = [];
  const server = bodyReceiver(bodies, { holdFirst: true });
  await withExporter(
    server,
    (port) => new OtlpHttpMetricExporter({ url: `http://127.0.0.1:${port}/v1/metrics` }),
    (send) => assertOwnBytes(send, bodies),
  );
});

// The SDK's gRPC transport copies each request before grpc-js sees it: this checks the bytes of
// exports written into a reused buffer; that the buffer is held until the answer is the HTTP
// retry test's to check (gRPC's transport never resends).
test('gRPC exporter: concurrent and successive exports each arrive with their own bytes', async () => {
  const bodies: Buffer[] = [];
  const waiting: ServerHttp2Stream[] = [];
  const answer = (stream: ServerHttp2Stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    // An empty ExportMetricsServiceResponse: a 5-byte frame header with length 0.
    stream.end(Buffer.alloc(5));
  };
  const server = createHttp2Server();
  server.on('stream', (stream) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const frame = Buffer.concat(chunks);
      // One uncompressed gRPC message: flag 0, 32-bit length, the protobuf bytes.
      assert.equal(frame[0], 0);
      assert.equal(frame.readUInt32BE(1), frame.length - 5);
      bodies.push(frame.subarray(5));
      waiting.push(stream);
      if (bodies.length === 1) return;
      for (const s of waiting.splice(0)) answer(s);
    });
  });
  await withExporter(
    server,
    (port) => new OtlpGrpcMetricExporter({ url: `http://127.0.0.1:${port}` }),
    (send) => assertOwnBytes(send, bodies),
  );
});

/**
 * Export 1 is refused once (retryable) and retried about a second later by the SDK's retrying
 * transport, with the bytes it was given; export 2 is serialised in between. The retry must carry
 * export 1's bytes: its buffer stays with it until the export answers, and export 2 gets another.
 */
async function assertRetryKeepsItsBytes(
  send: (value: number) => Promise<ExportResult>,
  bodies: Buffer[],
  points = 1000,
): Promise<void> {
  const first = send(1);
  while (bodies.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  const second = await send(2);
  const results = [second, await first];
  assert.deepEqual(
    results.map((r) => r.code),
    [ExportResultCode.SUCCESS, ExportResultCode.SUCCESS],
  );
  const expected = [1, 2].map((v) =>
    Buffer.from(ProtobufMetricsSerializer.serializeRequest(request(v, points))!),
  );
  assert.equal(bodies.length, 3);
  assert.ok(bodies[0]!.equals(expected[0]!), 'export 1, refused');
  assert.ok(bodies[1]!.equals(expected[1]!), 'export 2');
  assert.ok(bodies[2]!.equals(expected[0]!), 'export 1, retried');
}

test('HTTP exporter: a retried export resends its own bytes after another export was serialised', async () => {
  const bodies: Buffer[] = [];
  const server = bodyReceiver(bodies, { status: (n) => (n === 1 ? 503 : 200) });
  await withExporter(
    server,
    (port) => new OtlpHttpMetricExporter({ url: `http://127.0.0.1:${port}/v1/metrics` }),
    (send) => assertRetryKeepsItsBytes(send, bodies),
  );
});

const gzipExporter = (port: number) =>
  new OtlpHttpMetricExporter({
    url: `http://127.0.0.1:${port}/v1/metrics`,
    compression: CompressionAlgorithm.GZIP,
  });

// 3 MB requests: compressed in parts, into one member, from a reused buffer.
test('HTTP exporter with gzip: concurrent and successive exports each arrive compressed with their own bytes', async () => {
  const bodies: Buffer[] = [];
  const server = bodyReceiver(bodies, { gzip: true, holdFirst: true });
  await withExporter(
    server,
    gzipExporter,
    async (send) => {
      // With libuv's pool busy, compression waits until both exports are serialised: export 2
      // would overwrite export 1's bytes before they are compressed if its buffer were free early.
      // The points' encodings are cached first, so that both serialise well within that time.
      new CachingMetricsSerializer().serializeRequest(request(0, 12_000));
      const busy = occupyThreadPool();
      await assertOwnBytes(send, bodies, 12_000);
      await busy;
    },
    12_000,
  );
});

/**
 * Keeps every thread of libuv's pool busy for about 0.2 s here (pbkdf2 runs there); `onJobDone`
 * runs as each thread's job calls back, before that thread takes other work.
 */
function occupyThreadPool(onJobDone: () => void = () => {}): Promise<unknown> {
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  return Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise((resolve) =>
          pbkdf2('owlk8s', 'salt', 400_000, 32, 'sha256', () => {
            onJobDone();
            resolve(undefined);
          }),
        ),
    ),
  );
}

test('HTTP exporter with gzip: serialisation failing after parts went to the pool answers FAILED once they are done', async () => {
  const bodies: Buffer[] = [];
  const server = bodyReceiver(bodies, { gzip: true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const exporter = gzipExporter((server.address() as AddressInfo).port);
  try {
    // The last point's value is read only when it is written: 3.3 MB are written (two of the
    // request's three parts handed to the pool) before it throws.
    const broken = request(7, 12_000);
    const points = broken.scopeMetrics[0]!.metrics[0]!.dataPoints;
    Object.defineProperty(points[points.length - 1], 'value', {
      get() {
        throw new Error('value unreadable');
      },
    });
    // libuv's pool busy: a part can start only once a thread is free, after its job's callback.
    let jobsDone = 0;
    const busy = occupyThreadPool(() => jobsDone++);
    const result = await new Promise<ExportResult>((resolve) => exporter.export(broken, resolve));
    // The buffer is not free, nor the export answered, before the parts handed over are done.
    assert.ok(jobsDone > 0, 'answered before any part could be compressed');
    assert.equal(result.code, ExportResultCode.FAILED);
    assert.match(String(result.error), /value unreadable/);
    await busy;
    const next = await new Promise<ExportResult>((resolve) => exporter.export(request(8, 12_000), resolve));
    assert.equal(next.code, ExportResultCode.SUCCESS);
    assert.equal(bodies.length, 1);
    assert.ok(
      bodies[0]!.equals(Buffer.from(ProtobufMetricsSerializer.serializeRequest(request(8, 12_000))!)),
    );
  } finally {
    await exporter.shutdown();
    server.close();
  }
});

test('HTTP exporter with gzip: a retried export resends its own compressed bytes', async () => {
  const bodies: Buffer[] = [];
  const server = bodyReceiver(bodies, { gzip: true, status: (n) => (n === 1 ? 503 : 200) });
  await withExporter(server, gzipExporter, (send) => assertRetryKeepsItsBytes(send, bodies, 12_000), 12_000);
});

test('HTTP exporter: OTEL_EXPORTER_OTLP_COMPRESSION=gzip compresses here too; forceFlush waits for an export still compressing', async () => {
  const bodies: Buffer[] = [];
  const server = bodyReceiver(bodies, { gzip: true });
  process.env.OTEL_EXPORTER_OTLP_COMPRESSION = 'gzip';
  try {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const exporter = new OtlpHttpMetricExporter({ url: `http://127.0.0.1:${port}/v1/metrics` });
    let result: ExportResult | undefined;
    exporter.export(request(5, 12_000), (r) => {
      result = r;
    });
    await exporter.forceFlush();
    assert.equal(result?.code, ExportResultCode.SUCCESS);
    assert.equal(bodies.length, 1);
    assert.ok(
      bodies[0]!.equals(Buffer.from(ProtobufMetricsSerializer.serializeRequest(request(5, 12_000))!)),
    );
    await exporter.shutdown();
  } finally {
    delete process.env.OTEL_EXPORTER_OTLP_COMPRESSION;
    server.close();
  }
});
