// The attributes that name the other end of a series' requests (issue 21): what the agent hands
// the pipeline as PeerNames. The client metric's `server.address` follows the OpenTelemetry HTTP
// client conventions (a name, not looked up); the peer's Kubernetes identity goes under
// `owlk8s.peer.*`, since the `k8s.*` names are the pod's own identity (its resource, and labels on
// the Prometheus endpoint) and the conventions have no names for the other end.
import type { Attributes } from '@opentelemetry/api';
import { ATTR_CLIENT_ADDRESS, ATTR_SERVER_ADDRESS } from '@opentelemetry/semantic-conventions';
import type { Role } from '@owlk8s/ebpf';
import { type Peer, type PeerWorkloadLookup, serviceDnsName } from '@owlk8s/k8s';
import type { PeerNames } from '@owlk8s/otel';

/** `server.address` (client metric) of requests to an address the cluster does not name. */
export const OUTSIDE_ADDRESS = '_outside';
/** `server.address` of a pod's requests to peers past its peersPerPod. */
export const OVERFLOW_ADDRESS = '_overflow';

export const ATTR_PEER_KIND = 'owlk8s.peer.kind';
export const ATTR_PEER_NAMESPACE = 'owlk8s.peer.namespace';
export const ATTR_PEER_SERVICE = 'owlk8s.peer.service';
export const ATTR_PEER_POD = 'owlk8s.peer.pod';
export const ATTR_PEER_NODE = 'owlk8s.peer.node';
export const ATTR_PEER_WORKLOAD_KIND = 'owlk8s.peer.workload.kind';
export const ATTR_PEER_WORKLOAD_NAME = 'owlk8s.peer.workload.name';

/** A peer pod's workload as its owner resolution found it; undefined: not known (bare pod, failed lookup). */
export type PeerWorkload = { readonly kind: string; readonly name: string } | undefined;

/** What names a peer pod's workload (PeerWorkloads of @owlk8s/k8s). */
export interface PeerWorkloadSource {
  lookup(namespace: string, name: string): PeerWorkloadLookup;
}

/**
 * A peer's attributes. Client role: `server.address` is the Service's DNS name
 * (`name.namespace.svc`), the pod's name, the node's name, or `_outside`; server role (with
 * serverPeers): the same value as `client.address`. Both: `owlk8s.peer.kind` (`service`, `pod`,
 * `node`, `outside`) and, where they apply, `owlk8s.peer.namespace`, `owlk8s.peer.service`,
 * `owlk8s.peer.pod`, `owlk8s.peer.node`; for a pod whose workload is known,
 * `owlk8s.peer.workload.kind` (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, or
 * another controller's kind) and `owlk8s.peer.workload.name`.
 */
export function peerAttributes(peer: Peer | undefined, role: Role, workload?: PeerWorkload): Attributes {
  const address = role === 'client' ? ATTR_SERVER_ADDRESS : ATTR_CLIENT_ADDRESS;
  if (peer === undefined || peer.kind === 'outside')
    return { [address]: OUTSIDE_ADDRESS, [ATTR_PEER_KIND]: 'outside' };
  switch (peer.kind) {
    case 'service':
      return {
        [address]: serviceDnsName(peer),
        [ATTR_PEER_KIND]: 'service',
        [ATTR_PEER_NAMESPACE]: peer.namespace,
        [ATTR_PEER_SERVICE]: peer.name,
      };
    case 'pod':
      return {
        [address]: peer.name,
        [ATTR_PEER_KIND]: 'pod',
        [ATTR_PEER_NAMESPACE]: peer.namespace,
        ...(peer.service !== undefined ? { [ATTR_PEER_SERVICE]: peer.service } : {}),
        [ATTR_PEER_POD]: peer.name,
        ...(workload !== undefined
          ? { [ATTR_PEER_WORKLOAD_KIND]: workload.kind, [ATTR_PEER_WORKLOAD_NAME]: workload.name }
          : {}),
      };
    case 'node':
      return { [address]: peer.name, [ATTR_PEER_KIND]: 'node', [ATTR_PEER_NODE]: peer.name };
  }
}

/**
 * PeerNames over a peer table: ids resolved at the time a series is made; an id the table forgot
 * is unknown (peer 0's series). With `workloads`, a pod peer's series waits (`ready` false: the
 * kernel keeps counting, the series is made at a later collection with everything counted) until
 * its workload is read, or failed, or took longer than the source's maxPendingMs; one made without
 * it because the lookup failed is counted in `unnamedWorkloads`.
 */
export function peerNames(
  table: { peer(peerId: number): Peer | undefined },
  serverPeers: boolean,
  workloads?: PeerWorkloadSource,
  onUnnamedWorkload?: () => void,
): PeerNames {
  return {
    serverPeers,
    attributes: (peerId, role) => {
      if (peerId === undefined) return peerAttributes(undefined, role);
      const peer = table.peer(peerId);
      if (peer === undefined) return undefined;
      if (workloads === undefined || peer.kind !== 'pod') return peerAttributes(peer, role);
      const look = workloads.lookup(peer.namespace, peer.name);
      if (look.state !== 'resolved') onUnnamedWorkload?.();
      return peerAttributes(peer, role, look.state === 'resolved' ? look.workload : undefined);
    },
    ready: (peerId) => {
      const peer = table.peer(peerId);
      if (workloads === undefined || peer?.kind !== 'pod') return true;
      return workloads.lookup(peer.namespace, peer.name).state !== 'pending';
    },
    overflow: (role) => ({
      [role === 'client' ? ATTR_SERVER_ADDRESS : ATTR_CLIENT_ADDRESS]: OVERFLOW_ADDRESS,
      [ATTR_PEER_KIND]: 'overflow',
    }),
  };
}
