// docs/configuration.md is generated from the schema, and the check that CI runs says clearly
// when the checked-in file is stale.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { renderConfigDocs } from '../../src/config/docs.ts';
import { SETTINGS } from '../../src/config/schema.ts';

const ROOT = new URL('../../../../', import.meta.url);
const CHECK = new URL('scripts/check-generated.ts', ROOT).pathname;

it('has one table row per setting, with its variable, type and default', () => {
  const md = renderConfigDocs();
  const rows = md.split('\n').filter((l) => /^\| `[a-z]+\.[A-Za-z0-9.]+` \|/.test(l));
  assert.equal(rows.length, SETTINGS.length);
  assert.ok(
    md.includes(
      '| `export.prometheus.port` | `OWLK8S_EXPORT_PROMETHEUS_PORT`<br>`OTEL_EXPORTER_PROMETHEUS_PORT` | integer (1–65535) | `9464` | TCP port (9464 is the OpenTelemetry Prometheus exporter’s). Allowed: an integer from 1 to 65535. |',
    ),
  );
  // One meaning of the interval, and one default (@owlk8s/otel's DEFAULT_EXPORT_INTERVAL_MILLIS).
  assert.ok(
    md.includes(
      '| `export.intervalMs` | `OWLK8S_EXPORT_INTERVAL_MS`<br>`OTEL_METRIC_EXPORT_INTERVAL` | integer (1000–3600000) | `10000` | Milliseconds between two exports of each push exporter (OTLP, stdout). The kernel’s maps are read at each export and at each Prometheus scrape. Allowed: an integer from 1000 to 3600000. |',
    ),
  );
  assert.ok(
    md.includes(
      '| `export.prometheus.enabled` | `OWLK8S_EXPORT_PROMETHEUS_ENABLED`<br>`OTEL_METRICS_EXPORTER` (see above) |',
    ),
  );
});

it('is what docs/configuration.md holds', () => {
  assert.equal(readFileSync(new URL('docs/configuration.md', ROOT), 'utf8'), renderConfigDocs());
});

it('fails the check with the file, the first differing line and the command when stale', () => {
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-docs-'));
  try {
    mkdirSync(join(dir, 'docs'));
    const good = renderConfigDocs();
    writeFileSync(join(dir, 'docs/configuration.md'), good);
    const ok = spawnSync(process.execPath, [CHECK, dir], { encoding: 'utf8' });
    assert.equal(ok.status, 0);
    assert.equal(ok.stdout, 'docs/configuration.md is current\n');
    const lines = good.split('\n');
    lines[2] = 'edited by hand';
    writeFileSync(join(dir, 'docs/configuration.md'), lines.join('\n'));
    const stale = spawnSync(process.execPath, [CHECK, dir], { encoding: 'utf8' });
    assert.equal(stale.status, 1);
    assert.equal(
      stale.stderr,
      'docs/configuration.md is out of date (line 3: the file has "edited by hand", the generator gives "<!-- Generated from packages/agent/src/config/schema.ts by `node scripts/gen-config-docs.ts`; do not edit by hand. -->"). Regenerate it with `node scripts/gen-config-docs.ts` and commit it.\n',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
