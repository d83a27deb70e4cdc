// Renders docs/configuration.md from the schema, so the reference cannot drift from the code:
// scripts/gen-config-docs.ts writes it, scripts/check-generated.ts fails the tests when it differs.
import { EXIT_CODES } from '../cli/exit-codes.ts';
import { envName, SCHEMA, type Section, type Setting } from './schema.ts';

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function showDefault(value: unknown): string {
  if (typeof value === 'string') return value === '' ? '`""`' : `\`${value}\``;
  return `\`${JSON.stringify(value).replace(/,/g, ', ')}\``;
}

function table(section: Section, prefix: string): string[] {
  const rows: string[] = [];
  for (const [key, child] of Object.entries(section.children)) {
    if (child.kind !== 'setting') continue;
    const path = `${prefix}.${key}`;
    const s: Setting = child;
    const env = [`\`${envName(path)}\``];
    for (const alias of s.aliases ?? []) env.push(`\`${alias}\``);
    for (const v of s.alsoSetBy ?? []) env.push(`\`${v}\` (see above)`);
    rows.push(
      `| \`${path}\` | ${env.join('<br>')} | ${cell(s.format.type)} | ${cell(showDefault(s.default))} | ${cell(s.doc)} Allowed: ${cell(s.format.allowed)}. |`,
    );
  }
  if (rows.length === 0) return [];
  return ['| key | environment | type | default | description |', '|---|---|---|---|---|', ...rows];
}

function sections(section: Section, prefix: string, depth: number, out: string[]): void {
  for (const [key, child] of Object.entries(section.children)) {
    if (child.kind !== 'section') continue;
    const path = prefix === '' ? key : `${prefix}.${key}`;
    out.push(`${'#'.repeat(Math.min(depth, 4))} \`${path}\``, '', child.doc, '');
    const rows = table(child, path);
    if (rows.length > 0) out.push(...rows, '');
    sections(child, path, depth + 1, out);
  }
}

export function renderConfigDocs(): string {
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from packages/agent/src/config/schema.ts by `node scripts/gen-config-docs.ts`; do not edit by hand. -->',
    '',
    'The agent reads one YAML file (`owlk8s run --config FILE`; in the DaemonSet, the ConfigMap in',
    '`deploy/configmap.yaml`). Every key is optional: an empty file is a valid configuration.',
    '',
    '## Where values come from',
    '',
    'Later sources win:',
    '',
    '1. the defaults below;',
    '2. the YAML file;',
    '3. the environment: each key’s `OWLK8S_*` variable (the key path in upper snake case:',
    '   `export.otlp.endpoint` → `OWLK8S_EXPORT_OTLP_ENDPOINT`), or when it is unset the first set variable',
    '   among the key’s aliases (the standard `OTEL_*` variables, the seed’s `nodename`). A variable set to',
    '   the empty string counts as unset. Lists are comma-separated (`OWLK8S_CAPTURE_HTTP_PORTS=80,8080`),',
    '   headers are `name=value,name2=value2` (values URL-encoded), `targets.static` is a JSON list. A',
    '   variable replaces the file’s value whole, lists and mappings included; only the OTLP headers’',
    '   variables are merged with each other, header by header, as the OpenTelemetry SDK merges them.',
    '',
    'The environment is read once, at start, by the configuration; what the settings resolve to (the',
    'full OTLP URL, the TLS files’ contents, the agent’s resource) is handed to the metrics pipeline,',
    'which reads no variable itself.',
    '',
    'Two OpenTelemetry variables decide more than one setting:',
    '',
    '| variable | effect |',
    '|---|---|',
    '| `OTEL_METRICS_EXPORTER` | `none`, or a comma-separated list of `otlp`, `prometheus` and `console`: which exporters are on, over the file and the other `OTEL_*` variables. `prometheus` sets `export.prometheus.enabled`, `console` sets `export.stdout.enabled`; leaving `otlp` out turns OTLP off (with a notice when an endpoint was set); naming it with no endpoint anywhere sends to `http://localhost:4318` (`http://localhost:4317` with gRPC), the specification’s default. An exporter’s own `OWLK8S_*` variable (`OWLK8S_EXPORT_PROMETHEUS_ENABLED`, `OWLK8S_EXPORT_STDOUT_ENABLED`, `OWLK8S_EXPORT_OTLP_ENDPOINT`) still wins. `none` alone exports nothing, with a notice. |',
    '| `OTEL_SDK_DISABLED` | `true`: no exporter at all, whatever the other settings say, with a warning at start naming the variable. `false` (or unset): no effect. |',
    '',
    'The OTLP endpoint’s scheme decides its transport security: `https://` is TLS (checked against',
    '`export.otlp.tls.caFile`, or Node’s bundled authorities; with a client certificate when',
    '`certFile` and `keyFile` are set), `http://` is plain text. `export.otlp.tls.insecure` only gives a',
    'gRPC endpoint written `host:port` its scheme. A combination that contradicts the scheme (`insecure`',
    'with `https://`, a CA or client certificate with plain text, a certificate without its key) is a',
    'configuration error, and so is a TLS file that cannot be read at start.',
    '',
    'The seed library’s variables still work:',
    '',
    '| variable | effect |',
    '|---|---|',
    '| `debug` | `true` sets `logging.level` to `debug` (unless `OWLK8S_LOGGING_LEVEL` is set); `false` does nothing; anything else is an error. |',
    '| `nodename` | sets `node.name` (unless `OWLK8S_NODE_NAME` is set). |',
    '| `cleanBPFMap` | accepted and ignored, with a one-line notice: the kernel forgets a connection when it ends (FIN or RST) or idles for `capture.idleTimeoutMs`, so its map never needs cleaning. |',
    '',
    '## Validation',
    '',
    'Validation is strict: an unknown key, a value of the wrong type (a quoted number such as `"9464"`',
    'included) or a value out of range stops the agent before it touches the kernel, with one line per',
    'problem naming the file and line (or the variable), the key path, the value and what is allowed:',
    '',
    '```',
    '$ owlk8s config validate bad.yaml',
    'invalid configuration (2 problems):',
    '  bad.yaml:3: capture.bukets: unknown key (did you mean "buckets"?); allowed: the keys of capture: buckets, httpPorts, maps',
    '  environment variable OWLK8S_EXPORT_PROMETHEUS_PORT: export.prometheus.port: got 70000; allowed: an integer from 1 to 65535',
    '```',
    '',
    '`owlk8s config print` shows the effective configuration with secrets redacted: the values of',
    '`export.otlp.headers` and of any key whose name contains key, token, secret or password.',
    '',
    'Exit codes of `owlk8s`:',
    '',
    '| code | meaning |',
    '|---|---|',
    ...EXIT_CODES.map((e) => `| ${e.code} | ${cell(e.meaning)} |`),
    '',
    '## Settings',
    '',
  ];
  sections(SCHEMA, '', 3, out);
  return `${out.join('\n').trimEnd()}\n`;
}
