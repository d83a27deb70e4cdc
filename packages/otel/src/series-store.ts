// The pipeline's memory of the kernel histograms: which targets exist, the last cumulative value
// of every kernel aggregate (to turn the kernel's running totals into increments), and one
// accumulator per exported series. Consumers (one per exporter) read it; only `record` and the target calls write.
import type { Attributes, HrTime } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { type Aggregate, ERROR_TYPES, HTTP_METHODS, type Role, type Snapshot } from '@owlk8s/ebpf';
import {
  ATTR_OTEL_METRIC_OVERFLOW,
  type CallRecord,
  h2RequestAttributes,
  normaliseMethod,
  requestAttributes,
  rpcCallAttributes,
} from './attributes.ts';
import type { PeerNames, TargetIdentity } from './identity.ts';

/**
 * 0: http.server.request.duration, 1: http.client.request.duration, 2: rpc.server.call.duration,
 * 3: rpc.client.call.duration. The role is `metric % 2` (0 server, 1 client).
 */
export type MetricIndex = 0 | 1 | 2 | 3;
export const METRIC_OF_ROLE: Readonly<Record<Role, 0 | 1>> = { server: 0, client: 1 };
export const RPC_METRIC_OF_ROLE: Readonly<Record<Role, 2 | 3>> = { server: 2, client: 3 };
/** Every metric index, in order. */
export const METRICS: readonly MetricIndex[] = [0, 1, 2, 3];
type PerMetric<T> = [T, T, T, T];

/** A target as its series and rows refer to it: its kernel id and identity. */
export interface TargetRef {
  readonly id: number;
  readonly identity: TargetIdentity;
}

/** One exported histogram series and everything accumulated into it since its start time. */
export interface Series {
  /** Its key in the store. */
  readonly key: string;
  readonly metric: MetricIndex;
  /** The point attributes (the request's); the target's identity is `target.identity.resource`. */
  readonly attributes: Attributes;
  /** Its target; undefined for the node's overflow series, which mixes many targets. */
  readonly target: TargetRef | undefined;
  readonly startTime: HrTime;
  /** An overflow series (`otel.metric.overflow=true`): the node's, or a target's own (it has a target). */
  readonly overflow: boolean;
  count: number;
  sumNs: bigint;
  /** Per-bucket totals; written by `record` only. */
  readonly buckets: number[];
  /**
   * The kernel entry that is the series' only source, while it is and was never reset (identity
   * only): the series' totals are then that aggregate's running totals, copied as they are.
   */
  sole: object | undefined;
  /** How many kernel entries feed the series. */
  sources: number;
  /** Set when its target is removed: exported once more by every consumer, then dropped. */
  removedAtMs: number | undefined;
  /** Consumers that still owe the final export. */
  pendingFinal: number;
  /** What each consumer keeps for this series, indexed by the number `registerConsumer` gave it. */
  readonly consumerSlots: unknown[];
}

/**
 * The Go library's RED set for one pod (server side): running totals since the target was added,
 * kept here so that kernel resets and removals are handled exactly as for the histograms.
 */
export interface GoLibraryRow {
  readonly attributes: Attributes;
  readonly target: TargetRef;
  readonly startTime: HrTime;
  requests: number;
  errors4xx: number;
  errors5xx: number;
  /** Mean duration of the requests of the last snapshot interval that had any. */
  lastDurationSeconds: number | undefined;
  removedAtMs: number | undefined;
  pendingFinal: number;
  /** What each consumer keeps for this row (see Series.consumerSlots). */
  readonly consumerSlots: unknown[];
}

/** Distinct peers of one target's series, per role (SeriesStore.peerUse). */
export interface PeerUse {
  readonly server: { readonly peers: number; readonly overflowed: number };
  readonly client: { readonly peers: number; readonly overflowed: number };
}

/** The last cumulative values the kernel reported for one aggregate, and where they go. */
interface KernelEntry {
  count: number;
  sumNs: bigint;
  /**
   * Its last bucket counts, kept only once it is not its series' sole source (a sole source's are
   * the series' totals). An array of its own: a snapshot's arrays are not kept past `record`, so
   * they die young instead of being promoted with the series state.
   */
  buckets: number[] | undefined;
  readonly series: Series;
}

interface TargetEntry {
  readonly ref: TargetRef;
  readonly startTime: HrTime;
  /** The target's kernel aggregates, server side then client side, by `kernelKey`. */
  readonly kernel: readonly [Map<number | string, KernelEntry>, Map<number | string, KernelEntry>];
  readonly seriesKeys: string[];
  /**
   * Finished HTTP/2 calls' kinds → the series they go to (recordCall), at most
   * CALL_ROUTES_PER_METRIC × 4 of them (`callRoutes`); past it a new kind is routed on every call.
   * [HTTP, gRPC] → peer id → method → packed port, role, error and status (callCore) → series.
   */
  readonly calls: readonly [CallRoutes, CallRoutes];
  callRoutes: number;
  /**
   * Calls whose peer was not ready to be named (PeerNames.ready), by kind, added up until a
   * snapshot's `record` finds it ready and makes their series: as a kernel aggregate waits with
   * its running totals in the kernel. At most CALL_ROUTES_PER_METRIC kinds; past it a call's series
   * is made at once.
   */
  readonly pendingCalls: Map<string, PendingCalls>;
  /** Its own series per metric, against seriesPerTarget; its overflow series not included. */
  readonly live: PerMetric<number>;
  /** Its overflow series per metric, made when it reached seriesPerTarget. */
  readonly overflow: PerMetric<Series | undefined>;
  /** Per metric: the peer ids with series of their own (at most peersPerTarget), and those past it. */
  readonly peers: Readonly<PerMetric<Set<number>>>;
  readonly overflowedPeers: Readonly<PerMetric<Set<number>>>;
  readonly goLibrary: GoLibraryRow;
}

type CallRoutes = Map<number, Map<string, Map<number, Series>>>;

/** Calls of one kind waiting for their peer's name: the first call (its attributes) and their totals. */
interface PendingCalls {
  readonly call: CallRecord;
  readonly grpc: boolean;
  count: number;
  sumNs: bigint;
  readonly buckets: number[];
}

/** How a call without its response's end ended (H2CallError), as 1..5 of callCore; 0: it did not. */
const CALL_ERRORS: ReadonlyMap<string | undefined, number> = new Map([
  [undefined, 0],
  ['stream_reset', 1],
  ['goaway', 2],
  ['timeout', 3],
  ['connection_reset', 4],
  ['connection_closed', 5],
]);

/**
 * A call's server port, role, error and status in one integer below 2^30 (a small integer, which a
 * Map hashes without allocating, as kernelKey): status + 2 in the low 10 bits (0: not decoded, 1:
 * a decoded response without grpc-status, `''` when an error names the end), the error above it,
 * then the role and the port. -1 for a call that does not fit (a status past 1021, an error
 * name not known): recordCall routes those on every call.
 */
function callCore(call: CallRecord, grpc: boolean): number {
  const error = CALL_ERRORS.get(call.error);
  const port = call.serverPort;
  if (error === undefined || !(port >= 0 && port <= 65535 && Number.isInteger(port))) return -1;
  const status = grpc ? call.grpcStatus : call.statusCode;
  // At least as fine as the series' attributes: an HTTP call that ended in an error has no status
  // attribute; a gRPC status not decoded (0) and a decoded response without one (1) differ in
  // error.type unless an error names the end.
  let s: number;
  if (status !== undefined && (grpc || error === 0)) s = status + 2;
  else s = grpc && error === 0 && !call.incomplete ? 1 : 0;
  if (!(s >= 0 && s < 1024) || !Number.isInteger(s)) return -1;
  return ((port * 2 + (call.role === 'client' ? 1 : 0)) * 8 + error) * 1024 + s;
}

/**
 * Call kinds remembered per target and metric (TargetEntry.calls): a route is remembered so that a
 * kind is routed (and counted as collapsed or overflowed) once; the bound keeps a client sending
 * endless `:path`s from growing the agent's memory. Past it, a new kind is routed on every call.
 */
const CALL_ROUTES_PER_METRIC = 512;

const METHOD_INDEX: ReadonlyMap<string, number> = new Map(HTTP_METHODS.map((m, i) => [m, i]));

const ERROR_INDEX: ReadonlyMap<string, number> = new Map(ERROR_TYPES.map((e, i) => [e, i]));

/**
 * Port, status (or error), method and HTTP minor version in one integer below 2^30 (the role picks
 * the map). Below 2^30 it is a V8 small integer, which a Map hashes without allocating; a 33-bit
 * key was a heap number per lookup, the costliest line of `record`. Statuses 100..599 take 0..499,
 * the three errors 500..502; any other status gets a key from 2^30 up, which no small key equals.
 */
function kernelKey(a: Aggregate): number {
  if (a.overflow) return -1; // the target's overflow series in the kernel (one per role)
  const low = (METHOD_INDEX.get(a.method) ?? 15) * 2 + a.httpMinor;
  let status: number;
  if (a.error !== undefined) status = 500 + (ERROR_INDEX.get(a.error) ?? 11);
  else if (a.statusCode >= 100 && a.statusCode < 600) status = a.statusCode - 100;
  else return 2 ** 30 + (a.port * 1024 + (a.statusCode & 1023)) * 32 + low;
  return (a.port * 512 + status) * 32 + low;
}

export interface SeriesStoreOptions {
  /** Series per metric on the node; past it, new series go to the node's overflow series. */
  readonly cardinalityLimit: number;
  /**
   * Series per metric of one target; past it, the target's new series go to its own overflow
   * series (its identity, `otel.metric.overflow=true`), so one pod cannot use up the node's limit.
   * Default: cardinalityLimit (no budget of its own).
   */
  readonly seriesPerTarget?: number;
  readonly knownMethods: ReadonlySet<string>;
  /**
   * Client-side requests to a port outside `setKnownClientPorts` go into one series per target and
   * method, status, protocol version and error, without `server.port` and marked
   * `owlk8s.server.port.collapsed=true`. Default false: every port its own series.
   */
  readonly collapseUnknownClientPorts?: boolean;
  /**
   * Distinct peers (Aggregate.peerId, other than 0) one target's series of a metric may name, once
   * `setPeers` is called; past it, its requests to (or from) further peers go to one overflow peer
   * per target (PeerNames.overflow). Default: no cap.
   */
  readonly peersPerTarget?: number;
  /** How long a removed series waits for consumers that never collect or never succeed (an unscraped Prometheus). */
  readonly finalRetentionMs: number;
  readonly now?: () => number;
}

/** What `record` did, for the caller's log and self metrics; one bad aggregate never sinks the rest. */
export interface RecordResult {
  readonly applied: number;
  readonly unknownTarget: number;
  /** Aggregates of a new series whose peer's attributes were still being looked up (PeerNames.ready): taken at a later snapshot. */
  readonly peerPending: number;
  readonly errors: readonly Error[];
}

export class SeriesStore {
  readonly #options: SeriesStoreOptions;
  readonly #now: () => number;
  readonly #targets = new Map<number, TargetEntry>();
  readonly #removedTargets = new Set<number>();
  /** Removed series awaiting their final exports. */
  readonly #finals = new Map<string, Series>();
  readonly #goLibraryFinals = new Set<GoLibraryRow>();
  readonly #series = new Map<string, Series>();
  readonly #liveCount: PerMetric<number> = [0, 0, 0, 0];
  readonly #overflow: PerMetric<Series | undefined> = [undefined, undefined, undefined, undefined];
  readonly #overflowedSeries: PerMetric<number> = [0, 0, 0, 0];
  /** Upper bucket boundaries in nanoseconds as numbers (recordCall's bucket search). */
  #boundariesNsNumber: number[] = [];
  #callsRecorded = false;
  #callsUnknownTarget = 0;
  #knownClientPorts: ReadonlySet<number> = new Set();
  #collapsedSeries = 0;
  #peers: PeerNames | undefined;
  #overflowedPeers = 0;
  #consumers = 0;
  #boundariesNs: readonly bigint[] | undefined;
  #boundariesS: number[] = [];
  #lastSnapshotTime: HrTime | undefined;
  readonly #createdAt: HrTime;

  constructor(options: SeriesStoreOptions) {
    if (!Number.isInteger(options.cardinalityLimit) || options.cardinalityLimit < 1) {
      throw new RangeError(
        `cardinalityLimit: ${options.cardinalityLimit} is not a positive integer (series per metric, e.g. 2000)`,
      );
    }
    const perTarget = options.seriesPerTarget;
    if (perTarget !== undefined && (!Number.isInteger(perTarget) || perTarget < 1)) {
      throw new RangeError(
        `seriesPerTarget: ${perTarget} is not a positive integer (series per metric of one pod, e.g. 100)`,
      );
    }
    const perPeer = options.peersPerTarget;
    if (perPeer !== undefined && (!Number.isInteger(perPeer) || perPeer < 1)) {
      throw new RangeError(
        `peersPerTarget: ${perPeer} is not a positive integer (distinct peers of one pod, e.g. 20)`,
      );
    }
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#createdAt = millisToHrTime(this.#now());
  }

  /**
   * Each consumer (a producer of one exporter) registers once, so removed series know how many
   * final exports they owe. Returns its index into `consumerSlots`.
   */
  registerConsumer(): number {
    return this.#consumers++;
  }

  /**
   * Gives a kernel target id its identity. `startTimeMs` is when the target was added to the kernel
   * (its counters start at zero then); it becomes the start time of its cumulative series.
   * Calling it again for a known id updates nothing already exported: ids are never reused.
   */
  setTarget(targetId: number, identity: TargetIdentity, startTimeMs: number = this.#now()): void {
    if (!Number.isInteger(targetId) || targetId < 0) {
      throw new RangeError(`setTarget: target id ${targetId} is not a non-negative integer`);
    }
    if (this.#removedTargets.has(targetId)) {
      throw new Error(`setTarget: target id ${targetId} was removed; ids are never reused, use a new one`);
    }
    if (this.#targets.has(targetId)) return;
    const startTime = millisToHrTime(startTimeMs);
    const ref: TargetRef = { id: targetId, identity };
    this.#targets.set(targetId, {
      ref,
      startTime,
      kernel: [new Map(), new Map()],
      calls: [new Map(), new Map()],
      callRoutes: 0,
      pendingCalls: new Map(),
      seriesKeys: [],
      live: [0, 0, 0, 0],
      overflow: [undefined, undefined, undefined, undefined],
      peers: [new Set(), new Set(), new Set(), new Set()],
      overflowedPeers: [new Set(), new Set(), new Set(), new Set()],
      goLibrary: {
        attributes: identity.goLibraryAttributes ?? {},
        target: ref,
        startTime,
        requests: 0,
        errors4xx: 0,
        errors5xx: 0,
        lastDurationSeconds: undefined,
        removedAtMs: undefined,
        pendingFinal: 0,
        consumerSlots: [],
      },
    });
  }

  /**
   * The destination ports whose client-side requests keep their own series (with
   * `collapseUnknownClientPorts`): the configured HTTP ports and the Services' ports. Replaces the
   * previous set. A series never changes its attributes, so the set decides only where requests
   * not yet seen go: a (target, port, method, status) seen before keeps going to the series it
   * went to, collapsed or not, until its target is removed.
   */
  setKnownClientPorts(ports: Iterable<number>): void {
    const next = new Set<number>();
    for (const port of ports) {
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new RangeError(`setKnownClientPorts: ${port} is not a TCP port (0..65535)`);
      }
      next.add(port);
    }
    this.#knownClientPorts = next;
  }

  /**
   * Names the kernel's peer ids: from now on new client-side series (and server-side ones, with
   * `serverPeers`) carry their peer's attributes and are kept apart by peer. A series already made
   * keeps its attributes; call it before the first snapshot.
   */
  setPeers(names: PeerNames): void {
    this.#peers = names;
  }

  /**
   * The distinct peers a live target's series name, per role: those with series of their own (at
   * most peersPerTarget; peer 0 not counted) and those past it, sharing the overflow peer.
   */
  peerUse(targetId: number): PeerUse | undefined {
    const target = this.#targets.get(targetId);
    if (target === undefined) return undefined;
    return {
      server: { peers: target.peers[0].size, overflowed: target.overflowedPeers[0].size },
      client: { peers: target.peers[1].size, overflowed: target.overflowedPeers[1].size },
    };
  }

  /** How many distinct (target, metric, peer) went to their target's overflow peer (peersPerTarget). */
  get overflowedPeersCount(): number {
    return this.#overflowedPeers;
  }

  /** The target is gone: its series are exported one last time, then dropped. Unknown ids are ignored. */
  removeTarget(targetId: number): void {
    const target = this.#targets.get(targetId);
    if (target === undefined) return;
    this.#targets.delete(targetId);
    this.#removedTargets.add(targetId);
    const now = this.#now();
    target.goLibrary.removedAtMs = now;
    target.goLibrary.pendingFinal = this.#consumers;
    if (this.#consumers > 0) this.#goLibraryFinals.add(target.goLibrary);
    for (const key of target.seriesKeys) {
      const series = this.#series.get(key);
      if (series === undefined) continue;
      series.removedAtMs = now;
      series.pendingFinal = this.#consumers;
      if (series.pendingFinal === 0) this.#drop(series);
      else this.#finals.set(key, series);
    }
  }

  hasTarget(targetId: number): boolean {
    return this.#targets.has(targetId);
  }

  get targetCount(): number {
    return this.#targets.size;
  }

  target(targetId: number): TargetRef | undefined {
    return this.#targets.get(targetId)?.ref;
  }

  startTime(targetId: number): HrTime | undefined {
    return this.#targets.get(targetId)?.startTime;
  }

  /** Turns one snapshot's running totals into increments of the series they belong to. */
  record(snapshot: Snapshot): RecordResult {
    const errors: Error[] = [];
    try {
      this.#adoptBoundaries(snapshot.boundariesNs);
    } catch (error) {
      // The whole snapshot is unusable: nothing applied, the caller logs the reason.
      return { applied: 0, unknownTarget: 0, peerPending: 0, errors: [error as Error] };
    }
    const bucketCount = snapshot.boundariesNs.length + 1;
    let applied = 0;
    let unknownTarget = 0;
    let peerPending = 0;
    const interval = new Map<GoLibraryRow, { count: number; sumNs: bigint }>();
    for (const aggregate of snapshot.aggregates) {
      const target = this.#targets.get(aggregate.targetId);
      if (target === undefined) {
        // Not yet resolved (its next snapshot still holds everything since it was added) or
        // already removed (whatever came after its final export is not attributable).
        unknownTarget++;
        continue;
      }
      if (aggregate.bucketCounts.length !== bucketCount) {
        errors.push(
          new Error(
            `aggregate of target ${aggregate.targetId} ${aggregate.role} ${aggregate.method} ${aggregate.statusCode}: ` +
              `${aggregate.bucketCounts.length} bucket counts, expected ${bucketCount} (boundaries + 1)`,
          ),
        );
        continue;
      }
      // Entries of different peers are different kernel totals (feeding one series while peers are
      // not attributes): keyed apart, so one's running total is never taken for another's.
      const key =
        aggregate.peerId === undefined ? kernelKey(aggregate) : `${aggregate.peerId}|${kernelKey(aggregate)}`;
      const kernel = target.kernel[aggregate.role === 'server' ? 0 : 1];
      let entry = kernel.get(key);
      if (entry === undefined) {
        if (!this.#peerReady(aggregate, target)) {
          // Its running totals stay in the kernel: the series is made, with all of them, once it is.
          peerPending++;
          continue;
        }
        const series = this.#seriesFor(aggregate, target);
        entry = { count: 0, sumNs: 0n, buckets: undefined, series };
        kernel.set(key, entry);
        // A new series' first source is its only one; a second source (the overflow series, or
        // methods folded into _OTHER) makes every source add up its increments.
        if (series.sources++ === 0) series.sole = entry;
        else endSole(series);
      }
      const count = aggregate.count;
      if (count === entry.count) continue;
      // A running total that went down was reset in the kernel (map entry evicted and re-created):
      // everything it holds now is new.
      const reset = count < entry.count;
      const series = entry.series;
      const addCount = reset ? count : count - entry.count;
      const sumNs = aggregate.durationSumNs;
      // The Go library counted answered requests only: one that ended without a response is in
      // the histograms (with error.type), not in its RED set.
      if (aggregate.role === 'server' && aggregate.error === undefined) {
        addGoLibrary(
          target.goLibrary,
          interval,
          aggregate.statusCode,
          addCount,
          reset ? sumNs : sumNs - entry.sumNs,
        );
      }
      const buckets = aggregate.bucketCounts;
      const totals = series.buckets;
      if (series.sole === entry && !reset) {
        // Its only source, never reset: the series' totals are the kernel's running totals.
        series.count = count;
        series.sumNs = sumNs;
        for (let i = 0; i < bucketCount; i++) totals[i] = buckets[i]!;
      } else {
        // A reset of the sole source ends its being sole: its totals so far are kept first.
        if (series.sole !== undefined) endSole(series);
        series.count += addCount;
        series.sumNs += reset ? sumNs : sumNs - entry.sumNs;
        let last = entry.buckets;
        if (last === undefined) {
          last = new Array<number>(bucketCount).fill(0);
          entry.buckets = last;
        }
        for (let i = 0; i < bucketCount; i++) {
          const value = buckets[i]!;
          totals[i]! += reset ? value : value - last[i]!;
          last[i] = value;
        }
      }
      entry.count = count;
      entry.sumNs = sumNs;
      applied++;
    }
    for (const [row, t] of interval) row.lastDurationSeconds = Number(t.sumNs) / 1e9 / t.count;
    this.#flushPendingCalls();
    this.#lastSnapshotTime = millisToHrTime(snapshot.time.getTime());
    this.#expireFinals();
    return { applied, unknownTarget, peerPending, errors };
  }

  /**
   * Adds one finished HTTP/2 call to its series: a gRPC call to `rpc.*.call.duration`, any other
   * request (or one whose content-type is unknown) to the HTTP histograms with
   * `network.protocol.version` `2`. The series are those of the kernel's aggregates (per-target
   * budget, node limit, peers, collapsed client ports alike), with the boundaries of the last
   * snapshot. Returns false, adding nothing, when no snapshot was recorded yet (no boundaries) or
   * the target is not known (not yet added, or removed): counted in `callsUnknownTarget`.
   */
  recordCall(call: CallRecord): boolean {
    if (this.#boundariesNs === undefined) return false;
    const target = this.#targets.get(call.targetId);
    if (target === undefined) {
      this.#callsUnknownTarget++;
      return false;
    }
    this.#callsRecorded = true;
    const grpc = call.grpc === true;
    const core = callCore(call, grpc);
    const method = (grpc ? call.grpcMethod : call.method) ?? '';
    const byPeer = target.calls[grpc ? 1 : 0];
    let series = core < 0 ? undefined : byPeer.get(call.peerId)?.get(method)?.get(core);
    if (series === undefined) {
      if (!this.#callPeerReady(call, grpc, target) && this.#addPending(call, grpc, target)) return true;
      series = this.#seriesForCall(call, grpc, target);
      if (series.sole !== undefined) endSole(series);
      if (series.sources === 0) series.sources = 1;
      if (core >= 0 && target.callRoutes < CALL_ROUTES_PER_METRIC * 4) {
        let byMethod = byPeer.get(call.peerId);
        if (byMethod === undefined) {
          byMethod = new Map();
          byPeer.set(call.peerId, byMethod);
        }
        let byCore = byMethod.get(method);
        if (byCore === undefined) {
          byCore = new Map();
          byMethod.set(method, byCore);
        }
        byCore.set(core, series);
        target.callRoutes++;
      }
    }
    series.count++;
    const d = call.durationNs;
    series.sumNs += BigInt(d);
    series.buckets[this.#bucketOf(d)]!++;
    return true;
  }

  /** The bucket a duration (ns) falls in: the first boundary at or above it, else the last. */
  #bucketOf(d: number): number {
    const bounds = this.#boundariesNsNumber;
    let lo = 0;
    let hi = bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (d <= bounds[mid]!) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** As #peerReady, for a call: the peers of the call's own metric. */
  #callPeerReady(call: CallRecord, grpc: boolean, target: TargetEntry): boolean {
    const names = this.#peers;
    const id = call.peerId;
    if (names?.ready === undefined || id === 0) return true;
    if (call.role === 'server' && !names.serverPeers) return true;
    const seen = target.peers[grpc ? RPC_METRIC_OF_ROLE[call.role] : METRIC_OF_ROLE[call.role]];
    if (!seen.has(id) && seen.size >= (this.#options.peersPerTarget ?? Number.POSITIVE_INFINITY)) return true;
    const ready = names.ready(id);
    if (!ready) seen.add(id);
    return ready;
  }

  /** Adds a call to its kind's pending totals; false when CALL_ROUTES_PER_METRIC kinds wait already. */
  #addPending(call: CallRecord, grpc: boolean, target: TargetEntry): boolean {
    const status = grpc ? call.grpcStatus : call.statusCode;
    const kind = `${grpc}|${call.role}|${call.serverPort}|${call.peerId}|${call.error}|${status}|${call.incomplete}|${grpc ? call.grpcMethod : call.method}`;
    let pending = target.pendingCalls.get(kind);
    if (pending === undefined) {
      if (target.pendingCalls.size >= CALL_ROUTES_PER_METRIC) return false;
      pending = {
        call,
        grpc,
        count: 0,
        sumNs: 0n,
        buckets: new Array<number>(this.#boundariesS.length + 1).fill(0),
      };
      target.pendingCalls.set(kind, pending);
    }
    pending.count++;
    pending.sumNs += BigInt(call.durationNs);
    pending.buckets[this.#bucketOf(call.durationNs)]!++;
    return true;
  }

  /** Pending calls whose peer is ready now go to their series, with all their totals. */
  #flushPendingCalls(): void {
    for (const target of this.#targets.values()) {
      if (target.pendingCalls.size === 0) continue;
      for (const [kind, p] of target.pendingCalls) {
        if (!this.#callPeerReady(p.call, p.grpc, target)) continue;
        target.pendingCalls.delete(kind);
        const series = this.#seriesForCall(p.call, p.grpc, target);
        if (series.sole !== undefined) endSole(series);
        if (series.sources === 0) series.sources = 1;
        series.count += p.count;
        series.sumNs += p.sumNs;
        p.buckets.forEach((n, i) => {
          series.buckets[i] = (series.buckets[i] ?? 0) + n;
        });
      }
    }
  }

  /** Calls waiting for their peer's name, over all targets. */
  get callsPeerPending(): number {
    let n = 0;
    for (const target of this.#targets.values()) for (const p of target.pendingCalls.values()) n += p.count;
    return n;
  }

  /** Calls of targets not known (not yet added, or removed) since the store was made. */
  get callsUnknownTarget(): number {
    return this.#callsUnknownTarget;
  }

  /** Whether any call was recorded (the RPC metrics' self counters are exported from then on). */
  get callsRecorded(): boolean {
    return this.#callsRecorded;
  }

  /** Upper bucket boundaries in seconds, as exported. */
  get boundariesSeconds(): number[] {
    return this.#boundariesS;
  }

  /** Wall time of the last snapshot: the end time of every exported point. */
  get lastSnapshotTime(): HrTime | undefined {
    return this.#lastSnapshotTime;
  }

  /**
   * The series of live targets, their own overflow series included (not the node's overflow
   * series, not those of removed targets awaiting their final export).
   */
  *targetSeries(): IterableIterator<Series & { readonly target: TargetRef }> {
    for (const series of this.#series.values()) {
      if (series.target !== undefined && series.removedAtMs === undefined)
        yield series as Series & { readonly target: TargetRef };
    }
  }

  /** All series, live and awaiting their final export (each knows its key). */
  series(): IterableIterator<Series> {
    return this.#series.values();
  }

  overflowSeries(metric: MetricIndex): Series | undefined {
    return this.#overflow[metric];
  }

  /** How many distinct series were routed into the overflow series of a metric so far. */
  overflowedSeriesCount(metric: MetricIndex): number {
    return this.#overflowedSeries[metric];
  }

  /** How many distinct (target, port, method, status) kinds of client requests went into collapsed series. */
  get collapsedClientSeriesCount(): number {
    return this.#collapsedSeries;
  }

  liveSeriesCount(metric: MetricIndex): number {
    return this.#liveCount[metric];
  }

  /** The Go-library rows of live targets, then those of removed ones still owed a final export. */
  *goLibraryRows(): IterableIterator<GoLibraryRow> {
    for (const target of this.#targets.values()) yield target.goLibrary;
    yield* this.#goLibraryFinals;
  }

  /** A consumer made the final export of a removed target's Go-library row. */
  goLibraryFinalExported(row: GoLibraryRow): void {
    row.pendingFinal--;
    if (row.pendingFinal <= 0) this.#goLibraryFinals.delete(row);
  }

  /** A consumer made the final export of a removed series. */
  finalExported(series: Series): void {
    series.pendingFinal--;
    if (series.pendingFinal <= 0) this.#drop(series);
  }

  #drop(series: Series): void {
    const key = series.key;
    this.#finals.delete(key);
    if (this.#series.get(key) !== series) return;
    this.#series.delete(key);
    if (!series.overflow) this.#liveCount[series.metric]--;
  }

  #expireFinals(): void {
    if (this.#finals.size === 0 && this.#goLibraryFinals.size === 0) return;
    const deadline = this.#now() - this.#options.finalRetentionMs;
    for (const row of this.#goLibraryFinals)
      if (row.removedAtMs! <= deadline) this.#goLibraryFinals.delete(row);
    for (const series of this.#finals.values()) {
      if (series.removedAtMs! <= deadline) this.#drop(series);
    }
  }

  #adoptBoundaries(boundariesNs: readonly bigint[]): void {
    const known = this.#boundariesNs;
    if (known === boundariesNs) return;
    if (known !== undefined) {
      if (known.length === boundariesNs.length && known.every((b, i) => b === boundariesNs[i])) {
        this.#boundariesNs = boundariesNs;
        return;
      }
      throw new Error(
        `snapshot bucket boundaries changed from [${known.join(', ')}] ns to [${boundariesNs.join(', ')}] ns; ` +
          'a pipeline serves one program load: create a new pipeline when the boundaries change',
      );
    }
    for (let i = 1; i < boundariesNs.length; i++) {
      if (boundariesNs[i]! <= boundariesNs[i - 1]!) {
        throw new Error(`snapshot bucket boundaries are not ascending: [${boundariesNs.join(', ')}] ns`);
      }
    }
    this.#boundariesNs = boundariesNs;
    this.#boundariesS = boundariesNs.map((ns) => Number(ns) / 1e9);
    this.#boundariesNsNumber = boundariesNs.map(Number);
  }

  /** The series an aggregate adds to: its own, or the overflow series once the metric is full. */
  #seriesFor(aggregate: Aggregate, target: TargetEntry): Series {
    const metric = METRIC_OF_ROLE[aggregate.role];
    // The kernel's overflow entry of the target (its budget of kernel series used): its own overflow series.
    if (aggregate.overflow) return this.#targetOverflowFor(metric, target);
    const method = normaliseMethod(aggregate.method, this.#options.knownMethods);
    const rest = `${method}|${aggregate.statusCode}|${aggregate.httpMinor}|${aggregate.error ?? ''}`;
    return this.#route(metric, aggregate.role, aggregate.port, aggregate.peerId, rest, target, (collapsed) =>
      requestAttributes(
        aggregate,
        this.#options.knownMethods,
        target.ref.identity.serverPortAttributes?.get(aggregate.port),
        collapsed,
      ),
    );
  }

  /** The series a call goes to (see recordCall); its key parts mirror the kernel aggregates'. */
  #seriesForCall(call: CallRecord, grpc: boolean, target: TargetEntry): Series {
    const port = call.serverPort;
    const portAttributes = target.ref.identity.serverPortAttributes?.get(port);
    if (grpc) {
      // The method as sent: bounded by the target's series budget (a client can send any :path).
      // A status not decoded ('?') and a response without one ('-') differ in error.type, unless
      // the call ended in an error (then error.type names it): one key per attribute set.
      const unknown = call.error !== undefined ? '' : call.incomplete ? '?' : '-';
      const rest = `${call.grpcMethod ?? '_OTHER'}|${call.grpcStatus ?? unknown}|${call.error ?? ''}`;
      return this.#route(
        RPC_METRIC_OF_ROLE[call.role],
        call.role,
        port,
        call.peerId,
        rest,
        target,
        (collapsed) => rpcCallAttributes(call, portAttributes, collapsed),
      );
    }
    const method = normaliseMethod(call.method ?? '_OTHER', this.#options.knownMethods);
    // httpMinor 2 in the kernel key's place: never a kernel aggregate's series.
    // A call that ended in an error has no status attribute, whatever status was seen.
    const status = call.error !== undefined ? '' : (call.statusCode ?? '?');
    const rest = `${method}|${status}|2|${call.error ?? ''}`;
    return this.#route(METRIC_OF_ROLE[call.role], call.role, port, call.peerId, rest, target, (collapsed) =>
      h2RequestAttributes(call, this.#options.knownMethods, portAttributes, collapsed),
    );
  }

  /**
   * The series of one kind of request of a target: its own (made on first use), its collapsed
   * client series, or an overflow series once the target's budget or the node's limit is reached.
   */
  #route(
    metric: MetricIndex,
    role: Role,
    port: number,
    peerId: number | undefined,
    kindRest: string,
    target: TargetEntry,
    attributesOf: (collapsed: boolean) => Attributes,
  ): Series {
    const peer = this.#peerOf(peerId, role, metric, target);
    const rest = `${kindRest}${peer.key === '' ? '' : `|${peer.key}`}`;
    // RPC series keys carry their metric: their parts never equal an HTTP series' (role names differ).
    const roleKey = metric >= 2 ? `rpc-${role}` : role;
    let key = `${target.ref.id}|${roleKey}|${port}|${rest}`;
    let existing = this.#series.get(key);
    if (existing !== undefined) return existing;
    // A port outside the known set: the target's collapsed series of this method and status ('*'
    // is never a port).
    const collapsed =
      role === 'client' &&
      this.#options.collapseUnknownClientPorts === true &&
      !this.#knownClientPorts.has(port);
    if (collapsed) {
      this.#collapsedSeries++;
      key = `${target.ref.id}|${roleKey}|*|${rest}`;
      existing = this.#series.get(key);
      if (existing !== undefined) return existing;
    }
    if (target.live[metric] >= (this.#options.seriesPerTarget ?? Number.POSITIVE_INFINITY)) {
      this.#overflowedSeries[metric]++;
      return this.#targetOverflowFor(metric, target);
    }
    if (this.#liveCount[metric] >= this.#options.cardinalityLimit) {
      this.#overflowedSeries[metric]++;
      return this.#overflowFor(metric);
    }
    const attributes = attributesOf(collapsed);
    if (peer.attributes !== undefined) Object.assign(attributes, peer.attributes);
    const series = this.#newSeries(key, metric, attributes, target.ref, target.startTime);
    this.#series.set(key, series);
    target.seriesKeys.push(key);
    target.live[metric]++;
    this.#liveCount[metric]++;
    return series;
  }

  /**
   * Whether a new series of this aggregate can be named now (PeerNames.ready). A peer within the
   * target's peersPerTarget takes its place in the budget at once, waiting or not (so the peers
   * asked about are at most the budget); one past it goes to the overflow peer, which needs no
   * name: it never waits and asks nothing, so a pod spraying addresses costs at most its budget of
   * lookups.
   */
  #peerReady(aggregate: Aggregate, target: TargetEntry): boolean {
    const names = this.#peers;
    const id = aggregate.peerId ?? 0;
    if (names?.ready === undefined || id === 0 || aggregate.overflow) return true;
    if (aggregate.role === 'server' && !names.serverPeers) return true;
    const seen = target.peers[METRIC_OF_ROLE[aggregate.role]];
    if (!seen.has(id) && seen.size >= (this.#options.peersPerTarget ?? Number.POSITIVE_INFINITY)) return true;
    const ready = names.ready(id);
    // Waiting: its place in the budget is kept (a ready peer takes it when its series is made).
    if (!ready) seen.add(id);
    return ready;
  }

  /**
   * The peer part of a series: its key and attributes; none without setPeers (or on the server side
   * without serverPeers). Peer 0 (outside, unknown) is one value and not counted against the cap.
   */
  #peerOf(
    peerId: number | undefined,
    role: Role,
    metric: MetricIndex,
    target: TargetEntry,
  ): { key: string; attributes: Attributes | undefined } {
    const names = this.#peers;
    if (names === undefined || (role === 'server' && !names.serverPeers))
      return { key: '', attributes: undefined };
    const id = peerId ?? 0;
    const known = id === 0 ? undefined : names.attributes(id, role);
    // Peer 0, or an id its namer does not know: one value (never two series of equal attributes).
    if (known === undefined) return { key: '0', attributes: names.attributes(undefined, role) };
    const seen = target.peers[metric];
    if (seen.has(id) || seen.size < (this.#options.peersPerTarget ?? Number.POSITIVE_INFINITY)) {
      seen.add(id);
      return { key: String(id), attributes: known };
    }
    const over = target.overflowedPeers[metric];
    if (!over.has(id)) {
      over.add(id);
      this.#overflowedPeers++;
    }
    return { key: 'overflow', attributes: names.overflow(role) };
  }

  /** A target's own overflow series of a metric: its identity, `otel.metric.overflow=true`, removed with it. */
  #targetOverflowFor(metric: MetricIndex, target: TargetEntry): Series {
    let series = target.overflow[metric];
    if (series === undefined) {
      const key = `${target.ref.id}|overflow|${metric}`;
      series = this.#newSeries(
        key,
        metric,
        { [ATTR_OTEL_METRIC_OVERFLOW]: true },
        target.ref,
        target.startTime,
        true,
      );
      target.overflow[metric] = series;
      this.#series.set(key, series);
      target.seriesKeys.push(key);
    }
    return series;
  }

  #overflowFor(metric: MetricIndex): Series {
    let series = this.#overflow[metric];
    if (series === undefined) {
      // Series routed here bring their totals since their targets were added, all after the
      // pipeline started: its start time is the pipeline's, and it lives as long as the pipeline.
      const key = `overflow|${metric}`;
      series = this.#newSeries(
        key,
        metric,
        { [ATTR_OTEL_METRIC_OVERFLOW]: true },
        undefined,
        this.#createdAt,
        true,
      );
      this.#overflow[metric] = series;
      this.#series.set(key, series);
    }
    return series;
  }

  #newSeries(
    key: string,
    metric: MetricIndex,
    attributes: Attributes,
    target: TargetRef | undefined,
    startTime: HrTime,
    overflow = false,
  ): Series {
    return {
      key,
      metric,
      attributes,
      target,
      startTime,
      overflow,
      count: 0,
      sumNs: 0n,
      buckets: new Array<number>(this.#boundariesS.length + 1).fill(0),
      sole: undefined,
      sources: 0,
      removedAtMs: undefined,
      pendingFinal: 0,
      consumerSlots: [],
    };
  }
}

/** The series' sole source stops being that: it gets its last counts (the series' totals) to add increments from. */
function endSole(series: Series): void {
  const former = series.sole as KernelEntry | undefined;
  if (former === undefined) return;
  former.buckets = series.buckets.slice();
  series.sole = undefined;
}

function addGoLibrary(
  row: GoLibraryRow,
  interval: Map<GoLibraryRow, { count: number; sumNs: bigint }>,
  statusCode: number,
  count: number,
  sumNs: bigint,
): void {
  row.requests += count;
  if (statusCode >= 500) row.errors5xx += count;
  else if (statusCode >= 400) row.errors4xx += count;
  const t = interval.get(row);
  if (t === undefined) interval.set(row, { count, sumNs });
  else {
    t.count += count;
    t.sumNs += sumNs;
  }
}
