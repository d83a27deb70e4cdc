// Malformed configurations, each with the exact lines the agent must answer. Shared by the
// loader's tests (in-process) and the CLI's (`config validate`, exit code 2).

export interface MalformedCase {
  readonly name: string;
  /** The YAML file's text; undefined for a case without a file (`nope.yaml` is then missing). */
  readonly yaml?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** The problem lines, without the "invalid configuration" heading. */
  readonly expected: readonly string[];
}

export const MALFORMED: readonly MalformedCase[] = [
  {
    name: 'unknown section',
    yaml: 'exporter:\n  otlp: {}\n',
    expected: [
      'bad-1.yaml:1: exporter: unknown key (did you mean "export"?); allowed: the sections: node, targets, capture, export, logging, admin',
    ],
  },
  {
    name: 'unknown key with a typo',
    yaml: 'capture:\n  bukets: [0.1, 1]\n',
    expected: [
      'bad-2.yaml:2: capture.bukets: unknown key (did you mean "buckets"?); allowed: the keys of capture: buckets, httpPorts, http2, requestTimeoutMs, idleTimeoutMs, maps, serverPeers, attach',
    ],
  },
  {
    name: 'section given as a scalar',
    yaml: 'capture: 5\n',
    expected: [
      'bad-3.yaml:1: capture: got 5; allowed: a mapping with the keys buckets, httpPorts, http2, requestTimeoutMs, idleTimeoutMs, maps, serverPeers, attach',
    ],
  },
  {
    name: 'a list instead of a mapping',
    yaml: '- node\n- targets\n',
    expected: [
      'bad-4.yaml:1: got ["node","targets"]; allowed: a mapping of sections: node, targets, capture, export, logging, admin',
    ],
  },
  {
    name: 'YAML syntax error',
    yaml: 'export:\n  prometheus: [\n',
    expected: [
      'bad-5.yaml:3: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]; allowed: valid YAML: a mapping of sections (node, targets, capture, export, logging, admin)',
    ],
  },
  {
    name: 'duplicate key',
    yaml: 'admin:\n  port: 9465\n  port: 9466\n',
    expected: [
      'bad-6.yaml:3: YAML syntax error: Map keys must be unique; allowed: valid YAML: a mapping of sections (node, targets, capture, export, logging, admin)',
    ],
  },
  {
    name: 'quoted number',
    yaml: 'export:\n  prometheus:\n    port: "9464"\n',
    expected: ['bad-7.yaml:3: export.prometheus.port: got "9464"; allowed: an integer from 1 to 65535'],
  },
  {
    name: 'port out of range',
    yaml: 'export:\n  prometheus:\n    port: 70000\n',
    expected: ['bad-8.yaml:3: export.prometheus.port: got 70000; allowed: an integer from 1 to 65535'],
  },
  {
    name: 'empty value',
    yaml: 'admin:\n  port:\n',
    expected: ['bad-9.yaml:2: admin.port: got null; allowed: an integer from 1 to 65535'],
  },
  {
    name: 'unknown enum value',
    yaml: 'targets:\n  source: k8s\n',
    expected: ['bad-10.yaml:2: targets.source: got "k8s"; allowed: one of "kubernetes", "static"'],
  },
  {
    name: 'YAML 1.1 yes is not a boolean',
    yaml: 'export:\n  goLibraryMetrics: yes\n',
    expected: ['bad-11.yaml:2: export.goLibraryMetrics: got "yes"; allowed: true or false'],
  },
  {
    name: 'fractional interval',
    yaml: 'export:\n  intervalMs: 1500.5\n',
    expected: ['bad-12.yaml:2: export.intervalMs: got 1500.5; allowed: an integer from 1000 to 3600000'],
  },
  {
    name: 'map size too small',
    yaml: 'capture:\n  maps:\n    connections: 10\n',
    expected: ['bad-13.yaml:3: capture.maps.connections: got 10; allowed: an integer from 1024 to 4194304'],
  },
  {
    name: 'unknown log level',
    yaml: 'logging:\n  level: verbose\n',
    expected: [
      'bad-14.yaml:2: logging.level: got "verbose"; allowed: one of "fatal", "error", "warn", "info", "debug", "trace"',
    ],
  },
  {
    name: 'buckets not increasing',
    yaml: 'capture:\n  buckets: [0.1, 0.05, 1]\n',
    expected: [
      'bad-15.yaml:2: capture.buckets[1]: got 0.05; allowed: a boundary greater than the one before it (0.1)',
    ],
  },
  {
    name: 'zero bucket',
    yaml: 'capture:\n  buckets: [0, 1]\n',
    expected: ['bad-16.yaml:2: capture.buckets[0]: got 0; allowed: a number of seconds greater than 0'],
  },
  {
    name: 'httpPorts word',
    yaml: 'capture:\n  httpPorts: some\n',
    expected: [
      'bad-17.yaml:2: capture.httpPorts: got "some"; allowed: "all", or a list of distinct TCP ports from 1 to 65535, e.g. [80, 8080]',
    ],
  },
  {
    name: 'httpPorts twice',
    yaml: 'capture:\n  httpPorts: [80, 8080, 80]\n',
    expected: ['bad-18.yaml:2: capture.httpPorts[2]: got 80; allowed: each port once'],
  },
  {
    name: 'bad label key',
    yaml: 'targets:\n  kubernetes:\n    labels: [team, -bad]\n',
    expected: [
      'bad-19.yaml:3: targets.kubernetes.labels[1]: got "-bad"; allowed: a label key: an optional DNS prefix and "/", then at most 63 letters, digits, "-", "_" or "."',
    ],
  },
  {
    name: 'bad header name',
    yaml: 'export:\n  otlp:\n    headers:\n      bad header: x\n',
    expected: [
      'bad-20.yaml:4: export.otlp.headers.bad header: got "bad header"; allowed: a header name of letters, digits and !#$%&\'*+-.^_`|~',
    ],
  },
  {
    name: 'bad endpoint scheme',
    yaml: 'export:\n  otlp:\n    endpoint: ftp://collector:4317\n',
    expected: [
      'bad-21.yaml:3: export.otlp.endpoint: got "ftp://collector:4317"; allowed: an http:// or https:// URL such as "http://otel-collector:4317", host:port for gRPC, or "" for off',
    ],
  },
  {
    name: 'bad node name',
    yaml: 'node:\n  name: Node_1\n',
    expected: [
      'bad-22.yaml:2: node.name: got "Node_1"; allowed: a Kubernetes node name (lowercase letters, digits, "-" and ".", at most 253 characters), or "" to take it from the environment',
    ],
  },
  {
    name: 'static target with a bad IP',
    yaml: 'targets:\n  source: static\n  static:\n    - ip: 198.18.0.2\n    - ip: 198.18.0.300\n',
    expected: [
      'bad-23.yaml:5: targets.static[1].ip: got "198.18.0.300"; allowed: an IPv4 or IPv6 address, e.g. "198.18.0.2" or "2001:2::2"',
    ],
  },
  {
    name: 'static target with an unknown field',
    yaml: 'targets:\n  source: static\n  static:\n    - ip: 198.18.0.2\n      ifindex: 7\n',
    expected: [
      'bad-24.yaml:5: targets.static[0].ifindex: got 7; allowed: the fields ip, interface, name, namespace, service, labels',
    ],
  },
  {
    name: 'static targets with one name twice',
    yaml: 'targets:\n  source: static\n  static:\n    - {ip: 198.18.0.2, name: web}\n    - {ip: 198.18.0.3, name: web}\n',
    expected: [
      'bad-25.yaml:5: targets.static[1].name: got "web"; allowed: a name used once (also in targets.static[0]; the name defaults to the IP)',
    ],
  },
  {
    name: 'static list while reading Kubernetes',
    yaml: 'targets:\n  static:\n    - ip: 198.18.0.2\n',
    expected: [
      'bad-26.yaml:2: targets.static: 1 target(s) while targets.source is "kubernetes"; allowed: a static list only with targets.source: static (it would be ignored)',
    ],
  },
  {
    name: 'static source without targets',
    yaml: 'targets:\n  source: static\n',
    expected: [
      'bad-27.yaml: targets.static: an empty list; allowed: at least one target when targets.source is "static"',
    ],
  },
  {
    name: 'insecure with a CA file',
    yaml: 'export:\n  otlp:\n    endpoint: collector:4317\n    protocol: grpc\n    tls:\n      caFile: /etc/ca.pem\n      insecure: true\n',
    expected: [
      'bad-28.yaml:6: export.otlp.tls.caFile: got "/etc/ca.pem" while the endpoint "collector:4317" (export.otlp.endpoint, from bad-28.yaml:3) is plain text (host:port with export.otlp.tls.insecure: true); allowed: TLS files only with TLS: an https:// endpoint, or for gRPC host:port without export.otlp.tls.insecure',
    ],
  },
  {
    name: 'host:port with http/protobuf',
    yaml: 'export:\n  otlp:\n    endpoint: collector:4318\n',
    expected: [
      'bad-29.yaml:3: export.otlp.endpoint: got "collector:4318" (host:port) with protocol "http/protobuf"; allowed: an http:// or https:// URL such as "http://collector:4318" (host:port is gRPC’s short form)',
    ],
  },
  {
    name: 'every exporter off',
    yaml: 'export:\n  prometheus:\n    enabled: false\n',
    expected: [
      'bad-30.yaml: export: every exporter off; allowed: at least one of export.otlp.endpoint (a URL), export.prometheus.enabled: true, export.stdout.enabled: true',
    ],
  },
  {
    name: 'admin on the Prometheus port',
    yaml: 'admin:\n  port: 9464\n',
    expected: [
      'bad-31.yaml:2: admin.port: got 9464, the port of export.prometheus too; allowed: a port other than export.prometheus.port when both listen on the same address',
    ],
  },
  {
    name: 'missing file',
    expected: ['nope.yaml: cannot be read (no such file); allowed: a readable YAML file'],
  },
  {
    name: 'env: port not a number',
    yaml: '',
    env: { OWLK8S_EXPORT_PROMETHEUS_PORT: 'abc' },
    expected: [
      'environment variable OWLK8S_EXPORT_PROMETHEUS_PORT: export.prometheus.port: got "abc"; allowed: an integer from 1 to 65535',
    ],
  },
  {
    name: 'env: OTEL interval too short',
    yaml: '',
    env: { OTEL_METRIC_EXPORT_INTERVAL: '500' },
    expected: [
      'environment variable OTEL_METRIC_EXPORT_INTERVAL: export.intervalMs: got 500; allowed: an integer from 1000 to 3600000',
    ],
  },
  {
    name: 'env: seed debug not a boolean',
    yaml: '',
    env: { debug: 'maybe' },
    expected: [
      'environment variable debug: logging.level: got "maybe"; allowed: true or false (the seed’s switch for debug logs; OWLK8S_LOGGING_LEVEL sets any level)',
    ],
  },
  {
    name: 'env: buckets with a word',
    yaml: '',
    env: { OWLK8S_CAPTURE_BUCKETS: '0.1,x' },
    expected: [
      'environment variable OWLK8S_CAPTURE_BUCKETS: capture.buckets: got "0.1,x"; allowed: a list of 1 to 32 numbers of seconds, each greater than 0 and strictly increasing, e.g. [0.005, 0.01, 0.1, 1]',
    ],
  },
  {
    name: 'env: headers without =',
    yaml: '',
    env: { OWLK8S_EXPORT_OTLP_HEADERS: 'dd-api-key' },
    expected: [
      'environment variable OWLK8S_EXPORT_OTLP_HEADERS: export.otlp.headers: got [redacted]; allowed: a mapping of HTTP header names to string values, e.g. {x-honeycomb-team: "..."}',
    ],
  },
  {
    name: 'env: static targets not JSON',
    yaml: '',
    env: { OWLK8S_TARGETS_STATIC: '198.18.0.2' },
    expected: [
      'environment variable OWLK8S_TARGETS_STATIC: targets.static: got "198.18.0.2"; allowed: a list of targets, each a mapping such as {ip: "198.18.0.2", interface: "veth1", name: "web"}',
    ],
  },
  {
    name: 'file and env problems together',
    yaml: 'logging:\n  format: text\n',
    env: { OWLK8S_ADMIN_HOST: 'not a host' },
    expected: [
      'bad-39.yaml:2: logging.format: got "text"; allowed: one of "auto", "json", "pretty"',
      'environment variable OWLK8S_ADMIN_HOST: admin.host: got "not a host"; allowed: an IP address to listen on (e.g. "127.0.0.1", "0.0.0.0", "::") or a host name such as "localhost"',
    ],
  },
  {
    name: 'YAML alias bomb',
    yaml: 'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n',
    expected: [
      'bad-40.yaml:2: YAML aliases that expand too far (Excessive alias count indicates a resource exhaustion attack); allowed: aliases that each expand to a few nodes, or the values written out',
    ],
  },
  {
    name: 'insecure with an https:// endpoint',
    yaml: 'export:\n  otlp:\n    endpoint: https://collector:4317\n    protocol: grpc\n    tls:\n      insecure: true\n',
    expected: [
      'bad-41.yaml:6: export.otlp.tls.insecure: got true with the https:// endpoint "https://collector:4317" (export.otlp.endpoint, from bad-41.yaml:3); allowed: false with an https:// endpoint: the scheme decides (https:// is TLS, http:// plain text); insecure only makes a gRPC endpoint given as host:port plain text, and never turns certificate checks off',
    ],
  },
  {
    name: 'env: OTEL_EXPORTER_OTLP_INSECURE with an https:// endpoint',
    yaml: '',
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gateway.example.net/otlp',
      OTEL_EXPORTER_OTLP_INSECURE: 'true',
    },
    expected: [
      'environment variable OTEL_EXPORTER_OTLP_INSECURE: export.otlp.tls.insecure: got true with the https:// endpoint "https://gateway.example.net/otlp" (export.otlp.endpoint, from environment variable OTEL_EXPORTER_OTLP_ENDPOINT); allowed: false with an https:// endpoint: the scheme decides (https:// is TLS, http:// plain text); insecure only makes a gRPC endpoint given as host:port plain text, and never turns certificate checks off',
    ],
  },
  {
    name: 'CA and client certificate with an http:// endpoint',
    yaml: 'export:\n  otlp:\n    endpoint: http://collector:4318\n    tls:\n      caFile: /etc/ca.pem\n      certFile: /etc/client.pem\n      keyFile: /etc/client.key\n',
    expected: [
      'bad-43.yaml:5: export.otlp.tls.caFile: got "/etc/ca.pem" while the endpoint "http://collector:4318" (export.otlp.endpoint, from bad-43.yaml:3) is plain text (http://); allowed: TLS files only with TLS: an https:// endpoint, or for gRPC host:port without export.otlp.tls.insecure',
      'bad-43.yaml:6: export.otlp.tls.certFile: got "/etc/client.pem" while the endpoint "http://collector:4318" (export.otlp.endpoint, from bad-43.yaml:3) is plain text (http://); allowed: TLS files only with TLS: an https:// endpoint, or for gRPC host:port without export.otlp.tls.insecure',
      'bad-43.yaml:7: export.otlp.tls.keyFile: got "/etc/client.key" while the endpoint "http://collector:4318" (export.otlp.endpoint, from bad-43.yaml:3) is plain text (http://); allowed: TLS files only with TLS: an https:// endpoint, or for gRPC host:port without export.otlp.tls.insecure',
    ],
  },
  {
    name: 'env: client certificate without its key',
    yaml: '',
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gateway.example.net/otlp',
      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: '/etc/tls/client.pem',
    },
    expected: [
      'environment variable OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: export.otlp.tls.certFile: got "/etc/tls/client.pem" while export.otlp.tls.keyFile is empty; allowed: both export.otlp.tls.certFile and export.otlp.tls.keyFile (mutual TLS needs the certificate and its key), or neither',
    ],
  },
  {
    name: 'env: unknown temporality preference',
    yaml: '',
    env: { OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'sometimes' },
    expected: [
      'environment variable OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: export.temporality: got "sometimes"; allowed: one of "cumulative", "delta" (in the environment also "lowmemory", in any case)',
    ],
  },
  {
    name: 'env: OTEL_METRICS_EXPORTER with an exporter the agent lacks',
    yaml: '',
    env: { OTEL_METRICS_EXPORTER: 'otlp,logging' },
    expected: [
      'environment variable OTEL_METRICS_EXPORTER: export: got "otlp,logging"; allowed: "none", or a comma-separated list of "otlp", "prometheus" and "console" (the OpenTelemetry specification’s exporters)',
    ],
  },
  {
    name: 'env: OTEL_METRICS_EXPORTER with none and another',
    yaml: '',
    env: { OTEL_METRICS_EXPORTER: 'none,prometheus' },
    expected: [
      'environment variable OTEL_METRICS_EXPORTER: export: got "none,prometheus"; allowed: "none", or a comma-separated list of "otlp", "prometheus" and "console" (the OpenTelemetry specification’s exporters)',
    ],
  },
  {
    name: 'env: OTEL_SDK_DISABLED not a boolean',
    yaml: '',
    env: { OTEL_SDK_DISABLED: 'yes' },
    expected: [
      'environment variable OTEL_SDK_DISABLED: export: got "yes"; allowed: true (export nothing) or false',
    ],
  },
  {
    name: 'resource attribute not a string',
    yaml: 'export:\n  resource:\n    attributes:\n      replicas: 3\n',
    expected: ['bad-49.yaml:4: export.resource.attributes.replicas: got 3; allowed: a string value'],
  },
  {
    name: 'env: OTEL_RESOURCE_ATTRIBUTES without =',
    yaml: '',
    env: { OTEL_RESOURCE_ATTRIBUTES: 'k8s.cluster.name' },
    expected: [
      'environment variable OTEL_RESOURCE_ATTRIBUTES: export.resource.attributes: got "k8s.cluster.name"; allowed: a mapping of attribute names to string values, e.g. {k8s.cluster.name: prod, deployment.environment.name: eu-1}',
    ],
  },
  {
    name: 'env: a known method with a space',
    yaml: '',
    env: { OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS: 'GET,PO ST' },
    expected: [
      'environment variable OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS: export.knownMethods[1]: got "PO ST"; allowed: a method name of letters, digits and !#$%&\'*+-.^_`|~',
    ],
  },
  {
    name: 'a renamed key says its new name',
    yaml: 'export:\n  seedMetrics: true\n',
    expected: [
      'bad-52.yaml:2: export.seedMetrics: unknown key (renamed: now export.goLibraryMetrics); allowed: the keys of export: temporality, intervalMs, timeoutMs, cardinalityLimit, cardinalityLimitPerPod, peersPerPod, collapseUnknownClientPorts, goLibraryMetrics, knownMethods, resource, otlp, prometheus, stdout',
    ],
  },
  {
    name: 'capture.maps.inFlight says its new name',
    yaml: 'capture:\n  maps:\n    inFlight: 65536\n',
    expected: [
      'bad-53.yaml:3: capture.maps.inFlight: unknown key (renamed: now capture.maps.connections); allowed: the keys of capture.maps: connections, aggregates, connectionsPerPod, seriesPerPod, peers, targets',
    ],
  },
  {
    name: 'a request timeout not above the largest bucket',
    yaml: 'capture:\n  buckets: [0.1, 1, 30]\n  requestTimeoutMs: 30000\n',
    expected: [
      'bad-54.yaml:3: capture.requestTimeoutMs: got 30000, not above the largest capture.buckets boundary (30 s); allowed: more than 30000 (milliseconds), so that a timed-out request lands in the overflow bucket, never among answered ones',
    ],
  },
  {
    name: 'an idle timeout below the request timeout',
    yaml: 'capture:\n  requestTimeoutMs: 600000\n',
    expected: [
      'bad-55.yaml: capture.idleTimeoutMs: got 300000, less than capture.requestTimeoutMs (600000); allowed: at least 600000: a connection must not be forgotten before its requests time out',
    ],
  },
  {
    name: 'env: OWLK8S_CAPTURE_MAPS_IN_FLIGHT says its new name',
    yaml: '',
    env: { OWLK8S_CAPTURE_MAPS_IN_FLIGHT: '65536' },
    expected: [
      'environment variable OWLK8S_CAPTURE_MAPS_IN_FLIGHT: capture.maps.connections: set (renamed: now OWLK8S_CAPTURE_MAPS_CONNECTIONS); allowed: OWLK8S_CAPTURE_MAPS_CONNECTIONS instead',
    ],
  },
  {
    name: 'an attach mode that is neither socket nor tc',
    yaml: 'capture:\n  attach: xdp\n',
    expected: ['bad-57.yaml:2: capture.attach: got "xdp"; allowed: one of "socket", "tc"'],
  },
  {
    name: 'env: an attach mode in upper case',
    yaml: '',
    env: { OWLK8S_CAPTURE_ATTACH: 'TC' },
    expected: [
      'environment variable OWLK8S_CAPTURE_ATTACH: capture.attach: got "TC"; allowed: one of "socket", "tc"',
    ],
  },
  {
    name: 'callers named while the peer index is off',
    yaml: 'targets:\n  kubernetes:\n    peers: false\ncapture:\n  serverPeers: true\n',
    expected: [
      'bad-59.yaml:5: capture.serverPeers: got true while targets.kubernetes.peers is false; allowed: false, or targets.source "kubernetes" with targets.kubernetes.peers true: callers are named from the peer index, which only the Kubernetes source keeps',
    ],
  },
  {
    name: 'callers named with static targets',
    yaml: 'targets:\n  source: static\n  static:\n    - ip: 198.18.0.2\ncapture:\n  serverPeers: true\n',
    expected: [
      'bad-60.yaml:6: capture.serverPeers: got true while targets.source is "static"; allowed: false, or targets.source "kubernetes" with targets.kubernetes.peers true: callers are named from the peer index, which only the Kubernetes source keeps',
    ],
  },
  {
    name: 'env: the peer index switch in a word other than true or false',
    yaml: '',
    env: { OWLK8S_TARGETS_KUBERNETES_PEERS: 'off' },
    expected: [
      'environment variable OWLK8S_TARGETS_KUBERNETES_PEERS: targets.kubernetes.peers: got "off"; allowed: true or false',
    ],
  },
  {
    name: 'the HTTP/2 switch as a word',
    yaml: 'capture:\n  http2: "no"\n',
    expected: ['bad-62.yaml:2: capture.http2: got "no"; allowed: true or false'],
  },
  {
    name: 'env: the HTTP/2 switch in a word other than true or false',
    yaml: '',
    env: { OWLK8S_CAPTURE_HTTP2: 'off' },
    expected: ['environment variable OWLK8S_CAPTURE_HTTP2: capture.http2: got "off"; allowed: true or false'],
  },
];
