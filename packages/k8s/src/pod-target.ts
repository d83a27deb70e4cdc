// What packages/k8s tells the rest of owlk8s about a pod: only the fields the agent and the
// metrics need, never whole API objects (memory stays small with thousands of pods).

/** The workload users know the pod by, resolved through its owner chain. */
export interface Workload {
  /** Deployment, StatefulSet, DaemonSet, ReplicaSet (without a Deployment), Job, CronJob, or Pod (bare). */
  readonly kind: string;
  readonly name: string;
}

/** A Service that a pod's port serves. */
export interface ServiceRef {
  readonly namespace: string;
  readonly name: string;
  /** The Service's port that maps to the pod's port. */
  readonly port: number;
  readonly portName?: string;
}

/** One container port of the pod that at least one Service targets (or every declared port). */
export interface ServingPort {
  readonly port: number;
  readonly name?: string;
  readonly services: readonly ServiceRef[];
}

export interface PodTarget {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly node: string;
  /** Pod IPs from status.podIPs, IPv4 and IPv6, in API order; empty until assigned. */
  readonly ips: readonly string[];
  readonly phase: string;
  readonly ready: boolean;
  readonly workload: Workload;
  /** The ReplicaSet between a pod and its Deployment, when there is one. */
  readonly replicaSet?: string;
  /** Configured labels only. */
  readonly labels: Readonly<Record<string, string>>;
  /** The pod annotation `resource.opentelemetry.io/service.name`, when set. */
  readonly serviceNameAnnotation?: string;
  readonly ports: readonly ServingPort[];
}

export type TargetEvent =
  | { readonly type: 'upsert'; readonly target: PodTarget; readonly previous?: PodTarget }
  | { readonly type: 'remove'; readonly target: PodTarget };
