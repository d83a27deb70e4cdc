// The agent's effective configuration: defaults, then the file, then the environment. Plain
// readonly data; schema.ts describes each field and config/load.ts produces it.

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
    };
    readonly static: readonly StaticTarget[];
  };
  readonly capture: {
    readonly buckets: readonly number[];
    readonly httpPorts: 'all' | readonly number[];
    readonly maps: { readonly inFlight: number; readonly aggregates: number; readonly targets: number };
  };
  readonly export: {
    readonly temporality: Temporality;
    readonly intervalMs: number;
    readonly cardinalityLimit: number;
    readonly seedMetrics: boolean;
    readonly otlp: {
      readonly endpoint: string;
      readonly protocol: OtlpProtocol;
      readonly headers: Readonly<Record<string, string>>;
      readonly compression: Compression;
      readonly timeoutMs: number;
      readonly tls: { readonly caFile: string; readonly insecure: boolean };
    };
    readonly prometheus: {
      readonly enabled: boolean;
      readonly host: string;
      readonly port: number;
      readonly path: string;
    };
    readonly stdout: { readonly enabled: boolean };
  };
  readonly logging: { readonly level: LogLevel; readonly format: LogFormat };
  readonly admin: { readonly host: string; readonly port: number };
}
