// The ports Services of the cluster are reached on, as a client on this node sees them: a request
// to a ClusterIP leaves the client's interface with the Service's `port` (kube-proxy's DNAT comes
// after), a request to a pod IP (headless Services, endpoints read by the client) with the target
// port, a request to a node's NodePort with the NodePort. Client-side series on other ports are
// collapsed by the pipeline (see @owlk8s/otel).

import { selects } from './pod-targets.ts';
import type { PodRecord, ServiceRecord } from './records.ts';

/**
 * Every TCP `port` of every Service, with its NodePort if it has one and its target port: a number
 * as it is; a name resolved
 * through the container ports of that name of the pods it selects among `pods` (the agent watches
 * only its node's pods, so a name used only by pods of other nodes stays unresolved). Sorted, no
 * duplicates.
 */
export function servicePorts(services: Iterable<ServiceRecord>, pods: Iterable<PodRecord>): number[] {
  const ports = new Set<number>();
  const named: Array<{ svc: ServiceRecord; name: string }> = [];
  for (const svc of services) {
    for (const sp of svc.ports) {
      ports.add(sp.port);
      if (sp.nodePort !== undefined) ports.add(sp.nodePort);
      if (typeof sp.targetPort === 'number') ports.add(sp.targetPort);
      else named.push({ svc, name: sp.targetPort });
    }
  }
  if (named.length > 0) {
    const podList = [...pods];
    for (const { svc, name } of named) {
      for (const pod of podList) {
        if (pod.namespace !== svc.namespace || !selects(svc, pod)) continue;
        for (const p of pod.ports) if (p.name === name) ports.add(p.port);
      }
    }
  }
  return [...ports].sort((a, b) => a - b);
}
