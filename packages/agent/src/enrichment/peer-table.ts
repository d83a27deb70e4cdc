// Peer ids: the kernel's `peers` map names an address with a number; this table gives each peer
// (a Service, a pod, a node) its number, keeps the kernel map equal to the peer index's view, and
// turns a series' number back into the peer at export.
//
// The rule for ids: one id per peer identity (kind, namespace, name; a pod's Service is not part of
// it), the same for every address of that peer, kept while any address names it. When its last
// address goes, the id is retired, not freed: connections the kernel tracks already, and the
// kernel aggregates of every live pod, keep counting under it, so a new peer given that number
// would inherit their counts. A retired identity that comes back within `retainMs` gets its old id
// again; after that it is forgotten (a series made later for the id goes with peer 0's). The agent
// keeps retired ids for max(10 min, 2 × capture.idleTimeoutMs), past the connections that hold them. Ids are never
// reused within a run: they count up from 1, and 2^32-1 of them last 136 years at one new peer a
// second.
import type { Peer, PeerChange } from '@owlk8s/k8s';
import type { Pipeline } from '@owlk8s/otel';
import { type PeerWorkloadSource, peerNames } from './peer-attributes.ts';

/** The kernel's peers map as the table uses it (a Capture from @owlk8s/ebpf). */
export interface PeerMap {
  setPeer(ip: string, peerId: number): void;
  deletePeer(ip: string): void;
}

export interface PeerTableLogger {
  warn(obj: object, msg: string): void;
}

export interface PeerTableOptions {
  /** How long a retired peer's id is kept for it to come back (default 10 minutes). */
  readonly retainMs?: number;
  readonly now?: () => number;
}

/** What the table did, for logs and tests. */
export interface PeerTableStats {
  /** Peers with an id and at least one address. */
  readonly peers: number;
  /** Addresses written to the kernel map. */
  readonly addresses: number;
  /** Writes the kernel refused (a full map: raise capture.maps.peers), since start. */
  readonly refused: number;
  /** The last id given. */
  readonly lastId: number;
}

interface Entry {
  readonly id: number;
  /** The latest record of it (a pod's Service may change; its id does not). */
  peer: Exclude<Peer, { kind: 'outside' }>;
  addresses: number;
  retiredAtMs: number | undefined;
}

export const DEFAULT_PEER_RETAIN_MS = 10 * 60_000;

/**
 * The identity a peer's id is stable for. Made with join, not a template: V8 makes a template's
 * result of 13 characters or more a rope that, once used as a Map key, keeps both itself and its
 * flattened copy (25 bytes more per peer: 0.28 MiB of 2.6 for the 11,100 peers of the size
 * benchmark's large cluster); join makes one flat string.
 */
export function peerIdentity(peer: Peer): string {
  switch (peer.kind) {
    case 'service':
      return ['service', peer.namespace, peer.name].join('/');
    case 'pod':
      return ['pod', peer.namespace, peer.name].join('/');
    case 'node':
      return `node/${peer.name}`;
    case 'outside':
      return 'outside';
  }
}

export class PeerTable {
  readonly #map: PeerMap;
  readonly #logger: PeerTableLogger;
  readonly #retainMs: number;
  readonly #now: () => number;
  /** Identity → its id and how many addresses name it. */
  readonly #byIdentity = new Map<string, Entry>();
  /** Id → the same entries, for export. */
  readonly #byId = new Map<number, Entry>();
  /** Address → the identity the kernel map holds for it. */
  readonly #addresses = new Map<string, string>();
  #nextId = 1;
  #refused = 0;

  constructor(map: PeerMap, logger: PeerTableLogger, options: PeerTableOptions = {}) {
    this.#map = map;
    this.#logger = logger;
    this.#retainMs = options.retainMs ?? DEFAULT_PEER_RETAIN_MS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Applies one batch of the peer index (PeerIndex.subscribe): sets each named address's id in
   * the kernel, deletes each address that left. Never throws: a write the kernel refuses (a full
   * map) is counted in `stats().refused` and logged once per batch, and that address stays
   * unknown (its requests count as outside) until a later change names it again.
   */
  apply(changes: readonly PeerChange[]): void {
    let refused = 0;
    let firstError: unknown;
    for (const c of changes) {
      const held = this.#addresses.get(c.address);
      if (c.peer.kind === 'outside') {
        if (held === undefined) continue;
        this.#addresses.delete(c.address);
        this.#release(held);
        try {
          this.#map.deletePeer(c.address);
        } catch (err) {
          refused++;
          firstError ??= err;
        }
        continue;
      }
      const identity = peerIdentity(c.peer);
      if (held === identity) continue;
      const entry = this.#acquire(identity, c.peer);
      try {
        this.#map.setPeer(c.address, entry.id);
      } catch (err) {
        // Not written: the address is unknown to the kernel. A former peer of it stays there
        // (it was right until now); drop it so the kernel does not keep a stale name.
        this.#release(identity);
        refused++;
        firstError ??= err;
        if (held !== undefined) {
          this.#addresses.delete(c.address);
          this.#release(held);
          try {
            this.#map.deletePeer(c.address);
          } catch {}
        }
        continue;
      }
      if (held !== undefined) this.#release(held);
      this.#addresses.set(c.address, identity);
    }
    if (refused > 0) {
      this.#refused += refused;
      this.#logger.warn(
        { refused, refusedTotal: this.#refused, err: firstError },
        `peers: the kernel refused ${refused} of ${changes.length} address changes; those addresses count as outside the cluster (raise capture.maps.peers when the map is full)`,
      );
    }
    this.#expire();
  }

  /** The peer an id stands for; undefined for 0, an unknown id, or one retired and forgotten. */
  peer(peerId: number): Exclude<Peer, { kind: 'outside' }> | undefined {
    return this.#byId.get(peerId)?.peer;
  }

  /** The id of a peer identity, when it has one (tests, the targets view). */
  idOf(peer: Peer): number | undefined {
    return this.#byIdentity.get(peerIdentity(peer))?.id;
  }

  /** Writes the kernel refused since start (stats().refused, without counting the peers). */
  get refused(): number {
    return this.#refused;
  }

  stats(): PeerTableStats {
    let peers = 0;
    for (const e of this.#byIdentity.values()) if (e.addresses > 0) peers++;
    return { peers, addresses: this.#addresses.size, refused: this.#refused, lastId: this.#nextId - 1 };
  }

  #acquire(identity: string, peer: Exclude<Peer, { kind: 'outside' }>): Entry {
    let entry = this.#byIdentity.get(identity);
    if (entry === undefined) {
      if (this.#nextId > 0xffffffff) throw new Error('peer ids: all 2^32-1 used in this run');
      entry = { id: this.#nextId++, peer, addresses: 0, retiredAtMs: undefined };
      this.#byIdentity.set(identity, entry);
      this.#byId.set(entry.id, entry);
    }
    entry.peer = peer;
    entry.addresses++;
    entry.retiredAtMs = undefined;
    return entry;
  }

  #release(identity: string): void {
    const entry = this.#byIdentity.get(identity);
    if (entry === undefined) return;
    entry.addresses--;
    if (entry.addresses === 0) entry.retiredAtMs = this.#now();
  }

  #expire(): void {
    const deadline = this.#now() - this.#retainMs;
    for (const [identity, entry] of this.#byIdentity) {
      if (entry.retiredAtMs !== undefined && entry.retiredAtMs <= deadline) {
        this.#byIdentity.delete(identity);
        this.#byId.delete(entry.id);
      }
    }
  }
}

/**
 * The agent's peer wiring: a table fed by the index's batches, writing the kernel map, and the
 * pipeline naming peer ids through it. Call before the watcher starts (its first batch is every
 * address) and before the first snapshot. Returns the table and a function that unsubscribes.
 */
export function connectPeers(parts: {
  readonly index: { subscribe(listener: (changes: readonly PeerChange[]) => void): () => void };
  readonly map: PeerMap;
  readonly pipeline: Pick<Pipeline, 'setPeers' | 'reportAgent'>;
  readonly serverPeers: boolean;
  readonly logger: PeerTableLogger;
  readonly options?: PeerTableOptions;
  /** Names a peer pod's workload (the watcher's peerWorkloads); without it pod peers carry none. */
  readonly workloads?: PeerWorkloadSource;
}): { readonly table: PeerTable; readonly close: () => void } {
  const table = new PeerTable(parts.map, parts.logger, parts.options);
  let unnamed = 0;
  parts.pipeline.setPeers(
    peerNames(table, parts.serverPeers, parts.workloads, () => {
      parts.pipeline.reportAgent({ peerWorkloadsUnnamed: ++unnamed });
    }),
  );
  // The refused writes as owlk8s.agent.peers.refused, 0 from the start (and unnamed workloads).
  parts.pipeline.reportAgent({
    peerWritesRefused: 0,
    ...(parts.workloads ? { peerWorkloadsUnnamed: 0 } : {}),
  });
  const close = parts.index.subscribe((changes) => {
    table.apply(changes);
    parts.pipeline.reportAgent({ peerWritesRefused: table.refused });
  });
  return { table, close };
}
