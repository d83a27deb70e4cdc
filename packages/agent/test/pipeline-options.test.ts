// The resolved configuration as @owlk8s/otel pipeline options, compared whole: what `owlk8s run`
// gives createPipeline for a configuration, through the same two calls (loadConfig, then
// pipelineOptions from runAgent).
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { DEFAULT_EXPORT_INTERVAL_MILLIS } from '@owlk8s/otel';
import { loadConfig } from '../src/config/load.ts';
import { DEFAULT_EXPORT_INTERVAL_MS } from '../src/config/schema.ts';
import { pipelineOptions } from '../src/pipeline-options.ts';

const logger = { warn: () => {}, error: () => {} };
const METHODS = ['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE'];

function options(env: Record<string, string>, text?: string) {
  const { config } = loadConfig({
    env: { OWLK8S_NODE_NAME: 'node-1', ...env },
    ...(text === undefined ? {} : { file: 'c.yaml', text }),
  });
  return pipelineOptions(config, logger);
}

// Regression: `owlk8s run` sent to …/otlp: the origin of the endpoint never reached this mapping.
it('sends to …/otlp/v1/metrics with OTEL_EXPORTER_OTLP_ENDPOINT=https://gateway.example.net/otlp', () => {
  assert.deepStrictEqual(options({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gateway.example.net/otlp' }), {
    exporters: [
      { type: 'prometheus', host: '0.0.0.0', port: 9464, path: '/metrics', maxConcurrentScrapes: 4 },
      {
        type: 'otlp-http',
        endpoint: 'https://gateway.example.net/otlp/v1/metrics',
        headers: {},
        compression: 'gzip',
        timeoutMillis: 10000,
        temporality: 'cumulative',
      },
    ],
    exportIntervalMillis: 10000,
    exportTimeoutMillis: 10000,
    cardinalityLimit: 11000,
    cardinalityLimitPerPod: 100,
    peersPerPod: 20,
    collapseUnknownClientPorts: true,
    goLibraryMetrics: false,
    resource: { 'service.name': 'owlk8s' },
    knownMethods: METHODS,
    logger,
  });
});

it('maps every exporter and setting, gRPC with headers and delta temporality', () => {
  const text =
    'export:\n  temporality: delta\n  intervalMs: 30000\n  stdout:\n    enabled: true\n  prometheus:\n    port: 9100\n    path: /m\n  otlp:\n    endpoint: collector:4317\n    protocol: grpc\n    compression: none\n    timeoutMs: 5000\n    tls:\n      insecure: true\n';
  assert.deepStrictEqual(
    options(
      {
        OTEL_EXPORTER_OTLP_HEADERS: 'dd-api-key=secret',
        OTEL_SERVICE_NAME: 'agent',
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'LowMemory',
      },
      text,
    ),
    {
      exporters: [
        { type: 'prometheus', host: '0.0.0.0', port: 9100, path: '/m', maxConcurrentScrapes: 4 },
        {
          type: 'otlp-grpc',
          endpoint: 'http://collector:4317',
          headers: { 'dd-api-key': 'secret' },
          compression: 'none',
          timeoutMillis: 5000,
          temporality: 'delta',
        },
        { type: 'json-lines', temporality: 'delta' },
      ],
      exportIntervalMillis: 30000,
      exportTimeoutMillis: 30000,
      cardinalityLimit: 11000,
      cardinalityLimitPerPod: 100,
      peersPerPod: 20,
      collapseUnknownClientPorts: true,
      goLibraryMetrics: false,
      resource: { 'service.name': 'agent' },
      knownMethods: METHODS,
      logger,
    },
  );
});

it('gives no exporter with OTEL_SDK_DISABLED or OTEL_METRICS_EXPORTER=none', () => {
  assert.deepStrictEqual(options({ OTEL_SDK_DISABLED: 'true' }).exporters, []);
  assert.deepStrictEqual(options({ OTEL_METRICS_EXPORTER: 'none' }).exporters, []);
});

it('has the one default export interval of @owlk8s/otel', () => {
  assert.equal(DEFAULT_EXPORT_INTERVAL_MS, 10_000);
  assert.equal(DEFAULT_EXPORT_INTERVAL_MS, DEFAULT_EXPORT_INTERVAL_MILLIS);
  assert.equal(options({}).exportIntervalMillis, 10_000);
});
