// The Service graph (`owlk8s targets --graph`, GET /graph): who calls whom on this node, with the
// rate, error ratio and p99 of the last minute. It is read from the pipeline's series (the same
// figures the exporters send, peers past the budget under _overflow), not from the kernel: each
// collection the agent hands it the series' running totals, it keeps a few of them per edge, and a
// query subtracts the one taken about a minute ago from the newest.
//
// Memory: at most one sample per `sampleEveryMs` slot within the window, plus the one just before
// it: 14 at the defaults (60 s, 5 s). Each edge (a pod, a side, a peer: per monitored pod at most
// export.peersPerPod peers + _outside + _overflow per side) keeps a ring of 14 × (buckets + 3)
// 32-bit running totals: 1,008 bytes at the default 15 boundaries.
import type { SeriesTotals } from '@owlk8s/otel';
import { histogramQuantile } from './histogram-quantile.ts';

export const ATTR_SERVER_ADDRESS = 'server.address';
export const ATTR_CLIENT_ADDRESS = 'client.address';
const ATTR_PEER_KIND = 'owlk8s.peer.kind';
const ATTR_PEER_NAMESPACE = 'owlk8s.peer.namespace';
const ATTR_ERROR_TYPE = 'error.type';
const ATTR_STATUS = 'http.response.status_code';

/** What an end of an edge is. */
export type EndKind = 'pod' | 'service' | 'node' | 'outside' | 'overflow';

/** A monitored pod, as the graph names it. */
export interface GraphPod {
  readonly namespace: string;
  readonly name: string;
}

/** One row of the graph: requests from `caller` to `callee` in the window, as one side measured them. */
export interface GraphEdge {
  /** `namespace/name` of a pod; a node's name; `_outside`; `_overflow`. */
  readonly caller: string;
  readonly callerKind: EndKind;
  /** `name.namespace.svc` of a Service; `namespace/name` of a pod; a node's name; `_outside`; `_overflow`. */
  readonly callee: string;
  readonly calleeKind: EndKind;
  /** The side whose series counted them: the caller's client series, or the callee's server series. */
  readonly measuredBy: 'client' | 'server';
  /** Requests finished in the window. */
  readonly requests: number;
  /** requests / windowSeconds. */
  readonly rate: number;
  /** Requests with `error.type` set or a status of 400 and above (the client metric's errors). */
  readonly errors: number;
  readonly errorRatio: number;
  /** Seconds, interpolated in its histogram bucket (histogramQuantile); absent when not estimable. */
  readonly p99Seconds?: number;
}

export interface GraphView {
  /** Length of the window the figures cover, in seconds (about a minute, shorter after a start). */
  readonly windowSeconds: number;
  /** Server-side series name their callers (capture.serverPeers). */
  readonly serverPeers: boolean;
  /** Edges with requests in the window, by caller, callee, side. */
  readonly edges: GraphEdge[];
}

export interface ServiceGraphOptions {
  /** The window (default 60 000 ms). */
  readonly windowMs?: number;
  /** At most one kept sample per slot of this length (default 5 000 ms). */
  readonly sampleEveryMs?: number;
  readonly serverPeers: boolean;
  /** When the graph started: a window reaching before it starts there, from zero. */
  readonly startMs: number;
}

interface EdgeMeta {
  readonly targetId: number;
  readonly side: 'client' | 'server';
  readonly peer: string;
  readonly peerKind: EndKind;
  readonly peerNamespace: string | undefined;
}

/**
 * One edge (target, side, peer) and its running totals at each kept sample: for ring position p,
 * `values[p × width …]` = [requests, errors, …bucket counts], modulo 2^32 (a window's difference is
 * exact as long as an edge has fewer than 2^32 requests a minute). Zero at the positions of samples
 * taken before the edge appeared: from zero, as its series were.
 */
interface Edge {
  readonly meta: EdgeMeta;
  readonly values: Uint32Array;
  /** The sample that last wrote it. */
  seen: number;
}

interface Sample {
  readonly timeMs: number;
  /** Its position in every edge's ring. */
  readonly pos: number;
  readonly seq: number;
}

const KINDS: ReadonlySet<string> = new Set(['pod', 'service', 'node', 'outside', 'overflow']);

/**
 * Samples of per-edge running totals, and the window's view. Not a timer: `sample` is called at
 * each collection (the pipeline's export rounds and scrapes), `view` at each query.
 */
export class ServiceGraph {
  readonly #windowMs: number;
  readonly #stepMs: number;
  readonly #serverPeers: boolean;
  readonly #startMs: number;
  /** Ring positions: one per kept sample, at most one per slot in the window and the one before. */
  readonly #capacity: number;
  #samples: Sample[] = [];
  #seq = 0;
  #bounds: readonly number[] = [];
  #width = 0;
  readonly #edges = new Map<string, Edge>();

  constructor(options: ServiceGraphOptions) {
    this.#windowMs = options.windowMs ?? 60_000;
    this.#stepMs = options.sampleEveryMs ?? 5_000;
    this.#serverPeers = options.serverPeers;
    this.#startMs = options.startMs;
    this.#capacity = Math.ceil(this.#windowMs / this.#stepMs) + 2;
  }

  /** Samples kept now (tests, the README's memory figure). */
  get sampleCount(): number {
    return this.#samples.length;
  }

  /**
   * Whether a collection at `timeMs` should be sampled: its 5-s slot has no sample yet. (A query
   * samples anyway, replacing its slot's, so that its window ends now.)
   */
  due(timeMs: number): boolean {
    const last = this.#samples.at(-1);
    return last === undefined || Math.floor(last.timeMs / this.#stepMs) !== Math.floor(timeMs / this.#stepMs);
  }

  /** Edges kept now: each holds `capacity × (buckets + 3)` 32-bit totals. */
  get edgeCount(): number {
    return this.#edges.size;
  }

  /**
   * Takes the running totals of every series that names a peer, summed per edge (target, side,
   * peer), at `timeMs`. Keeps it, replacing a sample of the same slot; drops the samples no window
   * ending now or later needs, and the edges that are gone (a removed target's: series of a live
   * target never go).
   */
  sample(
    totals: { boundariesSeconds: readonly number[]; series: readonly SeriesTotals[] },
    timeMs: number,
  ): void {
    const width = totals.boundariesSeconds.length + 3;
    if (width !== this.#width) {
      // Boundaries are fixed for a program load; a change starts afresh.
      this.#edges.clear();
      this.#samples = [];
      this.#width = width;
    }
    this.#bounds = totals.boundariesSeconds;
    const previous = this.#samples.at(-1);
    let pos: number;
    if (
      previous !== undefined &&
      Math.floor(previous.timeMs / this.#stepMs) === Math.floor(timeMs / this.#stepMs) &&
      previous.timeMs <= timeMs
    ) {
      pos = previous.pos;
      this.#samples.pop();
    } else {
      if (this.#samples.length === this.#capacity) this.#samples.shift();
      const used = new Set(this.#samples.map((x) => x.pos));
      pos = 0;
      while (used.has(pos)) pos++;
    }
    const seq = ++this.#seq;
    const at = pos * width;
    for (const s of totals.series) {
      if (s.overflow) continue;
      const side = s.role;
      const peer = s.attributes[side === 'client' ? ATTR_SERVER_ADDRESS : ATTR_CLIENT_ADDRESS];
      // No peer dimension: peers off, or the server side without serverPeers.
      if (typeof peer !== 'string') continue;
      const key = `${s.targetId}\0${side}\0${peer}`;
      let edge = this.#edges.get(key);
      if (edge === undefined) {
        const kind = s.attributes[ATTR_PEER_KIND];
        const ns = s.attributes[ATTR_PEER_NAMESPACE];
        edge = {
          meta: {
            targetId: s.targetId,
            side,
            peer,
            peerKind: typeof kind === 'string' && KINDS.has(kind) ? (kind as EndKind) : 'outside',
            peerNamespace: typeof ns === 'string' ? ns : undefined,
          },
          values: new Uint32Array(this.#capacity * width),
          seen: 0,
        };
        this.#edges.set(key, edge);
      }
      const v = edge.values;
      if (edge.seen !== seq) {
        v.fill(0, at, at + width);
        edge.seen = seq;
      }
      // Uint32Array stores modulo 2^32.
      v[at]! += s.count;
      if (isError(s)) v[at + 1]! += s.count;
      for (let i = 0; i < s.bucketCounts.length && i + 2 < width; i++)
        v[at + i + 2]! += s.bucketCounts[i] ?? 0;
    }
    for (const [key, edge] of this.#edges) if (edge.seen !== seq) this.#edges.delete(key);
    this.#samples.push({ timeMs, pos, seq });
    // Keep the newest sample at or before the window's start (the base of a view now), and after it.
    const start = timeMs - this.#windowMs;
    let base = -1;
    for (let i = 0; i < this.#samples.length; i++) if (this.#samples[i]!.timeMs <= start) base = i;
    if (base > 0) this.#samples = this.#samples.slice(base);
  }

  /**
   * The edges of the window ending at the newest sample: its totals less those of the newest
   * sample at least `windowMs` older (or zero, from the graph's start, when there is none).
   * `podOf` names a monitored target. A server-side edge whose caller is a monitored pod is left
   * out: that pod's client series count the same requests.
   */
  view(podOf: (targetId: number) => GraphPod | undefined, monitored: (pod: GraphPod) => boolean): GraphView {
    const last = this.#samples.at(-1);
    if (last === undefined) return { windowSeconds: 0, serverPeers: this.#serverPeers, edges: [] };
    let base: Sample | undefined;
    for (const s of this.#samples) if (s.timeMs <= last.timeMs - this.#windowMs) base = s;
    const windowSeconds = (last.timeMs - (base?.timeMs ?? this.#startMs)) / 1000;
    const width = this.#width;
    const rows = new Map<
      string,
      { caller: End; callee: End; side: 'client' | 'server'; totals: Float64Array }
    >();
    for (const { meta, values } of this.#edges.values()) {
      const pod = podOf(meta.targetId);
      if (pod === undefined) continue;
      const now = last.pos * width;
      const then = base === undefined ? -1 : base.pos * width;
      const delta = (i: number) => (values[now + i]! - (then < 0 ? 0 : values[then + i]!)) >>> 0;
      const requests = delta(0);
      if (requests === 0) continue;
      const self: End = { name: `${pod.namespace}/${pod.name}`, kind: 'pod' };
      const other = peerEnd(meta);
      if (
        meta.side === 'server' &&
        meta.peerKind === 'pod' &&
        meta.peerNamespace !== undefined &&
        monitored({ namespace: meta.peerNamespace, name: meta.peer })
      )
        continue;
      const [caller, callee] = meta.side === 'client' ? [self, other] : [other, self];
      // Several targets of one pod (re-created with a new identity) make one row.
      const rowKey = `${caller.name}\0${callee.name}\0${meta.side}`;
      let row = rows.get(rowKey);
      if (row === undefined) {
        row = { caller, callee, side: meta.side, totals: new Float64Array(width) };
        rows.set(rowKey, row);
      }
      for (let i = 0; i < width; i++) row.totals[i]! += delta(i);
    }
    const edges: GraphEdge[] = [];
    for (const r of rows.values()) {
      const requests = r.totals[0]!;
      const errors = r.totals[1]!;
      const p99 = histogramQuantile(0.99, this.#bounds, r.totals.subarray(2));
      edges.push({
        caller: r.caller.name,
        callerKind: r.caller.kind,
        callee: r.callee.name,
        calleeKind: r.callee.kind,
        measuredBy: r.side,
        requests,
        rate: windowSeconds > 0 ? requests / windowSeconds : 0,
        errors,
        errorRatio: errors / requests,
        ...(p99 !== undefined ? { p99Seconds: p99 } : {}),
      });
    }
    // By code points, the same on every machine.
    const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    edges.sort(
      (a, b) => cmp(a.caller, b.caller) || cmp(a.callee, b.callee) || cmp(a.measuredBy, b.measuredBy),
    );
    return { windowSeconds, serverPeers: this.#serverPeers, edges };
  }
}

interface End {
  readonly name: string;
  readonly kind: EndKind;
}

/** The other end of an edge: a pod as `namespace/name`, anything else by its address value. */
function peerEnd(meta: EdgeMeta): End {
  if (meta.peerKind === 'pod' && meta.peerNamespace !== undefined)
    return { name: `${meta.peerNamespace}/${meta.peer}`, kind: 'pod' };
  return { name: meta.peer, kind: meta.peerKind };
}

/**
 * The client metric's errors (README, Metrics): `error.type` set, which the client side sets for
 * 4xx, 5xx and requests without a final response; a server-side series (whose `error.type` leaves
 * 4xx out) is held to the same rule through its status code.
 */
function isError(s: SeriesTotals): boolean {
  if (s.attributes[ATTR_ERROR_TYPE] !== undefined) return true;
  const status = s.attributes[ATTR_STATUS];
  return typeof status === 'number' && status >= 400;
}
