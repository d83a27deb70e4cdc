// The attributes that name the other end of a series' requests (issue 21): what the agent hands
// the pipeline as PeerNames. The client metric's `server.address` follows the OpenTelemetry HTTP
// client conventions (a name, not looked up); the peer's Kubernetes identity goes under
// `owlk8s.peer.*`, since the `k8s.*` names are the pod's own identity (its resource, and labels on
// the Prometheus endpoint) and the conventions have no names for the other end.
import type { Attributes } from '@opentelemetry/api';
import { ATTR_CLIENT_ADDRESS, ATTR_SERVER_ADDRESS } from '@opentelemetry/semantic-conventions';
import type { Role } from '@owlk8s/ebpf';
import { type Peer, serviceDnsName } from '@owlk8s/k8s';
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

/**
 * A peer's attributes. Client role: `server.address` is the Service's DNS name
 * (`name.namespace.svc`), the pod's name, the node's name, or `_outside`; server role (with
 * serverPeers): the same value as `client.address`. Both: `owlk8s.peer.kind` (`service`, `pod`,
 * `node`, `outside`) and, where they apply, `owlk8s.peer.namespace`, `owlk8s.peer.service`,
 * `owlk8s.peer.pod`, `owlk8s.peer.node`.
 */
export function peerAttributes(peer: Peer | undefined, role: Role): Attributes {
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
      };
    case 'node':
      return { [address]: peer.name, [ATTR_PEER_KIND]: 'node', [ATTR_PEER_NODE]: peer.name };
  }
}

/** PeerNames over a peer table: ids resolved at the time a series is made; an id the table forgot is unknown (peer 0's series). */
export function peerNames(
  table: { peer(peerId: number): Peer | undefined },
  serverPeers: boolean,
): PeerNames {
  return {
    serverPeers,
    attributes: (peerId, role) => {
      if (peerId === undefined) return peerAttributes(undefined, role);
      const peer = table.peer(peerId);
      return peer === undefined ? undefined : peerAttributes(peer, role);
    },
    overflow: (role) => ({
      [role === 'client' ? ATTR_SERVER_ADDRESS : ATTR_CLIENT_ADDRESS]: OVERFLOW_ADDRESS,
      [ATTR_PEER_KIND]: 'overflow',
    }),
  };
}
