// From cached records to a PodTarget, as pure functions: whether a pod is a target, its workload
// through the owner chain, and which Service each of its ports serves.

import { byCodeUnit } from './order.ts';
import type { OwnerLookup } from './owners.ts';
import type { PodTarget, ServiceRef, ServingPort, Workload } from './pod-target.ts';
import type { OwnerRef, PodRecord, ServiceRecord } from './records.ts';

/** Recommended labels that `service.name` is derived from (see `PodTarget.appInstanceLabel`). */
const APP_INSTANCE_LABEL = 'app.kubernetes.io/instance';
const APP_NAME_LABEL = 'app.kubernetes.io/name';

/** 'services': pods that back at least one Service (the seed's scope); 'all': every pod of the node. */
export type Scope = 'services' | 'all';

export interface PodTargetSettings {
  readonly scope: Scope;
  /** Pod label keys copied into PodTarget.labels. */
  readonly labels: readonly string[];
}

export type ExclusionReason =
  | 'ignored-pod'
  | 'ignored-namespace'
  | 'ignored-node'
  | 'host-network'
  | 'terminated'
  | 'no-service';

export type Decision =
  | { readonly kind: 'target'; readonly target: PodTarget }
  | { readonly kind: 'excluded'; readonly reason: ExclusionReason }
  /** The owner lookup is in flight: decide again when it completes. */
  | { readonly kind: 'pending' };

export interface PodContext {
  readonly pod: PodRecord;
  /** The Services of the pod's namespace. */
  readonly services: Iterable<ServiceRecord>;
  readonly namespaceIgnored: boolean;
  readonly nodeIgnored: boolean;
  readonly lookupOwner: (namespace: string, ref: OwnerRef) => OwnerLookup;
  readonly settings: PodTargetSettings;
}

export function decide(ctx: PodContext): Decision {
  const { pod } = ctx;
  // Cheap exclusions first: they need no owner lookup.
  if (pod.ignore) return { kind: 'excluded', reason: 'ignored-pod' };
  if (ctx.namespaceIgnored) return { kind: 'excluded', reason: 'ignored-namespace' };
  if (ctx.nodeIgnored) return { kind: 'excluded', reason: 'ignored-node' };
  if (pod.hostNetwork) return { kind: 'excluded', reason: 'host-network' };
  // A finished pod has no sockets, and its IPs may already belong to a new pod.
  if (pod.phase === 'Succeeded' || pod.phase === 'Failed') return { kind: 'excluded', reason: 'terminated' };
  const ports = servingPorts(pod, ctx.services, ctx.settings.scope);
  if (ctx.settings.scope === 'services' && !ports.some((p) => p.services.length > 0)) {
    return { kind: 'excluded', reason: 'no-service' };
  }
  const chain = resolveWorkload(pod, ctx.lookupOwner);
  if (chain === 'pending') return { kind: 'pending' };
  const labels: Record<string, string> = {};
  for (const k of ctx.settings.labels) {
    const v = pod.labels[k];
    if (v !== undefined) labels[k] = v;
  }
  const instance = pod.labels[APP_INSTANCE_LABEL];
  const appName = pod.labels[APP_NAME_LABEL];
  const target: PodTarget = {
    uid: pod.uid,
    name: pod.name,
    namespace: pod.namespace,
    node: pod.node,
    ips: pod.ips,
    phase: pod.phase,
    ready: pod.ready,
    workload: chain.workload,
    ...(chain.replicaSet !== undefined ? { replicaSet: chain.replicaSet } : {}),
    ...(chain.job !== undefined ? { job: chain.job } : {}),
    labels,
    ...(pod.serviceNameAnnotation !== undefined ? { serviceNameAnnotation: pod.serviceNameAnnotation } : {}),
    ...(instance !== undefined ? { appInstanceLabel: instance } : {}),
    ...(appName !== undefined ? { appNameLabel: appName } : {}),
    ports,
  };
  return { kind: 'target', target };
}

export interface WorkloadChain {
  readonly workload: Workload;
  readonly replicaSet?: string;
  readonly job?: string;
}

/**
 * The workload users know: a ReplicaSet's Deployment, a Job's CronJob, else the controller itself,
 * else the bare pod. While a ReplicaSet lookup fails, the pod-template-hash convention (the
 * Deployment names its ReplicaSets `<deployment>-<hash>` and labels their pods with the hash) stands in.
 */
export function resolveWorkload(
  pod: PodRecord,
  lookupOwner: (namespace: string, ref: OwnerRef) => OwnerLookup,
): WorkloadChain | 'pending' {
  const owner = pod.owner;
  if (!owner) return { workload: { kind: 'Pod', name: pod.name } };
  if (owner.kind !== 'ReplicaSet' && owner.kind !== 'Job')
    return { workload: { kind: owner.kind, name: owner.name } };
  const via = owner.kind === 'ReplicaSet' ? { replicaSet: owner.name } : { job: owner.name };
  const l = lookupOwner(pod.namespace, owner);
  if (l.state === 'pending') return 'pending';
  if (l.state === 'resolved') {
    return l.parent
      ? { workload: l.parent, ...via }
      : { workload: { kind: owner.kind, name: owner.name }, ...via };
  }
  const hash = pod.labels['pod-template-hash'];
  if (owner.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`)) {
    return { workload: { kind: 'Deployment', name: owner.name.slice(0, -hash.length - 1) }, ...via };
  }
  return { workload: { kind: owner.kind, name: owner.name }, ...via };
}

/** Whether a Service's selector selects the pod (a Service without selector selects none). */
export function selects(svc: ServiceRecord, pod: PodRecord): boolean {
  if (!svc.selector) return false;
  for (const [k, v] of Object.entries(svc.selector)) if (pod.labels[k] !== v) return false;
  return true;
}

/**
 * The pod's ports with the Services that reach each: a numeric targetPort is that port, a named
 * one the container port of that name (a pod without it is not reached on that Service port, as
 * for the endpoints controller). With scope 'all', every declared port is listed too.
 */
export function servingPorts(pod: PodRecord, services: Iterable<ServiceRecord>, scope: Scope): ServingPort[] {
  const byPort = new Map<number, ServiceRef[]>();
  for (const svc of services) {
    if (svc.namespace !== pod.namespace || !selects(svc, pod)) continue;
    for (const sp of svc.ports) {
      const port =
        typeof sp.targetPort === 'number'
          ? sp.targetPort
          : pod.ports.find((p) => p.name === sp.targetPort)?.port;
      if (port === undefined) continue;
      const refs = byPort.get(port) ?? [];
      refs.push({
        namespace: svc.namespace,
        name: svc.name,
        port: sp.port,
        ...(sp.name ? { portName: sp.name } : {}),
      });
      byPort.set(port, refs);
    }
  }
  if (scope === 'all') for (const p of pod.ports) if (!byPort.has(p.port)) byPort.set(p.port, []);
  return [...byPort.entries()]
    .sort(([a], [b]) => a - b)
    .map(([port, refs]) => {
      const name = pod.ports.find((p) => p.port === port && p.name)?.name;
      refs.sort(
        (a, b) => byCodeUnit(a.namespace, b.namespace) || byCodeUnit(a.name, b.name) || a.port - b.port,
      );
      return { port, ...(name ? { name } : {}), services: refs };
    });
}
