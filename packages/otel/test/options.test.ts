import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveOptions } from '../src/options.ts';

test('OTEL_METRIC_EXPORT_INTERVAL, the temporality preference and the known methods come from the environment', () => {
  const r = resolveOptions({
    exporters: [{ type: 'json-lines' }],
    env: {
      OTEL_METRIC_EXPORT_INTERVAL: '15000',
      OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
      OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS: 'GET, POST',
    },
  });
  assert.equal(r.exportIntervalMillis, 15_000);
  assert.equal(r.exportTimeoutMillis, 15_000);
  assert.equal(r.defaultTemporality, 'delta');
  assert.deepEqual([...r.knownMethods], ['GET', 'POST']);
  assert.equal(r.cardinalityLimit, 2000);
});

test('explicit options win over the environment', () => {
  const r = resolveOptions({
    exporters: [{ type: 'json-lines' }],
    exportIntervalMillis: 1000,
    env: { OTEL_METRIC_EXPORT_INTERVAL: '15000' },
  });
  assert.equal(r.exportIntervalMillis, 1000);
});

test('bad settings are named with what would be right', () => {
  assert.throws(() => resolveOptions({ exporters: [] }), /exporters: at least one/);
  assert.throws(
    () => resolveOptions({ exporters: [{ type: 'otlp-grpc', endpoint: 'collector:4317' }], env: {} }),
    /exporters\[0\]\.endpoint: "collector:4317" is not an http:\/\/ or https:\/\/ URL/,
  );
  assert.throws(
    () => resolveOptions({ exporters: [{ type: 'prometheus', port: 70000 }], env: {} }),
    /exporters\[0\]\.port: 70000 is not a TCP port/,
  );
  assert.throws(
    () => resolveOptions({ exporters: [{ type: 'zipkin' } as never], env: {} }),
    /exporters\[0\]\.type: "zipkin" is not one of/,
  );
  assert.throws(
    () =>
      resolveOptions({ exporters: [{ type: 'json-lines' }], env: { OTEL_METRIC_EXPORT_INTERVAL: 'soon' } }),
    /OTEL_METRIC_EXPORT_INTERVAL: "soon" is not a positive number/,
  );
  assert.throws(
    () => resolveOptions({ exporters: [{ type: 'json-lines' }], cardinalityLimit: 0, env: {} }),
    /cardinalityLimit: 0 is not a positive integer/,
  );
});
