// What packages/k8s tells the rest of owlk8s about a pod: only the fields the agent and the
// metrics need, never whole API objects (memory stays small with thousands of pods).

/** The workload users know the pod by, resolved through its owner chain. */
export interface Workload {
  /**
   * Deployment, StatefulSet, DaemonSet, ReplicaSet (without a Deployment), Job (without a CronJob),
   * CronJob, Pod (bare pod: name is the pod's), or the kind of another controller (e.g. Rollout).
   */
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

/**
 * A TCP port of the pod that at least one Service targets; with scope 'all', also every declared
 * container port (services then may be empty). Sorted by port; services sorted by namespace/name/port.
 */
export interface ServingPort {
  readonly port: number;
  /** The container port's name, when the pod declares this port with one. */
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
  /** The ReplicaSet between a pod and its Deployment, when there is one (`k8s.replicaset.name`). */
  readonly replicaSet?: string;
  /** The Job between a pod and its CronJob, when there is one (`k8s.job.name`). */
  readonly job?: string;
  /** Configured labels only. */
  readonly labels: Readonly<Record<string, string>>;
  /** The pod annotation `resource.opentelemetry.io/service.name`, when set. */
  readonly serviceNameAnnotation?: string;
  /**
   * The labels `app.kubernetes.io/instance` and `app.kubernetes.io/name`, when set, whether or not
   * they are configured: `service.name` is taken from them after the annotation (the OpenTelemetry
   * semantic conventions' guidance for a Kubernetes workload's `service.name`).
   */
  readonly appInstanceLabel?: string;
  readonly appNameLabel?: string;
  readonly ports: readonly ServingPort[];
}

/**
 * upsert: a new target (no previous) or a changed one (previous = the record before). remove: the
 * pod is gone or no longer a target (deleted, ignored, terminated, left its Services).
 * A pod name reused with a new uid gives remove(old) then upsert(new).
 */
export type TargetEvent =
  | { readonly type: 'upsert'; readonly target: PodTarget; readonly previous?: PodTarget }
  | { readonly type: 'remove'; readonly target: PodTarget };
