// The one configuration schema. Everything else is derived from it: the convict schema (defaults,
// environment variables, formats), the strict checks, and docs/configuration.md. Environment
// variable names are derived from key paths (export.otlp.timeoutMs → OWLK8S_EXPORT_OTLP_TIMEOUT_MS)
// so the two cannot drift apart.
import {
  DEFAULT_EXPORT_INTERVAL_MILLIS,
  DEFAULT_KNOWN_METHODS,
  DEFAULT_MAX_CONCURRENT_SCRAPES,
} from '@owlk8s/otel';
import * as f from './formats.ts';

export interface Setting {
  readonly kind: 'setting';
  readonly format: f.Format;
  readonly default: unknown;
  readonly doc: string;
  /** Other variables read when the OWLK8S_* one is unset, first match wins (OTEL_*, the seed's). */
  readonly aliases?: readonly string[];
  /**
   * Variables that decide several settings at once and so are not aliases (OTEL_METRICS_EXPORTER
   * turns exporters on and off): read by environment.ts after the aliases, listed in the reference.
   */
  readonly alsoSetBy?: readonly string[];
  /** Never printed: redacted in `config print`, logs and error messages. */
  readonly sensitive?: boolean;
  /**
   * A mapping whose variables are merged key by key instead of the first one winning: the
   * aliases from last to first, then the OWLK8S_* one (a key in a later one wins). For the OTLP
   * headers, because the SDK's exporters add OTEL_EXPORTER_OTLP_(METRICS_)HEADERS under the
   * headers they are given: merged here, what the configuration shows is what is sent.
   */
  readonly mergeVariables?: boolean;
}

export interface Section {
  readonly kind: 'section';
  readonly doc: string;
  readonly children: Readonly<Record<string, Setting | Section>>;
}

function setting(format: f.Format, def: unknown, doc: string, extra: Partial<Setting> = {}): Setting {
  return { kind: 'setting', format, default: def, doc, ...extra };
}

function section(doc: string, children: Record<string, Setting | Section>): Section {
  return { kind: 'section', doc, children };
}

/** The OpenTelemetry HTTP duration boundaries (seconds), as Beyla/OBI export them. */
export const DEFAULT_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

/** Admin endpoint defaults: the DaemonSet's probes use them, and a test keeps the two equal. */
export const ADMIN_DEFAULTS = { host: '127.0.0.1', port: 9465 } as const;
export const PROMETHEUS_DEFAULTS = { host: '0.0.0.0', port: 9464, path: '/metrics' } as const;

/** The time between two exports: @owlk8s/otel's one default (10 s). */
export const DEFAULT_EXPORT_INTERVAL_MS = DEFAULT_EXPORT_INTERVAL_MILLIS;

/** Where OTLP goes when OTEL_METRICS_EXPORTER asks for it and no endpoint is set (the specification's defaults). */
export const OTLP_DEFAULT_ENDPOINTS = {
  grpc: 'http://localhost:4317',
  http: 'http://localhost:4318',
} as const;

const otlpAliases = (name: string): string[] => [
  `OTEL_EXPORTER_OTLP_METRICS_${name}`,
  `OTEL_EXPORTER_OTLP_${name}`,
];

export const SCHEMA: Section = section('', {
  node: section('The node this agent runs on.', {
    name: setting(
      f.nodeName,
      '',
      'Name of the Kubernetes node this agent runs on; only its pods are watched. Required with `targets.source: kubernetes`. The DaemonSet sets OWLK8S_NODE_NAME from the downward API (`spec.nodeName`); the seed’s `nodename` variable is read too.',
      { aliases: ['nodename'] },
    ),
  }),
  targets: section('Where the pods to measure come from.', {
    source: setting(
      f.oneOf(['kubernetes', 'static']),
      'kubernetes',
      '`kubernetes`: this node’s pods, from the Kubernetes API. `static`: the list in `targets.static`, for use without Kubernetes.',
    ),
    kubernetes: section('Used when `targets.source` is `kubernetes`.', {
      kubeconfig: setting(
        f.filePath,
        '',
        'Path of a kubeconfig file. Empty: the in-cluster configuration (the pod’s service account), which is what a DaemonSet wants.',
      ),
      scope: setting(
        f.oneOf(['services', 'all']),
        'services',
        '`services`: pods that back at least one Service, as the seed did. `all`: every pod of the node that is not on the host network.',
      ),
      labels: setting(
        f.labelKeys,
        [],
        'Pod labels copied onto every metric of the pod, as `k8s.pod.label.<key>` attributes. Series are per pod already, so a label adds series only when its value changes during a pod’s life.',
      ),
      serviceNameAnnotation: setting(
        f.boolean,
        true,
        'Whether a pod’s `resource.opentelemetry.io/service.name` annotation names its service (`service.name`). Whoever deploys a pod writes its annotations, so on a shared cluster a pod can claim another team’s service name; `false` ignores the annotation and takes the labels, owner or pod name instead.',
      ),
      peers: setting(
        f.boolean,
        true,
        'Whether the agent names the peers of each pod’s requests: it then watches every Service, EndpointSlice and Node of the cluster (a list and a watch each, as kube-proxy does) to know what each address is, and client series carry `server.address` and `owlk8s.peer.*` (`capture.serverPeers` adds callers to server series). Its memory grows with the cluster, not the node: about 11–18 MiB of RSS for 1,000 Services with 10,000 endpoints and 100 Nodes (BENCHMARKS.md, size). `false`: none of those watches, no peer attributes, no Service graph.',
      ),
      maxValueLength: setting(
        f.integer(16, 4096),
        256,
        'Most characters (Unicode code points) an attribute value taken from a cluster object keeps: pod, workload, Service and namespace names, label values, the service.name annotation. Longer values are cut; control, format, private-use and unassigned characters become U+FFFD. Each value changed is counted in `owlk8s.agent.attribute_values.bounded`. Kubernetes names are at most 253 characters and label values 63, so the default cuts only annotations.',
      ),
    }),
    static: setting(
      f.staticTargets,
      [],
      'Targets measured when `targets.source` is `static`: a list of `{ip, interface, name, namespace, service, labels}`. `ip` (IPv4 or IPv6) is required; `interface` is the host interface carrying it, by name (`veth1`) or index (`7`), found from the IP when absent; `name` (unique, default the IP) is reported as the pod name. In the environment: a JSON list.',
    ),
  }),
  capture: section('What the kernel program measures. Read once, before the program is loaded.', {
    buckets: setting(
      f.buckets,
      DEFAULT_BUCKETS,
      'Upper boundaries of the duration histogram buckets, in seconds. The kernel counts each request in its bucket, so exported histograms are exact, never re-binned. In the environment: comma-separated.',
    ),
    httpPorts: setting(
      f.httpPorts,
      'all',
      'Server ports whose traffic is parsed as HTTP (HTTP/1.x, and HTTP/2 in clear text unless `capture.http2` is false): `all`, or a list such as `[80, 8080]` (in the environment: comma-separated). A list keeps the program off other protocols’ traffic.',
    ),
    http2: setting(
      f.boolean,
      true,
      'Whether HTTP/2 in clear text (h2c) and gRPC are measured on `capture.httpPorts`: the kernel sends the header-block bytes of HTTP/2 frames (never message bodies) through a ring buffer, and the agent decodes them (HPACK) every 100 ms (every 200 ms while none come) into `rpc.server.call.duration` / `rpc.client.call.duration` for gRPC and the HTTP histograms with `network.protocol.version` `2` for other requests. `false`: HTTP/2 connections are not followed (the kernel’s HTTP/1 parser ignores them, as before), nothing of HTTP/2 is exported. TLS (h2) is out of reach either way.',
    ),
    requestTimeoutMs: setting(
      f.integer(1000, 604800000),
      60000,
      'Milliseconds a request (an HTTP/2 stream too) may wait for its response: then it is counted as finished, with `error.type` `timeout`, no status code and the time it waited as its duration (and, for HTTP/1.x, `owlk8s.agent.kernel.timeouts` grows). Must be above the largest `capture.buckets` boundary, so a timed-out request lands in the overflow bucket.',
    ),
    idleTimeoutMs: setting(
      f.integer(1000, 604800000),
      300000,
      'Milliseconds a TCP connection may stay without a packet before the kernel forgets it (`owlk8s.agent.kernel.conns_expired` grows); at least `capture.requestTimeoutMs`. A connection that ends with FIN or RST is forgotten at once.',
    ),
    maps: section('Sizes of the kernel maps, in entries. Memory is reserved when the program loads.', {
      connections: setting(
        f.integer(1024, 4194304),
        57344,
        'TCP connections of monitored pods on `capture.httpPorts` tracked at once, from their SYN (or their first HTTP message when the agent started after them) until FIN, RST or `capture.idleTimeoutMs` without a packet; up to 8 requests in flight each. When full, a new connection is not measured and `owlk8s.agent.kernel.conns_full` grows. About 640 bytes of kernel memory per entry (36 MiB for the default), whatever the number of CPUs.',
      ),
      aggregates: setting(
        f.integer(256, 1048576),
        22528,
        'Distinct {pod, role, port, method, status code} series the kernel counts, over all pods (a pod’s series stay until it goes away). The default holds 110 pods (the kubelet’s default maximum per node) × (`seriesPerPod` + their 2 overflow series) = 22,220. One value per series for all CPUs: kernel memory is about entries × 364 bytes (8.3 MiB for the default), whatever the number of CPUs. When full, a new series is not counted and `owlk8s.agent.kernel.aggregates_full` grows.',
      ),
      connectionsPerPod: setting(
        f.integer(1, 4194304),
        512,
        'TCP connections one pod may have tracked at once, both roles together; past it, its new connections are not measured (`owlk8s.agent.kernel.conns_over_budget` grows) and every other pod keeps its room in `connections`. The default `connections` holds 110 pods (the kubelet’s default maximum per node) × 512 = 56,320.',
      ),
      seriesPerPod: setting(
        f.integer(1, 1048576),
        200,
        'Kernel series one pod may make, both roles together; past it, its requests are counted in its own overflow series (one per role, exported with `otel.metric.overflow=true` and the pod’s identity; `owlk8s.agent.kernel.series_overflow` counts them), so one pod cannot fill `aggregates` for the others. At least 2 × `export.cardinalityLimitPerPod`, so the export budget is reached first.',
      ),
      peers: setting(
        f.integer(16, 4194304),
        16384,
        'Addresses of the cluster the kernel can name (a Service’s ClusterIP, a pod’s or a node’s address), so that client-side series carry `server.address`: filled from Services, EndpointSlices and Nodes (`targets.source: kubernetes`). When full, further addresses count as outside the cluster (`server.address` `_outside`) and the agent logs how many it could not write. 72 bytes of kernel memory per entry (1.4 MiB for the default at 256 possible CPUs).',
      ),
      targets: setting(f.integer(16, 65536), 1024, 'Monitored pod IPs (a dual-stack pod has two).'),
    }),
    serverPeers: setting(
      f.boolean,
      false,
      'Whether server-side series name their caller too (`client.address` and `owlk8s.peer.*`, as the client side names its server): a pod’s server series are then multiplied by its callers, within `export.peersPerPod`. Off by default for that reason.',
    ),
    attach: setting(
      f.oneOf(['socket', 'tc']),
      'socket',
      'Where the program watches each pod interface’s packets. `socket`: an AF_PACKET socket per interface with the program as its filter (needs CAP_NET_RAW); passive, outside the datapath. `tc`: a TC program on the interface’s ingress and egress, as TCX links on kernel 6.6+ (first in the chain, beside a CNI’s programs; removed when the agent exits, a crash included) and as clsact filters (priority 1, handle 0x6f776c) on older kernels; needs CAP_NET_ADMIN. The program never drops or changes a packet in either mode.',
    ),
  }),
  export: section('Where the metrics go. Several exporters can be on at once.', {
    temporality: setting(
      f.temporality,
      'cumulative',
      '`cumulative` (Prometheus, most backends) or `delta` (what Datadog wants). Applies to OTLP and stdout; Prometheus is always cumulative. OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE is read as the OpenTelemetry specification writes it, in any case; its `lowmemory` is taken as `delta`, because it makes counters and histograms delta and those are all the agent exports with a temporality.',
      { aliases: ['OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE'] },
    ),
    intervalMs: setting(
      f.integer(1000, 3600000),
      DEFAULT_EXPORT_INTERVAL_MS,
      'Milliseconds between two exports of each push exporter (OTLP, stdout). The kernel’s maps are read at each export and at each Prometheus scrape.',
      { aliases: ['OTEL_METRIC_EXPORT_INTERVAL'] },
    ),
    timeoutMs: setting(
      f.integer(100, 3600000),
      30000,
      'Milliseconds one export of a push exporter (reading the maps and sending) may take before it is abandoned; at most `export.intervalMs`, to which a longer value is cut (so 10 s with the defaults).',
      { aliases: ['OTEL_METRIC_EXPORT_TIMEOUT'] },
    ),
    cardinalityLimit: setting(
      f.integer(1, 1000000),
      11000,
      'Series per metric on the node; past it, new series go to one overflow series of the node marked `otel.metric.overflow=true` (the agent’s resource). The default is 110 pods (the kubelet’s default maximum per node) × `cardinalityLimitPerPod`, so that no pod’s series reach it while every pod keeps to its own budget.',
    ),
    cardinalityLimitPerPod: setting(
      f.integer(1, 1000000),
      100,
      'Series per metric of one pod; past it, the pod’s new series go to its own overflow series, marked `otel.metric.overflow=true` with the pod’s identity: a pod answering hundreds of status codes, or calling hundreds of ports, overflows alone, and every other pod keeps exact counts under its own names.',
    ),
    peersPerPod: setting(
      f.integer(1, 100000),
      20,
      'Distinct peers (Services, pods and nodes it called; with `capture.serverPeers`, callers) one pod’s series of a metric may name; the requests to further peers share one series per kind with `server.address` `_overflow` (`owlk8s.peer.kind` `overflow`), and each such peer is counted in `owlk8s.agent.peers.overflowed`. Addresses outside the cluster are one peer (`_outside`) and not counted. The default fills `cardinalityLimitPerPod` (100) at about five series (methods × status codes) per peer.',
    ),
    collapseUnknownClientPorts: setting(
      f.boolean,
      true,
      'Whether a pod’s client-side requests to a port that is neither in `capture.httpPorts` (when a list) nor a Service’s (any Service `port`, NodePort or target port of the cluster; with `targets.source: static`, only `capture.httpPorts`) share one series per method, status and error, without `server.port` and marked `owlk8s.server.port.collapsed=true`. A pod calling hundreds of ports then makes a handful of series, not hundreds. Which series a kind of request goes to is decided when the pod first makes it, so a Service created later gives its own series to the requests made after it, and a series already made keeps its requests. Each kind collapsed is counted in `owlk8s.agent.client_ports.collapsed`. `false`: every port its own series (within `cardinalityLimitPerPod`).',
    ),
    goLibraryMetrics: setting(
      f.boolean,
      false,
      'Compatibility with dashboards built on the Go library (est357/owlk8s): also export its RED set per pod, as `owlk8s.go_library.requests`, `…errors.4xx`, `…errors.5xx` and `…duration`. The histograms hold the same counts.',
    ),
    knownMethods: setting(
      f.httpMethods,
      DEFAULT_KNOWN_METHODS,
      'HTTP methods reported by name in `http.request.method`; any other is reported as `_OTHER`. The kernel program names the nine default methods and reports every other as `_OTHER`, so this list can only shorten the default. In the environment: comma-separated.',
      { aliases: ['OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS'] },
    ),
    resource: section(
      'The resource of the agent’s own metrics (each pod’s metrics have the pod’s resource).',
      {
        serviceName: setting(
          f.string,
          'owlk8s',
          '`service.name` of the agent’s resource. When left at its default, a `service.name` in `export.resource.attributes` is used instead.',
          { aliases: ['OTEL_SERVICE_NAME'] },
        ),
        attributes: setting(
          f.resourceAttributes,
          {},
          'More attributes of the agent’s resource, e.g. `k8s.cluster.name`. In the environment: `key=value,key2=value2`, values URL-encoded (the OpenTelemetry format).',
          { aliases: ['OTEL_RESOURCE_ATTRIBUTES'] },
        ),
      },
    ),
    otlp: section('OTLP push to a Collector or a vendor. Off while `endpoint` is empty.', {
      endpoint: setting(
        f.endpoint,
        '',
        'Receiver URL: gRPC `http://collector:4317` (or `host:port`); HTTP `http://collector:4318`, to which `/v1/metrics` is added when the URL has no path (always to OTEL_EXPORTER_OTLP_ENDPOINT, as the OpenTelemetry specification says). `http://` is plain text, `https://` is TLS. Empty: no OTLP export (unless OTEL_METRICS_EXPORTER names `otlp`: then `http://localhost:4318`, or `http://localhost:4317` for gRPC).',
        { aliases: otlpAliases('ENDPOINT') },
      ),
      protocol: setting(
        f.oneOf(['grpc', 'http/protobuf']),
        'http/protobuf',
        'OTLP transport: `grpc` (usually port 4317) or `http/protobuf` (port 4318; the OpenTelemetry default).',
        {
          aliases: otlpAliases('PROTOCOL'),
        },
      ),
      headers: setting(
        f.headers,
        {},
        'Headers sent with every export, e.g. `x-honeycomb-team` or `dd-api-key`. Secret: redacted in every output. Keep keys out of the file: set OWLK8S_EXPORT_OTLP_HEADERS (`name=value,name2=value2`) from a Kubernetes Secret. The variables are merged header by header, as the OpenTelemetry SDK does: OTEL_EXPORTER_OTLP_HEADERS, then OTEL_EXPORTER_OTLP_METRICS_HEADERS, then OWLK8S_EXPORT_OTLP_HEADERS (a later one wins a header both name); set, they replace the file’s.',
        { aliases: otlpAliases('HEADERS'), sensitive: true, mergeVariables: true },
      ),
      compression: setting(
        f.oneOf(['gzip', 'none']),
        'gzip',
        'Compression of each export request (`gzip`, which every Collector accepts, or `none`), done by the OpenTelemetry SDK’s exporter at zlib’s default level.',
        {
          aliases: otlpAliases('COMPRESSION'),
        },
      ),
      timeoutMs: setting(
        f.integer(100, 120000),
        10000,
        'Milliseconds one OTLP request may take, retries included (the OTLP exporter’s own timeout; `export.timeoutMs` bounds the whole export).',
        {
          aliases: otlpAliases('TIMEOUT'),
        },
      ),
      tls: section(
        'Transport security of the OTLP connection. The endpoint’s scheme decides: `https://` is TLS, `http://` plain text; these settings only apply with TLS, and the files are read once, at start.',
        {
          caFile: setting(
            f.filePath,
            '',
            'PEM file of the certificate authority that signed the receiver’s certificate. Empty: Node’s bundled authorities.',
            { aliases: otlpAliases('CERTIFICATE') },
          ),
          certFile: setting(
            f.filePath,
            '',
            'PEM file of the client certificate, for mutual TLS (with `keyFile`: both or neither).',
            { aliases: otlpAliases('CLIENT_CERTIFICATE') },
          ),
          keyFile: setting(
            f.filePath,
            '',
            'PEM file of the client certificate’s private key, for mutual TLS (with `certFile`). Mount it from a Kubernetes Secret.',
            { aliases: otlpAliases('CLIENT_KEY') },
          ),
          insecure: setting(
            f.boolean,
            false,
            'Plain text (no TLS), as OTEL_EXPORTER_OTLP_INSECURE and the Collector’s `insecure` mean: it only decides the scheme of a gRPC endpoint given as `host:port` (`true`: `http://`, `false`: `https://`). With an `https://` endpoint `true` is an error; it never turns certificate checks off.',
            { aliases: otlpAliases('INSECURE') },
          ),
        },
      ),
    }),
    prometheus: section(
      'A Prometheus scrape endpoint. It shows every monitored pod’s name, namespace, UID, Services and traffic: bind it to the node’s own address and, where others share the network, turn on TLS and authentication (`webConfigFile`, `bearerTokenFile`).',
      {
        enabled: setting(
          f.boolean,
          true,
          'Serve the metrics for scraping. OTEL_METRICS_EXPORTER, when set, turns it on exactly when it names `prometheus`.',
          { alsoSetBy: ['OTEL_METRICS_EXPORTER'] },
        ),
        host: setting(
          f.host,
          PROMETHEUS_DEFAULTS.host,
          'Address to listen on. The DaemonSet sets OWLK8S_EXPORT_PROMETHEUS_HOST to the node’s own address (downward API `status.hostIP`), where Prometheus scrapes it, rather than every interface of the host network. `0.0.0.0` (the default) is every interface; `127.0.0.1` suits a Collector on the same host.',
          { aliases: ['OTEL_EXPORTER_PROMETHEUS_HOST'] },
        ),
        port: setting(
          f.port,
          PROMETHEUS_DEFAULTS.port,
          'TCP port (9464 is the OpenTelemetry Prometheus exporter’s).',
          { aliases: ['OTEL_EXPORTER_PROMETHEUS_PORT'] },
        ),
        path: setting(f.urlPath, PROMETHEUS_DEFAULTS.path, 'URL path of the metrics.'),
        webConfigFile: setting(
          f.filePath,
          '',
          'A web configuration file in the format of Prometheus’s and node_exporter’s `--web.config.file` (exporter-toolkit): `tls_server_config` (`cert_file`, `key_file`, `client_auth_type`, `client_ca_file`, `min_version`, `max_version`) serves HTTPS, `basic_auth_users` (user: bcrypt hash) asks for a password, `http_server_config.headers` adds response headers. Relative paths are relative to the file. Checked at start (a bad key, an unreadable file or a password that is not a bcrypt hash stops the agent, naming the key); read again when it or a file it names changes, so a renewed certificate is served without a restart (a change that does not load is logged and the previous files stay in use). Empty: plain HTTP, no authentication.',
        ),
        bearerTokenFile: setting(
          f.filePath,
          '',
          'A file holding a token that scrapers must send as `Authorization: Bearer <token>` (Prometheus: `authorization: {credentials_file: …}`). With `basic_auth_users` too, either credential is accepted. Read again when it changes. Empty: no token.',
        ),
        maxConcurrentScrapes: setting(
          f.integer(1, 1000),
          DEFAULT_MAX_CONCURRENT_SCRAPES,
          'Requests the endpoint serves at once, authentication included (each scrape reads the kernel’s maps). One more gets `503 Service Unavailable` and is counted in `owlk8s.agent.scrape.refused{owlk8s.reason="concurrency_limit"}`.',
        ),
      },
    ),
    stdout: section(
      'Metrics as JSON lines on standard output (the seed’s logJson example); logs go to standard error.',
      {
        enabled: setting(
          f.boolean,
          false,
          'Write one JSON line per data point at every interval. OTEL_METRICS_EXPORTER, when set, turns it on exactly when it names `console`.',
          { alsoSetBy: ['OTEL_METRICS_EXPORTER'] },
        ),
      },
    ),
  }),
  logging: section('The agent’s own logs, on standard error.', {
    level: setting(
      f.oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace']),
      'info',
      'Least severe level written. The seed’s `debug=true` sets `debug`.',
    ),
    format: setting(
      f.oneOf(['auto', 'json', 'pretty']),
      'auto',
      '`json`: one JSON object per line (pino). `pretty`: coloured lines for people. `auto`: pretty when standard error is a terminal, JSON otherwise (in a pod).',
    ),
  }),
  admin: section(
    'The admin endpoint: `/healthz`, `/readyz`, `/targets` (what `owlk8s targets` prints) and `/graph` (`owlk8s targets --graph`).',
    {
      host: setting(
        f.host,
        ADMIN_DEFAULTS.host,
        'Address to listen on. Loopback: it lists the node’s pods, which is nobody else’s business; the kubelet’s probes reach it on the host network.',
      ),
      port: setting(
        f.port,
        ADMIN_DEFAULTS.port,
        'TCP port: next to the Prometheus port, away from Prometheus’s own 9090.',
      ),
    },
  ),
});

export interface FlatSetting {
  /** Dotted key path, e.g. `export.otlp.endpoint`. */
  readonly path: string;
  /** The OWLK8S_* variable. */
  readonly env: string;
  readonly setting: Setting;
}

/** camelCase path → OWLK8S_SNAKE_CASE variable name. */
export function envName(path: string): string {
  return `OWLK8S_${path
    .split('.')
    .map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
    .join('_')}`;
}

function flatten(s: Section, prefix: string, out: FlatSetting[]): FlatSetting[] {
  for (const [key, child] of Object.entries(s.children)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (child.kind === 'section') flatten(child, path, out);
    else out.push({ path, env: envName(path), setting: child });
  }
  return out;
}

/** Every setting, in schema order. */
export const SETTINGS: readonly FlatSetting[] = flatten(SCHEMA, '', []);

/** The section or setting at a key path, or undefined. */
export function lookup(path: string): Setting | Section | undefined {
  let node: Setting | Section | undefined = SCHEMA;
  for (const key of path.split('.')) {
    if (node?.kind !== 'section' || !Object.hasOwn(node.children, key)) return undefined;
    node = node.children[key];
  }
  return node;
}

/** The schema in convict's form: `{doc, format, default, env, sensitive}` per setting. */
export function convictSchema(s: Section = SCHEMA, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(s.children)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    out[key] =
      child.kind === 'section'
        ? convictSchema(child, path)
        : {
            doc: child.doc,
            format: child.format.name,
            default: structuredClone(child.default),
            env: envName(path),
            sensitive: child.sensitive === true,
          };
  }
  return out;
}
