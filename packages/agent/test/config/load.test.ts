// The effective configuration: defaults, then the file, then the environment (OWLK8S_*, then
// OTEL_* and the seed's variables), and what each value's origin is.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import { ADMIN_DEFAULTS, DEFAULT_BUCKETS, envName, SETTINGS } from '../../src/config/schema.ts';

const NODE = { OWLK8S_NODE_NAME: 'node-1' };

describe('loadConfig', () => {
  it('gives the documented defaults with no file', () => {
    const { config, notices } = loadConfig({ env: NODE });
    assert.deepEqual(config, {
      node: { name: 'node-1' },
      targets: {
        source: 'kubernetes',
        kubernetes: {
          kubeconfig: '',
          scope: 'services',
          labels: [],
          serviceNameAnnotation: true,
          peers: true,
          maxValueLength: 256,
        },
        static: [],
      },
      capture: {
        buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
        httpPorts: 'all',
        http2: true,
        requestTimeoutMs: 60000,
        idleTimeoutMs: 300000,
        maps: {
          connections: 57344,
          aggregates: 22528,
          connectionsPerPod: 512,
          seriesPerPod: 200,
          peers: 16384,
          targets: 1024,
        },
        serverPeers: false,
        attach: 'socket',
      },
      export: {
        temporality: 'cumulative',
        intervalMs: 10000,
        timeoutMs: 30000,
        cardinalityLimit: 11000,
        cardinalityLimitPerPod: 100,
        peersPerPod: 20,
        collapseUnknownClientPorts: true,
        goLibraryMetrics: false,
        knownMethods: ['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE'],
        resource: { serviceName: 'owlk8s', attributes: {} },
        otlp: {
          endpoint: '',
          protocol: 'http/protobuf',
          headers: {},
          compression: 'gzip',
          timeoutMs: 10000,
          tls: { caFile: '', certFile: '', keyFile: '', insecure: false },
        },
        prometheus: {
          enabled: true,
          host: '0.0.0.0',
          port: 9464,
          path: '/metrics',
          webConfigFile: '',
          bearerTokenFile: '',
          maxConcurrentScrapes: 4,
        },
        stdout: { enabled: false },
      },
      logging: { level: 'info', format: 'auto' },
      admin: { host: '127.0.0.1', port: 9465 },
      pipeline: {
        prometheus: { host: '0.0.0.0', port: 9464, path: '/metrics', maxConcurrentScrapes: 4 },
        intervalMs: 10000,
        timeoutMs: 10000,
        cardinalityLimit: 11000,
        cardinalityLimitPerPod: 100,
        peersPerPod: 20,
        collapseUnknownClientPorts: true,
        goLibraryMetrics: false,
        resource: { 'service.name': 'owlk8s' },
        knownMethods: ['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE'],
      },
    });
    assert.deepEqual(config.capture.buckets, DEFAULT_BUCKETS);
    assert.deepEqual(config.admin, ADMIN_DEFAULTS);
    assert.deepEqual(notices, []);
  });

  it('accepts an empty file and empty sections', () => {
    assert.equal(loadConfig({ file: 'empty.yaml', text: '', env: NODE }).config.export.prometheus.port, 9464);
    assert.equal(
      loadConfig({ file: 'c.yaml', text: 'capture:\nexport:\n', env: NODE }).config.capture.maps.targets,
      1024,
    );
  });

  it('lets the file override defaults and the environment override the file', () => {
    const text = 'export:\n  prometheus:\n    port: 9100\n    path: /m\nlogging:\n  level: warn\n';
    const { config, originOf } = loadConfig({
      file: 'c.yaml',
      text,
      env: { ...NODE, OWLK8S_EXPORT_PROMETHEUS_PORT: '9200' },
    });
    assert.equal(config.export.prometheus.port, 9200);
    assert.equal(config.export.prometheus.path, '/m');
    assert.equal(config.logging.level, 'warn');
    assert.deepEqual(originOf('export.prometheus.port'), {
      kind: 'env',
      variable: 'OWLK8S_EXPORT_PROMETHEUS_PORT',
    });
    assert.deepEqual(originOf('export.prometheus.path'), { kind: 'file', file: 'c.yaml', line: 4 });
    assert.deepEqual(originOf('admin.port'), { kind: 'file', file: 'c.yaml' });
  });

  it('reads a file from disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'owlk8s-config-'));
    try {
      const file = join(dir, 'owlk8s.yaml');
      writeFileSync(file, 'node:\n  name: worker-7\nadmin:\n  port: 8686\n');
      const { config } = loadConfig({ file, env: {} });
      assert.equal(config.node.name, 'worker-7');
      assert.equal(config.admin.port, 8686);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads lists, headers and static targets from the environment', () => {
    const { config } = loadConfig({
      env: {
        OWLK8S_TARGETS_SOURCE: 'static',
        OWLK8S_TARGETS_STATIC:
          '[{"ip":"198.18.0.2","interface":"veth1"},{"ip":"2001:2::2","interface":7,"name":"v6"}]',
        OWLK8S_CAPTURE_BUCKETS: '0.01, 0.1,1',
        OWLK8S_CAPTURE_HTTP_PORTS: '80,8080',
        OWLK8S_CAPTURE_ATTACH: 'tc',
        OWLK8S_EXPORT_OTLP_HEADERS: 'x-honeycomb-team=abc%3D%3D,x-honeycomb-dataset=owlk8s',
        OWLK8S_EXPORT_OTLP_ENDPOINT: 'http://collector:4318',
        OWLK8S_EXPORT_STDOUT_ENABLED: 'true',
        OWLK8S_EXPORT_GO_LIBRARY_METRICS: 'true',
      },
    });
    assert.deepEqual(config.targets.static, [
      { ip: '198.18.0.2', interface: 'veth1', name: '198.18.0.2' },
      { ip: '2001:2::2', interface: 7, name: 'v6' },
    ]);
    assert.deepEqual(config.capture.buckets, [0.01, 0.1, 1]);
    assert.deepEqual(config.capture.httpPorts, [80, 8080]);
    assert.equal(config.capture.attach, 'tc');
    assert.deepEqual(config.export.otlp.headers, {
      'x-honeycomb-team': 'abc==',
      'x-honeycomb-dataset': 'owlk8s',
    });
    assert.equal(config.export.stdout.enabled, true);
    assert.equal(config.export.goLibraryMetrics, true);
  });

  it('honours the OTEL_* variables, the metrics-specific ones first, below OWLK8S_*', () => {
    const env = {
      ...NODE,
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://generic:4318',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://metrics:4318/v1/metrics',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_TIMEOUT: '2500',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'none',
      OTEL_METRIC_EXPORT_INTERVAL: '30000',
      OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
    };
    const { config, originOf } = loadConfig({ env });
    assert.equal(config.export.otlp.endpoint, 'http://metrics:4318/v1/metrics');
    assert.equal(config.export.otlp.protocol, 'grpc');
    assert.equal(config.export.otlp.timeoutMs, 2500);
    assert.equal(config.export.otlp.compression, 'none');
    assert.equal(config.export.intervalMs, 30000);
    assert.equal(config.export.temporality, 'delta');
    assert.deepEqual(originOf('export.otlp.endpoint'), {
      kind: 'env',
      variable: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
    });
    const own = loadConfig({ env: { ...env, OWLK8S_EXPORT_OTLP_ENDPOINT: 'http://own:4317' } });
    assert.equal(own.config.export.otlp.endpoint, 'http://own:4317');
  });

  it('merges the header variables header by header, as the SDK exporters do: generic, metrics, OWLK8S_*', () => {
    const env = {
      ...NODE,
      OTEL_EXPORTER_OTLP_HEADERS: 'x-a=generic,x-b=generic,x-c=generic',
      OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'x-b=metrics,x-c=metrics',
      OWLK8S_EXPORT_OTLP_HEADERS: 'x-c=owlk8s',
    };
    const { config, originOf } = loadConfig({
      env,
      file: 'owlk8s.yaml',
      text: 'export:\n  otlp:\n    headers: { x-file: yes }\n',
    });
    assert.deepEqual(config.export.otlp.headers, { 'x-a': 'generic', 'x-b': 'metrics', 'x-c': 'owlk8s' });
    assert.deepEqual(originOf('export.otlp.headers'), {
      kind: 'env',
      variable:
        'OWLK8S_EXPORT_OTLP_HEADERS + OTEL_EXPORTER_OTLP_METRICS_HEADERS + OTEL_EXPORTER_OTLP_HEADERS',
    });
    // Without any header variable, the file's headers.
    const file = loadConfig({
      env: NODE,
      file: 'owlk8s.yaml',
      text: 'export:\n  otlp:\n    headers: { x-file: "yes" }\n',
    });
    assert.deepEqual(file.config.export.otlp.headers, { 'x-file': 'yes' });
  });

  it('reads every OTEL_* variable the pipeline used to read itself, as aliases of settings', () => {
    const { config, originOf } = loadConfig({
      env: {
        ...NODE,
        OTEL_SERVICE_NAME: 'node-agent',
        OTEL_RESOURCE_ATTRIBUTES: 'k8s.cluster.name=prod,team=sre%2Cnet',
        OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS: 'GET, POST',
        OTEL_METRIC_EXPORT_TIMEOUT: '4000',
        OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
        OTEL_EXPORTER_PROMETHEUS_PORT: '9100',
        OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: '1500',
        OTEL_EXPORTER_OTLP_TIMEOUT: '2500',
        OTEL_EXPORTER_OTLP_CERTIFICATE: '/etc/tls/ca.pem',
        OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE: '/etc/tls/metrics.pem',
        OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: '/etc/tls/client.pem',
        OTEL_EXPORTER_OTLP_CLIENT_KEY: '/etc/tls/client.key',
      },
    });
    assert.equal(config.export.resource.serviceName, 'node-agent');
    assert.deepEqual(config.export.resource.attributes, { 'k8s.cluster.name': 'prod', team: 'sre,net' });
    assert.deepEqual(config.export.knownMethods, ['GET', 'POST']);
    assert.equal(config.export.timeoutMs, 4000);
    assert.equal(config.export.prometheus.host, '127.0.0.1');
    assert.equal(config.export.prometheus.port, 9100);
    assert.equal(config.export.otlp.timeoutMs, 1500);
    assert.deepEqual(config.export.otlp.tls, {
      caFile: '/etc/tls/ca.pem',
      certFile: '/etc/tls/metrics.pem',
      keyFile: '/etc/tls/client.key',
      insecure: false,
    });
    assert.deepEqual(originOf('export.otlp.tls.certFile'), {
      kind: 'env',
      variable: 'OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE',
    });
    assert.deepEqual(config.pipeline.resource, {
      'k8s.cluster.name': 'prod',
      team: 'sre,net',
      'service.name': 'node-agent',
    });
  });

  // Regression: lowmemory and DELTA are valid by the specification, and stopped the agent (exit 2).
  it('reads OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE in any case, lowmemory as delta', () => {
    const temporality = (value: string) =>
      loadConfig({ env: { ...NODE, OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: value } }).config.export
        .temporality;
    assert.equal(temporality('lowmemory'), 'delta');
    assert.equal(temporality('LowMemory'), 'delta');
    assert.equal(temporality('DELTA'), 'delta');
    assert.equal(temporality('Cumulative'), 'cumulative');
    assert.equal(temporality(' delta '), 'delta');
    assert.equal(
      loadConfig({ env: { ...NODE, OWLK8S_EXPORT_TEMPORALITY: 'LOWMEMORY' } }).config.export.temporality,
      'delta',
    );
  });

  it('OTEL_METRICS_EXPORTER chooses the exporters over the file and OTEL_*; an exporter’s own OWLK8S_* variable wins', () => {
    const otlpOnly = loadConfig({ env: { ...NODE, OTEL_METRICS_EXPORTER: 'otlp' } });
    assert.equal(otlpOnly.config.export.otlp.endpoint, 'http://localhost:4318');
    assert.deepEqual(otlpOnly.originOf('export.otlp.endpoint'), {
      kind: 'env',
      variable: 'OTEL_METRICS_EXPORTER',
    });
    assert.equal(otlpOnly.config.export.prometheus.enabled, false);
    assert.equal(otlpOnly.config.export.stdout.enabled, false);
    assert.equal(otlpOnly.config.pipeline.otlp?.url, 'http://localhost:4318/v1/metrics');
    assert.equal(otlpOnly.config.pipeline.prometheus, undefined);
    const grpc = loadConfig({
      env: { ...NODE, OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
    });
    assert.equal(grpc.config.pipeline.otlp?.url, 'http://localhost:4317');
    // An endpoint set anywhere is used.
    const set = loadConfig({
      env: { ...NODE, OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' },
    });
    assert.equal(set.config.pipeline.otlp?.url, 'http://c:4318/v1/metrics');

    const noOtlp = loadConfig({
      env: {
        ...NODE,
        OTEL_METRICS_EXPORTER: 'prometheus, Console',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
      },
    });
    assert.equal(noOtlp.config.export.otlp.endpoint, '');
    assert.equal(noOtlp.config.pipeline.otlp, undefined);
    assert.equal(noOtlp.config.export.prometheus.enabled, true);
    assert.equal(noOtlp.config.export.stdout.enabled, true);
    assert.deepEqual(noOtlp.notices, [
      'OTLP export is off: OTEL_METRICS_EXPORTER=prometheus, Console does not name otlp, so the endpoint in OTEL_EXPORTER_OTLP_ENDPOINT is not used',
    ]);

    const fromFile = loadConfig({
      file: 'c.yaml',
      text: 'export:\n  otlp:\n    endpoint: http://c:4318\n  prometheus:\n    enabled: false\n',
      env: { ...NODE, OTEL_METRICS_EXPORTER: 'prometheus' },
    });
    assert.equal(fromFile.config.export.otlp.endpoint, '');
    assert.equal(fromFile.config.export.prometheus.enabled, true);
    assert.deepEqual(fromFile.originOf('export.prometheus.enabled'), {
      kind: 'env',
      variable: 'OTEL_METRICS_EXPORTER',
    });
    assert.deepEqual(fromFile.notices, [
      'OTLP export is off: OTEL_METRICS_EXPORTER=prometheus does not name otlp, so the endpoint in c.yaml:3 is not used',
    ]);

    const own = loadConfig({
      env: {
        ...NODE,
        OTEL_METRICS_EXPORTER: 'prometheus',
        OWLK8S_EXPORT_STDOUT_ENABLED: 'true',
        OWLK8S_EXPORT_OTLP_ENDPOINT: 'http://own:4318',
      },
    });
    assert.equal(own.config.pipeline.otlp?.url, 'http://own:4318/v1/metrics');
    assert.deepEqual(own.config.pipeline.stdout, { temporality: 'cumulative' });
    assert.deepEqual(own.config.pipeline.prometheus, {
      host: '0.0.0.0',
      port: 9464,
      path: '/metrics',
      maxConcurrentScrapes: 4,
    });
    assert.deepEqual(own.notices, []);
  });

  it('OTEL_METRICS_EXPORTER=none exports nothing, with a notice instead of the every-exporter-off error', () => {
    const none = loadConfig({ env: { ...NODE, OTEL_METRICS_EXPORTER: 'none' } });
    assert.equal(none.config.pipeline.prometheus, undefined);
    assert.equal(none.config.pipeline.stdout, undefined);
    assert.equal(none.config.pipeline.otlp, undefined);
    assert.deepEqual(none.notices, ['OTEL_METRICS_EXPORTER is none: no metrics are exported']);
    const but = loadConfig({
      env: { ...NODE, OTEL_METRICS_EXPORTER: 'none', OWLK8S_EXPORT_PROMETHEUS_ENABLED: 'true' },
    });
    assert.deepEqual(but.config.pipeline.prometheus, {
      host: '0.0.0.0',
      port: 9464,
      path: '/metrics',
      maxConcurrentScrapes: 4,
    });
    assert.deepEqual(but.notices, []);
  });

  it('OTEL_SDK_DISABLED=true turns every exporter off, with one notice naming it', () => {
    for (const value of ['true', 'TRUE', '1']) {
      const off = loadConfig({
        env: { ...NODE, OTEL_SDK_DISABLED: value, OWLK8S_EXPORT_OTLP_ENDPOINT: 'http://c:4318' },
      });
      assert.equal(off.config.pipeline.otlp, undefined, value);
      assert.equal(off.config.pipeline.prometheus, undefined, value);
      assert.equal(off.config.pipeline.stdout, undefined, value);
      assert.deepEqual(off.notices, ['OTEL_SDK_DISABLED is true: no metrics are exported'], value);
    }
    const on = loadConfig({ env: { ...NODE, OTEL_SDK_DISABLED: 'false' } });
    assert.deepEqual(on.config.pipeline.prometheus, {
      host: '0.0.0.0',
      port: 9464,
      path: '/metrics',
      maxConcurrentScrapes: 4,
    });
    assert.deepEqual(on.notices, []);
  });

  it('treats a variable set to the empty string as unset', () => {
    const { config } = loadConfig({
      file: 'c.yaml',
      text: 'admin:\n  port: 8686\n',
      env: { ...NODE, OWLK8S_ADMIN_PORT: '' },
    });
    assert.equal(config.admin.port, 8686);
    // The OTEL_* variables too, those that decide several settings included.
    const empty = loadConfig({
      env: {
        ...NODE,
        OTEL_METRICS_EXPORTER: '',
        OTEL_SDK_DISABLED: '',
        OTEL_SERVICE_NAME: '',
        OTEL_RESOURCE_ATTRIBUTES: '',
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: '',
        OTEL_EXPORTER_OTLP_INSECURE: '',
      },
    });
    assert.deepEqual(empty.config, loadConfig({ env: NODE }).config);
    assert.deepEqual(empty.notices, []);
  });

  it('honours the seed variables: nodename, debug, and cleanBPFMap with a notice', () => {
    const seed = loadConfig({ env: { nodename: 'seed-node', debug: 'true', cleanBPFMap: 'true' } });
    assert.equal(seed.config.node.name, 'seed-node');
    assert.equal(seed.config.logging.level, 'debug');
    assert.deepEqual(seed.notices, [
      'cleanBPFMap is obsolete and ignored: the kernel forgets a connection when it ends (FIN or RST) or idles for capture.idleTimeoutMs, so its map never needs cleaning',
    ]);
    assert.deepEqual(seed.originOf('logging.level'), { kind: 'env', variable: 'debug' });
    const both = loadConfig({
      env: {
        nodename: 'seed-node',
        OWLK8S_NODE_NAME: 'new-node',
        debug: 'true',
        OWLK8S_LOGGING_LEVEL: 'trace',
      },
    });
    assert.equal(both.config.node.name, 'new-node');
    assert.equal(both.config.logging.level, 'trace');
    assert.equal(loadConfig({ env: { ...NODE, debug: 'false' } }).config.logging.level, 'info');
  });

  it('needs a node name with Kubernetes targets, or only notes it when asked to', () => {
    assert.throws(() => loadConfig({ env: {} }), {
      name: 'ConfigError',
      message:
        'invalid configuration: configuration: node.name: empty; allowed: the name of this node, required with targets.source "kubernetes": set node.name, OWLK8S_NODE_NAME (the DaemonSet sets it from spec.nodeName) or the seed’s nodename',
    });
    const { notices } = loadConfig({ env: {}, requireNodeName: false });
    assert.deepEqual(notices, [
      'node.name is empty: the agent needs it at start with targets.source "kubernetes" (set node.name, OWLK8S_NODE_NAME (the DaemonSet sets it from spec.nodeName) or the seed’s nodename)',
    ]);
    const staticOnly = loadConfig({
      file: 's.yaml',
      text: 'targets:\n  source: static\n  static:\n    - {ip: 198.18.0.2, namespace: demo, service: web, labels: {team: a}}\n',
      env: {},
    });
    assert.deepEqual(staticOnly.config.targets.static, [
      { ip: '198.18.0.2', namespace: 'demo', service: 'web', labels: { team: 'a' }, name: '198.18.0.2' },
    ]);
  });
});

describe('schema', () => {
  it('derives each environment variable from the key path', () => {
    assert.equal(envName('export.otlp.tls.caFile'), 'OWLK8S_EXPORT_OTLP_TLS_CA_FILE');
    assert.equal(envName('capture.maps.connections'), 'OWLK8S_CAPTURE_MAPS_CONNECTIONS');
    assert.equal(envName('capture.requestTimeoutMs'), 'OWLK8S_CAPTURE_REQUEST_TIMEOUT_MS');
    assert.equal(envName('export.prometheus.webConfigFile'), 'OWLK8S_EXPORT_PROMETHEUS_WEB_CONFIG_FILE');
    assert.equal(SETTINGS.length, 54);
    assert.equal(new Set(SETTINGS.map((s) => s.env)).size, SETTINGS.length);
  });

  it('documents every setting and accepts every default', () => {
    for (const s of SETTINGS) {
      assert.ok(s.setting.doc.length > 20, `${s.path} has a doc`);
      assert.equal(s.setting.format.check(s.setting.default), undefined, `${s.path} default is allowed`);
    }
  });
});
