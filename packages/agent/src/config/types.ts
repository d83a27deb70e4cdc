// The agent's effective configuration: defaults, then the file, then the environment. Plain
// readonly data; schema.ts describes each field and config/load.ts produces it. `Config` holds the
// settings as the reference lists them (what `owlk8s config print` shows); `AgentConfig` adds what
// they resolve to, so that nothing after the configuration reads the environment or a file.

export type TargetsSource = 'kubernetes' | 'static';
export type Scope = 'services' | 'all';
export type Temporality = 'cumulative' | 'delta';
export type OtlpProtocol = 'grpc' | 'http/protobuf';
export type Compression = 'gzip' | 'none';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
export type LogFormat = 'auto' | 'json' | 'pretty';

/** A target given by hand, for use without Kubernetes (the seed's `NewBPFLoader(IP, ifIndex)`). */
export interface StaticTarget {
  readonly ip: string;
  /** The host interface carrying the IP, by name or index; located from the IP when absent. */
  readonly interface?: string | number;
  /** Shown as the pod name; the IP when not given. Unique within the list. */
  readonly name: string;
  readonly namespace?: string;
  /** The Service name to report the target's requests under. */
  readonly service?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface Config {
  readonly node: { readonly name: string };
  readonly targets: {
    readonly source: TargetsSource;
    readonly kubernetes: {
      readonly kubeconfig: string;
      readonly scope: Scope;
      readonly labels: readonly string[];
      readonly serviceNameAnnotation: boolean;
      /** Watch Services, EndpointSlices and Nodes to name peers (server.address). */
      readonly peers: boolean;
      readonly maxValueLength: number;
    };
    readonly static: readonly StaticTarget[];
  };
  readonly capture: {
    readonly buckets: readonly number[];
    readonly httpPorts: 'all' | readonly number[];
    readonly http2: boolean;
    readonly requestTimeoutMs: number;
    readonly idleTimeoutMs: number;
    readonly maps: {
      readonly connections: number;
      readonly aggregates: number;
      readonly seriesPerPod: number;
      readonly connectionsPerPod: number;
      readonly peers: number;
      readonly targets: number;
    };
    readonly serverPeers: boolean;
    readonly attach: 'socket' | 'tc';
  };
  readonly export: {
    readonly temporality: Temporality;
    readonly intervalMs: number;
    readonly timeoutMs: number;
    readonly cardinalityLimit: number;
    readonly cardinalityLimitPerPod: number;
    readonly peersPerPod: number;
    readonly collapseUnknownClientPorts: boolean;
    readonly goLibraryMetrics: boolean;
    readonly knownMethods: readonly string[];
    readonly resource: {
      readonly serviceName: string;
      readonly attributes: Readonly<Record<string, string>>;
    };
    readonly otlp: {
      readonly endpoint: string;
      readonly protocol: OtlpProtocol;
      readonly headers: Readonly<Record<string, string>>;
      readonly compression: Compression;
      readonly timeoutMs: number;
      readonly tls: {
        readonly caFile: string;
        readonly certFile: string;
        readonly keyFile: string;
        readonly insecure: boolean;
      };
    };
    readonly prometheus: {
      readonly enabled: boolean;
      readonly host: string;
      readonly port: number;
      readonly path: string;
      readonly webConfigFile: string;
      readonly bearerTokenFile: string;
      readonly maxConcurrentScrapes: number;
    };
    readonly stdout: { readonly enabled: boolean };
  };
  readonly logging: { readonly level: LogLevel; readonly format: LogFormat };
  readonly admin: { readonly host: string; readonly port: number };
}

/** TLS material of the OTLP connection, read from the files at start: PEM text. */
export interface ResolvedTls {
  /** The CA(s) that sign the receiver's certificate; Node's bundled CAs when absent. */
  readonly ca?: string;
  /** Client certificate and key for mutual TLS: both or neither. */
  readonly cert?: string;
  readonly key?: string;
}

export interface ResolvedOtlp {
  readonly protocol: OtlpProtocol;
  /**
   * Full URL; the scheme alone decides TLS (`https://`) or plain text (`http://`). OTLP/HTTP: the
   * metrics URL itself (…/v1/metrics); gRPC: scheme://host:port.
   */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly compression: Compression;
  readonly timeoutMs: number;
  /** Only with an https:// URL. */
  readonly tls?: ResolvedTls;
  readonly temporality: Temporality;
}

/** What the metrics pipeline is given: the export settings with every OTEL_* variable applied. */
export interface ResolvedPipeline {
  /** Absent: no OTLP export. */
  readonly otlp?: ResolvedOtlp;
  readonly prometheus?: {
    readonly host: string;
    readonly port: number;
    readonly path: string;
    /** Absent: plain HTTP, no basic authentication. */
    readonly webConfigFile?: string;
    /** Absent: no bearer token. */
    readonly bearerTokenFile?: string;
    readonly maxConcurrentScrapes: number;
  };
  /** JSON lines on standard output. */
  readonly stdout?: { readonly temporality: Temporality };
  readonly intervalMs: number;
  /** At most intervalMs. */
  readonly timeoutMs: number;
  readonly cardinalityLimit: number;
  readonly cardinalityLimitPerPod: number;
  readonly peersPerPod: number;
  readonly collapseUnknownClientPorts: boolean;
  readonly goLibraryMetrics: boolean;
  /** The agent's own resource: `service.name` and the other attributes, merged. */
  readonly resource: Readonly<Record<string, string>>;
  readonly knownMethods: readonly string[];
}

/** The settings and what they resolve to: what `owlk8s run` gives runAgent. */
export interface AgentConfig extends Config {
  readonly pipeline: ResolvedPipeline;
}
