// Attribute sets per the OpenTelemetry HTTP and Kubernetes semantic conventions (see
// /work/shared/SEMCONV.md): one function for the pod's identity, one for a kernel aggregate's
// request attributes. Both are computed once per series and cached, never per export.
import type { Attributes } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_K8S_CRONJOB_NAME,
  ATTR_K8S_DAEMONSET_NAME,
  ATTR_K8S_DEPLOYMENT_NAME,
  ATTR_K8S_JOB_NAME,
  ATTR_K8S_NAMESPACE_NAME,
  ATTR_K8S_NODE_NAME,
  ATTR_K8S_POD_NAME,
  ATTR_K8S_POD_UID,
  ATTR_K8S_REPLICASET_NAME,
  ATTR_K8S_STATEFULSET_NAME,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_NAMESPACE,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import type { Aggregate, Role } from '@owlk8s/ebpf';
import type { PodTarget } from '@owlk8s/k8s';

// Incubating names are copied, not imported: the `/incubating` entry point may change them
// in any minor release, and the attribute name on the wire is what users depend on.
export const ATTR_K8S_SERVICE_NAME = 'k8s.service.name';
export const ATTR_OTEL_METRIC_OVERFLOW = 'otel.metric.overflow';

/** RFC 9110 methods plus PATCH: the conventions' default set of known methods. */
export const DEFAULT_KNOWN_METHODS: readonly string[] = [
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'TRACE',
];

/** A method outside the known set is recorded as `_OTHER`, as the conventions require. */
export function normaliseMethod(method: string, known: ReadonlySet<string>): string {
  return known.has(method) ? method : '_OTHER';
}

/** `error.type`: the status code as a string for 5xx (server) or 4xx and 5xx (client); else unset. */
export function errorType(role: Role, statusCode: number): string | undefined {
  const threshold = role === 'server' ? 500 : 400;
  return statusCode >= threshold ? String(statusCode) : undefined;
}

const WORKLOAD_ATTRIBUTE: Readonly<Record<string, string>> = {
  Deployment: ATTR_K8S_DEPLOYMENT_NAME,
  StatefulSet: ATTR_K8S_STATEFULSET_NAME,
  DaemonSet: ATTR_K8S_DAEMONSET_NAME,
  ReplicaSet: ATTR_K8S_REPLICASET_NAME,
  Job: ATTR_K8S_JOB_NAME,
  CronJob: ATTR_K8S_CRONJOB_NAME,
};

/** The `k8s.<kind>.name` attribute of a workload kind; `k8s.pod.name` for a bare pod. */
export function workloadAttribute(kind: string): string {
  return WORKLOAD_ATTRIBUTE[kind] ?? ATTR_K8S_POD_NAME;
}

/**
 * `service.name` for a pod, first found wins (the conventions' non-normative k8s guidance):
 * annotation, `app.kubernetes.io/instance`, `app.kubernetes.io/name`, owner name, pod name.
 */
export function podServiceName(pod: PodTarget): string {
  // The k8s package hands over configured labels only, and these two whether configured or not;
  // a target made by hand (static targets, tests) may carry them among its labels.
  return (
    pod.serviceNameAnnotation ??
    pod.appInstanceLabel ??
    pod.labels['app.kubernetes.io/instance'] ??
    pod.appNameLabel ??
    pod.labels['app.kubernetes.io/name'] ??
    (pod.workload.kind === 'Pod' ? undefined : pod.workload.name) ??
    pod.name
  );
}

/** The pod's identity as point attributes: `k8s.*`, `service.name`, `service.namespace`, labels. */
export function podAttributes(pod: PodTarget): Attributes {
  const attributes: Attributes = {
    [ATTR_K8S_POD_NAME]: pod.name,
    [ATTR_K8S_POD_UID]: pod.uid,
    [ATTR_K8S_NAMESPACE_NAME]: pod.namespace,
    [ATTR_K8S_NODE_NAME]: pod.node,
  };
  const workloadKey = WORKLOAD_ATTRIBUTE[pod.workload.kind];
  if (workloadKey !== undefined) attributes[workloadKey] = pod.workload.name;
  if (pod.replicaSet !== undefined) attributes[ATTR_K8S_REPLICASET_NAME] = pod.replicaSet;
  attributes[ATTR_SERVICE_NAME] = podServiceName(pod);
  attributes[ATTR_SERVICE_NAMESPACE] = pod.namespace;
  for (const key of Object.keys(pod.labels).sort()) attributes[`k8s.pod.label.${key}`] = pod.labels[key];
  return attributes;
}

/**
 * The seed library's own fields (pod, namespace, owner, Services), not the full identity: its users'
 * dashboards group by these, and fewer attributes keep these per-pod series cheap.
 */
export function seedAttributes(pod: PodTarget): Attributes {
  const attributes: Attributes = {
    [ATTR_K8S_POD_NAME]: pod.name,
    [ATTR_K8S_NAMESPACE_NAME]: pod.namespace,
    [workloadAttribute(pod.workload.kind)]: pod.workload.name,
  };
  const services = [...new Set(pod.ports.flatMap((p) => p.services.map((s) => s.name)))].sort();
  if (services.length > 0) attributes[ATTR_K8S_SERVICE_NAME] = services.join(',');
  return attributes;
}

/**
 * The Service(s) a pod's port serves. A socket filter behind kube-proxy's DNAT cannot tell which
 * Service a request came through, so a port behind several Services names them all, sorted and
 * comma-separated (nothing is hidden, and the value is stable).
 */
export function serviceNameForPort(pod: PodTarget, port: number): string | undefined {
  const serving = pod.ports.find((p) => p.port === port);
  if (serving === undefined || serving.services.length === 0) return undefined;
  const names = [...new Set(serving.services.map((s) => s.name))].sort();
  return names.join(',');
}

/**
 * All attributes of one histogram series: the pod's (shared object, copied in) and the request's.
 * `url.scheme` is required on the server metric only (opt-in on the client one); the client
 * metric's required `server.address` is unknown to the kernel aggregate and left out.
 */
export function seriesAttributes(
  pod: PodTarget,
  base: Attributes,
  aggregate: Aggregate,
  knownMethods: ReadonlySet<string>,
): Attributes {
  const attributes: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: normaliseMethod(aggregate.method, knownMethods),
    [ATTR_HTTP_RESPONSE_STATUS_CODE]: aggregate.statusCode,
    [ATTR_SERVER_PORT]: aggregate.port,
    [ATTR_NETWORK_PROTOCOL_VERSION]: aggregate.httpMinor === 0 ? '1.0' : '1.1',
  };
  if (aggregate.role === 'server') attributes[ATTR_URL_SCHEME] = 'http';
  const error = errorType(aggregate.role, aggregate.statusCode);
  if (error !== undefined) attributes[ATTR_ERROR_TYPE] = error;
  Object.assign(attributes, base);
  if (aggregate.role === 'server') {
    const service = serviceNameForPort(pod, aggregate.port);
    if (service !== undefined) attributes[ATTR_K8S_SERVICE_NAME] = service;
  }
  return attributes;
}
