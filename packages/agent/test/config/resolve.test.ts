// What the settings resolve to for the metrics pipeline (config.pipeline), compared whole: the OTLP
// URL and its transport security, the TLS files' contents, the timeouts and the agent's resource.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, formatProblem } from '../../src/config/config-error.ts';
import { checkConfig, loadConfig } from '../../src/config/load.ts';
import type { ResolvedPipeline } from '../../src/config/types.ts';

const NODE = { OWLK8S_NODE_NAME: 'node-1' };
const METHODS = ['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE'];
const PROMETHEUS = { host: '0.0.0.0', port: 9464, path: '/metrics', maxConcurrentScrapes: 4 };
/** The pipeline of the defaults, less Prometheus: what each case below adds to. */
const BASE = {
  intervalMs: 10000,
  timeoutMs: 10000,
  cardinalityLimit: 11000,
  cardinalityLimitPerPod: 100,
  peersPerPod: 20,
  collapseUnknownClientPorts: true,
  goLibraryMetrics: false,
  resource: { 'service.name': 'owlk8s' },
  knownMethods: METHODS,
};
const OTLP_DEFAULTS = {
  headers: {},
  compression: 'gzip',
  timeoutMs: 10000,
  temporality: 'cumulative',
} as const;

function pipeline(env: Record<string, string>, text?: string): ResolvedPipeline {
  return loadConfig({ env: { ...NODE, ...env }, ...(text === undefined ? {} : { file: 'c.yaml', text }) })
    .config.pipeline;
}

/** The problem lines of a configuration that must not load. */
function problems(env: Record<string, string>, text?: string): string[] {
  try {
    loadConfig({ env: { ...NODE, ...env }, ...(text === undefined ? {} : { file: 'c.yaml', text }) });
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems.map(formatProblem);
  }
  assert.fail('the configuration loaded');
}

describe('the OTLP URL', () => {
  // Regression: `owlk8s run` did not give runAgent the endpoint's origin, so the generic variable
  // was taken as the metrics URL itself and the exports went to …/otlp.
  it('adds v1/metrics to OTEL_EXPORTER_OTLP_ENDPOINT, a base URL, whatever its path', () => {
    assert.deepEqual(pipeline({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gateway.example.net/otlp' }), {
      ...BASE,
      prometheus: PROMETHEUS,
      otlp: {
        ...OTLP_DEFAULTS,
        protocol: 'http/protobuf',
        url: 'https://gateway.example.net/otlp/v1/metrics',
      },
    });
    assert.equal(
      pipeline({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'https://gateway.example.net/otlp' }).otlp?.url,
      'https://gateway.example.net/otlp',
    );
  });

  it('gives a gRPC host:port https://, or http:// with insecure (from the setting or OTEL_EXPORTER_OTLP_*INSECURE)', () => {
    const grpc = { OWLK8S_EXPORT_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317' };
    const url = (env: Record<string, string>) => pipeline({ ...grpc, ...env }).otlp?.url;
    assert.equal(url({}), 'https://collector:4317');
    assert.equal(url({ OWLK8S_EXPORT_OTLP_TLS_INSECURE: 'true' }), 'http://collector:4317');
    assert.equal(url({ OTEL_EXPORTER_OTLP_INSECURE: 'true' }), 'http://collector:4317');
    assert.equal(url({ OTEL_EXPORTER_OTLP_METRICS_INSECURE: 'true' }), 'http://collector:4317');
    assert.equal(url({ OTEL_EXPORTER_OTLP_INSECURE: 'false' }), 'https://collector:4317');
    // The metrics-specific variable first, as for every other alias.
    assert.equal(
      url({ OTEL_EXPORTER_OTLP_METRICS_INSECURE: 'false', OTEL_EXPORTER_OTLP_INSECURE: 'true' }),
      'https://collector:4317',
    );
  });

  it('takes an http:// or https:// URL as it is: insecure agrees with http:// and is not needed', () => {
    const url = (env: Record<string, string>) => pipeline(env).otlp?.url;
    const grpc = { OWLK8S_EXPORT_OTLP_PROTOCOL: 'grpc' };
    assert.equal(url({ ...grpc, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317' }), 'http://c:4317');
    assert.equal(
      url({ ...grpc, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_INSECURE: 'true' }),
      'http://c:4317',
    );
    assert.equal(url({ ...grpc, OTEL_EXPORTER_OTLP_ENDPOINT: 'https://c:4317' }), 'https://c:4317');
    assert.equal(
      url({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OWLK8S_EXPORT_OTLP_TLS_INSECURE: 'true' }),
      'http://c:4318/v1/metrics',
    );
  });

  it('rejects insecure with an https:// URL, over gRPC and HTTP, naming both settings', () => {
    const allowed =
      'allowed: false with an https:// endpoint: the scheme decides (https:// is TLS, http:// plain text); insecure only makes a gRPC endpoint given as host:port plain text, and never turns certificate checks off';
    assert.deepEqual(
      problems({
        OWLK8S_EXPORT_OTLP_PROTOCOL: 'grpc',
        OWLK8S_EXPORT_OTLP_ENDPOINT: 'https://c:4317',
        OWLK8S_EXPORT_OTLP_TLS_INSECURE: 'true',
      }),
      [
        `environment variable OWLK8S_EXPORT_OTLP_TLS_INSECURE: export.otlp.tls.insecure: got true with the https:// endpoint "https://c:4317" (export.otlp.endpoint, from environment variable OWLK8S_EXPORT_OTLP_ENDPOINT); ${allowed}`,
      ],
    );
    assert.deepEqual(
      problems({}, 'export:\n  otlp:\n    endpoint: https://c:4318\n    tls:\n      insecure: true\n'),
      [
        `c.yaml:5: export.otlp.tls.insecure: got true with the https:// endpoint "https://c:4318" (export.otlp.endpoint, from c.yaml:3); ${allowed}`,
      ],
    );
  });
});

describe('TLS files', () => {
  let dir = '';
  let ca = '';
  let cert = '';
  let key = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'owlk8s-tls-config-'));
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    const selfSigned = (name: string) =>
      openssl(
        ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`],
        ...['-days', '1', '-subj', `/CN=owlk8s ${name}`],
      );
    selfSigned('ca');
    selfSigned('client');
    selfSigned('other');
    writeFileSync(join(dir, 'not-pem.txt'), 'hello\n');
    ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
    cert = readFileSync(join(dir, 'client.pem'), 'utf8');
    key = readFileSync(join(dir, 'client.key'), 'utf8');
  });
  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });
  const https = { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gateway.example.net/otlp' };

  it('reads the CA, the client certificate and its key at start, from the settings or their OTEL_* aliases', () => {
    const expected = {
      ...BASE,
      prometheus: PROMETHEUS,
      otlp: {
        ...OTLP_DEFAULTS,
        protocol: 'http/protobuf',
        url: 'https://gateway.example.net/otlp/v1/metrics',
        tls: { ca, cert, key },
      },
    };
    const text = `export:\n  otlp:\n    tls:\n      caFile: ${dir}/ca.pem\n      certFile: ${dir}/client.pem\n      keyFile: ${dir}/client.key\n`;
    assert.deepEqual(pipeline(https, text), expected);
    assert.deepEqual(
      pipeline({
        ...https,
        OTEL_EXPORTER_OTLP_CERTIFICATE: join(dir, 'ca.pem'),
        OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: join(dir, 'client.pem'),
        OTEL_EXPORTER_OTLP_CLIENT_KEY: join(dir, 'client.key'),
      }),
      expected,
    );
    assert.deepEqual(
      pipeline({
        ...https,
        OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE: join(dir, 'ca.pem'),
        OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE: join(dir, 'client.pem'),
        OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY: join(dir, 'client.key'),
      }),
      expected,
    );
    assert.deepEqual(pipeline({ ...https, OWLK8S_EXPORT_OTLP_TLS_CA_FILE: join(dir, 'ca.pem') }).otlp?.tls, {
      ca,
    });
  });

  it('names the setting, the file and the reason when a file cannot be used', () => {
    assert.deepEqual(problems({ ...https, OTEL_EXPORTER_OTLP_CERTIFICATE: join(dir, 'missing.pem') }), [
      `environment variable OTEL_EXPORTER_OTLP_CERTIFICATE: export.otlp.tls.caFile: "${dir}/missing.pem" cannot be read (no such file); allowed: a readable PEM file of one or more CA certificates`,
    ]);
    assert.deepEqual(
      problems(
        https,
        `export:\n  otlp:\n    tls:\n      certFile: ${dir}/not-pem.txt\n      keyFile: ${dir}\n`,
      ),
      [
        `c.yaml:4: export.otlp.tls.certFile: "${dir}/not-pem.txt" is not PEM (no "-----BEGIN" line); allowed: a readable PEM file of the client certificate`,
        `c.yaml:5: export.otlp.tls.keyFile: "${dir}" cannot be read (a directory); allowed: a readable PEM file of the client certificate’s private key`,
      ],
    );
  });

  it('refuses a client key that does not belong to the certificate', () => {
    const lines = problems({
      ...https,
      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: join(dir, 'client.pem'),
      OTEL_EXPORTER_OTLP_CLIENT_KEY: join(dir, 'other.key'),
    });
    assert.equal(lines.length, 1);
    assert.match(
      lines[0] as string,
      /^environment variable OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: export\.otlp\.tls\.certFile: the TLS files are not usable together \(.*key values mismatch.*\); allowed: a CA certificate, and a client certificate with its own private key, in PEM$/,
    );
  });

  it('refuses TLS files with a plain-text endpoint, and a certificate without its key', () => {
    const allowed =
      'allowed: TLS files only with TLS: an https:// endpoint, or for gRPC host:port without export.otlp.tls.insecure';
    assert.deepEqual(
      problems({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_EXPORTER_OTLP_CERTIFICATE: join(dir, 'ca.pem'),
      }),
      [
        `environment variable OTEL_EXPORTER_OTLP_CERTIFICATE: export.otlp.tls.caFile: got "${dir}/ca.pem" while the endpoint "http://c:4318" (export.otlp.endpoint, from environment variable OTEL_EXPORTER_OTLP_ENDPOINT) is plain text (http://); ${allowed}`,
      ],
    );
    assert.deepEqual(
      problems({
        OWLK8S_EXPORT_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'c:4317',
        OTEL_EXPORTER_OTLP_INSECURE: 'true',
        OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: join(dir, 'client.pem'),
        OTEL_EXPORTER_OTLP_CLIENT_KEY: join(dir, 'client.key'),
      }),
      [
        `environment variable OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: export.otlp.tls.certFile: got "${dir}/client.pem" while the endpoint "c:4317" (export.otlp.endpoint, from environment variable OTEL_EXPORTER_OTLP_ENDPOINT) is plain text (host:port with export.otlp.tls.insecure: true); ${allowed}`,
        `environment variable OTEL_EXPORTER_OTLP_CLIENT_KEY: export.otlp.tls.keyFile: got "${dir}/client.key" while the endpoint "c:4317" (export.otlp.endpoint, from environment variable OTEL_EXPORTER_OTLP_ENDPOINT) is plain text (host:port with export.otlp.tls.insecure: true); ${allowed}`,
      ],
    );
    assert.deepEqual(problems({ ...https, OTEL_EXPORTER_OTLP_CLIENT_KEY: join(dir, 'client.key') }), [
      `environment variable OTEL_EXPORTER_OTLP_CLIENT_KEY: export.otlp.tls.keyFile: got "${dir}/client.key" while export.otlp.tls.certFile is empty; allowed: both export.otlp.tls.certFile and export.otlp.tls.keyFile (mutual TLS needs the certificate and its key), or neither`,
    ]);
  });

  it('reads no file while OTLP is off, and checkConfig (config validate, print) reads none at all', () => {
    const missing = { OTEL_EXPORTER_OTLP_CERTIFICATE: join(dir, 'missing.pem') };
    assert.equal(pipeline(missing).otlp, undefined);
    assert.equal(pipeline({ ...https, ...missing, OTEL_SDK_DISABLED: 'true' }).otlp, undefined);
    const checked = checkConfig({ env: { ...NODE, ...https, ...missing } });
    assert.equal(checked.config.export.otlp.tls.caFile, join(dir, 'missing.pem'));
    assert.equal('pipeline' in checked.config, false);
  });
});

describe('timeouts, resource and methods', () => {
  it('cuts the export timeout to the interval', () => {
    assert.equal(pipeline({}).timeoutMs, 10000);
    assert.equal(pipeline({ OTEL_METRIC_EXPORT_TIMEOUT: '5000' }).timeoutMs, 5000);
    assert.equal(pipeline({ OTEL_METRIC_EXPORT_INTERVAL: '60000' }).timeoutMs, 30000);
    assert.equal(pipeline({ OTEL_METRIC_EXPORT_INTERVAL: '2000' }).timeoutMs, 2000);
  });

  it('builds the agent’s resource: attributes, then service.name unless left at its default', () => {
    assert.deepEqual(pipeline({}).resource, { 'service.name': 'owlk8s' });
    assert.deepEqual(pipeline({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attributes,a=1' }).resource, {
      'service.name': 'from-attributes',
      a: '1',
    });
    assert.deepEqual(
      pipeline({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attributes', OTEL_SERVICE_NAME: 'named' })
        .resource,
      { 'service.name': 'named' },
    );
    // Set in the file, even to the default's value, serviceName wins.
    assert.deepEqual(
      pipeline(
        {},
        'export:\n  resource:\n    serviceName: owlk8s\n    attributes:\n      service.name: other\n      k8s.cluster.name: prod\n',
      ).resource,
      { 'service.name': 'owlk8s', 'k8s.cluster.name': 'prod' },
    );
  });

  it('passes the known methods and the export settings through', () => {
    assert.deepEqual(
      pipeline(
        { OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS: 'GET,POST' },
        'export:\n  cardinalityLimit: 50\n  goLibraryMetrics: true\n  intervalMs: 15000\n  prometheus:\n    enabled: false\n  stdout:\n    enabled: true\n  temporality: delta\n',
      ),
      {
        ...BASE,
        intervalMs: 15000,
        timeoutMs: 15000,
        cardinalityLimit: 50,
        goLibraryMetrics: true,
        knownMethods: ['GET', 'POST'],
        stdout: { temporality: 'delta' },
      },
    );
  });
});

describe('the Prometheus endpoint’s web configuration and token files', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'owlk8s-web-config-'));
    writeFileSync(join(dir, 'token'), 'abc\n');
  });
  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('passes the files on when they load; `config validate` does not read them', () => {
    writeFileSync(join(dir, 'web.yml'), 'http_server_config: {headers: {X-Frame-Options: deny}}\n');
    const text = `export:\n  prometheus:\n    webConfigFile: ${dir}/web.yml\n    bearerTokenFile: ${dir}/token\n    maxConcurrentScrapes: 2\n`;
    assert.deepEqual(pipeline({}, text).prometheus, {
      ...PROMETHEUS,
      webConfigFile: `${dir}/web.yml`,
      bearerTokenFile: `${dir}/token`,
      maxConcurrentScrapes: 2,
    });
    const missing = 'export:\n  prometheus:\n    webConfigFile: /nonexistent/web.yml\n';
    assert.equal(
      checkConfig({ env: NODE, file: 'c.yaml', text: missing }).config.export.prometheus.webConfigFile,
      '/nonexistent/web.yml',
    );
  });

  it('names the setting, the file, the key in it and what is allowed, for every problem at once', () => {
    writeFileSync(
      join(dir, 'bad.yml'),
      'tls_server_config:\n  cert_file: missing.pem\n  key_file: missing.key\n  client_auth_typ: NoClientCert\nbasic_auth_users:\n  alice: secret\n',
    );
    assert.deepEqual(
      problems(
        { OWLK8S_EXPORT_PROMETHEUS_BEARER_TOKEN_FILE: join(dir, 'no-token') },
        `export:\n  prometheus:\n    webConfigFile: ${dir}/bad.yml\n`,
      ),
      [
        `c.yaml:3: export.prometheus.webConfigFile: "${dir}/bad.yml" at tls_server_config.client_auth_typ: unknown key; allowed: the keys of tls_server_config: cert_file, key_file, client_auth_type, client_ca_file, min_version, max_version`,
        `c.yaml:3: export.prometheus.webConfigFile: "${dir}/bad.yml" at basic_auth_users.alice: not a bcrypt hash (6 characters); allowed: a bcrypt hash of the password, e.g. from \`htpasswd -nBC 10 "" | tr -d ':\\n'\` ($2y$10$ and 53 characters)`,
        `environment variable OWLK8S_EXPORT_PROMETHEUS_BEARER_TOKEN_FILE: export.prometheus.bearerTokenFile: "${dir}/no-token": cannot be read (no such file); allowed: a readable file holding the token`,
      ],
    );
    writeFileSync(
      join(dir, 'tls.yml'),
      'tls_server_config: {cert_file: missing.pem, key_file: missing.key}\n',
    );
    assert.deepEqual(problems({ OWLK8S_EXPORT_PROMETHEUS_WEB_CONFIG_FILE: join(dir, 'tls.yml') }), [
      `environment variable OWLK8S_EXPORT_PROMETHEUS_WEB_CONFIG_FILE: export.prometheus.webConfigFile: "${dir}/tls.yml" at tls_server_config.cert_file: "${dir}/missing.pem" cannot be read (no such file); allowed: a readable PEM file`,
      `environment variable OWLK8S_EXPORT_PROMETHEUS_WEB_CONFIG_FILE: export.prometheus.webConfigFile: "${dir}/tls.yml" at tls_server_config.key_file: "${dir}/missing.key" cannot be read (no such file); allowed: a readable PEM file`,
    ]);
  });
});
