import assert from 'node:assert/strict';
import { it } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
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
