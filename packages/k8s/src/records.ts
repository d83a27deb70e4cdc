// The few fields kept of each API object, taken as soon as an object arrives: the caches hold
// these small records, never whole objects, so memory stays small with thousands of them.

import { normalizeAddress } from './address.ts';

export const IGNORE_ANNOTATION = 'owlk8s/ignore';
/** The label an EndpointSlice names its Service with. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const SERVICE_NAME_ANNOTATION = 'resource.opentelemetry.io/service.name';

export interface OwnerRef {
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
}

export interface ContainerPort {
  readonly port: number;
  readonly name?: string;
}

export interface PodRecord {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly node: string;
  readonly hostNetwork: boolean;
  readonly phase: string;
  readonly ready: boolean;
  readonly ips: readonly string[];
  /** All labels: Service selectors need them. */
  readonly labels: Readonly<Record<string, string>>;
  readonly ignore: boolean;
  readonly serviceNameAnnotation?: string;
  /** Declared TCP container ports of all containers. */
  readonly ports: readonly ContainerPort[];
  /** The controller owner (or the first owner when none is marked controller). */
  readonly owner?: OwnerRef;
}

export interface ServicePortRecord {
  readonly port: number;
  readonly name?: string;
  readonly targetPort: number | string;
  /** The port every node opens for it (NodePort and LoadBalancer Services), as the API server set it. */
  readonly nodePort?: number;
}

export interface ServiceRecord {
  readonly name: string;
  readonly namespace: string;
  /** undefined for a Service without selector (its endpoints are not derived from pods). */
  readonly selector?: Readonly<Record<string, string>>;
  /** TCP ports only. */
  readonly ports: readonly ServicePortRecord[];
  /**
   * spec.clusterIPs (both families; spec.clusterIP when the list is absent), in canonical form
   * (address.ts); empty for a headless (`None`) or ExternalName Service.
   */
  readonly clusterIPs: readonly string[];
}

/** One endpoint of an EndpointSlice: its addresses and the pod behind them, when there is one. */
export interface EndpointRecord {
  /** Canonical form (address.ts). */
  readonly addresses: readonly string[];
  /** targetRef, when it is a Pod (its namespace defaults to the slice's). */
  readonly pod?: { readonly name: string; readonly namespace: string };
  /** conditions.terminating: the pod is shutting down (its address may soon be another pod's). */
  readonly terminating: boolean;
}

/** A discovery.k8s.io/v1 EndpointSlice of address type IPv4 or IPv6 (FQDN slices are not kept). */
export interface EndpointSliceRecord {
  readonly name: string;
  readonly namespace: string;
  /** The `kubernetes.io/service-name` label: the Service (same namespace) the slice belongs to. */
  readonly service?: string;
  readonly endpoints: readonly EndpointRecord[];
}

/** A Node: the ignore annotation and its addresses. */
export interface NodeRecord {
  readonly name: string;
  readonly ignore: boolean;
  /** status.addresses of type InternalIP and ExternalIP, canonical form (address.ts), in API order. */
  readonly addresses: readonly string[];
}

/** A Namespace or Node: only whether it carries the ignore annotation. */
export interface ScopeRecord {
  readonly name: string;
  readonly ignore: boolean;
}

// Raw objects come from JSON (watch) or client-node models (list): same field names, so plain
// property access with checks works for both.
type Raw = Record<string, unknown>;

function obj(v: unknown): Raw {
  return v !== null && typeof v === 'object' ? (v as Raw) : {};
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(obj(v))) if (typeof x === 'string') out[k] = x;
  return out;
}
function isTcp(protocol: unknown): boolean {
  return protocol === undefined || protocol === null || protocol === 'TCP';
}

/** The key caches use: namespace/name, or name for cluster-scoped objects. */
export function keyOf(r: { readonly namespace?: string; readonly name: string }): string {
  return r.namespace ? `${r.namespace}/${r.name}` : r.name;
}

/** metadata.namespace/name of a raw object, for DELETED events of objects never projected. */
export function rawKey(raw: unknown): string | undefined {
  const md = obj(obj(raw).metadata);
  const name = str(md.name);
  if (!name) return undefined;
  const ns = str(md.namespace);
  return ns ? `${ns}/${name}` : name;
}

export function rawResourceVersion(raw: unknown): string | undefined {
  return str(obj(obj(raw).metadata).resourceVersion);
}

/** The controller owner reference (or the first one), if any. */
export function controllerOf(metadata: unknown): OwnerRef | undefined {
  const refs = arr(obj(metadata).ownerReferences).map(obj);
  const ref = refs.find((r) => r.controller === true) ?? refs[0];
  const kind = str(ref?.kind);
  const name = str(ref?.name);
  return kind && name ? { kind, name, uid: str(ref?.uid) ?? '' } : undefined;
}

export function projectPod(raw: unknown): PodRecord | undefined {
  const o = obj(raw);
  const md = obj(o.metadata);
  const spec = obj(o.spec);
  const status = obj(o.status);
  const name = str(md.name);
  const namespace = str(md.namespace);
  const uid = str(md.uid);
  if (!name || !namespace || !uid) return undefined;
  const annotations = stringMap(md.annotations);
  let ips = arr(status.podIPs)
    .map((x) => str(obj(x).ip))
    .filter((x): x is string => x !== undefined && x !== '');
  const podIP = str(status.podIP);
  if (ips.length === 0 && podIP) ips = [podIP];
  const ports: ContainerPort[] = [];
  for (const c of arr(spec.containers)) {
    for (const p of arr(obj(c).ports).map(obj)) {
      if (typeof p.containerPort !== 'number' || !isTcp(p.protocol)) continue;
      const portName = str(p.name);
      ports.push(portName ? { port: p.containerPort, name: portName } : { port: p.containerPort });
    }
  }
  const ready = arr(status.conditions)
    .map(obj)
    .some((c) => c.type === 'Ready' && c.status === 'True');
  const owner = controllerOf(md);
  const serviceName = annotations[SERVICE_NAME_ANNOTATION];
  return {
    uid,
    name,
    namespace,
    node: str(spec.nodeName) ?? '',
    hostNetwork: spec.hostNetwork === true,
    phase: str(status.phase) ?? 'Unknown',
    ready,
    ips,
    labels: stringMap(md.labels),
    ignore: annotations[IGNORE_ANNOTATION] === 'true',
    ...(serviceName !== undefined ? { serviceNameAnnotation: serviceName } : {}),
    ports,
    ...(owner ? { owner } : {}),
  };
}

export function projectService(raw: unknown): ServiceRecord | undefined {
  const o = obj(raw);
  const md = obj(o.metadata);
  const spec = obj(o.spec);
  const name = str(md.name);
  const namespace = str(md.namespace);
  if (!name || !namespace) return undefined;
  const selector = stringMap(spec.selector);
  const ports: ServicePortRecord[] = [];
  for (const p of arr(spec.ports).map(obj)) {
    if (typeof p.port !== 'number' || !isTcp(p.protocol)) continue;
    const target =
      typeof p.targetPort === 'number' || typeof p.targetPort === 'string' ? p.targetPort : p.port;
    // targetPort "8080" as a string is a number to the API server too.
    const targetPort = typeof target === 'string' && /^\d+$/.test(target) ? Number(target) : target;
    const portName = str(p.name);
    ports.push({
      port: p.port,
      ...(portName ? { name: portName } : {}),
      targetPort,
      ...(typeof p.nodePort === 'number' ? { nodePort: p.nodePort } : {}),
    });
  }
  // An empty selector selects nothing, as for the endpoints controller.
  const hasSelector = Object.keys(selector).length > 0;
  const listed = arr(spec.clusterIPs).map(str);
  const ips = listed.length > 0 ? listed : [str(spec.clusterIP)];
  // 'None' (headless) and '' are not addresses; neither would anything else normalizeAddress rejects.
  const clusterIPs = addresses(ips);
  return { name, namespace, ...(hasSelector ? { selector } : {}), ports, clusterIPs };
}

/** Canonical, de-duplicated addresses, in order; what is not an IP address is left out. */
function addresses(list: readonly (string | undefined)[]): string[] {
  const out: string[] = [];
  for (const a of list) {
    const n = a === undefined ? undefined : normalizeAddress(a);
    if (n !== undefined && !out.includes(n)) out.push(n);
  }
  // A copy of exactly its length: an array grown by push keeps room for 16 more (~130 bytes).
  return out.slice();
}

export function projectEndpointSlice(raw: unknown): EndpointSliceRecord | undefined {
  const o = obj(raw);
  const md = obj(o.metadata);
  const name = str(md.name);
  const namespace = str(md.namespace);
  if (!name || !namespace) return undefined;
  const service = stringMap(md.labels)[SERVICE_NAME_LABEL];
  const endpoints: EndpointRecord[] = [];
  // An FQDN slice holds names, not addresses: nothing the kernel can report.
  if (o.addressType === 'IPv4' || o.addressType === 'IPv6') {
    for (const e of arr(o.endpoints).map(obj)) {
      const addrs = addresses(arr(e.addresses).map(str));
      if (addrs.length === 0) continue;
      const ref = obj(e.targetRef);
      const podName = ref.kind === 'Pod' ? str(ref.name) : undefined;
      endpoints.push({
        addresses: addrs,
        ...(podName ? { pod: { name: podName, namespace: str(ref.namespace) ?? namespace } } : {}),
        terminating: obj(e.conditions).terminating === true,
      });
    }
  }
  return { name, namespace, ...(service ? { service } : {}), endpoints };
}

export function projectNode(raw: unknown): NodeRecord | undefined {
  const scope = projectScope(raw);
  if (!scope) return undefined;
  const ips = arr(obj(obj(raw).status).addresses)
    .map(obj)
    .filter((a) => a.type === 'InternalIP' || a.type === 'ExternalIP')
    .map((a) => str(a.address));
  return { ...scope, addresses: addresses(ips) };
}

export function projectScope(raw: unknown): ScopeRecord | undefined {
  const md = obj(obj(raw).metadata);
  const name = str(md.name);
  if (!name) return undefined;
  return { name, ignore: stringMap(md.annotations)[IGNORE_ANNOTATION] === 'true' };
}
