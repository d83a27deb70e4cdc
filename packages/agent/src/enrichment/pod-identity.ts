// Enrichment: a Kubernetes pod as the attribute sets the metrics pipeline takes, per the
// OpenTelemetry Kubernetes and service conventions. Its own stage, as the Collector's
// k8sattributes processor is its own component: @owlk8s/otel knows no Kubernetes object.
import type { Attributes } from '@opentelemetry/api';
import {
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
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_NAMESPACE,
} from '@opentelemetry/semantic-conventions';
import type { PodTarget } from '@owlk8s/k8s';
import type { TargetIdentity } from '@owlk8s/otel';
import { type BoundedTally, boundAttributes, DEFAULT_MAX_VALUE_LENGTH } from './bounded-values.ts';

// Incubating: copied, not imported (the `/incubating` entry point may change in a minor release).
export const ATTR_K8S_SERVICE_NAME = 'k8s.service.name';

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
export function podServiceName(pod: PodTarget, useAnnotation = true): string {
  // The k8s package hands over configured labels only, and these two whether configured or not;
  // a target made by hand (static targets, tests) may carry them among its labels.
  return (
    (useAnnotation ? pod.serviceNameAnnotation : undefined) ??
    pod.appInstanceLabel ??
    pod.labels['app.kubernetes.io/instance'] ??
    pod.appNameLabel ??
    pod.labels['app.kubernetes.io/name'] ??
    (pod.workload.kind === 'Pod' ? undefined : pod.workload.name) ??
    pod.name
  );
}

/**
 * The pod's identity: `k8s.*`, `service.name`, `service.namespace`, `k8s.pod.label.<key>` for the
 * configured labels, after `shared` (attributes every pod carries, such as `k8s.cluster.name`
 * from OTEL_RESOURCE_ATTRIBUTES).
 */
export function podResource(pod: PodTarget, shared: Attributes = {}, useAnnotation = true): Attributes {
  const attributes: Attributes = {
    ...shared,
    [ATTR_K8S_POD_NAME]: pod.name,
    [ATTR_K8S_POD_UID]: pod.uid,
    [ATTR_K8S_NAMESPACE_NAME]: pod.namespace,
    [ATTR_K8S_NODE_NAME]: pod.node,
  };
  const workloadKey = WORKLOAD_ATTRIBUTE[pod.workload.kind];
  if (workloadKey !== undefined) attributes[workloadKey] = pod.workload.name;
  if (pod.replicaSet !== undefined) attributes[ATTR_K8S_REPLICASET_NAME] = pod.replicaSet;
  attributes[ATTR_SERVICE_NAME] = podServiceName(pod, useAnnotation);
  attributes[ATTR_SERVICE_NAMESPACE] = pod.namespace;
  for (const key of Object.keys(pod.labels).sort()) attributes[`k8s.pod.label.${key}`] = pod.labels[key];
  return attributes;
}

/**
 * The Go library's own fields (pod, namespace, owner, Services), not the full identity: its users'
 * dashboards group by these.
 */
export function goLibraryAttributes(pod: PodTarget): Attributes {
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
  return [...new Set(serving.services.map((s) => s.name))].sort().join(',');
}

/**
 * What every pod's resource carries from the agent's own (OTEL_RESOURCE_ATTRIBUTES, such as
 * `k8s.cluster.name`): all of it but the `service.*` attributes, which name the agent itself.
 */
export function sharedPodAttributes(
  agentResource: Readonly<Record<string, string | number | boolean>>,
): Attributes {
  return Object.fromEntries(Object.entries(agentResource).filter(([key]) => !key.startsWith('service.')));
}

/** How podIdentity bounds what comes from cluster objects. */
export interface IdentityOptions {
  /** Most code points a value keeps (DEFAULT_MAX_VALUE_LENGTH). */
  readonly maxValueLength?: number;
  /** Whether the `resource.opentelemetry.io/service.name` annotation names the service (default true). */
  readonly serviceNameAnnotation?: boolean;
}

/**
 * Everything the pipeline needs of a pod: its resource, `k8s.service.name` per port, the Go
 * library's fields; every value from the pod and its Services bounded (boundValue), what that changed
 * counted in `bounded`. `shared` comes from the agent's own configuration and is kept as it is.
 */
export function podIdentity(
  pod: PodTarget,
  shared: Attributes = {},
  options: IdentityOptions = {},
): TargetIdentity {
  const max = options.maxValueLength ?? DEFAULT_MAX_VALUE_LENGTH;
  const bounded: BoundedTally = { truncated: 0, unprintable: 0 };
  const serverPortAttributes = new Map<number, Attributes>();
  for (const { port } of pod.ports) {
    const service = serviceNameForPort(pod, port);
    if (service !== undefined)
      serverPortAttributes.set(port, boundAttributes({ [ATTR_K8S_SERVICE_NAME]: service }, max, bounded));
  }
  return {
    resource: {
      ...shared,
      ...boundAttributes(podResource(pod, {}, options.serviceNameAnnotation ?? true), max, bounded),
    },
    serverPortAttributes,
    goLibraryAttributes: boundAttributes(goLibraryAttributes(pod), max, bounded),
    bounded,
  };
}
