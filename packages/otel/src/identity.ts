// What the pipeline knows of a target: plain attribute sets, made by the caller's enrichment stage
// (the agent maps a Kubernetes pod to them). This package knows no Kubernetes object.
import type { Attributes } from '@opentelemetry/api';
import type { Role } from '@owlk8s/ebpf';

export interface TargetIdentity {
  /**
   * Who the target is: in OTLP its resource (one resource per target), on the Prometheus endpoint
   * labels on each of its series. E.g. `k8s.pod.name`, `k8s.namespace.name`, `service.name`.
   */
  readonly resource: Attributes;
  /** Point attributes added to its server-side series by local port, e.g. `k8s.service.name`. */
  readonly serverPortAttributes?: ReadonlyMap<number, Attributes>;
  /** Point attributes of its compatibility series (`owlk8s.go_library.*`), when those are on. */
  readonly goLibraryAttributes?: Attributes;
  /**
   * Values the enrichment bounded to make this identity (cut to its length limit, unprintable
   * characters replaced), counted in `owlk8s.agent.attribute_values.bounded`.
   */
  readonly bounded?: { readonly truncated: number; readonly unprintable: number };
}

/**
 * What the other end of a series' requests is, as point attributes: the caller's enrichment names
 * the kernel's peer ids (`Aggregate.peerId`). With it set (Pipeline.setPeers), every client-side
 * series carries its peer's attributes, and with `serverPeers` every server-side series too.
 */
export interface PeerNames {
  /**
   * The attributes of a peer id, or of peer 0 (`peerId` undefined: outside the cluster, or
   * unknown). Undefined for an id the caller does not know (any more): its series are peer 0's.
   */
  attributes(peerId: number | undefined, role: Role): Attributes | undefined;
  /**
   * False while a peer's attributes are still being looked up (a peer pod's workload): the series
   * of that peer is not made yet, and the kernel's running totals are taken whole at a later
   * snapshot, so nothing is lost by waiting. Absent: always ready.
   */
  ready?(peerId: number): boolean;
  /** The attributes of a pod's overflow peer: the peers past `peersPerPod`. */
  overflow(role: Role): Attributes;
  /** Server-side series carry their caller's attributes too. */
  readonly serverPeers: boolean;
}
