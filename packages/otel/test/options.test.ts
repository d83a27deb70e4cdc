import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_EXPORT_INTERVAL_MILLIS, resolveOptions } from '../src/options.ts';

test('defaults: one 10 s interval, its timeout, 2000 series, no Go-library set, the agent named owlk8s', () => {
  const r = resolveOptions({ exporters: [] });
  assert.equal(DEFAULT_EXPORT_INTERVAL_MILLIS, 10_000);
  assert.equal(r.exportIntervalMillis, 10_000);
  assert.equal(r.exportTimeoutMillis, 10_000);
  assert.equal(r.cardinalityLimit, 2000);
  assert.equal(r.goLibraryMetrics, false);
  assert.equal(r.maxUnacknowledgedMillis, 300_000);
  assert.deepEqual(r.resource, { 'service.name': 'owlk8s' });
  assert.deepEqual(
    [...r.knownMethods],
    ['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE'],
  );
});

test('the environment is not read: OTEL_* variables change nothing here', () => {
  const saved = { ...process.env };
  try {
    process.env.OTEL_METRIC_EXPORT_INTERVAL = '15000';
    process.env.OTEL_SERVICE_NAME = 'other';
    process.env.OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS = 'GET';
    const r = resolveOptions({ exporters: [{ type: 'json-lines' }] });
    assert.equal(r.exportIntervalMillis, 10_000);
    assert.deepEqual(r.resource, { 'service.name': 'owlk8s' });
    assert.equal(r.knownMethods.size, 9);
  } finally {
    for (const key of [
      'OTEL_METRIC_EXPORT_INTERVAL',
      'OTEL_SERVICE_NAME',
      'OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS',
    ])
      if (saved[key] === undefined) delete process.env[key];
  }
});

test('bad settings are named with what would be right', () => {
  assert.throws(() => resolveOptions({ exporters: undefined as never }), /exporters: a list is needed/);
  assert.throws(
    () => resolveOptions({ exporters: [{ type: 'otlp-grpc', endpoint: 'collector:4317' }] }),
    /exporters\[0\]\.endpoint: "collector:4317" is not an http:\/\/ or https:\/\/ URL/,
  );
  assert.throws(
    () =>
      resolveOptions({
        exporters: [{ type: 'otlp-http', endpoint: 'http://c:4318/v1/metrics', tls: { ca: 'PEM' } }],
      }),
    /exporters\[0\]\.tls: a CA or client certificate with the plain-text endpoint http:\/\/c:4318\/v1\/metrics; use https:\/\//,
  );
  assert.throws(
    () =>
      resolveOptions({
        exporters: [{ type: 'otlp-grpc', endpoint: 'https://c:4317', tls: { cert: 'PEM' } }],
      }),
    /exporters\[0\]\.tls: a client certificate needs its key/,
  );
  assert.throws(
    () => resolveOptions({ exporters: [{ type: 'prometheus', port: 70000 }] }),
    /exporters\[0\]\.port: 70000 is not a TCP port/,
  );
  assert.throws(
    () => resolveOptions({ exporters: [{ type: 'zipkin' } as never] }),
    /exporters\[0\]\.type: "zipkin" is not one of/,
  );
  assert.throws(
    () => resolveOptions({ exporters: [], exportIntervalMillis: -1 }),
    /exportIntervalMillis: -1 is not a positive number/,
  );
  assert.throws(
    () => resolveOptions({ exporters: [{ type: 'json-lines' }], cardinalityLimit: 0 }),
    /cardinalityLimit: 0 is not a positive integer/,
  );
});
