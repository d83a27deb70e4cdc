// otel-config/: every file parses, says what to fill in, and reads secrets from the environment only.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';

const DIR = join(import.meta.dirname, '../../otel-config');
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));

test('four Collector pipelines and their owlk8s settings are there', () => {
  for (const backend of ['datadog', 'honeycomb', 'prometheus-remote-write', 'influxdb']) {
    assert.ok(files.includes(`collector-${backend}.yaml`), backend);
    assert.ok(files.includes(`owlk8s-${backend}.yaml`), backend);
  }
});

for (const file of files) {
  test(`${file}: parses, says what to fill in, lists every \${env:...} it reads, holds no key`, () => {
    const text = readFileSync(join(DIR, file), 'utf8');
    const doc = parse(text) as Record<string, unknown>;
    assert.equal(typeof doc, 'object');
    assert.match(text, /^# .*\n(#.*\n)*#.*Fill in/m);
    const header = text
      .split('\n')
      .filter((l) => l.startsWith('#'))
      .join('\n');
    for (const [, name] of text.matchAll(/\$\{env:([A-Z_]+)\}/g))
      assert.ok(header.includes(name!), `${name} not described`);
    assert.doesNotMatch(text, /(key|token|password):\s*["']?[A-Za-z0-9]{16,}/i);
    if (file.startsWith('collector-')) {
      const service = doc.service as { pipelines: { metrics: { receivers: string[]; exporters: string[] } } };
      assert.deepEqual(service.pipelines.metrics.receivers, ['otlp']);
      assert.equal(service.pipelines.metrics.exporters.length, 1);
    } else {
      assert.ok('export' in doc);
    }
  });
}

test('Datadog gets delta from owlk8s; remote write and InfluxDB get cumulative', () => {
  const temporality = (f: string) =>
    (parse(readFileSync(join(DIR, f), 'utf8')) as { export: { temporality: string } }).export.temporality;
  assert.equal(temporality('owlk8s-datadog.yaml'), 'delta');
  assert.equal(temporality('owlk8s-prometheus-remote-write.yaml'), 'cumulative');
  assert.equal(temporality('owlk8s-influxdb.yaml'), 'cumulative');
});

test('pods arrive as resources: no Collector regroups attributes, remote write turns resources into labels', () => {
  for (const file of files.filter((f) => f.startsWith('collector-'))) {
    const doc = parse(readFileSync(join(DIR, file), 'utf8')) as { processors: Record<string, unknown> };
    assert.deepEqual(Object.keys(doc.processors), ['memory_limiter', 'batch'], file);
  }
  const prw = parse(readFileSync(join(DIR, 'collector-prometheus-remote-write.yaml'), 'utf8')) as {
    exporters: { prometheusremotewrite: { resource_to_telemetry_conversion: { enabled: boolean } } };
  };
  assert.equal(prw.exporters.prometheusremotewrite.resource_to_telemetry_conversion.enabled, true);
});
