// TLS with a custom CA and mutual TLS (gRPC and HTTP), the standard OTEL_* environment variables
// (read by the agent's configuration, which hands the pipeline resolved options), and the JSON lines
// exporter, each through a whole pipeline.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, afterEach, before, describe, test } from 'node:test';
import { loadConfig, pipelineOptions, podIdentity } from '@owlk8s/agent';
import type { Snapshot } from '@owlk8s/ebpf';
import { ZERO_SELF } from '@owlk8s/ebpf/testing';
import type { PodTarget } from '@owlk8s/k8s';
import { createPipeline, type OtlpExporterOptions, type TargetIdentity } from '@owlk8s/otel';
import { histogramPoints, OtlpReceiver, podExports } from '../otlp/index.ts';

const SERVER = 'http.server.request.duration';
const quiet = { warn: () => {}, error: () => {} };
const T0 = Date.parse('2026-11-25T12:00:00Z');

const WEB: PodTarget = {
  uid: 'uid-web',
  name: 'web-0',
  namespace: 'default',
  node: 'node-1',
  ips: ['198.18.0.30'],
  phase: 'Running',
  ready: true,
  workload: { kind: 'Pod', name: 'web-0' },
  labels: {},
  ports: [],
};
const POD: TargetIdentity = podIdentity(WEB);

function snapshot(requests: bigint): Snapshot {
  return {
    monotonicNs: 1n,
    time: new Date(T0 + 5000),
    boundariesNs: [10_000_000n],
    aggregates: [
      {
        targetId: 1,
        role: 'server',
        port: 80,
        method: 'GET',
        statusCode: 200,
        httpMinor: 0,
        count: Number(requests),
        durationSumNs: requests * 4_000_000n,
        bucketCounts: [Number(requests), 0],
      },
    ],
    inFlight: [{ targetId: 1, role: 'server', port: 80, method: 'GET', count: 2 }],
    self: ZERO_SELF,
  };
}

describe('TLS with a custom CA, and mutual TLS', () => {
  let dir = '';
  let receiver: OtlpReceiver;
  let mutual: OtlpReceiver;
  const pem = (name: string) => readFileSync(join(dir, name), 'utf8');
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'owlk8s-tls-'));
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '1',
      '-subj',
      '/CN=owlk8s test CA',
    );
    // A key and a certificate signed by the test CA: `name`.key and `name`.pem.
    const signed = (name: string, subject: string, extensions?: string) => {
      openssl(
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
        '-subj',
        subject,
      );
      if (extensions !== undefined) writeFileSync(join(dir, `${name}.ext`), extensions);
      openssl(
        ...['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'],
        ...['-out', `${name}.pem`, '-days', '1'],
        ...(extensions === undefined ? [] : ['-extfile', `${name}.ext`]),
      );
    };
    signed('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\n');
    signed('client', '/CN=owlk8s');
    const server = { key: pem('server.key'), cert: pem('server.pem') };
    receiver = new OtlpReceiver({ tls: server });
    await receiver.start();
    mutual = new OtlpReceiver({
      tls: { ...server, ca: pem('ca.pem'), requestCert: true, rejectUnauthorized: true },
    });
    await mutual.start();
  });
  after(async () => {
    await receiver?.stop();
    await mutual?.stop();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  /**
   * One export round of a pipeline with these exporters; returns the exporters whose export failed.
   * The pipeline is shut down after (its last round then exports again).
   */
  async function exportOnce(exporters: OtlpExporterOptions[], requests: bigint): Promise<string[]> {
    const failures: string[] = [];
    const pipeline = await createPipeline({
      exporters,
      exportIntervalMillis: 3_600_000,
      exportTimeoutMillis: 5000,
      logger: { warn: () => {}, error: (d) => failures.push(`${d.exporter}`) },
    });
    cleanups.push(() => pipeline.shutdown());
    pipeline.setTarget(1, POD, new Date(T0));
    pipeline.record(snapshot(requests));
    await pipeline.forceFlush();
    return failures.sort();
  }
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  test('gRPC and HTTP exports arrive over TLS when the CA is given, and fail (counted) without it', async () => {
    const failures = await exportOnce(
      [
        { type: 'otlp-grpc', endpoint: receiver.grpcEndpoint, tls: { ca: pem('ca.pem') } },
        { type: 'otlp-http', endpoint: receiver.httpEndpoint, tls: { ca: pem('ca.pem') } },
        { type: 'otlp-http', endpoint: receiver.httpEndpoint },
      ],
      6n,
    );
    const pods = podExports(receiver.exports);
    assert.deepEqual(pods.map((e) => e.transport).sort(), ['grpc', 'http']);
    for (const e of pods) assert.equal(histogramPoints([e], SERVER)[0]!.count, 6n);
    // The system's CAs do not know the test CA: the third exporter's export fails and is logged.
    assert.deepEqual(failures, ['otlp-http[2]']);
  });

  test('mutual TLS: exports with the client certificate and key arrive; without them they fail (counted)', async () => {
    const client = { ca: pem('ca.pem'), cert: pem('client.pem'), key: pem('client.key') };
    const failures = await exportOnce(
      [
        { type: 'otlp-grpc', endpoint: mutual.grpcEndpoint, tls: client },
        { type: 'otlp-http', endpoint: mutual.httpEndpoint, tls: client },
        { type: 'otlp-grpc', endpoint: mutual.grpcEndpoint, tls: { ca: pem('ca.pem') } },
        { type: 'otlp-http', endpoint: mutual.httpEndpoint, tls: { ca: pem('ca.pem') } },
      ],
      5n,
    );
    const pods = podExports(mutual.exports);
    assert.deepEqual(pods.map((e) => e.transport).sort(), ['grpc', 'http']);
    for (const e of pods) assert.equal(histogramPoints([e], SERVER)[0]!.count, 5n);
    assert.deepEqual(failures, ['otlp-grpc[2]', 'otlp-http[3]']);
  });
});

describe('environment and JSON lines', () => {
  const receiver = new OtlpReceiver();
  before(() => receiver.start());
  after(() => receiver.stop());

  test('OTEL_METRICS_EXPORTER, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, _HEADERS and OTEL_METRIC_EXPORT_INTERVAL are honoured', async () => {
    // The SDK's exporters add OTEL_EXPORTER_OTLP_(METRICS_)HEADERS from process.env under the
    // headers they are given; the configuration merges them the same way, so what it resolves is
    // exactly what is sent.
    const headers = {
      OTEL_EXPORTER_OTLP_HEADERS: 'x-generic=g,x-honeycomb-team=generic',
      OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'x-honeycomb-team=from-env,x-honeycomb-dataset=owlk8s',
      OWLK8S_EXPORT_OTLP_HEADERS: 'x-owlk8s=o',
    };
    const { config } = loadConfig({
      env: {
        OWLK8S_NODE_NAME: 'node-1',
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: receiver.grpcEndpoint,
        OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
        OTEL_METRIC_EXPORT_INTERVAL: '1000',
        ...headers,
      },
    });
    const expected = {
      'x-generic': 'g',
      'x-honeycomb-team': 'from-env',
      'x-honeycomb-dataset': 'owlk8s',
      'x-owlk8s': 'o',
    };
    assert.deepEqual(config.export.otlp.headers, expected);
    const saved = { ...process.env };
    Object.assign(process.env, headers);
    const pipeline = await createPipeline(pipelineOptions(config, quiet));
    try {
      pipeline.setTarget(1, POD, new Date(T0));
      pipeline.record(snapshot(3n));
      const started = Date.now();
      await receiver.waitForExports(2, 5000); // no forceFlush: the 1 s interval exports
      assert.ok(Date.now() - started < 3000);
      const e = podExports(receiver.exports)[0]!;
      assert.equal(e.transport, 'grpc');
      assert.deepEqual(
        Object.fromEntries(Object.entries(e.headers).filter(([k]) => k.startsWith('x-'))),
        expected,
      );
      assert.equal(e.encoding, 'gzip');
      assert.equal(histogramPoints([e], SERVER)[0]!.count, 3n);
      assert.equal(histogramPoints([e], SERVER)[0]!.attributes['network.protocol.version'], '1.0');
    } finally {
      await pipeline.shutdown();
      for (const key of Object.keys(headers)) if (!(key in saved)) delete process.env[key];
    }
  });

  test('JSON lines: one object per data point, histograms with their buckets (the Go library logJson example)', async () => {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (d: Buffer) => {
      text += d.toString();
    });
    const pipeline = await createPipeline({
      exporters: [{ type: 'json-lines', stream }],
      exportIntervalMillis: 3_600_000,
      goLibraryMetrics: true,
      logger: quiet,
    });
    try {
      pipeline.setTarget(1, POD, new Date(T0));
      pipeline.record(snapshot(4n));
      await pipeline.forceFlush();
    } finally {
      await pipeline.shutdown();
    }
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const histogram = lines.find((l) => l.metric === SERVER)!;
    assert.deepEqual(
      { ...histogram, attributes: undefined },
      {
        time: '2026-11-25T12:00:05.000Z',
        start: '2026-11-25T12:00:00.000Z',
        metric: SERVER,
        unit: 's',
        temporality: 'cumulative',
        attributes: undefined,
        count: 4,
        sum: 0.016,
        buckets: { le: [0.01, '+Inf'], counts: [4, 0] },
      },
    );
    assert.equal((histogram.attributes as Record<string, unknown>)['k8s.pod.name'], 'web-0');
    const goLibrary = lines.find((l) => l.metric === 'owlk8s.go_library.requests')!;
    assert.equal(goLibrary.value, 4);
    // The pod's resource, then the Go library's own fields (here the same pod and namespace).
    assert.deepEqual(goLibrary.attributes, {
      'k8s.pod.name': 'web-0',
      'k8s.pod.uid': 'uid-web',
      'k8s.namespace.name': 'default',
      'k8s.node.name': 'node-1',
      'service.name': 'web-0',
      'service.namespace': 'default',
    });
    const active = lines.find((l) => l.metric === 'http.server.active_requests')!;
    assert.equal(active.value, 2);
  });
});
