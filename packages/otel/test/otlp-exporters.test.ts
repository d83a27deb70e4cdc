import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { OtlpHttpMetricExporter } from '../src/otlp-exporters.ts';

/** About 250 kB, so that the exporter reuses its buffer; `value` makes each request's bytes its own. */
function request(value: number): ResourceMetrics {
  const gauge: MetricData = {
    descriptor: { name: 'g', description: '', unit: '', valueType: 1 },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints: attributes.map((a, i) => ({
      startTime: [1_764_000_000, 0],
      endTime: [1_764_000_060, 0],
      attributes: a,
      value: value * 10_000 + i,
    })),
  };
  return { resource, scopeMetrics: [{ scope: { name: 's' }, metrics: [gauge] }] };
}
const attributes = Array.from({ length: 1000 }, (_, i) => ({
  'k8s.pod.name': `pod-${i}`,
  pad: 'x'.repeat(200),
}));
const resource = resourceFromAttributes({ 'service.name': 'owlk8s' });

test('HTTP exporter: concurrent and successive exports each arrive with their own bytes', async () => {
  const bodies: Buffer[] = [];
  const waiting: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks));
      // The first answer waits for the second request: two exports are in flight at once.
      waiting.push(res);
      if (bodies.length === 1) return;
      for (const r of waiting.splice(0)) r.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/metrics`;
  const exporter = new OtlpHttpMetricExporter({ url });
  const exportOnce = (value: number) =>
    new Promise<ExportResult>((resolve) => exporter.export(request(value), resolve));
  try {
    const concurrent = await Promise.all([exportOnce(1), exportOnce(2)]);
    const successive = [await exportOnce(3), await exportOnce(4)];
    assert.deepEqual(
      [...concurrent, ...successive].map((r) => r.code),
      [
        ExportResultCode.SUCCESS,
        ExportResultCode.SUCCESS,
        ExportResultCode.SUCCESS,
        ExportResultCode.SUCCESS,
      ],
    );
    const expected = [1, 2, 3, 4].map((v) =>
      Buffer.from(ProtobufMetricsSerializer.serializeRequest(request(v))!),
    );
    assert.equal(bodies.length, 4);
    assert.ok(expected[0]!.length > 200_000, `${expected[0]!.length} bytes`);
    // The two concurrent ones may arrive in either order.
    const firstTwo = bodies.slice(0, 2).sort(Buffer.compare);
    assert.ok(firstTwo[0]!.equals([expected[0]!, expected[1]!].sort(Buffer.compare)[0]!), 'export 1 or 2');
    assert.ok(firstTwo[1]!.equals([expected[0]!, expected[1]!].sort(Buffer.compare)[1]!), 'export 2 or 1');
    assert.ok(bodies[2]!.equals(expected[2]!), 'export 3');
    assert.ok(bodies[3]!.equals(expected[3]!), 'export 4');
  } finally {
    await exporter.shutdown();
    server.close();
  }
});
