// The running agent: targets flow from the source through the reconciler into the kernel; counts
// flow from the kernel through the pipeline to the exporters. One direction each, no back and forth.
import type { Snapshot } from '@owlk8s/ebpf';
import type { PodTarget, TargetEvent } from '@owlk8s/k8s';
import type { Pipeline, TargetIdentity } from '@owlk8s/otel';
import type { Readiness } from './admin/admin-server.ts';
import { podIdentity } from './enrichment/pod-identity.ts';
import { type GraphView, ServiceGraph } from './graph/service-graph.ts';
import {
  H2_IDLE_POLL_MS,
  H2_POLL_MS,
  H2Calls,
  type H2CallsOptions,
  type H2RecordSource,
} from './h2/h2-calls.ts';
import type { CaptureControl, InterfaceLocator, WantedTarget } from './reconciler/ports.ts';
import { Reconciler } from './reconciler/reconciler.ts';
import type { TargetSource } from './sources/target-source.ts';

/** The kernel side as the agent uses it: control plus reading (a Capture from @owlk8s/ebpf). */
export interface CaptureEngine extends CaptureControl {
  read(): Snapshot;
  /** Deletes what the kernel keeps for a target that is gone, after its last export. */
  forgetTarget?(targetId: number): void;
  readonly closed: boolean;
  close(): void;
}

export interface AgentLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface AgentParts {
  readonly capture: CaptureEngine;
  readonly locator: InterfaceLocator;
  readonly source: TargetSource;
  readonly pipeline: Pipeline;
  readonly logger: AgentLogger;
  /** The enrichment stage: a pod's attribute sets for the pipeline (default: podIdentity). */
  readonly identityOf?: (pod: PodTarget) => TargetIdentity;
  /** How often pending and attached interfaces are checked again (default 2000 ms). */
  readonly reconcileIntervalMs?: number;
  /**
   * Peers are named (the Kubernetes source's peer index feeds the pipeline): the targets view
   * shows each pod's peers, and the Service graph is kept. Absent: static targets, no peers.
   */
  readonly peers?: { readonly serverPeers: boolean };
  /** Without `peers`: why there are none, as the Service graph answers (default: static targets). */
  readonly noPeersReason?: string;
  /** The wall clock the Service graph's samples are stamped with (default Date.now; tests set it). */
  readonly now?: () => number;
  /**
   * HTTP/2 and gRPC: the kernel's frame records (the capture loaded with `http2: true`), read every
   * `pollMs` (default H2_POLL_MS; `idlePollMs`, default H2_IDLE_POLL_MS, after a poll that found
   * none) and at each collection, decoded into calls for the pipeline.
   * Absent: HTTP/2 off (capture.http2 false), nothing of it is exported.
   */
  readonly h2?: {
    readonly source: H2RecordSource;
    readonly pollMs?: number;
    readonly idlePollMs?: number;
    readonly decoder?: H2CallsOptions['decoder'];
    readonly nowNs?: () => bigint;
  };
}

/** GET /graph: the Service graph of the last minute, or why there is none. */
export type GraphAnswer =
  | ({ readonly peers: true } & GraphView)
  | { readonly peers: false; readonly reason: string };

/** One row of `owlk8s targets` / `GET /targets`. */
export interface TargetRecord {
  readonly targetId: number;
  readonly namespace: string;
  readonly pod: string;
  readonly workload: string;
  readonly ips: readonly {
    ip: string;
    state: string;
    interface?: string;
    ifindex?: number;
    reason?: string;
  }[];
  /**
   * With peers: distinct peers its client series name (at most export.peersPerPod; `_outside` not
   * counted), and how many more there were, sharing server.address=_overflow.
   */
  readonly peers?: number;
  readonly peersOverflowed?: number;
  /** With capture.serverPeers: the same for the callers its server series name. */
  readonly callers?: number;
  readonly callersOverflowed?: number;
  /**
   * With HTTP/2 on: its HTTP/2 requests and gRPC calls finished (both roles), those with a field
   * that could not be decoded (a status exported as unknown, a method as `_OTHER`), and its
   * streams in flight now.
   */
  readonly h2Calls?: number;
  readonly h2Incomplete?: number;
  readonly h2InFlight?: number;
}

export class Agent {
  readonly #p: AgentParts;
  readonly #reconciler: Reconciler;
  /** Reconciler key → the pod it stands for. */
  readonly #pods = new Map<string, PodTarget>();
  /** Pod uid → its current reconciler key (see keyFor). */
  readonly #keys = new Map<string, { key: string; identity: string }>();
  #generation = 0;
  readonly #removed: number[] = [];
  #timers: NodeJS.Timeout[] = [];
  /** The next HTTP/2 poll (each poll sets the one after it, sooner when it read records). */
  #h2Timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #unsubscribePorts: (() => void) | undefined;
  #reconciled = false;
  #pass: Promise<void> | undefined;
  #again = false;
  #collectErrorLogged = false;
  /** Target id → its pod, while attached (the graph's and the targets view's names). */
  readonly #targetPods = new Map<number, PodTarget>();
  readonly #graph: ServiceGraph | undefined;
  readonly #h2: H2Calls | undefined;
  /** A snapshot was recorded: the pipeline has its bucket boundaries, HTTP/2 calls can be recorded. */
  #recorded = false;

  constructor(parts: AgentParts) {
    this.#p = parts;
    this.#h2 =
      parts.h2 === undefined
        ? undefined
        : new H2Calls({
            source: parts.h2.source,
            pipeline: parts.pipeline,
            logger: parts.logger,
            ...(parts.h2.decoder === undefined ? {} : { decoder: parts.h2.decoder }),
            ...(parts.h2.nowNs === undefined ? {} : { nowNs: parts.h2.nowNs }),
          });
    this.#graph =
      parts.peers === undefined
        ? undefined
        : new ServiceGraph({ serverPeers: parts.peers.serverPeers, startMs: (parts.now ?? Date.now)() });
    this.#reconciler = new Reconciler(parts.capture, parts.locator, {
      onTargetAdded: (key, id) => {
        const pod = this.#pods.get(key);
        if (pod !== undefined) {
          const identity = (parts.identityOf ?? podIdentity)(pod);
          const b = identity.bounded;
          if (b !== undefined && b.truncated + b.unprintable > 0)
            parts.logger.warn(
              { pod: `${pod.namespace}/${pod.name}`, truncated: b.truncated, unprintable: b.unprintable },
              'attribute values of the pod bounded: cut to targets.kubernetes.maxValueLength, or unprintable characters replaced',
            );
          parts.pipeline.setTarget(id, identity, new Date());
          this.#targetPods.set(id, pod);
        }
        parts.logger.info({ targetId: id, pod: pod && `${pod.namespace}/${pod.name}` }, 'target added');
      },
      onTargetRemoved: (key, id) => {
        this.#removed.push(id);
        parts.logger.info({ targetId: id, key }, 'target removed');
      },
      onProblem: (_message, { key, ip, state, reason, error }) => {
        const pod = this.#podName(key);
        const fields = { pod, ip, state, reason, ...(error !== undefined ? { err: error } : {}) };
        if (state === 'failed') parts.logger.error(fields, `${pod} ${ip}: ${reason}`);
        else parts.logger.warn(fields, `${pod} ${ip}: pending: ${reason}`);
      },
    });
  }

  /**
   * Starts watching and reconciling; the kernel is read whenever the pipeline collects (each
   * export round, each Prometheus scrape). Resolves once the first reconcile pass is done.
   */
  async start(): Promise<void> {
    const { source } = this.#p;
    this.#unsubscribe = source.subscribe((e) => this.#onEvent(e));
    // Known ports before the first target: no client request is recorded against an incomplete set.
    this.#unsubscribePorts = source.subscribeKnownPorts((ports) => this.#setKnownPorts(ports));
    source.start();
    await source.whenSynced();
    this.#setKnownPorts(source.knownPorts());
    this.#reconciler.setWanted(source.snapshot().map((t) => this.#track(t)));
    await this.reconcileNow();
    this.#reconciled = true;
    this.#p.pipeline.onCollect(() => this.collect());
    this.#timers = [setInterval(() => void this.reconcileNow(), this.#p.reconcileIntervalMs ?? 2000)];
    const h2 = this.#h2;
    if (h2 !== undefined) {
      // Between collections too: the ring buffer holds a fraction of a second at high call rates.
      // Before the first scrape or push, a collection of its own (the snapshot gives the pipeline
      // its bucket boundaries, which calls need): the ring is read from the start, not from the
      // first export on.
      const busyMs = this.#p.h2?.pollMs ?? H2_POLL_MS;
      const idleMs = this.#p.h2?.idlePollMs ?? H2_IDLE_POLL_MS;
      const tick = () => {
        if (this.#p.capture.closed || this.#h2Timer === undefined) return;
        let read = true;
        if (this.#recorded) read = h2.poll();
        else this.collect();
        this.#h2Timer = setTimeout(tick, read ? busyMs : idleMs).unref();
      };
      this.#h2Timer = setTimeout(tick, busyMs).unref();
    }
    for (const t of this.#timers) t.unref();
  }

  /**
   * The reconciler key of a pod: its uid, plus a generation that changes when anything its metrics
   * are named by changes (a Service added, a label changed). Such a change makes a new target with
   * new series, since a series' attributes never change; the old one gets its last export.
   */
  #track(pod: PodTarget): WantedTarget {
    const identity = identityOf(pod);
    let entry = this.#keys.get(pod.uid);
    if (entry === undefined || entry.identity !== identity) {
      if (entry !== undefined) {
        this.#pods.delete(entry.key);
        this.#reconciler.remove(entry.key);
      }
      entry = { key: `${pod.uid}#${this.#generation++}`, identity };
      this.#keys.set(pod.uid, entry);
    }
    this.#pods.set(entry.key, pod);
    return { key: entry.key, ips: pod.ips };
  }

  #onEvent(e: TargetEvent): void {
    if (e.type === 'upsert') {
      this.#reconciler.upsert(this.#track(e.target));
    } else {
      const entry = this.#keys.get(e.target.uid);
      if (entry !== undefined) {
        this.#keys.delete(e.target.uid);
        this.#pods.delete(entry.key);
        this.#reconciler.remove(entry.key);
      }
    }
    if (this.#reconciled) void this.reconcileNow();
  }

  #setKnownPorts(ports: readonly number[]): void {
    this.#p.pipeline.setKnownClientPorts(ports);
    this.#p.logger.debug({ ports: ports.length }, 'known client ports updated');
  }

  /** One reconcile pass, coalescing calls made while one runs. */
  reconcileNow(): Promise<void> {
    if (this.#pass !== undefined) {
      this.#again = true;
      return this.#pass;
    }
    this.#pass = (async () => {
      try {
        do {
          this.#again = false;
          await this.#reconciler.reconcile();
          this.#finishRemoved();
        } while (this.#again);
      } catch (err) {
        this.#p.logger.error({ err }, 'reconcile failed');
      } finally {
        this.#pass = undefined;
      }
    })();
    return this.#pass;
  }

  /** Removed targets: one last read so their final counts are exported, then forget them. */
  #finishRemoved(): void {
    if (this.#removed.length === 0) return;
    this.collect();
    for (const id of this.#removed.splice(0)) {
      this.#p.pipeline.removeTarget(id);
      this.#h2?.forgetTarget(id);
      this.#targetPods.delete(id);
      try {
        this.#p.capture.forgetTarget?.(id);
      } catch (err) {
        this.#p.logger.warn(
          { err, targetId: id },
          'could not delete the kernel aggregates of a removed target',
        );
      }
    }
  }

  /** Reads the kernel's maps into the pipeline. Never throws: a failed read is logged once per streak. */
  collect(): void {
    const { capture, pipeline, logger } = this.#p;
    if (capture.closed) return;
    const t0 = process.hrtime.bigint();
    try {
      const snapshot = capture.read();
      pipeline.record(snapshot);
      this.#recorded = true;
      this.#h2?.poll(true);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const attached = this.#reconciler
        .status()
        .filter((s) => s.ips.some((i) => i.state === 'attached')).length;
      pipeline.reportAgent({ targetsAttached: attached, collectionSeconds: seconds });
      // One sample per 5-s slot: scrapes may come every second.
      const now = (this.#p.now ?? Date.now)();
      if (this.#graph?.due(now) === true) this.#graph.sample(pipeline.seriesTotals(), now);
      this.#collectErrorLogged = false;
    } catch (err) {
      if (!this.#collectErrorLogged) logger.error({ err }, 'reading the kernel maps failed; will retry');
      this.#collectErrorLogged = true;
    }
  }

  /** "namespace/name" of the pod a reconciler key stands for; a static target's name; else the key. */
  #podName(key: string): string {
    const pod = this.#pods.get(key);
    if (pod === undefined) return key;
    return pod.namespace === '' ? pod.name : `${pod.namespace}/${pod.name}`;
  }

  /**
   * Ready when the program is loaded, the source synced, the first pass done, and no target IP
   * failed: an IP whose interface cannot be resolved (the kernel's tables unreadable) or whose entry
   * the kernel refused is an error, shown here with its pod and cause. An IP still waiting for its
   * interface (a starting pod) is not.
   */
  readiness(): Readiness {
    const s = this.#p.source.status();
    const failed: { pod: string; ip: string; reason: string }[] = [];
    let ips = 0;
    for (const t of this.#reconciler.status()) {
      for (const i of t.ips) {
        ips++;
        if (i.state === 'failed')
          failed.push({ pod: this.#podName(t.key), ip: i.ip, reason: i.reason ?? '' });
      }
    }
    // Not ready when every target IP failed (nothing can be monitored: netlink refused, a map the
    // kernel will not write). One pod failing among others is listed in the detail, logged and
    // shown by `owlk8s targets`, but leaves the agent ready: an unready agent drops out of its
    // Service's endpoints, and a ServiceMonitor would stop scraping every other pod of the node.
    const checks = {
      'bpf program loaded': !this.#p.capture.closed,
      'targets source synced': s.synced,
      'first reconcile done': this.#reconciled,
      'not every target failed': ips === 0 || failed.length < ips,
    };
    return {
      ready: Object.values(checks).every(Boolean),
      checks,
      detail: {
        source: s.state,
        ...(s.sinceLastSyncMs !== undefined ? { sinceLastSyncMs: s.sinceLastSyncMs } : {}),
        ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
        ...(failed.length > 0 ? { failedTargets: failed.slice(0, 20), failedCount: failed.length } : {}),
      },
    };
  }

  /**
   * The Service graph of the last minute, read after a fresh collection; with static targets or
   * without peers, the reason there is none.
   */
  graph(): GraphAnswer {
    if (this.#graph === undefined)
      return {
        peers: false,
        reason:
          this.#p.noPeersReason ??
          'this agent names no peers: targets.source is static (peers come from the Kubernetes peer index), so no series says whom a pod called',
      };
    this.collect();
    this.#graph.sample(this.#p.pipeline.seriesTotals(), (this.#p.now ?? Date.now)());
    const pods = this.#targetPods;
    const names = new Set<string>();
    for (const p of pods.values()) names.add(`${p.namespace}/${p.name}`);
    const view = this.#graph.view(
      (id) => pods.get(id),
      (p) => names.has(`${p.namespace}/${p.name}`),
    );
    return { peers: true, ...view };
  }

  targets(): TargetRecord[] {
    const peers = this.#p.peers;
    return this.#reconciler.status().map((s) => {
      const pod = this.#pods.get(s.key);
      const use = peers === undefined ? undefined : this.#p.pipeline.peerUse(s.targetId);
      return {
        targetId: s.targetId,
        namespace: pod?.namespace ?? '',
        pod: pod?.name ?? s.key,
        workload: pod ? `${pod.workload.kind}/${pod.workload.name}` : '',
        ips: s.ips.map((i) => ({
          ip: i.ip,
          state: i.state,
          ...(i.iface ? { interface: i.iface.name, ifindex: i.iface.ifindex } : {}),
          ...(i.reason !== undefined ? { reason: i.reason } : {}),
        })),
        ...(peers === undefined
          ? {}
          : { peers: use?.client.peers ?? 0, peersOverflowed: use?.client.overflowed ?? 0 }),
        ...(peers?.serverPeers === true
          ? { callers: use?.server.peers ?? 0, callersOverflowed: use?.server.overflowed ?? 0 }
          : {}),
        ...this.#h2Stats(s.targetId),
      };
    });
  }

  #h2Stats(targetId: number): Pick<TargetRecord, 'h2Calls' | 'h2Incomplete' | 'h2InFlight'> {
    if (this.#h2 === undefined) return {};
    const h = this.#h2.stats(targetId);
    return { h2Calls: h.calls, h2Incomplete: h.incomplete, h2InFlight: h.inFlight };
  }

  /** Stops watching; one last collection and export; detaches everything. Bounded by `budgetMs`. */
  async stop(budgetMs = 4500): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    clearTimeout(this.#h2Timer);
    this.#h2Timer = undefined;
    this.#unsubscribe?.();
    this.#unsubscribePorts?.();
    const deadline = Date.now() + budgetMs;
    const within = <T>(p: Promise<T>, what: string) =>
      Promise.race([
        p,
        new Promise<void>((resolve) =>
          setTimeout(
            () => {
              this.#p.logger.warn({ budgetMs }, `${what} did not finish in time; going on`);
              resolve();
            },
            Math.max(0, deadline - Date.now()),
          ).unref(),
        ),
      ]);
    await within(this.#p.source.stop(), 'stopping the targets source');
    await this.#pass;
    this.collect();
    await within(this.#p.pipeline.forceFlush(), 'the last export');
    await this.#reconciler.close();
    this.#finishRemovedAfterClose();
    this.#p.capture.close();
    await within(this.#p.pipeline.shutdown(), 'shutting the exporters down');
  }

  #finishRemovedAfterClose(): void {
    // After close every target was removed; their final values were exported by the flush above.
    this.#removed.splice(0);
  }
}

/** What a pod's metrics are named by: everything but its IPs, phase and readiness. */
function identityOf(pod: PodTarget): string {
  const { ips: _ips, phase: _phase, ready: _ready, ...identity } = pod;
  return JSON.stringify(identity);
}
