import assert from 'node:assert/strict';
import { it } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import { otlpExporterUrl } from '../../src/config/otlp-endpoint.ts';

function url(env: Record<string, string>): string | undefined {
  const loaded = loadConfig({ env: { OWLK8S_NODE_NAME: 'n', ...env } });
  return otlpExporterUrl(loaded.config.export.otlp, loaded.originOf('export.otlp.endpoint'));
}

it('is off without an endpoint', () => {
  assert.equal(url({}), undefined);
});

it('adds v1/metrics to an OTLP/HTTP base URL, keeps a URL with a path', () => {
  assert.equal(
    url({ OWLK8S_EXPORT_OTLP_ENDPOINT: 'http://collector:4318' }),
    'http://collector:4318/v1/metrics',
  );
  assert.equal(
    url({ OWLK8S_EXPORT_OTLP_ENDPOINT: 'https://api.honeycomb.io/' }),
    'https://api.honeycomb.io/v1/metrics',
  );
  assert.equal(
    url({ OWLK8S_EXPORT_OTLP_ENDPOINT: 'http://c:4318/otlp/metrics' }),
    'http://c:4318/otlp/metrics',
  );
  // The specification's rules for the standard variables: the generic one is a base, always.
  assert.equal(url({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/otlp' }), 'http://c:4318/otlp/v1/metrics');
  assert.equal(url({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://c:4318/custom' }), 'http://c:4318/custom');
});

it('gives gRPC a scheme: plaintext only when insecure', () => {
  const grpc = { OWLK8S_EXPORT_OTLP_PROTOCOL: 'grpc' };
  assert.equal(
    url({ ...grpc, OWLK8S_EXPORT_OTLP_ENDPOINT: 'http://collector:4317' }),
    'http://collector:4317',
  );
  assert.equal(url({ ...grpc, OWLK8S_EXPORT_OTLP_ENDPOINT: 'collector:4317' }), 'https://collector:4317');
  assert.equal(
    url({ ...grpc, OWLK8S_EXPORT_OTLP_ENDPOINT: 'collector:4317', OWLK8S_EXPORT_OTLP_TLS_INSECURE: 'true' }),
    'http://collector:4317',
  );
});
