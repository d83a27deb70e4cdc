// What an address is in the cluster, as packages/k8s tells the rest of owlk8s: a Service (by its
// ClusterIP), a pod, a node, or outside the cluster. The kernel reports, per client-side request,
// the address the client sent to (before kube-proxy's DNAT), and per server-side request the
// caller's address; the PeerIndex (peer-index.ts) maps either to one of these.

/** A Service, reached through one of its ClusterIPs (or an endpoint of it that is no pod). */
export interface ServicePeer {
  readonly kind: 'service';
  readonly name: string;
  readonly namespace: string;
}

/** A pod, by one of its addresses listed in an EndpointSlice. */
export interface PodPeer {
  readonly kind: 'pod';
  readonly name: string;
  readonly namespace: string;
  /** A Service of the pod's namespace whose EndpointSlice lists this address (see README: the first by name). */
  readonly service?: string;
}

/** A node, by one of its InternalIP or ExternalIP addresses. */
export interface NodePeer {
  readonly kind: 'node';
  readonly name: string;
}

/** Anything else: one value for every address the cluster does not name (the address is not kept). */
export interface OutsidePeer {
  readonly kind: 'outside';
}

export type Peer = ServicePeer | PodPeer | NodePeer | OutsidePeer;

/** The peer of every address the index does not hold. */
export const OUTSIDE_PEER: OutsidePeer = Object.freeze({ kind: 'outside' });

/**
 * A change of what one address is; `peer` is OUTSIDE_PEER when the address left the index (its
 * object was deleted or no longer lists it), `previous` is OUTSIDE_PEER when it is new.
 */
export interface PeerChange {
  /** Canonical text form (normalizeAddress): dotted IPv4, RFC 5952 IPv6. */
  readonly address: string;
  readonly peer: Peer;
  readonly previous: Peer;
}

/**
 * The DNS name of a Service, `name.namespace.svc`: what the OpenTelemetry HTTP client conventions'
 * `server.address` carries for a request sent to it (the cluster domain is left out: it is the
 * same for every Service of a cluster and not known to the agent).
 */
export function serviceDnsName(peer: { readonly name: string; readonly namespace: string }): string {
  return `${peer.name}.${peer.namespace}.svc`;
}
