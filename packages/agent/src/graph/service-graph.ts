// The Service graph (`owlk8s targets --graph`, GET /graph): who calls whom on this node, with the
// rate, error ratio and p99 of the last minute. It is read from the pipeline's series (the same
// figures the exporters send, peers past the budget under _overflow), not from the kernel: each
// collection the agent hands it the series' running totals, it keeps a few of them per edge, and a
// query subtracts the one taken about a minute ago from the newest.
//
// Memory: at most one sample per `sampleEveryMs` slot within the window, plus the one just before
// it: 14 samples at the defaults (60 s, 5 s). A sample holds one entry per edge that has a series:
// per monitored pod at most export.peersPerPod peers + _outside + _overflow per side, and an entry
// unchanged since the previous sample shares that sample's numbers.
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

/** [requests, errors, ...bucket counts]: running totals since the series' target was added. */
type Totals = Float64Array;

interface EdgeMeta {
  readonly targetId: number;
  readonly side: 'client' | 'server';
  readonly peer: string;
  readonly peerKind: EndKind;
  readonly peerNamespace: string | undefined;
}

interface Sample {
  readonly timeMs: number;
  readonly edges: ReadonlyMap<string, Totals>;
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
  #samples: Sample[] = [];
  #bounds: readonly number[] = [];
  readonly #meta = new Map<string, EdgeMeta>();

  constructor(options: ServiceGraphOptions) {
    this.#windowMs = options.windowMs ?? 60_000;
    this.#stepMs = options.sampleEveryMs ?? 5_000;
    this.#serverPeers = options.serverPeers;
    this.#startMs = options.startMs;
  }

  /** Samples kept now (tests, the README's memory figure). */
  get sampleCount(): number {
    return this.#samples.length;
  }

  /**
   * Takes the running totals of every series that names a peer, summed per edge (target, side,
   * peer), at `timeMs`. Keeps it, replacing a sample of the same slot; drops the samples no window
   * ending now or later needs.
   */
  sample(
    totals: { boundariesSeconds: readonly number[]; series: readonly SeriesTotals[] },
    timeMs: number,
  ): void {
    this.#bounds = totals.boundariesSeconds;
    const width = totals.boundariesSeconds.length + 3;
    const previous = this.#samples.at(-1);
    const edges = new Map<string, Totals>();
    for (const s of totals.series) {
      if (s.overflow) continue;
      const side = s.role;
      const peer = s.attributes[side === 'client' ? ATTR_SERVER_ADDRESS : ATTR_CLIENT_ADDRESS];
      if (typeof peer !== 'string') continue; // no peer dimension: peers off, or server side without serverPeers
      const key = `${s.targetId}\0${side}\0${peer}`;
      if (!this.#meta.has(key)) {
        const kind = s.attributes[ATTR_PEER_KIND];
        const ns = s.attributes[ATTR_PEER_NAMESPACE];
        this.#meta.set(key, {
          targetId: s.targetId,
          side,
          peer,
          peerKind: typeof kind === 'string' && KINDS.has(kind) ? (kind as EndKind) : 'outside',
          peerNamespace: typeof ns === 'string' ? ns : undefined,
        });
      }
      let t = edges.get(key);
      if (t === undefined) {
        t = new Float64Array(width);
        edges.set(key, t);
      }
      t[0]! += s.count;
      if (isError(s)) t[1]! += s.count;
      for (let i = 0; i < s.bucketCounts.length && i + 2 < width; i++) t[i + 2]! += s.bucketCounts[i] ?? 0;
    }
    // An edge that did not change since the previous sample shares its numbers.
    if (previous !== undefined) {
      for (const [key, t] of edges) {
        const before = previous.edges.get(key);
        if (before !== undefined && before[0] === t[0] && before[1] === t[1]) edges.set(key, before);
      }
    }
    const sample = { timeMs, edges };
    const slot = Math.floor(timeMs / this.#stepMs);
    if (
      previous !== undefined &&
      Math.floor(previous.timeMs / this.#stepMs) === slot &&
      previous.timeMs <= timeMs
    )
      this.#samples[this.#samples.length - 1] = sample;
    else this.#samples.push(sample);
    // Keep the newest sample at or before the window's start (the base of a view now), and after it.
    const start = timeMs - this.#windowMs;
    let base = -1;
    for (let i = 0; i < this.#samples.length; i++) if (this.#samples[i]!.timeMs <= start) base = i;
    if (base > 0) this.#samples = this.#samples.slice(base);
    // Edges gone from every kept sample (a removed pod's) are forgotten.
    if (this.#meta.size > edges.size) {
      for (const key of this.#meta.keys())
        if (!this.#samples.some((s) => s.edges.has(key))) this.#meta.delete(key);
    }
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
    const rows = new Map<
      string,
      { caller: End; callee: End; side: 'client' | 'server'; totals: Float64Array }
    >();
    for (const [key, now] of last.edges) {
      const meta = this.#meta.get(key);
      const pod = meta && podOf(meta.targetId);
      if (meta === undefined || pod === undefined) continue;
      const then = base?.edges.get(key);
      const requests = now[0]! - (then?.[0] ?? 0);
      if (requests <= 0) continue;
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
        row = { caller, callee, side: meta.side, totals: new Float64Array(now.length) };
        rows.set(rowKey, row);
      }
      for (let i = 0; i < now.length; i++) row.totals[i]! += now[i]! - (then?.[i] ?? 0);
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
