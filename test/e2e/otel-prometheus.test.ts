// Debian's Prometheus scrapes the pipeline's Prometheus endpoint; its query API must return the
// exact kernel counts under the label names documented in packages/otel/README.md.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { podIdentity } from '@owlk8s/agent';
import type { Aggregate, Snapshot } from '@owlk8s/ebpf';
import { ZERO_SELF } from '@owlk8s/ebpf/testing';
import { createPipeline, type Pipeline } from '@owlk8s/otel';
import { freePort } from './ports.ts';

const PROMETHEUS = '/usr/bin/prometheus';
const BOUNDARIES_NS = [5_000_000n, 25_000_000n, 100_000_000n, 1_000_000_000n];

let dir = '';
let prometheus: ChildProcess | undefined;
let pipeline: Pipeline | undefined;
let promPort = 0;

async function query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; data: { result: never[] } };
  assert.equal(body.status, 'success', `query ${expr}`);
  return body.data.result;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

before(async () => {
  assert.ok(
    existsSync(PROMETHEUS),
    `${PROMETHEUS} is missing: apt-get install prometheus (scripts/setup.sh does)`,
  );
  const exporterPort = await freePort();
  pipeline = await createPipeline({
    exporters: [{ type: 'prometheus', host: '127.0.0.1', port: exporterPort, path: '/metrics' }],
    exportIntervalMillis: 3_600_000,
    // The Go library's set is off by default; on here, to check its labels.
    goLibraryMetrics: true,
    logger: { warn: () => {}, error: () => {} },
  });
  pipeline.setTarget(
    3,
    podIdentity({
      uid: 'uid-c',
      name: 'checkout-0',
      namespace: 'shop',
      node: 'node-1',
      ips: ['198.18.0.10'],
      phase: 'Running',
      ready: true,
      workload: { kind: 'StatefulSet', name: 'checkout' },
      labels: {},
      ports: [{ port: 8080, services: [{ namespace: 'shop', name: 'checkout', port: 80 }] }],
    }),
  );
  const aggregate: Aggregate = {
    targetId: 3,
    role: 'server',
    port: 8080,
    method: 'GET',
    statusCode: 200,
    httpMinor: 1,
    count: 13,
    durationSumNs: 1_234_000_000n,
    bucketCounts: [7, 3, 2, 0, 1],
  };
  const snapshot: Snapshot = {
    monotonicNs: 1n,
    time: new Date(),
    boundariesNs: BOUNDARIES_NS,
    aggregates: [aggregate],
    inFlight: [],
    self: {
      ...ZERO_SELF,
      packets: 100n,
      requests: 13n,
      responses: 13n,
      unmatchedResponses: 0n,
      parseFailures: 2n,
    },
  };
  pipeline.record(snapshot);

  dir = mkdtempSync(join(tmpdir(), 'owlk8s-prom-'));
  promPort = await freePort();
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      '  - job_name: owlk8s',
      `    static_configs: [{ targets: ['127.0.0.1:${exporterPort}'] }]`,
      '',
    ].join('\n'),
  );
  prometheus = spawn(
    PROMETHEUS,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ],
    { stdio: 'ignore' },
  );
});

after(async () => {
  if (prometheus?.exitCode === null) {
    const exited = new Promise((r) => prometheus!.once('exit', r));
    prometheus.kill('SIGTERM');
    await exited;
  }
  await pipeline?.shutdown();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

test('Prometheus returns the exact _count, _sum and _bucket values with the documented label names', async () => {
  const count = await until('the first scrape', 30_000, async () => {
    const r = await query('http_server_request_duration_seconds_count');
    return r.length > 0 ? r : undefined;
  });
  assert.equal(count.length, 1);
  assert.equal(count[0]!.value[1], '13');
  assert.deepEqual(Object.keys(count[0]!.metric).sort(), [
    '__name__',
    'http_request_method',
    'http_response_status_code',
    'instance',
    'job',
    'k8s_namespace_name',
    'k8s_node_name',
    'k8s_pod_name',
    'k8s_pod_uid',
    'k8s_service_name',
    'k8s_statefulset_name',
    'network_protocol_version',
    'otel_scope_name',
    'otel_scope_version',
    'server_port',
    'service_name',
    'service_namespace',
    'url_scheme',
  ]);
  assert.equal(count[0]!.metric.k8s_pod_name, 'checkout-0');
  assert.equal(count[0]!.metric.http_response_status_code, '200');

  const sum = await query('http_server_request_duration_seconds_sum{k8s_pod_name="checkout-0"}');
  assert.equal(sum[0]!.value[1], '1.234');

  const bucketsByLe = Object.fromEntries(
    (
      await query(
        'http_server_request_duration_seconds_bucket{k8s_pod_name="checkout-0",http_request_method="GET"}',
      )
    ).map((r) => [r.metric.le, r.value[1]]),
  );
  // Prometheus buckets are cumulative: 7, 7+3, 7+3+2, +0, +1.
  assert.deepEqual(bucketsByLe, { '0.005': '7', '0.025': '10', '0.1': '12', '1': '12', '+Inf': '13' });

  const parseFailures = await query('owlk8s_agent_kernel_parse_failures_total');
  assert.equal(parseFailures[0]!.value[1], '2');
  const goLibrary = await query('owlk8s_go_library_requests_total');
  assert.equal(goLibrary[0]!.value[1], '13');
  assert.equal(goLibrary[0]!.metric.k8s_statefulset_name, 'checkout');
  assert.equal(goLibrary[0]!.metric.k8s_service_name, 'checkout');
});
