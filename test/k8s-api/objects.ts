// Builders of realistic API objects for tests and the demo: only what a kubelet, scheduler and
// controllers would have filled in that owlk8s reads, with the real field names.

import type { KubeObject } from './store.ts';

export interface OwnerRef {
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
}

/** The controller ownerReference pointing at a stored object (it must have a uid: pass what apply() returned). */
export function ownerRef(
  owner: KubeObject,
): OwnerRef & { apiVersion: string; controller: true; blockOwnerDeletion: true } {
  if (!owner.metadata.uid)
    throw new Error(
      `ownerRef: ${owner.kind} ${owner.metadata.name} has no uid (use the object apply() returned)`,
    );
  return {
    apiVersion: owner.apiVersion ?? 'v1',
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export interface ContainerPortSpec {
  readonly containerPort: number;
  readonly name?: string;
  readonly protocol?: 'TCP' | 'UDP' | 'SCTP';
}

export interface PodSpec {
  readonly name: string;
  readonly namespace?: string;
  /** spec.nodeName; omit for a pod not yet scheduled. */
  readonly node?: string;
  /** status.podIPs in order (IPv4 and/or IPv6); empty until the CNI assigns them. */
  readonly ips?: readonly string[];
  readonly phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  readonly ready?: boolean;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
  readonly ports?: readonly ContainerPortSpec[];
  readonly owner?: KubeObject;
  readonly hostNetwork?: boolean;
  readonly uid?: string;
}

export function pod(p: PodSpec): KubeObject {
  const ips = p.ips ?? [];
  const status: Record<string, unknown> = {
    phase: p.phase ?? 'Running',
    conditions: [{ type: 'Ready', status: p.ready === false ? 'False' : 'True' }],
  };
  if (ips.length > 0) {
    status.podIP = ips[0];
    status.podIPs = ips.map((ip) => ({ ip }));
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: p.name,
      namespace: p.namespace ?? 'default',
      ...(p.uid ? { uid: p.uid } : {}),
      ...(p.labels ? { labels: { ...p.labels } } : {}),
      ...(p.annotations ? { annotations: { ...p.annotations } } : {}),
      ...(p.owner ? { ownerReferences: [ownerRef(p.owner)] } : {}),
    },
    spec: {
      ...(p.node ? { nodeName: p.node } : {}),
      ...(p.hostNetwork ? { hostNetwork: true } : {}),
      containers: [
        { name: 'main', image: 'nginx:1.27', ports: (p.ports ?? []).map((x) => ({ protocol: 'TCP', ...x })) },
      ],
    },
    status,
  };
}

export interface ServicePortSpec {
  readonly port: number;
  readonly name?: string;
  /** A number, or the name of a container port; defaults to `port`. */
  readonly targetPort?: number | string;
  readonly protocol?: 'TCP' | 'UDP' | 'SCTP';
  /** The port every node opens (makes the Service of type NodePort). */
  readonly nodePort?: number;
}

export interface ServiceSpec {
  readonly name: string;
  readonly namespace?: string;
  /** Omit for a Service without selector (its Endpoints are managed by hand). */
  readonly selector?: Record<string, string>;
  readonly ports: readonly ServicePortSpec[];
  /** spec.clusterIP; default 198.18.255.1 (give each Service its own when addresses matter); 'None': headless. */
  readonly clusterIP?: string;
  /** spec.clusterIPs (both families of a dual-stack Service); default [clusterIP]. */
  readonly clusterIPs?: readonly string[];
  readonly annotations?: Record<string, string>;
}

export function service(s: ServiceSpec): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: s.name,
      namespace: s.namespace ?? 'default',
      ...(s.annotations ? { annotations: { ...s.annotations } } : {}),
    },
    spec: {
      type: s.ports.some((p) => p.nodePort !== undefined) ? 'NodePort' : 'ClusterIP',
      clusterIP: s.clusterIPs?.[0] ?? s.clusterIP ?? '198.18.255.1',
      clusterIPs: [...(s.clusterIPs ?? [s.clusterIP ?? '198.18.255.1'])],
      ...(s.selector ? { selector: { ...s.selector } } : {}),
      ports: s.ports.map((p) => ({ protocol: 'TCP', targetPort: p.port, ...p })),
    },
  };
}

export function namespace(name: string, annotations?: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      labels: { 'kubernetes.io/metadata.name': name },
      ...(annotations ? { annotations } : {}),
    },
    status: { phase: 'Active' },
  };
}

/** A Node; `addresses` become status.addresses of type InternalIP, then its Hostname, as a kubelet reports them. */
export function node(
  name: string,
  annotations?: Record<string, string>,
  addresses: readonly string[] = [],
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name }, ...(annotations ? { annotations } : {}) },
    spec: {},
    status: {
      addresses: [
        ...addresses.map((address) => ({ type: 'InternalIP', address })),
        { type: 'Hostname', address: name },
      ],
    },
  };
}

export interface EndpointSpec {
  readonly addresses: readonly string[];
  /** The pod behind the addresses (targetRef), in the slice's namespace. */
  readonly pod?: string;
  readonly node?: string;
  /** conditions: ready unless false; terminating when true (ready is then false). */
  readonly ready?: boolean;
  readonly terminating?: boolean;
}

export interface EndpointSliceSpec {
  readonly name: string;
  readonly namespace?: string;
  /** The Service (label kubernetes.io/service-name); omit for a slice of no Service. */
  readonly service?: string;
  readonly addressType?: 'IPv4' | 'IPv6' | 'FQDN';
  readonly endpoints: readonly EndpointSpec[];
  readonly ports?: ReadonlyArray<{ readonly name?: string; readonly port: number }>;
}

/** A discovery.k8s.io/v1 EndpointSlice as the EndpointSlice controller writes it. */
export function endpointSlice(s: EndpointSliceSpec): KubeObject {
  const namespace = s.namespace ?? 'default';
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: s.name,
      namespace,
      labels: {
        'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
        ...(s.service ? { 'kubernetes.io/service-name': s.service } : {}),
      },
    },
    addressType: s.addressType ?? 'IPv4',
    endpoints: s.endpoints.map((e) => ({
      addresses: [...e.addresses],
      conditions: {
        ready: e.terminating === true ? false : e.ready !== false,
        serving: e.ready !== false,
        terminating: e.terminating === true,
      },
      ...(e.pod ? { targetRef: { kind: 'Pod', name: e.pod, namespace } } : {}),
      ...(e.node ? { nodeName: e.node } : {}),
    })),
    ports: (s.ports ?? []).map((p) => ({ protocol: 'TCP', ...p })),
  };
}

/** A workload object (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob), optionally owned by another. */
export function workload(kind: string, name: string, namespace = 'default', owner?: KubeObject): KubeObject {
  return {
    kind,
    metadata: { name, namespace, ...(owner ? { ownerReferences: [ownerRef(owner)] } : {}) },
    spec: {},
  };
}
