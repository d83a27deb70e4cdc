import assert from 'node:assert/strict';
import { it } from 'node:test';
import { checkConfig, loadConfig } from '../../src/config/load.ts';
import { redactConfig } from '../../src/config/redact.ts';

it('redacts header values and keys named like secrets, and nothing else', () => {
  const { config } = loadConfig({
    file: 'c.yaml',
    text: 'targets:\n  source: static\n  static:\n    - {ip: 198.18.0.2, labels: {api-token: t0k3n, team: web}}\n',
    env: {
      OWLK8S_EXPORT_OTLP_HEADERS: 'dd-api-key=s3cr3t,x-team=blue',
      OWLK8S_EXPORT_OTLP_ENDPOINT: 'http://c:4318',
    },
  });
  const safe = redactConfig(config);
  assert.deepEqual(safe.export.otlp.headers, { 'dd-api-key': '[redacted]', 'x-team': '[redacted]' });
  assert.deepEqual(safe.targets.static[0]?.labels, { 'api-token': '[redacted]', team: 'web' });
  assert.equal(safe.export.otlp.endpoint, 'http://c:4318');
  const text = JSON.stringify(safe);
  assert.doesNotMatch(text, /s3cr3t|blue|t0k3n/);
  // The original is untouched.
  assert.equal(config.export.otlp.headers['dd-api-key'], 's3cr3t');
});

it('shows the TLS file paths (keyFile holds a path, not a key) and leaves the resolved pipeline out', () => {
  const { config } = checkConfig({
    env: {
      OWLK8S_NODE_NAME: 'n',
      OWLK8S_EXPORT_OTLP_ENDPOINT: 'https://c:4318',
      OWLK8S_EXPORT_OTLP_TLS_CERT_FILE: '/etc/tls/client.pem',
      OWLK8S_EXPORT_OTLP_TLS_KEY_FILE: '/etc/tls/client.key',
    },
  });
  assert.deepEqual(redactConfig(config).export.otlp.tls, {
    caFile: '',
    certFile: '/etc/tls/client.pem',
    keyFile: '/etc/tls/client.key',
    insecure: false,
  });
  const loaded = loadConfig({ env: { OWLK8S_NODE_NAME: 'n' } }).config;
  assert.equal('pipeline' in loaded, true);
  assert.equal('pipeline' in redactConfig(loaded), false);
});
