// The cluster's addresses and what each one is: a Service's ClusterIPs, the addresses of the
// EndpointSlices' endpoints (pods, or the Service itself for an endpoint that is no pod) and the
// Nodes' addresses. Fed with the changes of the Services, EndpointSlices and Nodes caches (the
// reflectors of watcher.ts), it keeps, per address, every object that claims it and answers with
// the best claim, so an address that moves from one object to another is right whatever order the
// changes come in. Listeners get the changes in batches (one per watch event, one per list).

import { isDeepStrictEqual } from 'node:util';
import { normalizeAddress } from './address.ts';
import type { Change } from './cache.ts';
import { Dispatcher } from './dispatcher.ts';
import type { Logger } from './logger.ts';
import { byCodeUnit } from './order.ts';
import { OUTSIDE_PEER, type Peer, type PeerChange } from './peer.ts';
import type { EndpointSliceRecord, NodeRecord, ServiceRecord } from './records.ts';

/**
 * Which claim wins when several objects list one address (lower first): a ClusterIP (allocated to
 * one Service by the API server), a node address (host-network pods share it: it is the node's),
 * a pod, an endpoint that is no pod; a terminating endpoint after every live one (its address may
 * already be a new pod's). Equal ranks: the source key first in code-unit order (for slices it
 * holds the Service's name before the slice's, so a pod in two Services is named after the Service
 * first by name).
 */
const RANK_CLUSTER_IP = 0;
const RANK_NODE = 1;
const RANK_POD = 2;
const RANK_ENDPOINT = 3;
const RANK_TERMINATING = 4;

interface Claim {
  /**
   * The object that claims the address, one string per object: `s:ns/name` (Service), `n:name`
   * (Node), `e:ns service name` (EndpointSlice).
   */
  readonly source: string;
  readonly rank: number;
  readonly peer: Peer;
}

/** What one address is claimed by: one claim (nearly always), or several while objects disagree. */
type Claims = Claim | Claim[];

export class PeerIndex {
  readonly #claims = new Map<string, Claims>();
  readonly #events: Dispatcher<readonly PeerChange[]>;
  readonly #waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  #synced = false;
  #closed = false;

  constructor(logger: Logger) {
    this.#events = new Dispatcher(logger, 'peer change');
  }

  /** Every watched kind (Services, EndpointSlices, Nodes) has been listed once. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Addresses held (each maps to a Service, pod or node). */
  get size(): number {
    return this.#claims.size;
  }

  /**
   * What an address is: text in any IPv4 or IPv6 form, or the kernel's 16 bytes (IPv4-mapped IPv6
   * for IPv4); OUTSIDE_PEER for an address the cluster does not name. Throws TypeError for text
   * that is no IP address, or bytes that are not 16.
   */
  lookup(address: string | Uint8Array): Peer {
    const key = normalizeAddress(address);
    if (key === undefined) {
      const shown = typeof address === 'string' ? JSON.stringify(address) : `${address.length} bytes`;
      throw new TypeError(
        `PeerIndex.lookup: ${shown} is not an IP address (expected text such as 198.18.0.9 or 2001:2::9, or 16 bytes)`,
      );
    }
    return this.#resolve(key);
  }

  /** Every address held with its peer, sorted by address (code units). */
  snapshot(): PeerChange[] {
    return [...this.#claims.keys()]
      .sort(byCodeUnit)
      .map((address) => ({ address, peer: this.#resolve(address), previous: OUTSIDE_PEER }));
  }

  /**
   * Calls `listener` with each batch of changes, from the first complete view on: the first batch,
   * when Services, EndpointSlices and Nodes have all been listed, holds every address (previous
   * OUTSIDE_PEER); later ones what each watch event or relist changed. Returns the unsubscriber.
   */
  subscribe(listener: (changes: readonly PeerChange[]) => void): () => void {
    return this.#events.subscribe(listener);
  }

  /** Resolves once synced; rejects if the watcher stops first. */
  whenSynced(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    if (this.#closed) return Promise.reject(new Error('PeerIndex: stopped before the first complete view'));
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  // ---- fed by the watcher ----

  /** The first complete view: emits every address as one batch. */
  markSynced(): void {
    if (this.#synced || this.#closed) return;
    this.#synced = true;
    const all = this.snapshot();
    if (all.length > 0) this.#events.emit(all);
    for (const w of this.#waiters.splice(0)) w.resolve();
  }

  /** No batch after this; pending whenSynced() calls reject. */
  close(): void {
    this.#closed = true;
    const err = new Error('PeerIndex: stopped before the first complete view');
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }

  applyServices(changes: readonly Change<ServiceRecord>[]): void {
    this.#apply(
      changes,
      (svc) => `s:${svc.namespace}/${svc.name}`,
      (svc, source, out) => {
        const peer: Peer = { kind: 'service', name: svc.name, namespace: svc.namespace };
        for (const a of svc.clusterIPs) add(out, a, { source, rank: RANK_CLUSTER_IP, peer });
      },
    );
  }

  applyEndpointSlices(changes: readonly Change<EndpointSliceRecord>[]): void {
    const sourceOf = (slice: EndpointSliceRecord): string =>
      // Spaces: they sort before every character of a name, so `web` comes before `web-api`.
      `e:${slice.namespace} ${slice.service ?? ''} ${slice.name}`;
    this.#apply(changes, sourceOf, (slice, source, out) => {
      // One Service peer for the slice's endpoints that are no pod (selector-less Services).
      const servicePeer: Peer | undefined = slice.service
        ? { kind: 'service', name: slice.service, namespace: slice.namespace }
        : undefined;
      for (const e of slice.endpoints) {
        let peer: Peer | undefined;
        let rank: number;
        if (e.pod) {
          const service = slice.service !== undefined && e.pod.namespace === slice.namespace;
          peer = {
            kind: 'pod',
            name: e.pod.name,
            namespace: e.pod.namespace,
            ...(service ? { service: slice.service } : {}),
          };
          rank = RANK_POD;
        } else {
          peer = servicePeer;
          rank = RANK_ENDPOINT;
        }
        if (peer === undefined) continue;
        if (e.terminating) rank += RANK_TERMINATING;
        for (const a of e.addresses) add(out, a, { source, rank, peer });
      }
    });
  }

  applyNodes(changes: readonly Change<NodeRecord>[]): void {
    this.#apply(
      changes,
      (node) => `n:${node.name}`,
      (node, source, out) => {
        const peer: Peer = { kind: 'node', name: node.name };
        for (const a of node.addresses) add(out, a, { source, rank: RANK_NODE, peer });
      },
    );
  }

  #apply<R>(
    changes: readonly Change<R>[],
    sourceOf: (record: R) => string,
    claimsOf: (record: R, source: string, out: Map<string, Claim>) => void,
  ): void {
    const before = new Map<string, Peer>();
    const touch = (address: string): void => {
      if (!before.has(address)) before.set(address, this.#resolve(address));
    };
    for (const c of changes) {
      if (c.type !== 'added') {
        // The source as the previous record names it (a slice's Service label may have changed).
        const source = sourceOf(c.previous);
        const old = new Map<string, Claim>();
        claimsOf(c.previous, source, old);
        for (const address of old.keys()) {
          touch(address);
          this.#remove(address, source);
        }
      }
      if (c.type !== 'deleted') {
        const next = new Map<string, Claim>();
        claimsOf(c.record, sourceOf(c.record), next);
        for (const [address, claim] of next) {
          touch(address);
          this.#add(address, claim);
        }
      }
    }
    if (!this.#synced || this.#closed) return;
    const out: PeerChange[] = [];
    for (const [address, previous] of before) {
      const peer = this.#resolve(address);
      if (!isDeepStrictEqual(peer, previous)) out.push({ address, peer, previous });
    }
    if (out.length > 0) this.#events.emit(out);
  }

  #resolve(address: string): Peer {
    const c = this.#claims.get(address);
    if (c === undefined) return OUTSIDE_PEER;
    if (!Array.isArray(c)) return c.peer;
    let best = c[0]!;
    for (const x of c) {
      if (x.rank < best.rank || (x.rank === best.rank && x.source < best.source)) best = x;
    }
    return best.peer;
  }

  #add(address: string, claim: Claim): void {
    const c = this.#claims.get(address);
    if (c === undefined) this.#claims.set(address, claim);
    else if (Array.isArray(c)) c.push(claim);
    else this.#claims.set(address, [c, claim]);
  }

  #remove(address: string, source: string): void {
    const c = this.#claims.get(address);
    if (c === undefined) return;
    if (!Array.isArray(c)) {
      if (c.source === source) this.#claims.delete(address);
      return;
    }
    const rest = c.filter((x) => x.source !== source);
    if (rest.length === 0) this.#claims.delete(address);
    else this.#claims.set(address, rest.length === 1 ? rest[0]! : rest);
  }
}

/** Keeps the best claim of one object per address (an object listing an address twice claims it once). */
function add(out: Map<string, Claim>, address: string, claim: Claim): void {
  const had = out.get(address);
  if (had === undefined || claim.rank < had.rank) out.set(address, claim);
}
